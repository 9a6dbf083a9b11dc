"""What is normal for a venue is learnt: crossed/locked base rates, tick-rate bars, the schedule."""

from __future__ import annotations

import random

import pytest

from fxwatch.detect.crossed import CrossedQuote
from fxwatch.detect.tickrate import TickRate
from fxwatch.detect.venue import BaseRate, DecayedQuantile, poisson_tail, scheduled_release
from fxwatch.schema import Quote

T0 = 1_705_298_400_000  # 2024-01-15T06:00:00Z, a Monday, hours before any scheduled release
MIN = 60_000


def feed(minutes, source="v", seed=1, locked=0.0, crossed=0.0, t0=T0, rate=4.0, storm=None):
    """EUR/USD quotes at ~rate per second; each locked/crossed with the given probabilities;
    storm=(start_min, end_min, p) makes a share p of the quotes in that stretch crossed."""
    rng = random.Random(seed)
    out, t, mid = [], 0.0, 1.09
    while t < minutes * MIN:
        t += rng.expovariate(rate / 1000.0)
        mid *= 1 + rng.gauss(0, 2e-5)
        bid, ask = round(mid - 5e-5, 5), round(mid + 5e-5, 5)
        u = rng.random()
        p_storm = storm[2] if storm and storm[0] * MIN <= t < storm[1] * MIN else 0.0
        if u < crossed or u > 1 - p_storm:
            bid, ask = ask, bid
        elif u < crossed + locked:
            ask = bid
        out.append(Quote("EUR/USD", t0 + int(t), bid, ask, source))
    return out


def alerts(det, quotes):
    return [v for q in quotes if (v := det.update(q)) is not None and v.alert]


def test_steady_crossing_is_learnt_and_a_storm_still_alerts():
    qs = feed(180, locked=0.02, crossed=0.005, storm=(150, 151, 0.3))
    got = alerts(CrossedQuote(), qs)
    after_warmup = [v for v in got if v.ts_ms - T0 > 10 * MIN]
    assert len(got) - len(after_warmup) <= 4  # warm-up: the venue is presumed not to cross
    assert len(after_warmup) == 1 and 150 * MIN <= after_warmup[0].ts_ms - T0 <= 151 * MIN
    assert "crossed quotes" in after_warmup[0].reason and "usual rate" in after_warmup[0].reason


def test_crossing_in_clusters_is_learnt_too():
    qs = feed(240, seed=4, locked=0.02, storm=(200, 201, 0.5))
    for i in range(0, len(qs), 3600):  # every ~15 minutes a fast market: 30 crossed in a row
        for j in range(i, min(i + 30, len(qs))):
            q = qs[j]
            qs[j] = Quote(q.pair, q.ts_ms, q.ask, q.bid, q.source)
    got = [v for v in alerts(CrossedQuote(), qs) if v.ts_ms - T0 > 40 * MIN]
    assert [(v.ts_ms - T0) // MIN for v in got] == [200]


def test_a_venue_that_never_crosses_alerts_on_its_first_crossed_quote_beside_one_that_does():
    noisy = feed(60, source="fxcm", seed=2, locked=0.03, crossed=0.01)
    clean = feed(60, source="oanda", seed=3)
    i = len(clean) // 2
    q = clean[i]
    clean[i] = Quote(q.pair, q.ts_ms, q.ask + 1e-5, q.ask, q.source)  # one crossed quote
    merged = sorted(noisy + clean, key=lambda q: q.ts_ms)
    got = [v for v in alerts(CrossedQuote(), merged) if v.ts_ms - T0 > 10 * MIN]
    assert [v.ts_ms for v in got] == [clean[i].ts_ms] and "oanda" in got[0].reason


def test_news_schedule_table():
    assert scheduled_release(1_705_330_800_000) == "US data 10:00 New York"  # 15:00Z in January
    assert scheduled_release(1_705_334_400_000 + 5 * MIN) == "WM/Reuters 16:00 London fix"
    assert scheduled_release(1_721_045_700_000) == "ECB decision 14:15 Frankfurt"  # 12:15Z July
    assert scheduled_release(1_705_330_800_000 - 10 * MIN) is None  # 14:50Z: nothing scheduled
    assert scheduled_release(1_705_140_000_000) is None  # Saturday 10:00 New York


def _burst(quotes, at_ms, n):
    """`n` extra quotes within 500 ms from at_ms."""
    q = quotes[0]
    extra = [Quote(q.pair, at_ms + 500 * i // n, q.bid, q.ask, q.source) for i in range(n)]
    return sorted(quotes + extra, key=lambda q: q.ts_ms)


@pytest.mark.parametrize(
    "t0,expected", [(T0, 1), (1_705_330_800_000 - 20 * MIN, 0)], ids=["calm hour", "at 10:00 NY"]
)
def test_a_moderate_burst_at_a_scheduled_release_is_not_alerted(t0, expected):
    qs = feed(30, t0=t0)
    det = TickRate()
    alerts(det, qs[: len(qs) // 2])
    bar = det.feeds["v"].bar
    assert bar is not None and bar < 40
    burst = _burst(qs[len(qs) // 2 :], t0 + 20 * MIN + 100, int(bar * 1.5))
    got = [v for v in alerts(det, burst) if "burst" in v.reason]
    assert len(got) == expected
    # a burst far above the bar alerts at a release too
    assert alerts(TickRate(), _burst(qs, t0 + 20 * MIN + 100, int(bar * 4)))


def test_base_rate_and_quantile_helpers():
    r = BaseRate(prior_rate=1e-6, prior_ticks=1000)
    assert r.surprise(240, 1) < 1e-3  # nearly never: one event is news
    r.add(10_000, 200)  # 2 % of ticks
    assert r.rate == pytest.approx(200 / 11_000, rel=1e-3) and r.surprise(240, 5) > 0.1
    assert poisson_tail(1, 0.01) == pytest.approx(1 - 2.718281828**-0.01)
    h = DecayedQuantile(lo=1.0, min_count=10)
    for x in range(1, 1001):
        h.add(float(x))
    assert 900 <= h.quantile(0.95) <= 1200 and h.quantile(0.5) < h.quantile(0.95)
