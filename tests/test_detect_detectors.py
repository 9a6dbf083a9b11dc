"""Each quote detector fires on its constructed event and stays quiet on a calm stream."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from fxwatch.detect import (
    CrossedQuote,
    CrossRate,
    Cusum,
    Ensemble,
    HistoricalBounds,
    PairDetectorBank,
    RampRevert,
    RobustZScore,
    SpreadBlowout,
    StaleQuote,
    TickRate,
    default_detectors,
    run_detectors,
)
from fxwatch.schema import Quote

T0 = 1_399_507_200_000  # 2014-05-08T00:00:00Z


def calm(n=3000, pair="EUR/USD", start=1.3900, dt_ms=500, spread=0.0002, seed=1, t0=T0, vol=2e-5):
    """A random walk with a steady spread and steady tick rate (no anomalies)."""
    rng = random.Random(seed)
    mid = start
    out = []
    for i in range(n):
        mid *= math.exp(rng.gauss(0.0, vol))
        jitter = rng.randint(-dt_ms // 3, dt_ms // 3)
        out.append(
            Quote(
                pair,
                t0 + i * dt_ms + jitter,
                round(mid - spread / 2, 6),
                round(mid + spread / 2, 6),
                "test",
            )
        )
    out.sort(key=lambda q: q.ts_ms)
    return out


def alerts(det, quotes):
    return [v for q in quotes if (v := det.update(q)) is not None and v.alert]


def replace(q, **kw):
    d = {s: getattr(q, s) for s in ("pair", "ts_ms", "bid", "ask", "source")}
    d.update(kw)
    return Quote(**d)


ALL = [
    CrossedQuote,
    SpreadBlowout,
    StaleQuote,
    RobustZScore,
    TickRate,
    RampRevert,
    Cusum,
    HistoricalBounds,
]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_quiet_on_calm_stream(cls):
    assert alerts(cls(), calm()) == []


def test_crossed_and_locked():
    qs = calm(600)
    qs[200] = replace(qs[200], bid=qs[200].ask + 0.0001)
    qs[400] = replace(qs[400], bid=qs[400].ask)  # ~100 s later: a new episode
    got = alerts(CrossedQuote(), qs)
    assert [v.ts_ms for v in got] == [qs[200].ts_ms, qs[400].ts_ms]
    assert [v.score for v in got] == pytest.approx([1.0, 0.5], abs=1e-3)


def test_crossed_storm_is_one_episode_but_escalation_alerts():
    qs = calm(300)
    storm = [replace(q, bid=q.ask) for q in qs[100:200]]  # 100 locked quotes in ~50 s
    storm[50] = replace(storm[50], bid=storm[50].ask + 0.0001)  # one crossed inside the storm
    got = alerts(CrossedQuote(), qs[:100] + storm + qs[200:])
    assert [v.score for v in got] == pytest.approx([0.5, 1.0], abs=1e-3)


def test_spread_blowout():
    qs = calm(2000)
    m = qs[1500].mid
    qs[1500] = replace(qs[1500], bid=m - 0.002, ask=m + 0.002)
    got = alerts(SpreadBlowout(), qs)
    assert [v.ts_ms for v in got] == [qs[1500].ts_ms]
    assert got[0].score > 0.8


def test_stale_fires_once_per_frozen_run():
    qs = calm(1000)
    frozen = [replace(q, bid=qs[500].bid, ask=qs[500].ask) for q in qs[500:700]]
    got = alerts(StaleQuote(), qs[:500] + frozen + qs[700:])
    assert len(got) == 1 and "frozen" in got[0].reason


def test_zscore_flags_bad_tick_not_genuine_jump():
    qs = calm(2000)
    m = qs[1000].mid
    qs[1000] = replace(qs[1000], bid=m * 1.01, ask=m * 1.01 + 0.0002)  # one-tick 100 bp spike
    got = alerts(RobustZScore(), qs)
    assert len(got) == 1 and got[0].ts_ms == qs[1000].ts_ms and "bad tick" in got[0].reason
    # A level shift that stays is a jump, not a bad tick.
    shifted = qs[:1000] + [
        replace(q, bid=q.bid * 1.01, ask=q.ask * 1.01) for q in calm(2000)[1001:]
    ]
    assert alerts(RobustZScore(), shifted) == []


def test_tickrate_burst_and_gap():
    qs = calm(3000)
    t = qs[2000].ts_ms
    burst = [replace(qs[2000], ts_ms=t + i * 10) for i in range(60)]
    got = alerts(
        TickRate(), qs[:2000] + burst + [replace(q, ts_ms=q.ts_ms + 700) for q in qs[2001:]]
    )
    assert any("burst" in v.reason for v in got)
    gap = qs[:2000] + [replace(q, ts_ms=q.ts_ms + 600_000) for q in qs[2000:]]
    got = alerts(TickRate(), gap)
    assert len(got) == 1 and "gap" in got[0].reason and got[0].ts_ms == gap[2000].ts_ms


def test_ramp_and_revert():
    qs = calm(3000)
    m0 = qs[2000].mid
    ramp = []
    for i, q in enumerate(qs[2000:2200]):
        bump = 0.004 * (
            i / 100 if i < 100 else (200 - i) / 100
        )  # +40 pips over 50 s, back over 50 s
        ramp.append(replace(q, bid=q.bid + bump, ask=q.ask + bump))
    got = alerts(RampRevert(), qs[:2000] + ramp + qs[2200:])
    assert len(got) == 1 and "pump" in got[0].reason
    assert qs[2100].ts_ms < got[0].ts_ms <= qs[2200].ts_ms
    assert m0 > 0


def test_cusum_detects_drift():
    qs = calm(3000)
    drift = [
        replace(q, bid=q.bid * math.exp(3e-5 * i), ask=q.ask * math.exp(3e-5 * i))
        for i, q in enumerate(qs[2000:])
    ]
    got = alerts(Cusum(), qs[:2000] + drift)
    assert got and got[0].ts_ms > qs[2000].ts_ms and "up" in got[0].reason


def test_bounds_cold_start_then_fires():
    qs = calm(3000)
    det = HistoricalBounds()
    assert alerts(det, qs[:200]) == []  # fewer than min_windows closed: no bounds yet
    jumped = [replace(q, bid=q.bid + 0.02, ask=q.ask + 0.02) for q in qs[2500:]]
    got = alerts(HistoricalBounds(), qs[:2500] + jumped)
    assert got and got[0].ts_ms == qs[2500].ts_ms and "above" in got[0].reason


def test_bounds_supplied_from_history():
    det = HistoricalBounds(bounds={"EUR/USD": (1.38, 1.40)})
    q = calm(1)[0]
    assert det.update(q) is None
    assert det.update(replace(q, bid=1.41, ask=1.4102)).alert


def test_mad_bounds_method():
    qs = calm(3000)
    jumped = [replace(q, bid=q.bid - 0.02, ask=q.ask - 0.02) for q in qs[2500:]]
    assert alerts(HistoricalBounds(method="mad"), qs[:2500] + jumped)


def test_cross_rate_triangle_names_the_leg_that_broke():
    det = CrossRate()
    t = T0
    legs = {"EUR/USD": 1.39, "USD/JPY": 101.6}
    fair = 1.39 * 101.6
    for i in range(5):
        for pair, mid in legs.items():
            assert det.update(Quote(pair, t + i, mid - 1e-5, mid + 1e-5, "t")) is None
        assert det.update(Quote("EUR/JPY", t + i, fair - 0.01, fair + 0.01, "t")) is None
    off = fair * 1.003  # 30 bp off
    assert det.update(Quote("EUR/JPY", t + 10, off - 0.01, off + 0.01, "t")) is None  # pending
    for pair, mid in legs.items():  # the other legs quote again, unchanged
        assert det.update(Quote(pair, t + 11, mid - 1e-5, mid + 1e-5, "t")) is None
    v = det.update(Quote("EUR/JPY", t + 12, off - 0.01, off + 0.01, "t"))  # still off: confirmed
    assert v is not None and v.alert and v.pair == "EUR/JPY" and "+30.0 bp" in v.reason
    assert det.update(Quote("EUR/JPY", t + 13, off - 0.01, off + 0.01, "t")) is None  # same event
    # Stale legs are not used.
    assert det.update(Quote("EUR/JPY", t + 60_000, off - 0.01, off + 0.01, "t")) is None


def test_ensemble_dedups_a_storm_to_one_alert():
    qs = [replace(q, bid=q.ask) for q in calm(500)]  # 500 locked quotes in a row, ~4 minutes
    e = Ensemble([CrossedQuote()], cooldown_ms=60_000)
    got = [v for q in qs for v in e.update_many(q)]
    assert len(got) == 1

    class Half:
        name = "half"

        def update(self, q):
            return CrossedQuote().update(q).__class__(q.pair, q.ts_ms, self.name, 0.5, True, "stub")

    v = Ensemble([CrossedQuote(), Half()]).update(qs[0])
    assert v.detector == "ensemble" and v.score == pytest.approx(1 - 0.5 * 0.5)


def test_bank_state_roundtrip_matches_uninterrupted_run():
    qs = calm(3000, seed=3)
    m = qs[2500].mid
    qs[2500] = replace(qs[2500], bid=m - 0.003, ask=m + 0.003)
    whole = run_detectors(qs)
    bank = PairDetectorBank(default_detectors)
    first = [v for q in qs[:1500] for v in bank.update(q)]
    blob = bank.get_state("EUR/USD")
    fresh = PairDetectorBank(default_detectors)
    fresh.set_state("EUR/USD", pickle.loads(pickle.dumps(blob)))
    second = [v for q in qs[1500:] for v in fresh.update(q)]
    assert whole and first + second == whole


def test_bank_keeps_pairs_apart():
    a = calm(1000, pair="EUR/USD")
    b = calm(1000, pair="USD/JPY", start=101.6, seed=2)
    m = b[800].mid
    b[800] = replace(b[800], bid=m - 0.3, ask=m + 0.3)
    got = run_detectors(sorted(a + b, key=lambda q: q.ts_ms))
    assert {v.pair for v in got} == {"USD/JPY"}
    assert all(0.0 <= v.score <= 1.0 for v in got)


def test_frozen_pair_while_others_move():
    from fxwatch.detect import FrozenPair

    eur = calm(600, pair="EUR/USD")  # ~5 minutes of moving quotes
    jpy = calm(600, pair="USD/JPY", start=101.6, seed=9)
    stuck = [replace(q, bid=jpy[100].bid, ask=jpy[100].ask) for q in jpy[100:]]  # repeats, then...
    stream = sorted(eur + jpy[:100] + stuck[:1], key=lambda q: q.ts_ms)  # ...USD/JPY goes silent
    got = alerts(FrozenPair(), stream)
    assert [v.pair for v in got] == ["USD/JPY"]
    assert got[0].ts_ms - jpy[100].ts_ms >= 60_000
    # Both pairs moving: nothing to say.
    assert alerts(FrozenPair(), sorted(eur + jpy, key=lambda q: q.ts_ms)) == []
    # Everything quiet (night): no alert either, nobody moved.
    assert (
        alerts(FrozenPair(), [eur[0], jpy[0], replace(eur[0], ts_ms=eur[0].ts_ms + 600_000)]) == []
    )
