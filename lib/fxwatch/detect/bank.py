"""Per-pair detector state (one detector set per pair, picklable) and the offline runner."""

from __future__ import annotations

import pickle
from typing import Callable, Iterable

from fxwatch.detect.bounds import HistoricalBounds
from fxwatch.detect.crossed import CrossedQuote
from fxwatch.detect.cusum import Cusum
from fxwatch.detect.ensemble import AlertDeduper, Ensemble
from fxwatch.detect.ramp import RampRevert
from fxwatch.detect.silent import FrozenPair
from fxwatch.detect.spread import SpreadBlowout
from fxwatch.detect.stale import StaleQuote
from fxwatch.detect.tickrate import TickRate
from fxwatch.detect.triangle import CrossRate
from fxwatch.detect.verdict import Verdict
from fxwatch.detect.zscore import RobustZScore
from fxwatch.schema import Quote

__all__ = ["default_cross", "default_detectors", "PairDetectorBank", "run_detectors"]


def default_detectors() -> list:
    """The default per-pair detector set (each with its documented defaults)."""
    return [
        CrossedQuote(),
        SpreadBlowout(),
        StaleQuote(),
        RobustZScore(),
        TickRate(),
        RampRevert(),
        Cusum(),
        HistoricalBounds(),
    ]


class PairDetectorBank:
    """One Ensemble per pair, built on first sight by `factory()`, plus optional all-pairs detectors.

    State is plain Python: `get_state(pair)`/`set_state(pair, blob)` move one pair's detectors as
    pickled bytes (what Spark's per-key state stores); the whole bank pickles too.
    """

    def __init__(self, factory: Callable[[], list] = default_detectors, cross: Iterable | None = None,
                 cooldown_ms: int = 60_000):
        self.factory = factory
        self.cooldown_ms = cooldown_ms
        self.pairs: dict[str, Ensemble] = {}
        self.cross = list(cross or [])
        self.cross_dedup = AlertDeduper(cooldown_ms)

    def ensemble(self, pair: str) -> Ensemble:
        """The pair's ensemble, created from the factory on first use."""
        e = self.pairs.get(pair)
        if e is None:
            e = self.pairs[pair] = Ensemble(self.factory(), self.cooldown_ms)
        return e

    def update(self, q: Quote) -> list[Verdict]:
        """New alerts for one quote from its pair's detectors and the all-pairs detectors."""
        e = self.pairs.get(q.pair) or self.ensemble(q.pair)
        out = e.update_many(q)
        for d in self.cross:
            v = d.update(q)
            if v is not None and v.alert and self.cross_dedup.admit(v):
                out.append(v)
        return out

    def get_state(self, pair: str) -> bytes:
        """Pickled detectors and de-dup state of one pair (empty pair -> fresh state)."""
        return pickle.dumps(self.ensemble(pair), protocol=pickle.HIGHEST_PROTOCOL)

    def set_state(self, pair: str, blob: bytes | None) -> None:
        """Restore one pair from `get_state` bytes; None or b'' starts it fresh."""
        if blob:
            self.pairs[pair] = pickle.loads(blob)
        else:
            self.pairs.pop(pair, None)


def run_detectors(quotes: Iterable[Quote], detectors_factory: Callable[[], list] = default_detectors,
                  cross: Iterable | None = None, cooldown_ms: int = 60_000) -> list[Verdict]:
    """Run a fresh PairDetectorBank over quotes in order; return all de-duplicated alerts."""
    bank = PairDetectorBank(detectors_factory, cross=cross, cooldown_ms=cooldown_ms)
    out: list[Verdict] = []
    upd = bank.update
    for q in quotes:
        v = upd(q)
        if v:
            out.extend(v)
    return out


def default_cross() -> list:
    """The default all-pairs detectors (cross-rate consistency, frozen feed while others move)."""
    return [CrossRate(), FrozenPair()]
