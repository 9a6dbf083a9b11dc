"""Frozen feed across pairs: a pair whose quote has not changed while the other pairs keep
moving."""

from __future__ import annotations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["FrozenPair"]


class FrozenPair:
    """All-pairs detector: alert once when pair Y's bid/ask has not changed for ≥ max_ms while
    ≥ min_moves quote changes arrived on other pairs. Catches a dead or stuck feed in real time,
    before Y's next tick.

    Checks run at most once per check_ms of event time. Defaults: max_ms=60_000, min_moves=50,
    check_ms=1000.
    The verdict carries the frozen pair and the event time of the quote that revealed it.
    """

    name = "frozen"

    def __init__(self, max_ms=60_000, min_moves=50, check_ms=1000):
        self.max_ms, self.min_moves, self.check_ms = max_ms, min_moves, check_ms
        self.last: dict[
            str, tuple[float, float, int, int]
        ] = {}  # pair -> (bid, ask, changed at ms, moves then)
        self.moves = 0  # quote changes seen on all pairs
        self.next_check = -(2**62)
        self.fired: set[str] = set()

    def update(self, q: Quote) -> Verdict | None:
        pair, bid, ask, now = q.pair, q.bid, q.ask, q.ts_ms
        prev = self.last.get(pair)
        if prev is None or prev[0] != bid or prev[1] != ask:
            moves = self.moves = self.moves + 1
            self.last[pair] = (bid, ask, now, moves)
            if pair in self.fired:
                self.fired.discard(pair)
        if now < self.next_check:
            return None
        self.next_check = now + self.check_ms
        worst = None
        for other, (bid, ask, since, moves_then) in self.last.items():
            if other == pair or other in self.fired:
                continue
            age = now - since
            others = self.moves - moves_then
            if (
                age >= self.max_ms
                and others >= self.min_moves
                and (worst is None or age > worst[1])
            ):
                worst = (other, age, others, bid, ask)
        if worst is None:
            return None
        pair, age, others, bid, ask = worst
        self.fired.add(pair)
        return Verdict(
            pair,
            now,
            self.name,
            min(1.0, 0.5 + 0.5 * age / (4.0 * self.max_ms)),
            True,
            f"frozen feed: {pair} stuck at {bid}/{ask} for {age / 1000:.0f}s "
            f"while other pairs moved {others} times",
        )
