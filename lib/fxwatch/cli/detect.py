"""`fxwatch detect`: tick files -> the detectors -> an alerts CSV (and an incidents CSV)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from fxwatch.cli.incidents import incidents_report
from fxwatch.detect.bank import default_cross, default_detectors, run_detectors
from fxwatch.detect.incidents import group_alerts
from fxwatch.detect.io import detect_columns, write_alerts
from fxwatch.detect.verdict import Verdict
from fxwatch.errors import FxwatchError
from fxwatch.sources.replay import add_file_arguments, read_columns, read_quotes
from fxwatch.store.incidents import export_incidents_csv

__all__ = ["register", "run_detect", "detect_files"]


def register(subparsers) -> None:
    """Add `detect` to the fxwatch command line."""
    p = subparsers.add_parser(
        "detect", help="run the detectors over recorded ticks and write an alerts CSV"
    )
    add_file_arguments(p)  # the same flags as `fxwatch produce --source replay`
    # deprecated name of --files (README and scripts of earlier versions), hidden from the help
    p.add_argument("--input", nargs="+", type=Path, help=argparse.SUPPRESS)
    p.add_argument(
        "--output", required=True, help="alerts CSV to write (pair,ts,detector,score,reason)"
    )
    p.add_argument(
        "--incidents",
        metavar="CSV",
        default=None,
        help="also group the alerts into incidents (per pair/triangle, < 60 s apart) and write "
        "them here (python engine)",
    )
    p.add_argument(
        "--engine", choices=("python", "spark"), default="python", help="python (default) or spark"
    )
    p.add_argument(
        "--cooldown-ms",
        type=int,
        default=60_000,
        help="one alert per pair+detector per quiet period",
    )
    p.add_argument(
        "--plain-reader",
        action="store_true",
        help="python engine: one Quote object per tick (slower; the default columnar "
        "path gives the same alerts)",
    )
    p.set_defaults(func=run_detect)


def detect_files(
    paths: Iterable,
    fmt: str | None = None,
    utc_offset_hours: float | None = None,
    cooldown_ms: int = 60_000,
    columnar: bool = True,
) -> tuple[int, list[Verdict]]:
    """(ticks read, alerts) of tick files through the default detectors and one PairDetectorBank.

    The columnar path when the files allow it (Lean files without a bad line), else a Quote per
    tick; both give the same alerts. A bad line stops the run with its file:line and reason.
    """
    paths = list(paths)
    cols = read_columns(paths, fmt, utc_offset_hours) if columnar else None
    if cols is not None:
        return len(cols), detect_columns(cols, default_detectors, default_cross, cooldown_ms)
    n = 0

    def counted():
        nonlocal n
        for q in read_quotes(paths, fmt, utc_offset_hours):
            n += 1
            yield q

    alerts = run_detectors(
        counted(), default_detectors, cross=default_cross, cooldown_ms=cooldown_ms
    )
    return n, alerts


def run_detect(args) -> int:
    """Run the chosen engine; print ticks/s and the alert count."""
    files = args.files or args.input
    if args.input:
        print("fxwatch detect: --input is deprecated, use --files", file=sys.stderr)
    if not files:
        raise FxwatchError(
            "detect needs --files (tick files, e.g. data/samples/synthetic_ticks.csv)"
        )
    if args.engine == "spark":
        if args.incidents:
            raise FxwatchError("--incidents needs the python engine: drop --engine spark")
        # imported here: the spark engine starts a JVM, the python engine must not wait for pyspark
        from fxwatch.stream.detect_engine import run_spark_detect

        return int(
            run_spark_detect(
                inputs=list(files),
                output=args.output,
                fmt=args.format,
                utc_offset_hours=args.utc_offset,
                cooldown_ms=args.cooldown_ms,
            )
            or 0
        )
    t0 = time.perf_counter()
    n, alerts = detect_files(
        files, args.format, args.utc_offset, args.cooldown_ms, columnar=not args.plain_reader
    )
    elapsed = time.perf_counter() - t0
    alerts.sort(key=lambda v: (v.ts_ms, v.pair))  # bad ticks are confirmed a few ticks late
    rows = write_alerts(args.output, alerts)
    rate = n / elapsed if elapsed > 0 else float("inf")
    print(
        f"{n} ticks, {rows} alerts -> {args.output} "
        f"({elapsed:.2f}s, {rate:,.0f} ticks/s incl. parsing)"
    )
    if n == 0:
        print("warning: no ticks read; check --format", file=sys.stderr)
    if args.incidents:
        incidents = [asdict(i) for i in group_alerts(alerts)]
        export_incidents_csv(incidents, args.incidents)
        print(incidents_report(incidents, args.incidents))
    return 0
