"""`fxwatch stream run` (the streaming pipeline) and `fxwatch alerts` (CSV export of alerts)."""

from __future__ import annotations

import json
import sys

from fxwatch.config import Settings
from fxwatch.store.alerts import (
    alert_span,
    empty_window_note,
    export_alerts_csv,
    parse_since,
    read_alerts,
)
from fxwatch.store.connection import connect
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.session import get_spark

__all__ = ["register"]


def register(subparsers) -> None:
    """Add `stream run` and `alerts` to the fxwatch command line."""
    stream = subparsers.add_parser(
        "stream", help="Spark Structured Streaming: Kafka quotes -> Cassandra"
    )
    sub = stream.add_subparsers(dest="stream_cmd", metavar="CMD")
    run = sub.add_parser(
        "run", help="start the quotes/trends/alerts queries (checkpointed, resumable)"
    )
    run.add_argument(
        "--until-idle",
        action="store_true",
        help="process everything available, then exit (Trigger.AvailableNow)",
    )
    run.add_argument(
        "--queries",
        default="quotes,trends,alerts",
        help="comma-separated: quotes, trends, tick_alerts, window_alerts "
        "(alerts = both alert queries)",
    )
    run.add_argument(
        "--starting-offsets", default="earliest", help="for a new checkpoint: earliest|latest"
    )
    run.add_argument(
        "--max-offsets-per-trigger", type=int, default=None, help="cap a micro-batch's size"
    )
    run.add_argument(
        "--trigger-seconds",
        type=float,
        default=1.0,
        help="micro-batch interval of the tick alerts when not --until-idle "
        "(quotes: at least 1 s, minute windows: at least 5 s)",
    )
    run.add_argument(
        "--pairs",
        default=None,
        help="comma-separated pairs whose currency triangles get cross-rate checks "
        "(default: the majors of fxwatch.detect.bank.WATCHED_PAIRS)",
    )
    run.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.set_defaults(func=_run)
    stream.set_defaults(func=lambda args: (stream.print_help(), 2)[1])

    al = subparsers.add_parser("alerts", help="export alerts from Cassandra as CSV")
    al.add_argument(
        "--since", default=None, help="date, UTC time or span back (90m, 24h, 7d); default 24h"
    )
    al.add_argument(
        "--until", default=None, help="end (exclusive), same forms as --since; default now"
    )
    al.add_argument("--pair", default=None, help="only this pair, e.g. EUR/USD")
    al.add_argument(
        "--output", required=True, help="CSV file to write (pair,ts,detector,score,reason,...)"
    )
    al.set_defaults(func=_alerts)


def _run(args) -> int:
    # lazy: pyspark is imported only when the streaming job really runs (keeps `fxwatch` fast)
    from fxwatch.stream.pipeline import run_pipeline

    settings = Settings.from_env()
    config = PipelineConfig(
        queries=tuple(args.queries.split(",")),
        until_idle=args.until_idle,
        starting_offsets=args.starting_offsets,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        alerts_trigger_s=args.trigger_seconds,
        quotes_trigger_s=max(args.trigger_seconds, 1.0),
        windows_trigger_s=max(args.trigger_seconds, 5.0),
    )
    if args.pairs:
        config = config.with_(pairs=tuple(p.strip() for p in args.pairs.split(",") if p.strip()))
    spark = get_spark(settings, app_name="fxwatch-stream")
    try:
        summary = run_pipeline(spark, settings, config, timeout=args.timeout)
    except KeyboardInterrupt:
        print("stopped; rerun to resume from the checkpoints", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(
            f"{summary.get('quotes', 0)} quotes, {summary.get('rejected', 0)} dead-lettered, "
            f"{summary.get('trend_rows', 0)} trend rows, {summary.get('alerts', 0)} alerts "
            f"in {summary['elapsed_s']:.1f} s"
        )
    return 0


def _alerts(args) -> int:
    settings = Settings.from_env()
    since = parse_since(args.since)
    until = parse_since(args.until) if args.until else None
    cluster, session = connect(settings)
    try:
        alerts = read_alerts(session, settings.keyspace, since, until, args.pair)
        # an empty window (the default is the last 24 h of wall time): say where the alerts are
        span = alert_span(session, settings.keyspace) if not alerts else None
    finally:
        cluster.shutdown()
    n = export_alerts_csv(alerts, args.output)
    print(f"{n} alerts -> {args.output}")
    if span is not None:
        noun = f"alerts of {args.pair}" if args.pair else "alerts"
        print(empty_window_note(noun, span, settings.keyspace, since, until), file=sys.stderr)
    return 0
