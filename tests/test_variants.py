"""Benchmark generator variants: labels sit inside the data, and the price process has the shape
it claims (heavy tails, volatility clustering, intraday seasonality)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from fxwatch.cli import main
from fxwatch.errors import FxwatchError
from fxwatch.eval.variants import UNITS, VARIANTS, generate_variant
from fxwatch.sources.synthetic import LABEL_KINDS

QUIET = dict(quote_noise=0.0, news_per_hour=0.0, locked_frac=0.0, crossed_frac=0.0)


def _pair(res, pair):
    m = res.pair_idx == res.pairs.index(pair)
    return res.ts[m], res.bid[m], res.ask[m]


def _returns_1s(res, pair):
    """Log returns of the pair's last mid in each second."""
    ts, bid, ask = _pair(res, pair)
    sec = (ts - ts[0]) // 1000
    last = np.r_[np.flatnonzero(np.diff(sec)), sec.size - 1]
    return np.diff(np.log((bid[last] + ask[last]) / 2))


def _excess_kurtosis(x):
    x = x - x.mean()
    return float((x**4).mean() / (x**2).mean() ** 2 - 3.0)


@pytest.fixture(scope="module")
def harsh():
    return generate_variant("harsh", seed=11, hours=1.0)


def test_every_kind_is_injected_with_a_magnitude_in_its_unit(harsh):
    assert {e.kind for e in harsh.labels} == set(LABEL_KINDS)
    assert set(UNITS) == set(LABEL_KINDS)
    for e in harsh.labels:
        assert e.pair in harsh.pairs
        assert e.start_ts <= e.end_ts
        assert harsh.ts[0] <= e.start_ts and e.end_ts <= harsh.ts[-1]
        assert e.params["magnitude"] > 0
    assert harsh.legit, "the harsh variant has scheduled announcements"


def test_labelled_events_are_in_the_ticks(harsh):
    for e in harsh.labels:
        ts, bid, ask = _pair(harsh, e.pair)
        w = (ts >= e.start_ts) & (ts <= e.end_ts)
        if e.kind == "crossed":
            assert (bid[w] > ask[w]).sum() == e.params["magnitude"]
        elif e.kind == "frozen":
            assert w.sum() == e.params["magnitude"]
            assert np.unique(bid[w]).size == 1 and np.unique(ask[w]).size == 1
        elif e.kind == "burst":
            before = ((ts >= e.start_ts - 300_000) & (ts < e.start_ts)).sum() / 300.0
            during = w.sum() / max((e.end_ts - e.start_ts) / 1000, 1e-3)
            assert during > before
        elif e.kind == "spread_blowout":
            before = (ts >= e.start_ts - 300_000) & (ts < e.start_ts)
            if w.any():
                assert np.median((ask - bid)[w]) > np.median((ask - bid)[before])


def test_the_venue_shows_locked_quotes_as_normal_outside_events(harsh):
    ts, bid, ask = _pair(harsh, "EUR/USD")
    assert (bid == ask).mean() > 0.001


def test_same_seed_same_run_other_seed_other_run():
    a = generate_variant("em_scales", 3, 0.5)
    b = generate_variant("em_scales", 3, 0.5)
    c = generate_variant("em_scales", 4, 0.5)
    assert np.array_equal(a.ts, b.ts) and np.array_equal(a.bid, b.bid)
    assert a.labels == b.labels
    assert not (a.ts.size == c.ts.size and np.array_equal(a.bid, c.bid))


def test_price_scales_of_other_pairs():
    res = generate_variant("em_scales", 5, 0.5, kinds=())
    mids = {p: float(np.median((b + a) / 2)) for p in res.pairs for _, b, a in [_pair(res, p)]}
    assert 15 < mids["USD/MXN"] < 20 and 28 < mids["USD/TRY"] < 37 and 10 < mids["EUR/NOK"] < 13
    rates = {p: _pair(res, p)[0].size / 1800 for p in res.pairs}
    assert rates["EUR/TRY"] < 1.0 < rates["EUR/USD"]


def test_student_t_steps_have_heavier_tails_than_normal_ones():
    t_var = replace(VARIANTS["student_t"], **QUIET)
    normal = replace(t_var, dof=None)
    k_t = _excess_kurtosis(_returns_1s(generate_variant(t_var, 1, 2.0, kinds=()), "EUR/USD"))
    k_n = _excess_kurtosis(_returns_1s(generate_variant(normal, 1, 2.0, kinds=()), "EUR/USD"))
    assert k_t > 1.0 and k_t > k_n + 0.5


def _acf_squared(r, block=5, lags=range(1, 6)):
    """Autocorrelation of squared `block`-second returns, averaged over `lags`."""
    r = r[: r.size // block * block].reshape(-1, block).sum(1)
    s = r * r - (r * r).mean()
    return float(np.mean([(s[:-k] * s[k:]).mean() / (s * s).mean() for k in lags]))


def test_garch_variant_shows_volatility_clustering():
    g = replace(VARIANTS["garch"], **QUIET, dof=None)
    flat = replace(g, garch=None)
    ac_g = _acf_squared(_returns_1s(generate_variant(g, 2, 2.0, kinds=()), "EUR/USD"))
    ac_f = _acf_squared(_returns_1s(generate_variant(flat, 2, 2.0, kinds=()), "EUR/USD"))
    assert ac_g > 0.1 and ac_g > ac_f + 0.05


def test_intraday_profile_raises_the_tick_rate_into_the_london_open():
    v = replace(VARIANTS["news_season"], **QUIET)
    ts, _, _ = _pair(generate_variant(v, 3, 2.0, kinds=()), "EUR/USD")
    first = (ts < ts[0] + 900_000).sum()
    last = (ts > ts[-1] - 900_000).sum()
    assert last > 1.5 * first


def test_grid_magnitudes_cycle_through_the_grid():
    res = generate_variant("garch", 9, 1.0, kinds=("spike",), grid=(2, 4, 8), events_per_hour=9)
    mags = sorted({e.params["magnitude"] for e in res.labels})
    assert mags == [2, 4, 8]


def test_unknown_kind_is_refused():
    with pytest.raises(FxwatchError, match="unknown event kinds"):
        generate_variant("garch", 1, 0.5, kinds=("nope",))


def test_scenarios_cli_runs_a_variant(capsys):
    assert main(["scenarios", "--variant", "em_scales", "--seed", "1", "--hours", "0.5"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["variant"] == "em_scales" and summary["pair_hours"] == 3.0  # its 6 pairs
    assert summary["events"] >= 1 and 0.0 <= summary["recall"] <= 1.0


def test_scenarios_cli_refuses_pairs_with_a_variant(capsys):
    assert main(["scenarios", "--variant", "harsh", "--pairs", "EUR/USD"]) == 1
    assert "--variant" in capsys.readouterr().err
