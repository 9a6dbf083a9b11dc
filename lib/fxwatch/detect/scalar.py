"""Scalar (univariate) streaming detectors for NAB: `update(ts_ms, value) -> score in [0, 1]`."""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np

__all__ = ["ClassicBounds", "DiffZScore", "ContextNovelty", "SCALAR_DETECTORS", "score_series"]


class ClassicBounds:
    """The classic rule on a scalar: |x − mean| / std over the previous `window` values -> Gaussian confidence.

    Defaults: window=6400 (NAB's windowedGaussian size), min_count=2. Score = erf(|z|/√2) = P(|Z| < |z|),
    so a threshold on the score is a k·std bound.
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


class DiffZScore:
    """Robust z-score of the first difference against an EWMA of |diff| -> 1 − exp(−z/k).

    Defaults: alpha=0.01, k=6.0.
    """

    name = "diffz"

    def __init__(self, alpha=0.01, k=6.0):
        self.alpha, self.k = alpha, k
        self.prev = None
        self.mad = None

    def update(self, ts_ms: int, value: float) -> float:
        prev, self.prev = self.prev, value
        if prev is None:
            return 0.0
        d = abs(value - prev)
        mad = self.mad
        if mad is None:
            self.mad = d
            return 0.0
        z = d / mad if mad > 0 else (0.0 if d == 0 else 1e9)
        self.mad = mad + self.alpha * (d - mad)
        return 1.0 - math.exp(-z / self.k)


class ContextNovelty:
    """Novelty of the recent quantised trajectory: has this (level, level, ...) context been seen before?

    Values are scaled into `levels` bins over the running [min, max] (learnt online, so a new extreme
    is itself novel). Contexts are the last 1..`order` bins; score = weighted share of orders whose
    context is new. After a score ≥ `rest_threshold` the output is held at 0 for `rest` records so one
    event yields one early detection. Defaults: levels=8, order=5, rest_threshold=0.75, rest=150.
    """

    name = "context"

    def __init__(self, levels=8, order=5, rest_threshold=0.75, rest=150):
        self.levels, self.order, self.rest_threshold, self.rest = levels, order, rest_threshold, rest
        self.lo = None
        self.hi = None
        self.hist: deque = deque(maxlen=order)
        self.seen: list[set] = [set() for _ in range(order)]
        self.hold = 0

    def update(self, ts_ms: int, value: float) -> float:
        if self.lo is None:
            self.lo = self.hi = value
        if value < self.lo:
            self.lo = value
        if value > self.hi:
            self.hi = value
        span = self.hi - self.lo
        b = int((value - self.lo) / span * (self.levels - 1) + 0.5) if span > 0 else 0
        self.hist.append(b)
        h = tuple(self.hist)
        new = 0.0
        tot = 0.0
        for k in range(1, len(h) + 1):
            ctx = h[-k:]
            w = 1.0 / k
            tot += w
            if ctx not in self.seen[k - 1]:
                self.seen[k - 1].add(ctx)
                new += w
        raw = new / tot if tot else 0.0
        if self.hold > 0:
            self.hold -= 1
            return 0.0
        if raw >= self.rest_threshold:
            self.hold = self.rest
        return raw


def _ctx(probation):
    return ContextNovelty(rest=max(1, int(probation / 5)))


SCALAR_DETECTORS: dict[str, Callable[[int], object]] = {
    "classic": lambda probation: ClassicBounds(),
    "diffz": lambda probation: DiffZScore(),
    "context": _ctx,
    "fxwatch": _ctx,
}


def score_series(factory: Callable[[int], object], ts_ms, values, probation: int | None = None) -> np.ndarray:
    """Run a fresh scalar detector over one series; `probation` defaults to NAB's min(15 %, 750) rows."""
    n = len(values)
    if probation is None:
        probation = int(min(math.floor(0.15 * n), 750))
    det = factory(probation)
    upd = det.update
    out = np.empty(n, dtype=float)
    for i, (t, v) in enumerate(zip(np.asarray(ts_ms).tolist(), np.asarray(values, dtype=float).tolist())):
        out[i] = upd(t, v)
    return out
