"""Cassandra, the only home of CQL: connection, sessions, schema, names, one module per table.

Table functions take `target`: Settings (this process's cached session, settings.keyspace) or a
driver session (the `keyspace` argument, else the session's own keyspace).
"""

from fxwatch.store import alerts, names, pair_status, quotes, session, stats, ticks, trends
from fxwatch.store.connection import connect
from fxwatch.store.names import cql_identifier, qualified
from fxwatch.store.schema import TABLES, init_schema
from fxwatch.store.session import close_sessions, process_session, with_retry

__all__ = [
    "TABLES",
    "alerts",
    "close_sessions",
    "connect",
    "cql_identifier",
    "init_schema",
    "names",
    "pair_status",
    "process_session",
    "qualified",
    "quotes",
    "session",
    "stats",
    "ticks",
    "trends",
    "with_retry",
]
