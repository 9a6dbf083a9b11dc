"""Regression tests for detector fixes found by the labelled-scenario evaluation."""

import random

from fxwatch.detect.zscore import RobustZScore
from fxwatch.schema import Quote


def _noise(rng, n, t0, mid0=1.09, step=0.00001):
    """Random-walk quotes one tick (0.1 pip) at a time, 250 ms apart."""
    out, mid = [], mid0
    for i in range(n):
        mid = round(mid + rng.choice((-step, 0.0, step)), 5)
        out.append(
            Quote("EUR/USD", t0 + 250 * i, round(mid - 0.00003, 5), round(mid + 0.00003, 5), "t")
        )
    return out


def test_zscore_quiet_after_a_frozen_stretch():
    """600 identical quotes must not shrink the return scale so that ordinary moves look like
    spikes."""
    rng = random.Random(7)
    before = _noise(rng, 2000, 0)
    last = before[-1]
    frozen = [
        Quote("EUR/USD", last.ts_ms + 250 * (i + 1), last.bid, last.ask, "t") for i in range(600)
    ]
    after = _noise(rng, 2000, frozen[-1].ts_ms + 250, mid0=(last.bid + last.ask) / 2)
    det = RobustZScore()
    alerts = [v for q in before + frozen + after if (v := det.update(q)) is not None and v.alert]
    assert alerts == []


def test_zscore_still_flags_bad_tick_after_frozen_stretch():
    rng = random.Random(8)
    qs = _noise(rng, 2000, 0)
    last = qs[-1]
    qs += [
        Quote("EUR/USD", last.ts_ms + 250 * (i + 1), last.bid, last.ask, "t") for i in range(600)
    ]
    t = qs[-1].ts_ms
    qs.append(Quote("EUR/USD", t + 250, last.bid + 0.0050, last.ask + 0.0050, "t"))  # 50 pips off
    qs.append(Quote("EUR/USD", t + 500, last.bid, last.ask, "t"))  # and back
    det = RobustZScore()
    alerts = [v for q in qs if (v := det.update(q)) is not None and v.alert]
    assert [v.ts_ms for v in alerts] == [t + 250]


def _tri(det, t, eurusd, usdjpy, eurjpy, order=("EUR/USD", "USD/JPY", "EUR/JPY")):
    """Feed one quote per leg at t, t+1, t+2 in `order`; return the alerts."""
    mids = {"EUR/USD": eurusd, "USD/JPY": usdjpy, "EUR/JPY": eurjpy}
    out = []
    for i, p in enumerate(order):
        h = mids[p] * 1e-5
        v = det.update(Quote(p, t + i, mids[p] - h, mids[p] + h, "t"))
        if v is not None and v.alert:
            out.append(v)
    return out


def test_crossrate_confirm_legs_ignores_a_news_jump_reaching_legs_one_by_one():
    from fxwatch.detect.triangle import CrossRate

    for confirm in (False, True):
        det = CrossRate(confirm_legs=confirm)
        got = _tri(det, 0, 1.09, 148.0, 1.09 * 148.0)
        # EUR jumps 40 bp: EUR/USD quotes the new level 300 ms before EUR/JPY does.
        up = 1.004
        got += _tri(det, 1000, 1.09 * up, 148.0, 1.09 * 148.0, order=("EUR/USD",))
        got += _tri(
            det, 1300, 1.09 * up, 148.0, 1.09 * up * 148.0, order=("USD/JPY", "EUR/JPY", "EUR/USD")
        )
        # unconfirmed: EUR/USD against the stale EUR/JPY looks like a break of EUR/USD
        assert [v.pair for v in got] == ([] if confirm else ["EUR/USD"]), confirm


def test_crossrate_confirm_legs_still_flags_a_persistent_break_once_on_its_leg():
    from fxwatch.detect.triangle import CrossRate

    det = CrossRate(confirm_legs=True)
    off = 1.09 * 148.0 * 1.003  # EUR/JPY 30 bp off, and it stays off
    got = _tri(det, 0, 1.09, 148.0, 1.09 * 148.0)
    got += _tri(det, 1000, 1.09, 148.0, off)  # first sight: pending
    assert got == []
    got += _tri(det, 1200, 1.09, 148.0, off)  # every leg quoted again: confirmed
    assert [(v.pair, v.ts_ms) for v in got] == [("EUR/JPY", 1202)] and "+30.0 bp" in got[0].reason
    for t in range(1400, 3000, 200):
        got += _tri(det, t, 1.09, 148.0, off)
    assert [v.pair for v in got] == ["EUR/JPY"]  # one alert per break, none on the other legs


def _float_noise_then_walk(seed):
    """First 'change' is float noise of (bid+ask)/2 (same mid on paper), then a calm one-tick random
    walk."""
    for i in range(1000):  # a quote pair whose mids agree on paper but not in binary floating point
        b, a = round(1.08 + i * 1e-5, 5), round(1.08006 + i * 1e-5, 5)
        b2, a2 = round(b - 1e-5, 5), round(a + 1e-5, 5)
        if (b + a) * 0.5 != (b2 + a2) * 0.5:
            break
    assert (b + a) * 0.5 != (b2 + a2) * 0.5 and abs((b + a) - (b2 + a2)) < 1e-12
    qs = [Quote("EUR/USD", 0, b, a, "t"), Quote("EUR/USD", 250, b2, a2, "t")]
    rng = random.Random(seed)
    mid = (b + a) / 2
    for i in range(3000):
        mid = round(mid + rng.choice((-1e-5, 1e-5)), 6)
        qs.append(Quote("EUR/USD", 500 + 250 * i, round(mid - 3e-5, 6), round(mid + 3e-5, 6), "t"))
    return qs


def test_float_noise_first_change_does_not_seed_a_zero_variance():
    """Ramp and CUSUM used to take a ~1e-30 variance from it and fire on the first ordinary
    moves."""
    from fxwatch.detect.cusum import Cusum
    from fxwatch.detect.ramp import RampRevert

    for seed in range(5):
        qs = _float_noise_then_walk(seed)
        for det in (RampRevert(), Cusum()):
            fired = [v for q in qs if (v := det.update(q)) is not None and v.alert]
            assert fired == [], (det.name, seed, fired[:1])
