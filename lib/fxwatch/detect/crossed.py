"""Crossed (bid > ask) and locked (bid == ask) quotes: valid data, flagged for review."""

from __future__ import annotations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["CrossedQuote"]


class CrossedQuote:
    """Alert on bid > ask (score 1.0) and, unless locked=False, on bid == ask
    (score locked_score=0.5).

    A storm of crossed/locked quotes is one episode: quotes within episode_ms=60_000 of the previous
    crossed/locked quote return None (cheap, and what the ensemble's de-dup would drop anyway);
    a crossed quote inside a locked-only episode still alerts once, since it is the worse state.
    """

    name = "crossed"

    def __init__(self, locked=True, locked_score=0.5, episode_ms=60_000):
        self.locked, self.locked_score, self.episode_ms = locked, locked_score, episode_ms
        self.last_ms = None  # last crossed/locked quote of the current episode
        self.worst = 0.0  # worst score reported in the current episode

    def update(self, q: Quote) -> Verdict | None:
        bid, ask = q.bid, q.ask
        if bid < ask or (bid == ask and not self.locked):
            return None
        score = 1.0 if bid > ask else self.locked_score
        last, self.last_ms = self.last_ms, q.ts_ms
        if last is not None and q.ts_ms - last <= self.episode_ms:
            if score <= self.worst:
                return None
        self.worst = score
        if score == 1.0:
            return Verdict(
                q.pair, q.ts_ms, self.name, 1.0, True, f"crossed quote: bid {bid} > ask {ask}"
            )
        return Verdict(
            q.pair, q.ts_ms, self.name, score, True, f"locked quote: bid == ask == {bid}"
        )
