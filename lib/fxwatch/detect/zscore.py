"""Robust z-score of log mid returns with spike-and-revert confirmation (bad ticks)."""

from __future__ import annotations

from collections import deque

from fxwatch.detect.robust import log_mid_step, median, robust_scale
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["RobustZScore"]


class RobustZScore:
    """|r - median| / (1.4826·MAD) over the last returns; a spike that reverts is a bad tick.

    Defaults: window=500 returns, refresh=250 (median/MAD recomputed every 250 ticks), k=8.0,
    revert_ticks=3, revert_frac=0.5 (the reverse move must undo ≥50 % of the spike),
    min_ticks=100 before any verdict. A spike that does not revert is a jump: non-alert verdict.
    Zero returns (repeated mids) are skipped, so window, min_ticks and revert_ticks count mid
    changes.
    """

    name = "zscore"

    def __init__(
        self, window=500, refresh=250, k=8.0, revert_ticks=3, revert_frac=0.5, min_ticks=100
    ):
        self.k, self.refresh, self.revert_ticks, self.revert_frac = (
            k,
            refresh,
            revert_ticks,
            revert_frac,
        )
        self.min_ticks = min_ticks
        self.rets: deque = deque(maxlen=window)
        self.last_lm = None
        self.med = 0.0
        self.scale = 0.0
        self.count = 0
        self.pending = None  # (ts_ms, return, z, ticks since)

    def _refresh(self):
        self.med = median(self.rets)
        self.scale = robust_scale(self.rets, self.med, floor=1e-9)

    def update(self, q: Quote) -> Verdict | None:
        self.last_lm, r = log_mid_step(self.last_lm, q)
        if r is None:  # first quote, bad mid, or a repeated mid (float noise included)
            # Kept in, repeated mids collapse the MAD to the floor after a frozen stretch and every
            # later move looks like a 1000-sigma spike. Revert is counted in mid changes.
            return None
        count = self.count = self.count + 1
        if count < self.min_ticks:
            self.rets.append(r)
            if count % self.refresh == 0 or count == self.min_ticks - 1:
                self._refresh()
            return None
        z = (r - self.med) / self.scale
        k = self.k
        if self.pending is None:  # the common path: no spike waiting for confirmation
            if -k <= z <= k:
                self.rets.append(r)
                if count % self.refresh == 0:
                    self._refresh()
            else:
                self.pending = (q.ts_ms, r, z, 0)
            return None
        out = None
        p = self.pending
        if p is not None:
            ts0, r0, z0, age = p
            if r * r0 < 0 and abs(r) >= self.revert_frac * abs(r0):
                self.pending = None
                score = 1.0 - 1.0 / (1.0 + abs(z0) / self.k)
                out = Verdict(
                    q.pair,
                    ts0,
                    self.name,
                    score,
                    True,
                    f"bad tick: {z0:+.1f} sigma spike reverted within {age + 1} ticks",
                )
            elif age + 1 >= self.revert_ticks:
                self.pending = None
                out = Verdict(
                    q.pair,
                    ts0,
                    self.name,
                    0.5 * (1.0 - 1.0 / (1.0 + abs(z0) / self.k)),
                    False,
                    f"jump: {z0:+.1f} sigma move did not revert",
                )
            else:
                self.pending = (ts0, r0, z0, age + 1)
        if out is not None and out.alert:
            pass  # the reverting move belongs to the bad tick, not to the statistics
        elif z > self.k or z < -self.k:
            self.pending = (q.ts_ms, r, z, 0)
        else:
            # Spikes are kept out of the statistics so that a bad tick does not inflate the scale.
            self.rets.append(r)
            if self.count % self.refresh == 0:
                self._refresh()
        return out
