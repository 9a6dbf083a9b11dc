"""Ramp-and-revert (pump-and-dump, fix-window marking): a large excursion that comes back."""

from __future__ import annotations

import math
from collections import deque

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["RampRevert"]


class RampRevert:
    """Within window_ms the mid runs from the window low to the high (or high to low) by
    ≥ k·σ·√n, then gives back ≥ revert_frac.

    σ is an EWMA std of log mid changes, n the mid changes between low and high. Defaults:
    window_ms=300_000, k=6.0, revert_frac=0.7, alpha=0.01, min_ticks=200, max_window_ticks=5000.
    One alert per excursion.
    """

    name = "ramp"

    def __init__(
        self,
        window_ms=300_000,
        k=6.0,
        revert_frac=0.7,
        alpha=0.01,
        min_ticks=200,
        max_window_ticks=5000,
    ):
        self.window_ms, self.k, self.revert_frac, self.alpha = window_ms, k, revert_frac, alpha
        self.min_ticks = min_ticks
        self.win: deque = deque(maxlen=max_window_ticks)  # ts_ms of each mid change
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
        prev = self.last_lm
        if prev is not None and -1e-9 < lm - prev < 1e-9:
            # The window holds mid changes only: a repeated mid cannot start or end a ramp. Float
            # noise of (bid + ask) / 2 is no change either: as the first change it seeded a ~1e-30
            # variance.
            return None
        self.last_lm = lm
        var = self.var
        if prev is not None:
            r2 = (lm - prev) * (lm - prev)
            if var is None:
                var = r2
            else:
                var += self.alpha * ((r2 if r2 < 16.0 * var else 16.0 * var) - var)
            self.var = var
        seq = self.seq = self.seq + 1
        ts = q.ts_ms
        win = self.win  # timestamps of the last mid changes; the i-th from the right has seq - i
        win.append(ts)
        horizon = ts - self.window_ms
        while win[0] < horizon:
            win.popleft()
        first = seq - len(win) + 1
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
        if seq < self.min_ticks or var is None:
            return None
        # Pump: the window low comes before the window high; dump: the high comes before the low.
        hseq, high = maxq[0]
        lseq, low = minq[0]
        if hseq > lseq:
            sign, pseq, peak, bseq = 1.0, hseq, high, lseq
        else:
            sign, pseq, peak, bseq = -1.0, lseq, low, hseq
        if bseq <= self.fired_seq or pseq == seq:
            # A new ramp must start after the last alert: a reverted pump must not come back as a
            # dump.
            return None
        move = high - low
        back = sign * (peak - lm)
        if back < self.revert_frac * move:
            return None
        sig = math.sqrt(var * (pseq - bseq))
        thr = self.k * sig
        if move <= thr:
            return None
        self.fired_seq = seq
        kind = "pump-and-dump" if sign > 0 else "dump-and-recover"
        return Verdict(
            q.pair,
            ts,
            self.name,
            1.0 - 0.5 * thr / move,
            True,
            f"{kind}: {move * 1e4:.1f} bp move ({move / sig:.1f} sigma over {pseq - bseq} changes) "
            f"reverted {100 * back / move:.0f}% within {self.window_ms / 1000:.0f}s",
        )
