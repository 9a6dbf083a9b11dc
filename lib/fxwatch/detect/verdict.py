"""The Verdict record and the one-method protocol every quote detector follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fxwatch.schema import Quote

__all__ = ["Verdict", "Detector", "ScalarDetector"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a detector says about one quote: score in [0, 1], alert flag and a one-line reason."""

    pair: str
    ts_ms: int
    detector: str
    score: float
    alert: bool
    reason: str


@runtime_checkable
class Detector(Protocol):
    """Streaming quote detector: plain picklable state, one `update` per quote."""

    name: str

    def update(self, q: Quote) -> Verdict | None:  # pragma: no cover - protocol
        """Consume one quote; return a Verdict (alert or not) or None when there is nothing to say."""


@runtime_checkable
class ScalarDetector(Protocol):
    """Streaming univariate detector (NAB): `update(ts_ms, value)` returns an anomaly score in [0, 1]."""

    name: str

    def update(self, ts_ms: int, value: float) -> float:  # pragma: no cover - protocol
        """Consume one value; return its anomaly score."""
