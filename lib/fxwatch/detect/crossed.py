"""Crossed (bid > ask) and locked (bid == ask) quotes: valid data, flagged for review."""

from __future__ import annotations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["CrossedQuote"]


class CrossedQuote:
    """Alert on bid > ask (score 1.0) and, unless locked=False, on bid == ask (score locked_score=0.5)."""

    name = "crossed"

    def __init__(self, locked=True, locked_score=0.5):
        self.locked, self.locked_score = locked, locked_score

    def update(self, q: Quote) -> Verdict | None:
        if q.bid > q.ask:
            return Verdict(q.pair, q.ts_ms, self.name, 1.0, True, f"crossed quote: bid {q.bid} > ask {q.ask}")
        if self.locked and q.bid == q.ask:
            return Verdict(q.pair, q.ts_ms, self.name, self.locked_score, True, f"locked quote: bid == ask == {q.bid}")
        return None
