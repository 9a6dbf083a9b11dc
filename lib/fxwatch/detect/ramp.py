"""Ramp-and-revert (pump-and-dump, fix-window marking): a large excursion that comes back."""

from __future__ import annotations

import math
from collections import deque

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["RampRevert"]


class RampRevert:
    """Within window_ms the mid runs from the window low to the high (or high to low) by ≥ k·σ·√n, then gives back ≥ revert_frac.

    σ is an EWMA std of log mid changes, n the mid changes between low and high. Defaults: window_ms=300_000,
    k=6.0, revert_frac=0.7, alpha=0.01, min_ticks=200, max_window_ticks=5000. One alert per excursion.
    """

    name = "ramp"

    def __init__(self, window_ms=300_000, k=6.0, revert_frac=0.7, alpha=0.01, min_ticks=200, max_window_ticks=5000):
        self.window_ms, self.k, self.revert_frac, self.alpha = window_ms, k, revert_frac, alpha
        self.min_ticks = min_ticks
        self.win: deque = deque(maxlen=max_window_ticks)  # (ts_ms, log mid, seq)
        self.maxq: deque = deque()  # monotone deque for the window max (seq, value)
        self.minq: deque = deque()
        self.seq = 0
        self.var = None
        self.last_lm = None
        self.fired_seq = -1  # change count at the last alert

    def update(self, q: Quote) -> Verdict | None:
        mid = (q.bid + q.ask) * 0.5
        if mid <= 0.0:
            return None
        lm = math.log(mid)
        prev, self.last_lm = self.last_lm, lm
        if lm == prev:
            return None  # the window holds mid changes only: a repeated mid cannot start or end a ramp
        if prev is not None:
            r2 = (lm - prev) ** 2
            self.var = r2 if self.var is None else self.var + self.alpha * (min(r2, 16 * self.var) - self.var)
        seq = self.seq = self.seq + 1
        win = self.win
        if len(win) == win.maxlen:
            win.popleft()
        win.append((q.ts_ms, lm, seq))
        horizon = q.ts_ms - self.window_ms
        while win[0][0] < horizon:
            win.popleft()
        first = win[0][2]
        maxq, minq = self.maxq, self.minq
        while maxq and maxq[-1][1] <= lm:
            maxq.pop()
        maxq.append((seq, lm))
        while minq and minq[-1][1] >= lm:
            minq.pop()
        minq.append((seq, lm))
        while maxq[0][0] < first:
            maxq.popleft()
        while minq[0][0] < first:
            minq.popleft()
        if seq < self.min_ticks or self.var is None:
            return None
        # Pump: the window low comes before the window high; dump: the high comes before the low.
        (hseq, high), (lseq, low) = maxq[0], minq[0]
        if hseq > lseq:
            sign, pseq, peak, bseq, base = 1.0, hseq, high, lseq, low
        else:
            sign, pseq, peak, bseq, base = -1.0, lseq, low, hseq, high
        move = sign * (peak - base)
        if bseq <= self.fired_seq or pseq == seq:
            # A new ramp must start after the last alert: a reverted pump must not come back as a dump.
            return None
        sig = math.sqrt(self.var * (pseq - bseq))
        thr = self.k * sig
        if move > thr:
            back = sign * (peak - lm)
            if back >= self.revert_frac * move:
                self.fired_seq = seq
                kind = "pump-and-dump" if sign > 0 else "dump-and-recover"
                return Verdict(q.pair, q.ts_ms, self.name, 1.0 - 0.5 * thr / move, True,
                               f"{kind}: {move * 1e4:.1f} bp move ({move / sig:.1f} sigma over {pseq - bseq} changes) "
                               f"reverted {100 * back / move:.0f}% within {self.window_ms / 1000:.0f}s")
        return None
