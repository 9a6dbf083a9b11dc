"""Throughput of the python detection engine (ticks/s, one core) against a same-run pandas baseline.

Usage: .venv/bin/python bench/detect_throughput.py [--input FILE] [--format lean] [--repeat 3]
       [--also FILE]
CPU time (time.process_time) is used so other load on the machine distorts the figures less;
each figure is the best of --repeat runs. End-to-end rows include parsing: the plain path (one Quote
per tick, PairDetectorBank) and the fast path (`fxwatch.cli.detect.detect_files`: columnar reader,
the bank's `update_columns` with one reused QuoteView); their alerts are compared. --also adds a
second file (another pair) merged by time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from fxwatch.cli.detect import detect_files
from fxwatch.datasets import lean_dir
from fxwatch.detect import (
    CrossedQuote,
    Cusum,
    HistoricalBounds,
    PairDetectorBank,
    RampRevert,
    RobustZScore,
    SpreadBlowout,
    StaleQuote,
    TickRate,
    default_cross,
    default_detectors,
)
from fxwatch.errors import FxwatchError
from fxwatch.sources.replay import read_quotes

# under fxwatch.datasets.lean_dir() ($FXWATCH_LEAN_DIR, else ../shared/data/fx/quantconnect_lean)
DEFAULT = "fxcm/tick/eurusd/20140508_eurusd_tick_quote.csv"
ALSO = "fxcm/tick/nzdusd/20140508_nzdusd_tick_quote.csv"


def best(fn, repeat):
    """Best CPU seconds of `repeat` calls and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return min(times), out


def pandas_classic(ts_ms: np.ndarray, mid: np.ndarray, window_ms=60_000, history=30, k=4.0) -> int:
    """Baseline: the classic historical-bounds rule vectorised with pandas rolling windows."""
    df = pd.DataFrame({"mid": mid}, index=pd.to_datetime(ts_ms, unit="ms"))
    win = df["mid"].resample(f"{window_ms}ms").agg(["mean", "std"]).dropna()
    centre = win["mean"].rolling(history, min_periods=5).mean()
    scale = (
        win["mean"].rolling(history, min_periods=5).std(ddof=0)
        + win["std"].rolling(history, min_periods=5).mean()
    )
    bounds = pd.DataFrame({"lo": centre - k * scale, "hi": centre + k * scale})
    bounds.index = bounds.index + pd.Timedelta(
        milliseconds=window_ms
    )  # bounds apply to the next window
    b = bounds.reindex(df.index, method="ffill")
    return int(((df["mid"] < b["lo"]) | (df["mid"] > b["hi"])).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=None, help=f"tick file (default: <lean dir>/{DEFAULT})")
    ap.add_argument("--format", default="lean")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--also",
        default=None,
        help="second file for the two-pair end-to-end rows "
        f"(default: <lean dir>/{ALSO}; '' to skip)",
    )
    a = ap.parse_args()
    try:
        a.input = a.input if a.input is not None else str(lean_dir() / DEFAULT)
        a.also = a.also if a.also is not None else str(lean_dir() / ALSO)
    except FxwatchError as exc:
        ap.error(str(exc))

    t_parse, quotes = best(lambda: list(read_quotes([a.input], a.format)), a.repeat)
    n = len(quotes)
    ts = np.fromiter((q.ts_ms for q in quotes), dtype=np.int64, count=n)
    mid = np.fromiter((q.mid for q in quotes), dtype=float, count=n)

    def bank_run(factory, cross=None):
        bank = PairDetectorBank(factory, cross=cross)
        up = bank.update
        alerts = 0
        for q in quotes:
            v = up(q)
            if v:
                alerts += len(v)
        return alerts

    rows = []
    t_base, base_hits = best(lambda: pandas_classic(ts, mid), a.repeat)
    rows.append(("baseline: pandas rolling classic rule", t_base, base_hits))
    for cls in (
        CrossedQuote,
        SpreadBlowout,
        StaleQuote,
        RobustZScore,
        TickRate,
        RampRevert,
        Cusum,
        HistoricalBounds,
    ):
        t, hits = best(lambda cls=cls: bank_run(lambda: [cls()]), a.repeat)
        rows.append((f"python: {cls.__name__}", t, hits))
    t_ens, hits = best(lambda: bank_run(default_detectors, default_cross()), a.repeat)
    rows.append(("python: default ensemble + cross-rate", t_ens, hits))
    rows.append(("python: parse + default ensemble", t_ens + t_parse, hits))

    def plain_e2e(paths):
        bank = PairDetectorBank(default_detectors, cross=default_cross())
        up = bank.update
        out = []
        for q in read_quotes(paths, a.format):
            v = up(q)
            if v:
                out.extend(v)
        return out

    def key(alerts):
        return [(v.pair, v.ts_ms, v.detector, v.score, v.reason) for v in alerts]

    same = []
    for paths in ([a.input], [a.input, a.also]) if a.also else ([a.input],):
        t_plain, plain = best(lambda paths=paths: plain_e2e(paths), a.repeat)
        t_fast, (m, fast) = best(lambda paths=paths: detect_files(paths, a.format), a.repeat)
        tag = "" if len(paths) == 1 else f" ({len(paths)} files merged, {m} ticks)"
        rows.append((f"end to end, plain path{tag}", t_plain * n / m, len(plain)))
        rows.append((f"end to end, fast path{tag}", t_fast * n / m, len(fast)))
        same.append(key(plain) == key(fast))
        print(f"{m} ticks{tag}: fast/plain = {t_plain / t_fast:.2f}x, alerts identical: {same[-1]}")

    print(f"{n} ticks from {a.input}")
    print(
        "(rows are scaled to ticks/s of their own input; 'vs baseline' compares CPU time per tick)"
    )
    print(f"{'engine':56s} {'ticks/s':>12s} {'vs baseline':>12s} {'alerts':>8s}")
    for name, t, hits in rows:
        rate = n / t if t > 0 else float("inf")
        print(f"{name:56s} {rate:12,.0f} {t_base / t if t else float('inf'):11.2f}x {hits:8d}")
    print(f"parse only: {n / t_parse:,.0f} ticks/s")


if __name__ == "__main__":
    main()
