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
    """1.4826*MAD, falling back to 1.2533*mean-absolute-deviation when MAD is 0 (discrete ticks)."""
    dev = [abs(x - centre) for x in xs]
    mad = _MAD_TO_SIGMA * median(dev)
    if mad <= 0.0:
        mad = 1.2533 * sum(dev) / len(dev)
    return mad if mad > floor else floor
