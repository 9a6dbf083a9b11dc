"""Authentication for real: a second local stack with Cassandra's PasswordAuthenticator and a
SASL/PLAIN Kafka listener, started by `fxwatch stack --home DIR up`; the CLI runs through both.

The default stack (9092/9042) is never touched: the secured one has a home and free ports of its
own, and is stopped when this module's tests are done. Every password is random per run, and no
output or file the run produced may contain one (except the broker's owner-only config, which
must hold the PLAIN user).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from fxwatch.config import Settings
from fxwatch.store.connection import CredentialsRejected, connect
from fxwatch.store.ticks import count_ticks

pytestmark = pytest.mark.integration

FXWATCH = [sys.executable, "-m", "fxwatch.cli"]
USER = "fxwatch_pipeline"
PAIRS = ("EUR/USD", "USD/JPY")
START, DAY = "2024-01-15T14:00:00Z", date(2024, 1, 15)
TICKS = 300
# Inherited settings that would change what the secured stack or the pipeline talk to.
_DROPPED = ("FXWATCH_", "CASSANDRA_", "KAFKA_SASL_", "SPARK_MASTER")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Secured:
    """The running secured stack: the environment that points the CLI at it, and its secrets."""

    env: dict[str, str]
    home: Path
    storage_port: int
    up_output: str = ""
    secrets: list[str] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings.from_env(env=self.env)

    def stack_args(self) -> list[str]:
        return [
            "stack",
            "--home",
            str(self.home),
            "--cassandra-storage-port",
            str(self.storage_port),
        ]

    def run(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        """Run `fxwatch ARGS` against the secured stack; no secret may reach its output."""
        out = subprocess.run(
            [*FXWATCH, *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
        )
        self.secrets += [v for k, v in env.items() if k.endswith("PASSWORD") and v]
        leaked = [i for i, s in enumerate(self.secrets) if s in out.stdout + out.stderr]
        assert not leaked, f"`fxwatch {' '.join(args)}` printed a password"
        return out


def _one_line_error(out: subprocess.CompletedProcess, variable: str) -> str:
    text = out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1, text[-2000:]
    assert "Traceback" not in text and len(lines) == 1, text[-2000:]
    assert lines[0].startswith("fxwatch: error: ") and variable in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> Secured:
    """`fxwatch stack --home H up` with auth on both services, on free ports; `down` after."""
    kafka_port, controller_port, cassandra_port, storage_port = _free_ports(4)
    tag = uuid.uuid4().hex[:8]
    kafka_pw, cassandra_pw = (f"{p}-{secrets.token_urlsafe(12)}" for p in ("k", "c"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    if "FXWATCH_HOME" in os.environ:
        env["FXWATCH_HOME"] = os.environ["FXWATCH_HOME"]
    env.update(
        {
            "FXWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
            "FXWATCH_KAFKA_CONTROLLER_PORT": str(controller_port),
            "FXWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "FXWATCH_KAFKA_SASL_MECHANISM": "PLAIN",
            "KAFKA_SASL_USERNAME": USER,
            "KAFKA_SASL_PASSWORD": kafka_pw,
            "FXWATCH_CASSANDRA_PORT": str(cassandra_port),
            "CASSANDRA_USERNAME": USER,
            "CASSANDRA_PASSWORD": cassandra_pw,
            "FXWATCH_KEYSPACE": f"fxauth_{tag}",
            "FXWATCH_QUOTES_TOPIC": f"fx-quotes-auth-{tag}",
            "FXWATCH_DLQ_TOPIC": f"fx-quotes-dlq-auth-{tag}",
            "FXWATCH_ALERTS_TOPIC": f"fx-alerts-auth-{tag}",
            "FXWATCH_INCIDENTS_TOPIC": f"fx-incidents-auth-{tag}",
            "FXWATCH_CASSANDRA_HEAP": "768M",
            "FXWATCH_KAFKA_HEAP": "256m",
        }
    )
    stack = Secured(
        env,
        tmp_path_factory.mktemp("secured-stack"),
        storage_port,
        secrets=[kafka_pw, cassandra_pw],
    )
    try:
        up = stack.run(*stack.stack_args(), "up", timeout=480)
        stack.up_output = up.stdout + up.stderr
        assert up.returncode == 0, f"the secured stack did not start: {stack.up_output[-3000:]}"
        yield stack
    finally:
        stack.run(*stack.stack_args(), "down", timeout=180)
        settings = stack.settings
        shutil.rmtree(settings.checkpoint_dir / settings.keyspace, ignore_errors=True)


def test_stack_up_creates_the_role_and_hardens_the_default_superuser(secured):
    settings = secured.settings
    out = secured.up_output
    assert "created superuser 'fxwatch_admin' and disabled the default 'cassandra' login" in out
    assert f"created login role '{USER}' (CREATE on all keyspaces)" in out
    assert f"keyspace {settings.keyspace} ready" in out  # created by the role, which owns it

    cluster, _ = connect(settings)  # the role logs in, into its keyspace
    cluster.shutdown()
    default = settings.with_(cassandra_username="cassandra", cassandra_password="cassandra")
    with pytest.raises(CredentialsRejected, match="fix CASSANDRA_PASSWORD"):
        connect(default, keyspace=None)

    secret = secured.home / "secrets" / "cassandra-admin"
    broker_conf = secured.home / "conf" / "kafka" / "server.properties"
    for path in (secret, broker_conf):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    admin = settings.with_(
        cassandra_username="fxwatch_admin", cassandra_password=secret.read_text().strip()
    )
    cluster, session = connect(admin, keyspace=None)
    try:
        roles = {
            r.role: (r.is_superuser, r.can_login)
            for r in session.execute("SELECT role, is_superuser, can_login FROM system_auth.roles")
        }
    finally:
        cluster.shutdown()
    assert roles == {
        USER: (False, True),
        "fxwatch_admin": (True, True),
        "cassandra": (False, False),
    }

    again = secured.run(*secured.stack_args(), "up", timeout=300)  # a re-run changes nothing
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("already running") == 2
    assert f"login role '{USER}' ready" in again.stdout


@pytest.mark.spark
@pytest.mark.slow
def test_store_init_producer_and_spark_job_run_with_the_role_through_sasl(secured):
    settings = secured.settings
    init = secured.run("store", "init")
    assert init.returncode == 0, init.stderr
    produced = secured.run(
        "produce",
        "--source",
        "synthetic",
        "--pairs",
        ",".join(PAIRS),
        "--start",
        START,
        "--duration",
        "10m",
        "--limit",
        str(TICKS),
        "--no-progress",
    )
    assert produced.returncode == 0, produced.stderr
    assert f"sent {TICKS} quotes, dead-lettered 0" in produced.stdout
    ran = secured.run("stream", "run", "--until-idle", "--queries", "quotes", timeout=900)
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-3000:]
    assert f"{TICKS} quotes, 0 dead-lettered" in ran.stdout, ran.stdout

    cluster, session = connect(settings)  # the rows are there, read back as the role
    try:
        assert count_ticks(session, settings.keyspace, PAIRS, [DAY]) == TICKS
    finally:
        cluster.shutdown()

    # No password in a file this run wrote: the stack's home (logs, data, configs), Spark's
    # logs and the job's checkpoints. Only the broker's owner-only config holds the PLAIN user.
    kafka_pw, cassandra_pw = secured.secrets[:2]
    places = [
        secured.home,
        settings.checkpoint_dir / settings.keyspace,
        *settings.logs_dir.glob("spark-*"),
    ]
    assert (settings.checkpoint_dir / settings.keyspace).is_dir()
    files = [f for p in places for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    holding = {
        f for f in files if any(s.encode() in f.read_bytes() for s in (kafka_pw, cassandra_pw))
    }
    assert holding == {secured.home / "conf" / "kafka" / "server.properties"}


def test_wrong_cassandra_password_is_one_line_naming_the_variable(secured):
    wrong = "wrong-" + secrets.token_hex(6)
    line = _one_line_error(
        secured.run("store", "init", CASSANDRA_PASSWORD=wrong), "CASSANDRA_PASSWORD"
    )
    assert f"refused the login of role '{USER}'" in line
    line = _one_line_error(
        secured.run("store", "init", CASSANDRA_USERNAME=""), "CASSANDRA_USERNAME"
    )
    assert "requires a login" in line


def test_wrong_kafka_password_is_one_line_naming_the_variable(secured):
    wrong = "wrong-" + secrets.token_hex(6)
    for args in (
        ["topics", "ensure", "--timeout", "3"],
        ["produce", "--source", "synthetic", "--limit", "10", "--no-progress", "--timeout", "3"],
    ):
        line = _one_line_error(secured.run(*args, KAFKA_SASL_PASSWORD=wrong), "KAFKA_SASL_PASSWORD")
        assert f"not the SASL login of user '{USER}'" in line
    # the listener really asks for SASL: a PLAINTEXT client gets nowhere
    plain = secured.run(
        "topics", "ensure", "--timeout", "3", FXWATCH_KAFKA_SECURITY_PROTOCOL="PLAINTEXT"
    )
    assert plain.returncode == 1 and "created" not in plain.stdout
