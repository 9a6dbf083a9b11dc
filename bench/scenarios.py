"""Labelled synthetic scenarios (tuning and held-out seeds) and the ECB-day real ticks through
the default ensemble.

Usage: .venv/bin/python bench/scenarios.py [--hours 2] [--lean DIR]
(--lean defaults to $FXWATCH_LEAN_DIR, else ../shared/data/fx/quantconnect_lean next to the repo)
Prints the tables quoted in bench/README_scenarios.md (about 1-2 minutes on one core).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from fxwatch.datasets import lean_dir
from fxwatch.errors import FxwatchError
from fxwatch.eval.scenarios import (
    confirmed_cross,
    detect_offline,
    flagged_between,
    merge_scores,
    run_scenario,
)
from fxwatch.schema import iso_ms
from fxwatch.sources.replay import read_quotes

TUNE_SEEDS = (1, 2, 3, 4, 5)
HELD_OUT_SEEDS = (101, 102, 103, 104, 105)
ECB_PEAK = (
    1_399_553_100_000,
    1_399_553_400_000,
)  # 2014-05-08 12:45-12:50 UTC: spike to ~1.3993 and reversal


def scenarios(seeds, hours, cross_factory=None):
    """Pooled score over seeds (fresh detectors for every seed)."""
    return merge_scores([run_scenario(s, hours, cross_factory=cross_factory)[0] for s in seeds])


def show(title, m):
    print(f"## {title}: {m.pair_hours:g} pair-hours")
    print(m.by_kind().to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(m.by_detector().to_string(index=False))
    print(
        json.dumps(
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.summary().items()}
        )
    )
    print()


def ecb_day(lean: Path):
    """Alert counts per detector and the two checks on the real 2014-05-08 files, per venue."""
    for venue in ("oanda", "fxcm"):
        files = sorted(lean.glob(f"{venue}/tick/*/20140508_*_tick_quote.csv"))
        if not files:
            print(f"## ECB day {venue}: no files under {lean}")
            continue
        quotes = list(read_quotes(files, "lean"))
        alerts = detect_offline(quotes)
        crossed = sum(q.bid > q.ask for q in quotes)
        locked = sum(q.bid == q.ask for q in quotes)
        peak = flagged_between(alerts, "EUR/USD", *ECB_PEAK)
        print(
            f"## ECB day {venue}: {len(quotes)} ticks "
            f"({', '.join(f.parent.name for f in files)}), {len(alerts)} alerts"
        )
        for (pair, det), n in sorted(Counter((a.pair, a.detector) for a in alerts).items()):
            print(f"  {pair} {det:9s} {n}")
        print(
            f"  crossed quotes {crossed}, locked {locked}: "
            f"{sum(a.detector == 'crossed' for a in alerts)} crossed-quote alerts"
        )
        print(
            "  EUR/USD 12:45-12:50 UTC: "
            + (", ".join(f"{iso_ms(a.ts_ms)[11:23]} {a.detector}" for a in peak) or "no alert")
        )
        near = flagged_between(
            alerts, "EUR/USD", ECB_PEAK[0] - 15 * 60_000, ECB_PEAK[1] + 15 * 60_000
        )
        print(
            "  EUR/USD 12:30-13:05 UTC (non-crossed): "
            + ", ".join(
                f"{iso_ms(a.ts_ms)[11:19]} {a.detector}" for a in near if a.detector != "crossed"
            )
        )
        print()


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument(
        "--lean",
        type=Path,
        default=None,
        help="QuantConnect Lean FX root "
        "(default: $FXWATCH_LEAN_DIR, else ../shared/data/fx/quantconnect_lean)",
    )
    a = ap.parse_args()
    try:
        lean = a.lean or lean_dir()
    except FxwatchError as exc:
        ap.error(str(exc))
    t = time.perf_counter()
    show("tuning seeds 1-5, default ensemble", scenarios(TUNE_SEEDS, a.hours))
    show(
        "tuning seeds 1-5, CrossRate(confirm_legs=True)",
        scenarios(TUNE_SEEDS, a.hours, confirmed_cross),
    )
    show("held-out seeds 101-105, default ensemble", scenarios(HELD_OUT_SEEDS, a.hours))
    show(
        "held-out seeds 101-105, CrossRate(confirm_legs=True)",
        scenarios(HELD_OUT_SEEDS, a.hours, confirmed_cross),
    )
    ecb_day(lean)
    print(f"# {time.perf_counter() - t:.0f}s")


if __name__ == "__main__":
    main()
