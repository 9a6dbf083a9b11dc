"""`fxwatch store init|migrate|compact` and `fxwatch quotes` (CSV export of stored ticks)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.store.alerts import empty_window_note, parse_since
from fxwatch.store.connection import connect

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="Cassandra schema and the tick store")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="create the keyspace and tables (idempotent)")
    init.set_defaults(func=_init)
    mig = actions.add_parser(
        "migrate",
        help="convert an old one-row-per-tick quotes table into "
        "the tick store (quote_chunks; idempotent)",
    )
    mig.add_argument(
        "--delete-rows",
        action="store_true",
        help="empty the quotes table once every partition is converted and checked",
    )
    mig.add_argument("--no-progress", action="store_true", help="no progress bar")
    mig.set_defaults(func=_migrate)
    com = actions.add_parser(
        "compact",
        help="rewrite the minute chunks of finished hours as one chunk per hour "
        "(faster history reads; idempotent)",
    )
    com.add_argument(
        "--before",
        default="24h",
        help="compact hours that ended before this: date, UTC time or span back (default 24h: "
        "keep clear of hours a stream may still write into)",
    )
    com.add_argument("--pair", action="append", help="only this pair (repeatable)")
    com.add_argument("--no-progress", action="store_true", help="no progress bar")
    com.set_defaults(func=_compact)

    q = sub.add_parser("quotes", help="export a pair's stored ticks as CSV")
    q.add_argument("--pair", required=True, help="e.g. EUR/USD")
    q.add_argument(
        "--since", default=None, help="date, UTC time or span back (90m, 24h, 7d); default 24h"
    )
    q.add_argument(
        "--until", default=None, help="end (exclusive), same forms as --since; default now"
    )
    q.add_argument("--output", required=True, help="CSV file to write")
    q.set_defaults(func=_quotes)


def _init(args: argparse.Namespace) -> int:
    from fxwatch.store.migrate import has_quote_rows
    from fxwatch.store.schema import init_schema

    settings = Settings.from_env()
    tables = init_schema(settings)
    print(f"keyspace {settings.keyspace}: {', '.join(tables)}")
    cluster, session = connect(settings)
    try:
        old_rows = has_quote_rows(session)
    finally:
        cluster.shutdown()
    if old_rows:
        print(
            f"keyspace {settings.keyspace}: the quotes table holds ticks of the old one-row-per-"
            "tick store, which nothing reads any more: `fxwatch store migrate` converts them "
            "into quote_chunks (add --delete-rows to empty quotes afterwards)",
            file=sys.stderr,
        )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from fxwatch.store.migrate import migrate_quotes
    from fxwatch.store.schema import init_schema

    settings = Settings.from_env()
    init_schema(settings)  # quote_chunks exists before anything is written to it
    cluster, session = connect(settings)
    try:
        result = migrate_quotes(
            session, settings.keyspace, args.delete_rows, show_progress=not args.no_progress
        )
    finally:
        cluster.shutdown()
    print(json.dumps({"keyspace": settings.keyspace, **result}))
    return 0


def _compact(args: argparse.Namespace) -> int:
    from fxwatch.progress import progress
    from fxwatch.store.ticks import compact_store, stored_days

    settings = Settings.from_env()
    try:
        before = parse_since(args.before)
    except FxwatchError as exc:  # its message names --since
        raise FxwatchError(str(exc).replace("--since", "--before", 1)) from None
    cluster, session = connect(settings)
    try:
        days = stored_days(session, settings.keyspace, _ms(before), args.pair)
        with progress(
            "compacting", total=len(days), unit="pair-day", disable=args.no_progress
        ) as bar:
            result = compact_store(session, settings.keyspace, _ms(before), days, on_day=bar.update)
    finally:
        cluster.shutdown()
    print(json.dumps({"keyspace": settings.keyspace, "before": before.isoformat(), **result}))
    return 0


def _quotes(args: argparse.Namespace) -> int:
    from fxwatch.store.ticks import export_ticks_csv, read_ticks, tick_span

    settings = Settings.from_env()
    since = parse_since(args.since)
    until = parse_since(args.until) if args.until else datetime.now(UTC)
    cluster, session = connect(settings)
    try:
        ticks = read_ticks(session, settings.keyspace, args.pair, _ms(since), _ms(until))
        # an empty range (the default is the last 24 h of wall time): say where the ticks are
        span = tick_span(session, settings.keyspace, args.pair) if not len(ticks) else None
    finally:
        cluster.shutdown()
    n = export_ticks_csv(args.pair, ticks, args.output)
    print(f"{n} ticks of {args.pair} -> {args.output}")
    if span is not None:
        print(
            empty_window_note(f"ticks of {args.pair}", span, settings.keyspace, since, until),
            file=sys.stderr,
        )
    return 0


def _ms(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
