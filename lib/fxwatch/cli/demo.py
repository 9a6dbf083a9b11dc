"""`fxwatch demo`: the whole pipeline on the bundled sample (what `make demo` runs)."""

from __future__ import annotations

import argparse

from fxwatch.config import Settings
from fxwatch.stack import stack_up

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="replay the bundled sample through Kafka, Spark and Cassandra; score the alerts",
    )
    p.add_argument(
        "--history-weeks", type=int, default=2, help="weeks of calm history for the statistics job"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # lazy: fxwatch.demo imports pyspark and kafka; `fxwatch --help` and other commands must not
    from fxwatch.demo import run_demo

    settings = Settings.from_env()
    stack_up(settings)
    run_demo(settings, history_weeks=args.history_weeks)
    return 0
