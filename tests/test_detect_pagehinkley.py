"""Page-Hinkley: quiet on a calm random walk, fires on a drift in the right direction, restarts."""

from __future__ import annotations

import math
import pickle
import random

from fxwatch.detect import Cusum, PageHinkley
from fxwatch.schema import Quote

T0 = 1_399_507_200_000  # 2014-05-08T00:00:00Z


def walk(n=4000, seed=3, drift_from=None, drift=0.0, vol=2e-5, start=1.39):
    """Random walk of mids (500 ms apart); from `drift_from` on, each return gets `drift` added."""
    rng = random.Random(seed)
    mid, out = start, []
    for i in range(n):
        mid *= math.exp(
            rng.gauss(0.0, vol) + (drift if drift_from is not None and i >= drift_from else 0.0)
        )
        out.append(
            Quote("EUR/USD", T0 + 500 * i, round(mid - 1e-4, 6), round(mid + 1e-4, 6), "test")
        )
    return out


def alerts(det, quotes):
    return [v for q in quotes if (v := det.update(q)) is not None and v.alert]


def test_documented_defaults():
    d = PageHinkley()
    assert (d.delta, d.threshold, d.alpha, d.var_alpha, d.min_ticks) == (0.5, 25.0, 1.0, 0.01, 200)


def test_quiet_on_calm_walks():
    for seed in range(5):
        assert alerts(PageHinkley(), walk(seed=seed)) == [], seed


def test_fires_soon_after_a_drift_up_and_down():
    for sign, side in ((1, "up"), (-1, "down")):
        qs = walk(drift_from=2500, drift=sign * 2e-5)  # one std per tick in the drift direction
        got = alerts(PageHinkley(), qs)
        assert got, side
        first = got[0]
        assert qs[2500].ts_ms < first.ts_ms <= qs[2600].ts_ms and side in first.reason
        assert 0.5 <= first.score < 1.0


def test_restarts_after_alert_and_pickles():
    qs = walk(drift_from=2500, drift=2e-5)
    det = PageHinkley()
    for q in qs[:2560]:
        det.update(q)
    clone = pickle.loads(pickle.dumps(det))
    rest = qs[2560:]
    assert [v.ts_ms for v in alerts(det, rest)] == [v.ts_ms for v in alerts(clone, rest)]
    got = alerts(PageHinkley(), qs)
    # a sustained drift re-fires only after the warm-up that follows each restart
    assert all(b.ts_ms - a.ts_ms >= 200 * 500 for a, b in zip(got, got[1:]))


def test_learnt_reference_ignores_a_steady_trend_cusum_flags():
    # A steady trend from the start is the stream's normal mean for Page-Hinkley, not for CUSUM.
    qs = walk(n=3000, drift_from=0, drift=1e-5)
    assert alerts(PageHinkley(), qs) == []
    assert alerts(Cusum(), qs)
