"""Two-sided Page-Hinkley change detector on volatility-normalised log mid returns."""

from __future__ import annotations

from fxwatch.detect.robust import log_mid_step, winsorised_z
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["PageHinkley"]


class PageHinkley:
    """m± = alpha·m± ± (z − mean(z)) − delta; alert when m± − min(m±) > threshold, then restart.

    z = return / EWMA-std of returns (winsorised at ±4, zero returns skipped, as in `Cusum`);
    mean(z) is the running mean since the last restart, so unlike CUSUM the reference level is
    learnt, and the test fires when the mean shifts away from it. Defaults: delta=0.5 (tolerated
    shift, in z units), threshold=25.0, alpha=1.0 (no forgetting: with alpha < 1 the sums settle at
    −delta/(1 − alpha) and their noise alone crosses the threshold), var_alpha=0.01 (EWMA weight of
    the return variance), min_ticks=200 (warm-up that only learns the mean, also after each
    restart).
    """

    name = "pagehinkley"

    def __init__(self, delta=0.5, threshold=25.0, alpha=1.0, var_alpha=0.01, min_ticks=200):
        self.delta, self.threshold, self.alpha = delta, threshold, alpha
        self.var_alpha, self.min_ticks = var_alpha, min_ticks
        self.last_lm = None
        self.var = None
        self._restart()

    def _restart(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.up = self.up_min = 0.0
        self.dn = self.dn_min = 0.0

    def update(self, q: Quote) -> Verdict | None:
        self.last_lm, r = log_mid_step(self.last_lm, q)
        if r is None:  # first quote, bad mid, or a repeated mid (float noise included)
            return None
        var = self.var
        if var is None:
            self.var = r * r
            return None
        z, self.var = winsorised_z(var, r, self.var_alpha)
        self.count += 1
        self.mean += (z - self.mean) / self.count
        if self.count <= self.min_ticks:  # warm-up: learn the reference mean only
            return None
        dev = z - self.mean
        self.up = self.alpha * self.up + dev - self.delta
        self.dn = self.alpha * self.dn - dev - self.delta
        if self.up < self.up_min:
            self.up_min = self.up
        if self.dn < self.dn_min:
            self.dn_min = self.dn
        gu, gd = self.up - self.up_min, self.dn - self.dn_min
        g = gu if gu > gd else gd
        if g > self.threshold:
            side = "up" if gu > gd else "down"
            self._restart()
            return Verdict(
                q.pair,
                q.ts_ms,
                self.name,
                1.0 - 0.5 * self.threshold / g,
                True,
                f"change: mean return shifted {side}, Page-Hinkley {g:.1f} > {self.threshold}",
            )
        return None
