"""Cassandra: connection, schema (CQL) and read helpers."""

from fxwatch.store.connection import connect
from fxwatch.store.schema import TABLES, init_schema

__all__ = ["connect", "init_schema", "TABLES"]
