"""NAB out of sample: configuration and threshold chosen on one half of the files, scored on the
other half, both ways, averaged; the in-sample figure (chosen and scored on all files) beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fxwatch.errors import FxwatchError
from fxwatch.eval.nab import score_at_threshold, score_corpus, sweep_file

__all__ = ["SplitResult", "halves", "normalised_at", "out_of_sample"]


def halves(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Files sorted by name, alternately dealt: (1st, 3rd, ...), (2nd, 4th, ...)."""
    s = sorted(names)
    return s[0::2], s[1::2]


def normalised_at(
    corpus, windows, cost: Mapping[str, float], scores: Mapping[str, np.ndarray], names, threshold
) -> float:
    """NAB normalised score (0 null, 100 perfect) of `names` at a fixed threshold."""
    names = [n for n in names if n in windows]
    raw = 0.0
    for n in names:
        sw = sweep_file(corpus[n].timestamps, windows[n], cost)
        raw += score_at_threshold(scores[n], sw, cost, threshold)["score"]
    n_windows = sum(len(windows[n]) for n in names)
    null = -cost["fnWeight"] * n_windows
    perfect = cost["tpWeight"] * n_windows
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else float("nan")


@dataclass
class SplitResult:
    """Per profile: the out-of-sample average, each direction's choice, and the in-sample score."""

    profile: str
    out_of_sample: float
    in_sample: float
    in_sample_choice: str
    directions: list[dict] = field(default_factory=list)


def _best(corpus, windows, profiles, candidates, names, profile):
    """(name, threshold, normalised) of the candidate scoring best on `names` for `profile`."""
    sub = {n: corpus[n] for n in names}
    best = None
    for cand, scores in candidates.items():
        r = score_corpus(sub, windows, {profile: profiles[profile]}, scores)[profile]
        if best is None or r.normalised > best[2]:
            best = (cand, r.threshold, r.normalised)
    return best


def out_of_sample(
    corpus, windows, profiles, candidates: Mapping[str, Mapping[str, np.ndarray]]
) -> dict[str, SplitResult]:
    """Choose the candidate (name -> per-file scores) and its threshold on one half, score the
    other half at that threshold; both ways, averaged. One candidate = threshold choice only."""
    if not candidates:
        raise FxwatchError("no candidate detectors to choose from")
    names = [n for n in corpus if n in windows]
    a, b = halves(names)
    out = {}
    for profile, cost in profiles.items():
        dirs = []
        for tune, test, label in ((a, b, "odd->even"), (b, a, "even->odd")):
            cand, thr, tuned = _best(corpus, windows, profiles, candidates, tune, profile)
            held = normalised_at(corpus, windows, cost, candidates[cand], test, thr)
            dirs.append(
                {
                    "direction": label,
                    "chosen": cand,
                    "threshold": thr,
                    "tuning_half": tuned,
                    "other_half": held,
                }
            )
        cand, _, whole = _best(corpus, windows, profiles, candidates, names, profile)
        oos = float(np.mean([d["other_half"] for d in dirs]))
        out[profile] = SplitResult(profile, oos, whole, cand, dirs)
    return out
