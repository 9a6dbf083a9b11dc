"""Score fxwatch's and river's scalar detectors on NAB, in sample and out of sample, beside the
published scoreboard.

Usage: .venv/bin/python bench/nab_run.py [--nab DIR] [--detectors fxwatch,river-hst,...]
           [--cache DIR] [--json F]
(--nab defaults to $FXWATCH_NAB_DIR, else ../shared/data/nab next to the repository)
In sample = threshold (and, for the selection rows, configuration) chosen on all 58 files and
scored on them, as NAB does; out of sample = chosen on one half of the files (sorted by name,
alternate files), scored on the other half, both ways, averaged. By default the quick fxwatch
detectors and all river ones run (river-hst ~4 min of CPU; --cache keeps per-file scores so a
rerun reuses them); 'all' adds the contextual ones (10-20 min each).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from fxwatch.datasets import nab_dir
from fxwatch.errors import FxwatchError
from fxwatch.eval.nab import (
    load_corpus,
    load_profiles,
    load_published_scores,
    load_windows,
)
from fxwatch.eval.nab_detectors import SCALAR_DETECTORS, river_hst_gated, score_series
from fxwatch.eval.nab_split import out_of_sample

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SLOW = {"contextual", "fxwatch-ctx"}  # ContextualNovelty: ~10-20 min of CPU over the corpus
FXWATCH_FAMILY = ("fxwatch", "level", "classic-gated", "classic")
RIVER = ("river-hst", "river-hst-gated", "river-adwin", "river-pagehinkley")


class _Replay:
    """A scalar 'detector' that replays cached raw scores (to gate a cached river-hst run)."""

    name = "replay"

    def __init__(self, values):
        self.it = iter(np.asarray(values, dtype=float).tolist())

    def update(self, ts_ms: int, value: float) -> float:
        return next(self.it)


def _scores(det, corpus, names, cache: Path | None, done: dict) -> dict[str, np.ndarray]:
    """Per-file scores of one detector: from the cache, from a cached raw run, or computed."""
    path = cache / f"{det}.npz" if cache else None
    if path and path.exists():
        z = np.load(path)
        got = {k.replace("|", "/"): z[k] for k in z.files}
        if set(names) <= set(got):
            return got
    if det == "river-hst-gated" and "river-hst" in done:
        out = {}
        for n in names:
            raw = done["river-hst"][n]
            p = int(min(math.floor(0.15 * len(raw)), 750))
            out[n] = score_series(
                lambda _p, raw=raw, p=p: river_hst_gated(p, _Replay(raw)), [0] * len(raw), raw
            )
    else:
        out = {
            n: score_series(SCALAR_DETECTORS[det], corpus[n].ts_ms, corpus[n].values) for n in names
        }
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{k.replace("/", "|"): v for k, v in out.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nab", type=Path, default=None, help="NAB root (default: $FXWATCH_NAB_DIR)")
    ap.add_argument(
        "--detectors",
        default="",
        help="comma-separated names, or 'all' (default: all but the slow contextual ones)",
    )
    ap.add_argument("--cache", type=Path, default=None, help="keep per-file scores here (npz)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    a = ap.parse_args()
    try:
        root = a.nab or nab_dir()
    except FxwatchError as exc:
        ap.error(str(exc))
    corpus = load_corpus(root)
    windows = load_windows(root / "labels/combined_windows.json")
    profiles = load_profiles(root / "config/profiles.json")
    profiles = {p: profiles[p] for p in PROFILES}
    names = [n for n in corpus if n in windows]
    if a.detectors == "all":
        chosen = list(SCALAR_DETECTORS)
    elif a.detectors:
        chosen = a.detectors.split(",")
    else:
        chosen = [d for d in SCALAR_DETECTORS if d not in SLOW]
    unknown = [d for d in chosen if d not in SCALAR_DETECTORS]
    if unknown:
        ap.error(f"unknown detectors {unknown}: choose from {', '.join(SCALAR_DETECTORS)}")

    scores: dict[str, dict[str, np.ndarray]] = {}
    secs: dict[str, float] = {}
    for det in sorted(chosen, key=lambda d: d == "river-hst-gated"):
        t = time.perf_counter()
        scores[det] = _scores(det, corpus, names, a.cache, scores)
        secs[det] = time.perf_counter() - t
    scores["windowedGaussian (published)"] = load_published_scores(
        root / "results/windowedGaussian", names
    )
    secs["windowedGaussian (published)"] = 0.0

    out: dict = {"detectors": {}, "selection": {}}
    print("## Per detector: threshold chosen in sample (all files) / out of sample (halves)")
    head = (
        "| detector | in-sample std / low FP / low FN | out-of-sample std / low FP / low FN | s |"
    )
    print(head)
    print("|---|---|---|---:|")
    for det, sc in scores.items():
        r = out_of_sample(corpus, windows, profiles, {det: sc})
        ins = " / ".join(f"{r[p].in_sample:.1f}" for p in PROFILES)
        oos = " / ".join(f"{r[p].out_of_sample:.1f}" for p in PROFILES)
        print(f"| {det} | {ins} | {oos} | {secs[det]:.0f} |")
        out["detectors"][det] = {
            p: {"in_sample": r[p].in_sample, "out_of_sample": r[p].out_of_sample} for p in PROFILES
        } | {"seconds": secs[det]}

    groups = {
        "fxwatch family": [d for d in FXWATCH_FAMILY if d in scores],
        "river": [d for d in RIVER if d in scores],
        "everything run": [d for d in scores if "published" not in d],
    }
    print()
    print("## Configuration and threshold chosen together (per profile)")
    print(
        "| candidates | profile | in-sample (choice) | odd->even: choice, tuning, other | "
        "even->odd: choice, tuning, other | out-of-sample |"
    )
    print("|---|---|---|---|---|---:|")
    for label, cands in groups.items():
        if not cands:
            continue
        r = out_of_sample(corpus, windows, profiles, {d: scores[d] for d in cands})
        out["selection"][label] = {}
        for p in PROFILES:
            x = r[p]
            dirs = " | ".join(
                f"{d['chosen']}, {d['tuning_half']:.1f}, {d['other_half']:.1f}"
                for d in x.directions
            )
            print(
                f"| {label} ({len(cands)}) | {p} | {x.in_sample:.1f} ({x.in_sample_choice}) | "
                f"{dirs} | {x.out_of_sample:.1f} |"
            )
            out["selection"][label][p] = {
                "in_sample": x.in_sample,
                "in_sample_choice": x.in_sample_choice,
                "out_of_sample": x.out_of_sample,
                "directions": x.directions,
            }
    print()
    print("published (results/final_results.json, thresholds chosen on all files = in sample):")
    pub = json.loads((root / "results/final_results.json").read_text())
    for det, s in sorted(pub.items(), key=lambda kv: -kv[1]["standard"]):
        print(
            f"  {det:28s} {s['standard']:6.1f} {s['reward_low_FP_rate']:6.1f} "
            f"{s['reward_low_FN_rate']:6.1f}"
        )
    if a.json:
        a.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
