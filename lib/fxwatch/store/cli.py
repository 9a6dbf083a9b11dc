"""`fxwatch store init`."""

from __future__ import annotations

import argparse

from fxwatch.config import Settings

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="Cassandra schema")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("init", help="create the keyspace and tables (idempotent)").set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    from fxwatch.store.schema import init_schema

    settings = Settings.from_env()
    tables = init_schema(settings)
    print(f"keyspace {settings.keyspace}: {', '.join(tables)}")
    return 0
