"""Score every fxwatch scalar detector on NAB and print them beside the published scoreboard.

Usage: .venv/bin/python bench/nab_run.py [--nab DIR] [--detectors fxwatch,contextual,...]
(--nab defaults to $FXWATCH_NAB_DIR, else ../shared/data/nab next to the repository)
By default the quick detectors run (seconds); the contextual ones take many minutes of Python each
(--detectors all runs every one).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fxwatch.datasets import nab_dir
from fxwatch.errors import FxwatchError
from fxwatch.eval.nab import (
    load_corpus,
    load_profiles,
    load_published_scores,
    load_windows,
    score_corpus,
)
from fxwatch.eval.nab_detectors import SCALAR_DETECTORS, score_series

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SLOW = {"contextual", "fxwatch-ctx"}  # ContextualNovelty: ~10-20 min of CPU over the corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--nab",
        type=Path,
        default=None,
        help="NAB root (default: $FXWATCH_NAB_DIR, else ../shared/data/nab)",
    )
    ap.add_argument(
        "--detectors",
        default="",
        help="comma-separated names, or 'all' (default: all but the slow ones)",
    )
    a = ap.parse_args()
    try:
        root = a.nab or nab_dir()
    except FxwatchError as exc:
        ap.error(str(exc))
    corpus = load_corpus(root)
    windows = load_windows(root / "labels/combined_windows.json")
    profiles = load_profiles(root / "config/profiles.json")
    names = [n for n in corpus if n in windows]

    if a.detectors == "all":
        chosen = list(SCALAR_DETECTORS)
    elif a.detectors:
        chosen = a.detectors.split(",")
    else:
        chosen = [d for d in SCALAR_DETECTORS if d not in SLOW]
    rows = []
    for det in chosen:
        t = time.perf_counter()
        scores = {
            n: score_series(SCALAR_DETECTORS[det], corpus[n].ts_ms, corpus[n].values) for n in names
        }
        res = score_corpus(corpus, windows, profiles, scores)
        rows.append(
            (f"fxwatch {det}", [res[p].normalised for p in PROFILES], time.perf_counter() - t)
        )
    wg = load_published_scores(root / "results/windowedGaussian", names)
    res = score_corpus(corpus, windows, profiles, wg)
    rows.append(
        (
            "windowedGaussian (published per-record, re-scored here)",
            [res[p].normalised for p in PROFILES],
            0.0,
        )
    )

    print(f"{'detector':58s} {'standard':>9s} {'low_FP':>8s} {'low_FN':>8s} {'secs':>6s}")
    for name, s, secs in rows:
        print(f"{name:58s} {s[0]:9.1f} {s[1]:8.1f} {s[2]:8.1f} {secs:6.1f}")
    print("published (results/final_results.json):")
    pub = json.loads((root / "results/final_results.json").read_text())
    for det, s in sorted(pub.items(), key=lambda kv: -kv[1]["standard"]):
        print(
            f"  {det:56s} {s['standard']:9.1f} {s['reward_low_FP_rate']:8.1f} "
            f"{s['reward_low_FN_rate']:8.1f}"
        )


if __name__ == "__main__":
    main()
