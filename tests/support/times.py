"""Exact time conversions for tests: no float rounding of milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["epoch_ms"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def epoch_ms(ts: datetime) -> int:
    """A datetime (naive = UTC, as the Cassandra driver returns it) as epoch milliseconds, exactly
    (`int(ts.timestamp() * 1000)` turns ...643 ms into ...642 for some times)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _ONE_MS
