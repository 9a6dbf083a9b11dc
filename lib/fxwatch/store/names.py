"""CQL identifiers: keyspace, table and column names checked before any statement is built."""

from __future__ import annotations

import re

from fxwatch.errors import FxwatchError

__all__ = ["InvalidName", "cql_identifier", "qualified"]

# Cassandra's unquoted identifiers, lower case (it folds unquoted names to lower case anyway): a
# letter first (Cassandra 5.0 rejects `_x` as a syntax error), 48 characters at most (its limit
# for keyspace names). fullmatch, because `$` would accept a trailing newline.
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,47}")
# CQL's reserved keywords (the ones Cassandra 5.0 rejects as unquoted names, checked against it).
_RESERVED = frozenset(
    """
    add allow alter and apply asc authorize batch begin by columnfamily create delete desc describe
    drop entries execute from full grant if in index infinity insert into is keyspace limit
    materialized modify nan norecursive not null of on or order primary rename revoke schema select
    set table to token truncate unlogged update use using view where with
""".split()
)
# What to fix, by what the name is; the default is for names that come from the code itself.
_FIX = {
    "keyspace": "set FXWATCH_KEYSPACE to",
    "table": "fix the table name in fxwatch.store (a bug) to",
    "column": "fix the column name in fxwatch.store (a bug) to",
}
_RULE = "1-48 lower-case letters, digits and underscores, starting with a letter, not a CQL keyword"


class InvalidName(FxwatchError):
    """A keyspace, table or column name that is not a plain CQL identifier (never retried)."""


def cql_identifier(name: str, what: str = "name") -> str:
    """`name` if it is an unquoted CQL identifier, else InvalidName saying what to fix."""
    if isinstance(name, str) and _IDENTIFIER.fullmatch(name) and name not in _RESERVED:
        return name
    fix = _FIX.get(what, "use")
    raise InvalidName(f"{what} {name!r} is not a valid CQL identifier: {fix} {_RULE}")


def qualified(keyspace: str, table: str) -> str:
    """'keyspace.table' after checking both names."""
    return f"{cql_identifier(keyspace, 'keyspace')}.{cql_identifier(table, 'table')}"
