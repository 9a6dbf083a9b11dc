"""Two-sided CUSUM change detector on volatility-normalised log mid returns."""

from __future__ import annotations

from fxwatch.detect.robust import log_mid_step, winsorised_z
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["Cusum"]


class Cusum:
    """g± = max(0, g± ± z − drift); alert when g± > h, then reset. z = r / EWMA-std of returns.

    Defaults: drift=0.5, h=25.0, alpha=0.01 (EWMA weight), min_ticks=200. Zero returns are skipped
    (tick data repeat the price often). Detects sustained one-sided moves (level shifts, drifts).
    """

    name = "cusum"

    def __init__(self, drift=0.5, h=25.0, alpha=0.01, min_ticks=200):
        self.drift, self.h, self.alpha, self.min_ticks = drift, h, alpha, min_ticks
        self.last_lm = None
        self.var = None
        self.count = 0
        self.gp = 0.0
        self.gn = 0.0

    def update(self, q: Quote) -> Verdict | None:
        self.last_lm, r = log_mid_step(self.last_lm, q)
        if r is None:  # first quote, bad mid, or a repeated mid (float noise included)
            return None
        self.count += 1
        var = self.var
        if var is None:
            self.var = r * r
            return None
        z, self.var = winsorised_z(
            var, r, self.alpha
        )  # one bad tick cannot trip the detector alone
        if self.count < self.min_ticks:
            return None
        gp = self.gp + z - self.drift
        gn = self.gn - z - self.drift
        self.gp = gp if gp > 0.0 else 0.0
        self.gn = gn if gn > 0.0 else 0.0
        g = self.gp if self.gp > self.gn else self.gn
        if g > self.h:
            side = "up" if self.gp > self.gn else "down"
            self.gp = self.gn = 0.0
            return Verdict(
                q.pair,
                q.ts_ms,
                self.name,
                1.0 - 0.5 * self.h / g,
                True,
                f"change: sustained {side} move, CUSUM {g:.1f} > {self.h}",
            )
        return None
