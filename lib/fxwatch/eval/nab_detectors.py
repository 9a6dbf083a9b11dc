"""NAB's scalar (univariate) streaming detectors: `update(ts_ms, value) -> score in [0, 1]`.

Evaluation only: they score NAB series; the production detectors (`fxwatch.detect`) take quotes.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from fxwatch.eval.contextual import ContextualNovelty, RecentMaxGate
from fxwatch.eval.nab_river import RIVER_DETECTORS, RiverHalfSpaceTrees

__all__ = [
    "ScalarDetector",
    "ClassicBounds",
    "LevelNovelty",
    "RankCalibrated",
    "RestGate",
    "WeightedMax",
    "SCALAR_DETECTORS",
    "classic_gated",
    "river_hst_gated",
    "contextual_nab",
    "fxwatch_ctx",
    "fxwatch_nab",
    "score_series",
]


@runtime_checkable
class ScalarDetector(Protocol):
    """Streaming univariate detector (NAB): `update(ts_ms, value)` returns a score in [0, 1]."""

    name: str

    def update(self, ts_ms: int, value: float) -> float:  # pragma: no cover - protocol
        """Consume one value; return its anomaly score."""


class ClassicBounds:
    """The classic rule on a scalar: |x − mean| / std over the previous `window` values ->
    Gaussian confidence.

    Defaults: window=6400 (NAB's windowedGaussian size), min_count=2. Score = erf(|z|/√2) =
    P(|Z| < |z|), so a threshold on the score is a k·std bound.
    """

    name = "classic"

    def __init__(self, window=6400, min_count=2):
        self.buf: deque = deque(maxlen=window)
        self.s = 0.0
        self.ss = 0.0
        self.min_count = min_count

    def update(self, ts_ms: int, value: float) -> float:
        buf = self.buf
        n = len(buf)
        score = 0.0
        if n >= self.min_count:
            mean = self.s / n
            var = self.ss / n - mean * mean
            if var > 1e-12 * (1.0 + mean * mean):
                score = math.erf(abs(value - mean) / math.sqrt(2.0 * var))
            else:
                score = 1.0 if value != mean else 0.0
        if n == buf.maxlen:
            old = buf[0]
            self.s -= old
            self.ss -= old * old
        buf.append(value)
        self.s += value
        self.ss += value * value
        return score


class RankCalibrated:
    """Online percentile rank of another detector's raw score among all its past scores, in [0, 1).

    Makes scores of different series comparable, so one corpus-wide threshold means the same
    false-alarm rate everywhere.
    """

    def __init__(self, inner):
        self.inner = inner
        self.name = f"rank({inner.name})"
        self.past: list[float] = []

    def update(self, ts_ms: int, value: float) -> float:
        raw = self.inner.update(ts_ms, value)
        past = self.past
        n = len(past)
        r = bisect.bisect_left(past, raw) / n if n else 0.0
        bisect.insort(past, raw)
        return r


class RestGate:
    """Space detections: once the inner score reaches `threshold`, 0 for the next `rest` records.

    NAB rewards the first detection in a window and charges every later false positive; a gate
    turns an event into one early detection. Defaults: threshold=0.5, rest=150.
    """

    def __init__(self, inner, threshold=0.5, rest=150):
        self.inner, self.threshold, self.rest = inner, threshold, rest
        self.name = inner.name
        self.hold = 0

    def update(self, ts_ms: int, value: float) -> float:
        s = self.inner.update(ts_ms, value)
        if self.hold > 0:
            self.hold -= 1
            return 0.0
        if s >= self.threshold:
            self.hold = self.rest
        return s


class LevelNovelty:
    """Share of quantisation grids in which the value lands in a bin never seen before.

    Grids: `levels` bins (default 8, 10, ..., 24) spanning the [min, max] of the first `probation`
    values, extended without bound beyond it; bins seen during probation are learnt then, and every
    later value teaches its bins too. A value outside everything seen so far scores 1.0, a value in
    a fresh fine bin inside the known range scores less. No look-ahead: nothing after the current
    value is used. Output is 0 during probation.
    """

    name = "level"

    def __init__(self, probation: int, levels=tuple(range(8, 25, 2))):
        self.probation = max(int(probation), 1)
        self.levels = tuple(levels)
        self.buf: list[float] | None = []
        self.lo = 0.0
        self.steps: list[float] = []
        self.seen: list[set] = [set() for _ in self.levels]

    def _novelty(self, value: float) -> float:
        new = 0
        lo = self.lo
        for step, seen in zip(self.steps, self.seen):
            b = math.floor((value - lo) / step + 0.5)
            if b not in seen:
                seen.add(b)
                new += 1
        return new / len(self.steps)

    def update(self, ts_ms: int, value: float) -> float:
        buf = self.buf
        if buf is None:
            return self._novelty(value)
        buf.append(value)
        if len(buf) >= self.probation:
            lo, hi = min(buf), max(buf)
            span = hi - lo
            if span <= 0:
                span = abs(hi) * 0.01 or 1.0
            self.lo = lo
            self.steps = [span / (lv - 1) for lv in self.levels]
            for x in buf:
                self._novelty(x)
            self.buf = None
        return 0.0


def contextual_nab(probation: int):
    """ContextualNovelty with CAD OSE's own rest rule (quiet for probation/5 records after a
    score ≥ 0.75)."""
    return RecentMaxGate(ContextualNovelty(probation), threshold=0.75, rest=max(1, probation // 5))


class WeightedMax:
    """max_i(weight_i · score_i) of several scalar detectors fed the same values."""

    def __init__(self, inners, weights):
        self.inners, self.weights = list(inners), list(weights)
        if len(self.inners) != len(self.weights):
            raise ValueError("one weight per inner detector")
        terms = (f"{w:g}*{d.name}" for d, w in zip(self.inners, self.weights))
        self.name = "max(" + ",".join(terms) + ")"

    def update(self, ts_ms: int, value: float) -> float:
        return max(w * d.update(ts_ms, value) for d, w in zip(self.inners, self.weights))


def fxwatch_ctx(probation: int) -> WeightedMax:
    """The default detector, or half the gated contextual score when that is higher (NAB: 71.8 /
    61.9 / 77.8).

    The 0.5 weight lets a contextual detection through only where it is near 1; chosen on the
    corpus (see bench/README_detect.md for the split check: it does not beat the default on
    held-out halves).
    """
    return WeightedMax([fxwatch_nab(probation), contextual_nab(probation)], [1.0, 0.5])


def fxwatch_nab(probation: int) -> RestGate:
    """The default NAB detector: LevelNovelty gated at 0.5 with a rest of probation/5 records."""
    return RestGate(LevelNovelty(probation), threshold=0.5, rest=max(1, probation // 5))


def classic_gated(probation: int) -> RestGate:
    """The classic rule, rank-calibrated per series and gated like the default detector."""
    return RestGate(RankCalibrated(ClassicBounds()), threshold=0.99, rest=max(1, probation // 5))


def river_hst_gated(probation: int, inner=None) -> RestGate:
    """river's HalfSpaceTrees, rank-calibrated per series and gated like the classic rule
    (`inner`: another source of raw HST scores, e.g. a replay of a cached run)."""
    hst = RiverHalfSpaceTrees(probation) if inner is None else inner
    return RestGate(RankCalibrated(hst), threshold=0.99, rest=max(1, probation // 5))


SCALAR_DETECTORS: dict[str, Callable[[int], object]] = {
    "classic": lambda probation: ClassicBounds(),
    "classic-gated": classic_gated,
    "contextual": contextual_nab,
    "fxwatch-ctx": fxwatch_ctx,
    "level": lambda probation: LevelNovelty(probation),
    "fxwatch": fxwatch_nab,
    **RIVER_DETECTORS,
    "river-hst-gated": river_hst_gated,
}
"""Name -> factory(probation_rows) of a fresh scalar detector (`fxwatch nab --detector`); the
river-* ones are river's online detectors (`fxwatch.eval.nab_river`)."""


def score_series(
    factory: Callable[[int], object], ts_ms, values, probation: int | None = None
) -> np.ndarray:
    """Run a fresh scalar detector over one series; `probation` defaults to NAB's min(15 %, 750)
    rows."""
    n = len(values)
    if probation is None:
        probation = int(min(math.floor(0.15 * n), 750))
    det = factory(probation)
    upd = det.update
    out = np.empty(n, dtype=float)
    times, vals = np.asarray(ts_ms).tolist(), np.asarray(values, dtype=float).tolist()
    for i, (t, v) in enumerate(zip(times, vals)):
        out[i] = upd(t, v)
    return out
