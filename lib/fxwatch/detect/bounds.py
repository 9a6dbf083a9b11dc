"""The classic historical-bounds rule: a window statistic outside mean ± k·std (or
median ± k·MAD)."""

from __future__ import annotations

import math
from collections import deque

from fxwatch.detect.robust import median, robust_scale
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["HistoricalBounds"]


class HistoricalBounds:
    """Mid of each tick against bounds built from the closed windows before it.

    Defaults: window_ms=60_000 (tumbling), history=30 windows, k=4.0, method='meanstd'
    ('mad' = median ± k·1.4826·MAD). Bounds are centre ± k·scale of the history of window means,
    widened by the mean intra-window std. A mid must clear a bound by margin=0.5 of the bounds'
    half-width to alert: a trending market grazing a bound it set itself a few minutes earlier is
    not an anomaly (margin=0 is the classic rule). `bounds={'EUR/USD': (lo, hi)}` supplies them
    from history; otherwise they are learnt online and nothing alerts until `min_windows=5`
    windows have closed.
    """

    name = "bounds"

    def __init__(
        self,
        window_ms=60_000,
        history=30,
        k=4.0,
        method="meanstd",
        min_windows=5,
        bounds=None,
        margin=0.5,
    ):
        if method not in ("meanstd", "mad"):
            raise ValueError("method must be 'meanstd' or 'mad'")
        self.window_ms, self.k, self.method, self.min_windows = window_ms, k, method, min_windows
        self.fixed = dict(bounds or {})
        self.margin = margin
        self.means: deque = deque(maxlen=history)
        self.stds: deque = deque(maxlen=history)
        self.win_id = None
        self.n = 0
        self.s = 0.0
        self.ss = 0.0
        self.lo = self.hi = None

    def _close(self):
        mean = self.s / self.n
        var = max(self.ss / self.n - mean * mean, 0.0)
        self.means.append(mean)
        self.stds.append(math.sqrt(var))
        if len(self.means) >= self.min_windows:
            if self.method == "mad":
                c = median(self.means)
                sc = robust_scale(self.means, c)
            else:
                c = sum(self.means) / len(self.means)
                sc = math.sqrt(sum((m - c) ** 2 for m in self.means) / len(self.means))
            sc += sum(self.stds) / len(self.stds)
            self.lo, self.hi = c - self.k * sc, c + self.k * sc

    def update(self, q: Quote) -> Verdict | None:
        mid = (q.bid + q.ask) * 0.5
        wid = q.ts_ms // self.window_ms
        if wid != self.win_id:
            if self.n:
                self._close()
            self.win_id, self.n, self.s, self.ss = wid, 0, 0.0, 0.0
        self.n += 1
        self.s += mid
        self.ss += mid * mid
        lo, hi = self.fixed.get(q.pair, (self.lo, self.hi))
        if lo is None or lo <= mid <= hi:
            return None
        half = max((hi - lo) * 0.5, 1e-12)
        excess = (lo - mid if mid < lo else mid - hi) / half
        if excess < self.margin:
            return None
        score = 1.0 - math.exp(-3.0 * excess) * 0.5
        side = "below" if mid < lo else "above"
        return Verdict(
            q.pair,
            q.ts_ms,
            self.name,
            score,
            True,
            f"mid {mid:.6g} {side} historical bounds [{lo:.6g}, {hi:.6g}]",
        )
