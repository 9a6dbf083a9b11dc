"""`fxwatch nab`: score a detector (or a published results folder) on the NAB corpus."""

from __future__ import annotations

import time
from pathlib import Path

from fxwatch.errors import FxwatchError
from fxwatch.eval.nab import (
    load_corpus,
    load_profiles,
    load_published_scores,
    load_windows,
    score_corpus,
)
from fxwatch.eval.nab_detectors import SCALAR_DETECTORS, score_series
from fxwatch.eval.nab_split import out_of_sample

__all__ = ["register", "run_nab"]


def register(subparsers) -> None:
    """Add the `nab` subcommand."""
    p = subparsers.add_parser("nab", help="score a detector on the Numenta Anomaly Benchmark")
    p.add_argument(
        "--data", required=True, help="NAB root (with data/, labels/, config/) or its data/ folder"
    )
    p.add_argument(
        "--windows", default=None, help="labels/combined_windows.json (default: under the NAB root)"
    )
    p.add_argument(
        "--profiles", default=None, help="config/profiles.json (default: under the NAB root)"
    )
    p.add_argument(
        "--detector",
        default="fxwatch",
        choices=sorted(SCALAR_DETECTORS),
        help="scalar detector to run",
    )
    p.add_argument("--profile", default=None, help="score only this profile (default: all three)")
    p.add_argument(
        "--scores-from",
        default=None,
        help="score a published per-record results/<detector> folder instead of running a detector",
    )
    p.add_argument(
        "--out-of-sample",
        action="store_true",
        help="also print the out-of-sample score: threshold chosen on one half of the files "
        "(alternate files by name), scored on the other, both ways, averaged",
    )
    p.set_defaults(func=run_nab)


def _root(data: str) -> Path:
    p = Path(data)
    return p.parent if p.name == "data" and not (p / "data").is_dir() else p


def run_nab(args) -> int:
    """Run (or load) per-record scores, optimise thresholds, print normalised scores."""
    root = _root(args.data)
    corpus = load_corpus(args.data)
    windows = load_windows(args.windows or root / "labels" / "combined_windows.json")
    profiles = load_profiles(args.profiles or root / "config" / "profiles.json")
    if args.profile:
        if args.profile not in profiles:
            raise FxwatchError(
                f"unknown profile {args.profile!r}; choose from {', '.join(profiles)}"
            )
        profiles = {args.profile: profiles[args.profile]}
    t0 = time.perf_counter()
    if args.scores_from:
        scores = load_published_scores(args.scores_from, [n for n in corpus if n in windows])
        label = Path(args.scores_from).name
    else:
        factory = SCALAR_DETECTORS[args.detector]
        scores = {
            n: score_series(factory, f.ts_ms, f.values) for n, f in corpus.items() if n in windows
        }
        label = args.detector
    res = score_corpus(corpus, windows, profiles, scores)
    took = time.perf_counter() - t0
    print(" ".join(f"{p}={r.normalised:.1f}" for p, r in res.items()))
    if getattr(args, "out_of_sample", False):
        split = out_of_sample(corpus, windows, profiles, {label: scores})
        print(
            "out-of-sample "
            + " ".join(f"{p}={r.out_of_sample:.1f}" for p, r in split.items())
            + " (in-sample above)"
        )
    print(
        f"# {label}: thresholds "
        + " ".join(f"{p}={r.threshold:.4g}" for p, r in res.items())
        + f"; {len(scores)} files in {took:.1f}s"
    )
    return 0
