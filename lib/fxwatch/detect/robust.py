"""Small helpers shared by detectors: median, MAD-based scale, and log-mid returns."""

from __future__ import annotations

import math

__all__ = ["median", "robust_scale", "log_mid_step", "winsorised_z", "NO_CHANGE"]

_MAD_TO_SIGMA = 1.4826


def median(xs) -> float:
    """Median of a non-empty sequence."""
    s = sorted(xs)
    n = len(s)
    m = n // 2
    return s[m] if n % 2 else 0.5 * (s[m - 1] + s[m])


def robust_scale(xs, centre: float, floor: float = 0.0) -> float:
    """max(1.4826·MAD, ½·1.2533·mean |x − centre|, floor): MAD collapses on discrete tick
    returns."""
    dev = [abs(x - centre) for x in xs]
    mad = _MAD_TO_SIGMA * median(dev)
    mean_ad = 0.5 * 1.2533 * sum(dev) / len(dev)
    s = mad if mad > mean_ad else mean_ad
    return s if s > floor else floor


NO_CHANGE = (
    1e-9  # |log-mid change| below this is no change: float noise of (bid + ask) / 2 is ~1e-16
)


def log_mid_step(last_lm: float | None, q) -> tuple[float | None, float | None]:
    """(new last log-mid, log return or None) for the next quote.

    The return is None for the first quote, a non-positive mid (last log-mid kept) or no change
    (|r| < NO_CHANGE): repeated mids carry no information, and as a first "change" float noise
    would seed a ~1e-30 variance (warm-up false alarms).
    """
    mid = (q.bid + q.ask) * 0.5
    if mid <= 0.0:
        return last_lm, None
    lm = math.log(mid)
    if last_lm is None:
        return lm, None
    r = lm - last_lm
    if -NO_CHANGE < r < NO_CHANGE:
        return lm, None
    return lm, r


def winsorised_z(var: float, r: float, alpha: float) -> tuple[float, float]:
    """(z of return r against EWMA variance var, clipped to ±4; the updated variance).

    r² enters the variance capped at 16·var, so one bad tick can neither trip a change detector
    on its own nor blow up its scale.
    """
    z = r / math.sqrt(var) if var > 0 else 0.0
    z = 4.0 if z > 4.0 else (-4.0 if z < -4.0 else z)
    return z, var + alpha * (min(r * r, 16.0 * var) - var)
