"""Keyspace, table and column names are checked as CQL identifiers before any statement is built."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.store.names import cql_identifier, qualified
from fxwatch.store.schema import init_schema, keyspace_cql, truncate_tables
from fxwatch.store.session import insert_cql, resolve

HOSTILE = [
    "fx; DROP KEYSPACE x",
    "Ks-1",
    "",
    "a" * 49,
    "fxwatch\n",
    "_x",
    "1fx",
    "fx.quotes",
    'fx"',
    "select",
    "TABLE",
    None,
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_keyspace_names_get_a_one_line_error_naming_the_setting(name):
    with pytest.raises(FxwatchError) as exc:
        cql_identifier(name, "keyspace")
    message = str(exc.value)
    assert "\n" not in message and "not a valid CQL identifier" in message
    assert "FXWATCH_KEYSPACE" in message and repr(name) in message


@pytest.mark.parametrize("name", ["fxwatch", "fxwatch_test", "a", "a" * 48, "k2", "pair_status"])
def test_plain_names_pass_unchanged(name):
    assert cql_identifier(name, "keyspace") == name


def test_qualified_checks_both_names():
    assert qualified("fxwatch", "quotes") == "fxwatch.quotes"
    with pytest.raises(FxwatchError, match="keyspace 'fx; DROP' .*FXWATCH_KEYSPACE"):
        qualified("fx; DROP", "quotes")
    with pytest.raises(FxwatchError, match="table 'quotes WHERE 1=1'"):
        qualified("fxwatch", "quotes WHERE 1=1")


def test_statements_are_never_built_from_a_bad_name():
    assert (
        insert_cql("fx", "quotes", ["pair", "ts"])
        == "INSERT INTO fx.quotes (pair, ts) VALUES (?, ?)"
    )
    with pytest.raises(FxwatchError, match="column 'ts\\) VALUES"):
        insert_cql("fx", "quotes", ["pair", "ts) VALUES (1); --"])
    with pytest.raises(FxwatchError, match="FXWATCH_KEYSPACE"):
        keyspace_cql(Settings().with_(keyspace="x WITH replication = {}; DROP KEYSPACE fxwatch"))
    with pytest.raises(FxwatchError, match="FXWATCH_KEYSPACE"):
        resolve(Settings().with_(keyspace="Ks-1"))
    with pytest.raises(FxwatchError, match="table 'quotes; DROP TABLE trends'"):
        truncate_tables(None, "fx", ["alerts", "quotes; DROP TABLE trends"])  # nothing runs


def test_a_bad_keyspace_fails_before_any_connection():
    # nothing listens on port 1: the error must be about the name, not the network
    s = Settings().with_(keyspace="fx; DROP KEYSPACE x", cassandra_port=1)
    with pytest.raises(FxwatchError, match="FXWATCH_KEYSPACE") as exc:
        init_schema(s)
    assert "not reachable" not in str(exc.value)


def test_store_init_cli_says_which_setting_to_fix_without_a_traceback():
    env = {**os.environ, "FXWATCH_KEYSPACE": "fx; DROP KEYSPACE x", "FXWATCH_CASSANDRA_PORT": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "fxwatch.cli", "store", "init"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "FXWATCH_KEYSPACE" in lines[0] and "fx; DROP KEYSPACE x" in lines[0]
