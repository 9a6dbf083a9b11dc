"""Stale or frozen quotes: the same bid/ask repeated for many ticks or a long time."""

from __future__ import annotations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["StaleQuote"]


class StaleQuote:
    """Alert once per frozen run when bid/ask stay identical for ≥ max_repeats ticks or ≥ max_ms.

    Defaults: max_repeats=50 ticks, max_ms=60_000 (a run must also span ≥ 2 ticks to count by time).
    """

    name = "stale"

    def __init__(self, max_repeats=50, max_ms=60_000):
        self.max_repeats, self.max_ms = max_repeats, max_ms
        self.key = None
        self.start_ms = 0
        self.repeats = 0
        self.fired = False

    def update(self, q: Quote) -> Verdict | None:
        key = (q.bid, q.ask)
        if key != self.key:
            self.key, self.start_ms, self.repeats, self.fired = key, q.ts_ms, 1, False
            return None
        self.repeats += 1
        if self.fired:
            return None
        age = q.ts_ms - self.start_ms
        if self.repeats >= self.max_repeats or age >= self.max_ms:
            self.fired = True
            score = min(
                1.0, 0.5 + 0.5 * max(self.repeats / self.max_repeats, age / self.max_ms) / 4.0
            )
            return Verdict(
                q.pair,
                q.ts_ms,
                self.name,
                score,
                True,
                f"frozen quote {q.bid}/{q.ask} repeated {self.repeats} times "
                f"over {age / 1000:.1f}s",
            )
        return None
