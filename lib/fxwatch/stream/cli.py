"""`fxwatch stream run` (the streaming pipeline) and `fxwatch alerts` (CSV export of alerts)."""

from __future__ import annotations

import json
import sys

__all__ = ["register"]


def register(subparsers) -> None:
    """Add `stream run` and `alerts` to the fxwatch command line."""
    stream = subparsers.add_parser("stream", help="Spark Structured Streaming: Kafka quotes -> Cassandra")
    sub = stream.add_subparsers(dest="stream_cmd", metavar="CMD")
    run = sub.add_parser("run", help="start the quotes/trends/anomalies queries (checkpointed, resumable)")
    run.add_argument("--until-idle", action="store_true",
                     help="process everything available, then exit (Trigger.AvailableNow)")
    run.add_argument("--queries", default="quotes,trends,anomalies",
                     help="comma-separated: quotes, trends, anomalies (= classic + detectors), classic, detectors")
    run.add_argument("--starting-offsets", default="earliest", help="for a new checkpoint: earliest|latest")
    run.add_argument("--max-offsets-per-trigger", type=int, default=None, help="cap a micro-batch's size")
    run.add_argument("--trigger-seconds", type=float, default=1.0, help="micro-batch interval when not --until-idle")
    run.add_argument("--detector-engine", choices=("driver", "state"), default="driver",
                     help="tick detectors' state: in the driver with per-batch snapshots (fast on one machine) "
                          "or in Spark's state store (applyInPandasWithState; scales out with the pairs)")
    run.add_argument("--classic-apart", action="store_true",
                     help="run the classic rule as its own query (own Kafka read and windows) even beside trends")
    run.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.set_defaults(func=_run)
    stream.set_defaults(func=lambda args: (stream.print_help(), 2)[1])

    al = subparsers.add_parser("alerts", help="export alerts from Cassandra as CSV")
    al.add_argument("--since", default=None, help="date, UTC time or span back (90m, 24h, 7d); default 24h")
    al.add_argument("--until", default=None, help="end (exclusive), same forms as --since; default now")
    al.add_argument("--pair", default=None, help="only this pair, e.g. EUR/USD")
    al.add_argument("--output", required=True, help="CSV file to write (pair,ts,detector,score,reason,...)")
    al.set_defaults(func=_alerts)


def _run(args) -> int:
    from fxwatch.config import Settings
    from fxwatch.stream.jobs import run_pipeline
    from fxwatch.stream.session import get_spark

    settings = Settings.from_env()
    spark = get_spark(settings, app_name="fxwatch-stream")
    try:
        summary = run_pipeline(
            spark, settings, until_idle=args.until_idle, queries=args.queries.split(","), timeout=args.timeout,
            starting_offsets=args.starting_offsets, max_offsets_per_trigger=args.max_offsets_per_trigger,
            trigger_seconds=args.trigger_seconds, detector_engine=args.detector_engine,
            classic_in_trends=not args.classic_apart,
        )
    except KeyboardInterrupt:
        print("stopped; rerun to resume from the checkpoints", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(f"{summary.get('quotes', 0)} quotes, {summary.get('rejected', 0)} dead-lettered, "
              f"{summary.get('trend_rows', 0)} trend rows, {summary.get('alerts', 0)} alerts "
              f"in {summary['elapsed_s']:.1f} s")
    return 0


def _alerts(args) -> int:
    from fxwatch.config import Settings
    from fxwatch.store.alerts import export_alerts_csv, parse_since, read_alerts
    from fxwatch.store.connection import connect

    settings = Settings.from_env()
    since = parse_since(args.since)
    until = parse_since(args.until) if args.until else None
    cluster, session = connect(settings)
    try:
        alerts = read_alerts(session, settings.keyspace, since, until, args.pair)
    finally:
        cluster.shutdown()
    n = export_alerts_csv(alerts, args.output)
    print(f"{n} alerts -> {args.output}")
    return 0
