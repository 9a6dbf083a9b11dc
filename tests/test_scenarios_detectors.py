"""Regression tests for detector fixes found by the labelled-scenario evaluation."""

import random

from fxwatch.detect.zscore import RobustZScore
from fxwatch.schema import Quote


def _noise(rng, n, t0, mid0=1.09, step=0.00001):
    """Random-walk quotes one tick (0.1 pip) at a time, 250 ms apart."""
    out, mid = [], mid0
    for i in range(n):
        mid = round(mid + rng.choice((-step, 0.0, step)), 5)
        out.append(Quote("EUR/USD", t0 + 250 * i, round(mid - 0.00003, 5), round(mid + 0.00003, 5), "t"))
    return out


def test_zscore_quiet_after_a_frozen_stretch():
    """600 identical quotes must not shrink the return scale so that ordinary moves look like spikes."""
    rng = random.Random(7)
    before = _noise(rng, 2000, 0)
    last = before[-1]
    frozen = [Quote("EUR/USD", last.ts_ms + 250 * (i + 1), last.bid, last.ask, "t") for i in range(600)]
    after = _noise(rng, 2000, frozen[-1].ts_ms + 250, mid0=(last.bid + last.ask) / 2)
    det = RobustZScore()
    alerts = [v for q in before + frozen + after if (v := det.update(q)) is not None and v.alert]
    assert alerts == []


def test_zscore_still_flags_bad_tick_after_frozen_stretch():
    rng = random.Random(8)
    qs = _noise(rng, 2000, 0)
    last = qs[-1]
    qs += [Quote("EUR/USD", last.ts_ms + 250 * (i + 1), last.bid, last.ask, "t") for i in range(600)]
    t = qs[-1].ts_ms
    qs.append(Quote("EUR/USD", t + 250, last.bid + 0.0050, last.ask + 0.0050, "t"))  # 50 pips off
    qs.append(Quote("EUR/USD", t + 500, last.bid, last.ask, "t"))  # and back
    det = RobustZScore()
    alerts = [v for q in qs if (v := det.update(q)) is not None and v.alert]
    assert [v.ts_ms for v in alerts] == [t + 250]
