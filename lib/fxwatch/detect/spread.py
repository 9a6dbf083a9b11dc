"""Spread blow-out: the quoted spread against its rolling median."""

from __future__ import annotations

from collections import deque

from fxwatch.detect.robust import median
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["SpreadBlowout"]


class SpreadBlowout:
    """Alert when spread > k × rolling median spread (and > min_spread).

    Defaults: window=1000 ticks, refresh=500 (median recomputed every 500 ticks), k=5.0,
    min_spread=0.0 (price units), min_ticks=100.
    Crossed/locked quotes (spread <= 0) are left to CrossedQuote.
    """

    name = "spread"

    def __init__(self, window=1000, refresh=500, k=5.0, min_spread=0.0, min_ticks=100):
        self.k, self.refresh, self.min_spread, self.min_ticks = k, refresh, min_spread, min_ticks
        self.spreads: deque = deque(maxlen=window)
        self.med = None
        self.count = 0

    def update(self, q: Quote) -> Verdict | None:
        sp = q.ask - q.bid
        self.count += 1
        med = self.med
        out = None
        if med is not None and med > 0 and sp > self.k * med and sp > self.min_spread:
            ratio = sp / med
            out = Verdict(
                q.pair,
                q.ts_ms,
                self.name,
                1.0 - self.k / (2.0 * ratio),
                True,
                f"spread {sp:.6g} is {ratio:.1f}x the rolling median {med:.6g}",
            )
        else:
            self.spreads.append(sp)
        if self.count % self.refresh == 0 or (self.med is None and self.count >= self.min_ticks):
            pos = [s for s in self.spreads if s > 0]
            self.med = median(pos) if pos else None
        return out
