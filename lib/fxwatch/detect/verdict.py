"""The Verdict record, the one-method protocol every quote detector follows, and QuoteView."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fxwatch.schema import Quote, QuotePrices

__all__ = ["Verdict", "Detector", "QuoteView"]


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
        """Consume one quote; return a Verdict (alert or not) or None when there is nothing to
        say."""


class QuoteView(QuotePrices):
    """A mutable stand-in for `Quote` (same attribute names) that one loop reuses for every tick.

    Sound only because detectors read a quote's attributes during `update` and keep no reference
    to it (`tests/test_detect_io_fast.py` checks both the alerts and the reference count).
    """

    __slots__ = ("pair", "ts_ms", "bid", "ask", "source", "low", "high", "open")

    def __init__(
        self, pair: str = "", ts_ms: int = 0, bid: float = 0.0, ask: float = 0.0, source: str = ""
    ):
        self.pair, self.ts_ms, self.bid, self.ask, self.source = pair, ts_ms, bid, ask, source
        self.low = self.high = self.open = None
