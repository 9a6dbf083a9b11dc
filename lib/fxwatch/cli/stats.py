"""`fxwatch job stats --date D`: the daily historical-statistics job (papermill)."""

from __future__ import annotations

from datetime import UTC, datetime

from fxwatch.config import Settings

__all__ = ["register"]


def register(subparsers) -> None:
    """Add `job stats` to the fxwatch command line."""
    job = subparsers.add_parser("job", help="production jobs run as papermill notebooks")
    jobs = job.add_subparsers(dest="job", metavar="JOB")
    p = jobs.add_parser(
        "stats", help="historical statistics per pair and hour-of-week -> fxwatch.stats"
    )
    p.add_argument(
        "--date",
        default=datetime.now(UTC).date().isoformat(),
        help="as-of UTC date YYYY-MM-DD (history = the days before it; default today)",
    )
    p.add_argument("--lookback-days", type=int, default=28, help="days of history (default 28)")
    p.add_argument(
        "--k", type=float, default=4.0, help="bound width in std / MAD units (default 4)"
    )
    p.add_argument("--pairs", default="", help="comma-separated pairs (default: every pair seen)")
    p.add_argument(
        "--keyspace", default=None, help="Cassandra keyspace (default FXWATCH_KEYSPACE or fxwatch)"
    )
    p.set_defaults(func=_run)
    job.set_defaults(func=lambda args: (job.print_help(), 2)[1])


def _run(args) -> int:
    # lazy: fxwatch.stats imports pyspark; `fxwatch --help` and other commands must not
    from fxwatch.stats.job import run_stats_job

    settings = Settings.from_env()
    if args.keyspace:
        settings = settings.with_(keyspace=args.keyspace)
    out = run_stats_job(args.date, args.lookback_days, args.k, settings, pairs=args.pairs)
    print(f"stats for {args.date} written; executed notebook: {out}")
    return 0
