"""Small robust-statistics helpers shared by detectors (median, MAD-based scale)."""

from __future__ import annotations

__all__ = ["median", "robust_scale"]

_MAD_TO_SIGMA = 1.4826


def median(xs) -> float:
    """Median of a non-empty sequence."""
    s = sorted(xs)
    n = len(s)
    m = n // 2
    return s[m] if n % 2 else 0.5 * (s[m - 1] + s[m])


def robust_scale(xs, centre: float, floor: float = 0.0) -> float:
    """max(1.4826·MAD, ½·1.2533·mean |x − centre|, floor): MAD collapses on discrete tick returns."""
    dev = [abs(x - centre) for x in xs]
    mad = _MAD_TO_SIGMA * median(dev)
    mean_ad = 0.5 * 1.2533 * sum(dev) / len(dev)
    s = mad if mad > mean_ad else mean_ad
    return s if s > floor else floor
