"""Crossed (bid > ask) and locked (bid == ask) quotes, against what is normal for the venue."""

from __future__ import annotations

from collections import deque

from fxwatch.detect.venue import BaseRate
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["CrossedQuote"]


class _Venue:
    """One source's crossed and locked base rates and its last window_ms in 1 s buckets."""

    __slots__ = ("crossed", "locked", "buckets", "ticks", "n_crossed", "n_locked", "fired")

    def __init__(self, prior_rate: float, prior_ticks: int, half_life_ticks: int):
        self.crossed = BaseRate(prior_rate, prior_ticks, half_life_ticks)
        self.locked = BaseRate(prior_rate, prior_ticks, half_life_ticks)
        self.buckets: deque = deque()  # [second, ticks, crossed, locked]
        self.ticks = self.n_crossed = self.n_locked = 0  # totals over the buckets
        self.fired = 0.0  # worst kind reported in the current storm: 1 crossed, locked_score


class CrossedQuote:
    """Alert on a storm of crossed or locked quotes that the venue does not usually show.

    Per quote source, the base rates of crossed and of locked quotes per tick are learnt online
    (`fxwatch.detect.venue.BaseRate`: prior prior_rate over prior_ticks as warm-up, counts halving
    every half_life_ticks). On a venue that rarely does it (rate < rare_rate per tick) a crossed
    (locked) quote alerts; on one that routinely does, only a storm does: k in the last
    window_ms of n ticks with k ≥ storm_x × the larger of the expected count and the venue's
    99th percentile of counts per window (crossing comes in clusters), and a Poisson tail <
    p_storm. Score
    1 − tail/2 for crossed, locked_score × that for locked (locked=False leaves locked quotes
    alone). The prior is the warm-up: a venue starts out presumed never to cross, so a venue that
        locks a thousand times a day alerts once or twice in its first minutes, then on storms only.
    One alert per storm (a crossed storm inside a locked one still alerts): the next needs the
    window back to the venue's normal first (checked once a second). Buckets leaving the window
    feed the base rate, so a storm is judged against the rate before it. Defaults:
    window_ms=60_000, rare_rate=1e-4, p_storm=1e-6, storm_x=3, prior_rate=1e-6,
    prior_ticks=1000, half_life_ticks=50_000, locked_score=0.5.
    """

    name = "crossed"

    def __init__(
        self,
        locked=True,
        locked_score=0.5,
        window_ms=60_000,
        rare_rate=1e-4,
        p_storm=1e-6,
        storm_x=3.0,
        prior_rate=1e-6,
        prior_ticks=1_000,
        half_life_ticks=50_000,
    ):
        self.locked, self.locked_score, self.window_ms = locked, locked_score, window_ms
        self.rare_rate, self.p_storm, self.storm_x = rare_rate, p_storm, storm_x
        self.prior = (prior_rate, prior_ticks, half_life_ticks)
        self.venues: dict[str, _Venue] = {}

    def _unusual(self, base: BaseRate, ticks: int, k: int) -> bool:
        """k events in the window's ticks are unusual for the venue: any at all on a venue that
        rarely does it, else a storm: ≥ storm_x × the larger of the expected count and the
        venue's 99th percentile per window, and a Poisson tail < p_storm."""
        if k <= 0:
            return False
        rate = base.rate
        if rate < self.rare_rate:
            return True
        usual = max(rate * ticks, base.busy() or 0.0)
        return k >= self.storm_x * usual and base.surprise(ticks, k) < self.p_storm

    def update(self, q: Quote) -> Verdict | None:
        v = self.venues.get(q.source)
        if v is None:
            v = self.venues[q.source] = _Venue(*self.prior)
        sec = q.ts_ms // 1000
        bk = v.buckets
        if not bk or bk[-1][0] != sec:
            horizon = sec - self.window_ms // 1000
            while bk and bk[0][0] <= horizon:
                _, n, c, lk = bk.popleft()
                v.crossed.add(n, c)
                v.locked.add(n, lk)
                v.ticks -= n
                v.n_crossed -= c
                v.n_locked -= lk
            bk.append([sec, 0, 0, 0])
            if v.fired and not (
                self._unusual(v.crossed, v.ticks, v.n_crossed)
                or self._unusual(v.locked, v.ticks, v.n_locked)
            ):
                v.fired = 0.0  # the window is back to the venue's normal: the storm is over
        b = bk[-1]
        b[1] += 1
        v.ticks += 1
        bid, ask = q.bid, q.ask
        if bid < ask:
            return None
        if bid > ask:
            b[2] += 1
            v.n_crossed += 1
            base, k, what, top = v.crossed, v.n_crossed, "crossed", 1.0
        elif self.locked:
            b[3] += 1
            v.n_locked += 1
            base, k, what, top = v.locked, v.n_locked, "locked", self.locked_score
        else:
            return None
        if not self._unusual(base, v.ticks, k):
            return None
        if top <= v.fired:
            return None  # this storm was reported (a crossed one inside a locked one escalates)
        p = base.surprise(v.ticks, k)
        score = top * (1.0 - 0.5 * p)
        rate = base.rate
        v.fired = top
        usual = "rarely does" if rate < self.rare_rate else "a storm for it"
        return Verdict(
            q.pair,
            q.ts_ms,
            self.name,
            score,
            True,
            f"{what} quotes: {k} of the last {v.ticks} ticks on {q.source} "
            f"(bid {bid}, ask {ask}); its usual rate is {rate * 1000:.3g} per 1000 ticks "
            f"(chance {p:.1e}: {usual})",
        )
