"""`fxwatch dashboard [--host 127.0.0.1] [--port 8050]`."""

from __future__ import annotations

import argparse

from fxwatch.config import Settings

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard", help="serve the Dash dashboard (localhost unless --host says otherwise)"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1: this machine only)",
    )
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument(
        "--refresh-ms", type=int, default=5000, help="live refresh period in ms (default 5000)"
    )
    p.add_argument(
        "--keyspace",
        default=None,
        help="Cassandra keyspace to read (default: FXWATCH_KEYSPACE or fxwatch)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # lazy: the dashboard imports dash, plotly, pyspark and kafka; other commands must not
    from fxwatch.dashboard.app import serve

    settings = Settings.from_env()
    if args.keyspace:
        settings = settings.with_(keyspace=args.keyspace)
    serve(settings, host=args.host, port=args.port, refresh_ms=args.refresh_ms)
    return 0
