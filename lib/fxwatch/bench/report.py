"""Benchmark arithmetic and output: percentiles, rates, ratios and the closing JSON line."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["percentile", "latency_summary", "rate", "ratio", "emit"]


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def latency_summary(latencies_ms: list[float], expected: int, prefix: str = "") -> dict[str, Any]:
    """p50/p90/p99/max of latencies and how many of the expected events were seen."""
    out: dict[str, Any] = {
        f"{prefix}p50_latency_ms": _round(percentile(latencies_ms, 50)),
        f"{prefix}p90_latency_ms": _round(percentile(latencies_ms, 90)),
        f"{prefix}p99_latency_ms": _round(percentile(latencies_ms, 99)),
        f"{prefix}max_latency_ms": _round(max(latencies_ms) if latencies_ms else None),
        f"{prefix}alerts_seen": len(latencies_ms),
        f"{prefix}alerts_expected": expected,
    }
    return out


def rate(count: int, seconds: float) -> float | None:
    """count / seconds, rounded; None when nothing was timed."""
    return round(count / seconds, 1) if seconds > 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded to 2 decimals; None when either is missing or b is zero."""
    return round(a / b, 2) if a and b else None


def emit(result: dict[str, Any], stream=None) -> None:
    """Print the result as ONE JSON object on the last line (what scripts parse)."""
    stream = stream or sys.stdout
    stream.write(json.dumps(result, sort_keys=True, default=str) + "\n")
    stream.flush()


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 1)
