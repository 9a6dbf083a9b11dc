"""The one detector bank: per-pair ensembles plus cross-pair detectors per group of triangles.

Every engine runs detection through this module: the offline runner (`run_detectors`, `fxwatch
detect`), the streaming job's stateful operator (`fxwatch.stream.tick_alerts`, one state per key)
and the scenario scorer. A quote goes to the state of its pair and, when its pair is a leg of a
watched currency triangle, to the state of that triangle's connected component (triangles sharing
a leg: `cross_keys`), so the cross-rate detector can tell which leg of a broken triangle moved.
Pair keys spread over executors; a group of triangles sharing legs is one key (the default pairs
make one group of five pairs), so the cross-rate work of one group runs serially in one task.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterable, Sequence

from fxwatch.detect.bounds import HistoricalBounds
from fxwatch.detect.crossed import CrossedQuote
from fxwatch.detect.cusum import Cusum
from fxwatch.detect.ensemble import AlertDeduper, Ensemble
from fxwatch.detect.ramp import RampRevert
from fxwatch.detect.silent import FrozenPair
from fxwatch.detect.spread import SpreadBlowout
from fxwatch.detect.stale import StaleQuote
from fxwatch.detect.tickrate import TickRate
from fxwatch.detect.triangle import CrossRate, components_by_pair
from fxwatch.detect.verdict import QuoteView, Verdict
from fxwatch.detect.zscore import RobustZScore
from fxwatch.schema import Quote

__all__ = [
    "STATE_VERSION",
    "WATCHED_PAIRS",
    "cross_factory",
    "cross_keys",
    "CrossDetectors",
    "PairDetectorBank",
    "default_cross",
    "default_detectors",
    "new_state",
    "run_detectors",
    "state_keys",
]

# The layout of the pickled detector states (and of their keys). The streaming job keeps them in its
# tick-alerts checkpoint, one folder per version (`PipelineConfig.checkpoint`): a release that
# changes a detector's state or the keys bumps this, and the new job starts a fresh state from the
# topic's start instead of unpickling a state it cannot read (alerts are idempotent by id, so the
# replay stores none twice). Version 2: cross-rate states per component of triangles.
STATE_VERSION = 2

# The pairs whose currency triangles the cross-pair detectors watch (both engines, same default):
# the pairs of the synthetic generator, the benchmarks and the bundled real ticks. Their triangles
# are EUR-JPY-USD and EUR-GBP-USD. Pass `pairs=` (or `fxwatch stream run --pairs`) for others.
WATCHED_PAIRS: tuple[str, ...] = (
    "EUR/USD",
    "USD/JPY",
    "EUR/JPY",
    "GBP/USD",
    "EUR/GBP",
    "USD/CHF",
    "AUD/USD",
    "USD/CAD",
    "NZD/USD",
)


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


def default_cross() -> list:
    """The default cross-pair detectors of one triangle (cross-rate consistency, a frozen leg)."""
    return [CrossRate(), FrozenPair()]


class CrossDetectors:
    """The cross-pair detectors of one currency triangle, with their alert de-duplication."""

    def __init__(self, detectors: Iterable, cooldown_ms: int = 60_000):
        self.detectors = list(detectors)
        self.dedup = AlertDeduper(cooldown_ms)

    def update_many(self, q: Quote) -> list[Verdict]:
        """The new (de-duplicated) alerts of this quote."""
        out = []
        for d in self.detectors:
            v = d.update(q)
            if v is not None and v.alert and self.dedup.admit(v):
                out.append(v)
        return out


def cross_factory(cross) -> Callable[[], list] | None:
    """`cross` as a factory: a callable stays, a list of detectors becomes a template copied per
    triangle, None means no cross-pair detectors."""
    if cross is None or callable(cross):
        return cross
    template = list(cross)
    return (lambda: copy.deepcopy(template)) if template else None


def cross_keys(pairs: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """pair -> the cross-pair state keys its quotes also go to: the key of its component of
    watched triangles ('EUR-GBP-JPY-USD' for the default pairs), one per pair; pairs in no
    triangle are absent. Both engines fan out by this map."""
    return {p: (k,) for p, k in components_by_pair(pairs).items()}


def state_keys(pair: str, triangles: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The state keys a quote of `pair` goes to: the pair itself, then its `cross_keys`."""
    return (pair, *triangles.get(pair, ()))


def new_state(
    key: str,
    factory: Callable[[], list],
    cross: Callable[[], list] | None,
    cooldown_ms: int = 60_000,
):
    """A fresh detector state for a key: a pair ('EUR/USD') gets its Ensemble, a component of
    triangles ('EUR-GBP-JPY-USD') its CrossDetectors. Both answer `update_many(quote) ->
    [Verdict]`."""
    if "/" in key:
        return Ensemble(factory(), cooldown_ms)
    return CrossDetectors(cross() if cross else [], cooldown_ms)


class PairDetectorBank:
    """Every key's state in one process: what the streaming job keeps in Spark's state store.

    `update(quote)` returns the new alerts of the quote's pair and of the watched triangles holding
    it (their component's state; `cross_keys`). States pickle (`get_state`/`set_state` move one
    key's state as bytes).
    """

    def __init__(
        self,
        factory: Callable[[], list] = default_detectors,
        cross=None,
        cooldown_ms: int = 60_000,
        pairs: Sequence[str] = WATCHED_PAIRS,
    ):
        self.factory = factory
        self.cross = cross_factory(cross)
        self.cooldown_ms = cooldown_ms
        self.triangles = cross_keys(pairs) if self.cross else {}
        self.states: dict[str, object] = {}

    @property
    def pairs(self) -> dict[str, Ensemble]:
        """The per-pair ensembles created so far."""
        return {k: s for k, s in self.states.items() if "/" in k}

    def state(self, key: str):
        """The key's state, created on first use."""
        s = self.states.get(key)
        if s is None:
            s = self.states[key] = new_state(key, self.factory, self.cross, self.cooldown_ms)
        return s

    def ensemble(self, pair: str) -> Ensemble:
        """The pair's ensemble, created from the factory on first use."""
        return self.state(pair)

    def update(self, q: Quote) -> list[Verdict]:
        """New alerts for one quote from its pair's detectors and its triangles' detectors."""
        states = self.states
        s = states.get(q.pair) or self.state(q.pair)
        out = s.update_many(q)
        for key in self.triangles.get(q.pair, ()):
            t = states.get(key) or self.state(key)
            out.extend(t.update_many(q))
        return out

    def update_columns(
        self,
        pair: Sequence[str],
        ts_ms: Sequence[int],
        bid: Sequence[float],
        ask: Sequence[float],
        source: Sequence[str],
    ) -> list[Verdict]:
        """`update` for each row of parallel columns (event-time order), without a Quote per row.

        The same alerts in the same order as `update(Quote(pair[i], ts_ms[i], bid[i], ask[i],
        source[i]))` for every i; the rows go through one reused `QuoteView` (offline fast path).
        """
        states = self.states
        plans: dict[str, tuple] = {}  # pair -> (its members' update, its de-dup, its triangles')
        view = QuoteView()
        out: list[Verdict] = []

        def plan(p: str) -> tuple:
            got = plans.get(p)
            if got is None:
                ens = states.get(p) or self.state(p)
                tri = tuple(
                    (states.get(k) or self.state(k)).update_many for k in self.triangles.get(p, ())
                )
                got = plans[p] = (tuple(d.update for d in ens.members), ens.dedup.admit, tri)
            return got

        if len(ts_ms) and len(set(pair)) == 1 and len(set(source)) == 1:
            ups, admit, tris = plan(pair[0])
            if not tris:  # one pair in no watched triangle, one source: set time and prices only
                view.pair, view.source = pair[0], source[0]
                for ts, b, a in zip(ts_ms, bid, ask):
                    view.ts_ms = ts
                    view.bid = b
                    view.ask = a
                    for up in ups:
                        v = up(view)
                        if v is not None and v.alert and admit(v):
                            out.append(v)
                return out
        cur_pair = cur_src = None
        ups = ()
        admit = tris = None
        for p, ts, b, a, src in zip(pair, ts_ms, bid, ask, source):
            if p != cur_pair:
                ups, admit, tris = plan(p)
                view.pair = cur_pair = p
            if src != cur_src:
                view.source = cur_src = src
            view.ts_ms = ts
            view.bid = b
            view.ask = a
            for up in ups:
                v = up(view)
                if v is not None and v.alert and admit(v):
                    out.append(v)
            for tri in tris:
                got = tri(view)
                if got:
                    out.extend(got)
        return out

    def get_state(self, key: str) -> bytes:
        """Pickled detectors and de-dup state of one key (an unseen key -> fresh state)."""
        return pickle.dumps(self.state(key), protocol=pickle.HIGHEST_PROTOCOL)

    def set_state(self, key: str, blob: bytes | None) -> None:
        """Restore one key from `get_state` bytes; None or b'' starts it fresh."""
        if blob:
            self.states[key] = pickle.loads(blob)
        else:
            self.states.pop(key, None)


def run_detectors(
    quotes: Iterable[Quote],
    detectors_factory: Callable[[], list] = default_detectors,
    cross=None,
    cooldown_ms: int = 60_000,
    pairs: Sequence[str] = WATCHED_PAIRS,
) -> list[Verdict]:
    """Run a fresh PairDetectorBank over quotes in order; return all de-duplicated alerts."""
    bank = PairDetectorBank(detectors_factory, cross=cross, cooldown_ms=cooldown_ms, pairs=pairs)
    out: list[Verdict] = []
    upd = bank.update
    for q in quotes:
        v = upd(q)
        if v:
            out.extend(v)
    return out
