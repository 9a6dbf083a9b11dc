"""`fxwatch detect` (ticks -> alerts CSV) and `fxwatch nab` (NAB benchmark) subcommands."""

from __future__ import annotations

import sys
import time

from fxwatch.errors import FxwatchError

__all__ = ["register", "run_detect"]


def register(subparsers) -> None:
    """Add `detect` and `nab` to the fxwatch command line."""
    p = subparsers.add_parser("detect", help="run the detectors over recorded ticks and write an alerts CSV")
    p.add_argument("--input", required=True, nargs="+", help="tick file(s); several files are merged by time")
    p.add_argument("--output", required=True, help="alerts CSV to write (pair,ts,detector,score,reason)")
    p.add_argument("--engine", choices=("python", "spark"), default="python", help="python (default) or spark")
    p.add_argument("--format", dest="fmt", choices=("truefx", "lean", "csv"), default="truefx",
                   help="truefx: EUR/USD,20160502 00:00:00.959,bid,ask; lean: ms,bid,ask (pair/date from path); "
                        "csv: header pair,ts,bid,ask")
    p.add_argument("--tz-offset-hours", type=float, default=None,
                   help="clock of lean files as UTC+H (default -5 under fxcm/, else 0)")
    p.add_argument("--cooldown-ms", type=int, default=60_000, help="one alert per pair+detector per quiet period")
    p.add_argument("--plain-reader", action="store_true",
                   help="python engine: one Quote object per tick (slower; the default columnar path gives the same alerts)")
    p.set_defaults(func=run_detect)

    from fxwatch.eval.cli import register_nab

    register_nab(subparsers)


def run_detect(args) -> int:
    """Run the chosen engine; print ticks/s and the alert count."""
    if args.engine == "spark":
        import importlib.util

        if importlib.util.find_spec("fxwatch.stream.detect_engine") is None:
            raise FxwatchError("spark engine: not available yet (use --engine python)")
        from fxwatch.stream.detect_engine import run_spark_detect  # imported lazily: starts no JVM here

        return int(run_spark_detect(inputs=list(args.input), output=args.output, fmt=args.fmt,
                                    tz_offset_hours=args.tz_offset_hours, cooldown_ms=args.cooldown_ms) or 0)

    from fxwatch.detect.bank import default_cross, default_detectors, run_detectors
    from fxwatch.detect.io import detect_offline_fast, read_quotes, write_alerts

    t0 = time.perf_counter()
    if args.plain_reader:
        quotes = read_quotes(args.input, args.fmt, args.tz_offset_hours)
        n = 0

        def counted():
            nonlocal n
            for q in quotes:
                n += 1
                yield q

        alerts = run_detectors(counted(), default_detectors, cross=default_cross(), cooldown_ms=args.cooldown_ms)
    else:
        n, alerts = detect_offline_fast(args.input, args.fmt, default_detectors, cross=default_cross(),
                                        cooldown_ms=args.cooldown_ms, tz_offset_hours=args.tz_offset_hours)
    elapsed = time.perf_counter() - t0
    alerts.sort(key=lambda v: (v.ts_ms, v.pair))  # bad ticks are confirmed a few ticks late
    rows = write_alerts(args.output, alerts)
    rate = n / elapsed if elapsed > 0 else float("inf")
    print(f"{n} ticks, {rows} alerts -> {args.output} ({elapsed:.2f}s, {rate:,.0f} ticks/s incl. parsing)")
    if n == 0:
        print("warning: no ticks read; check --format", file=sys.stderr)
    return 0
