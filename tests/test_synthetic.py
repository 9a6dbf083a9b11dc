"""Synthetic generator: determinism, cross-rate consistency, arrival rates, every injected event
visible."""

import numpy as np
import pytest

from fxwatch.errors import FxwatchError
from fxwatch.schema import validate_quote
from fxwatch.sources.replay import read_file
from fxwatch.sources.synthetic import (
    LABEL_KINDS,
    SyntheticConfig,
    fix_times,
    generate,
    parse_duration,
    read_labels,
    write_labels,
    write_ticks,
)

CFG = SyntheticConfig(
    start_ms=1_705_330_800_000,
    duration_s=2 * 3600,
    rate=3.0,
    seed=7,
    events_per_hour=1.5,
    legit_per_hour=1.5,
)


@pytest.fixture(scope="module")
def result():
    return generate(CFG)


def series(result, pair):
    m = result.pair_idx == result.pairs.index(pair)
    return result.ts[m], result.bid[m], result.ask[m]


def inside(ts, label, pad=0):
    return (ts >= label.start_ts - pad) & (ts <= label.end_ts + pad)


def mid_at(result, pair, t):
    ts, bid, ask = series(result, pair)
    i = max(0, np.searchsorted(ts, t, side="right") - 1)
    return (bid[i] + ask[i]) / 2


def test_deterministic_per_seed(result):
    again = generate(CFG)
    assert np.array_equal(again.ts, result.ts) and np.array_equal(again.bid, result.bid)
    assert again.labels == result.labels and again.legit == result.legit
    other = generate(SyntheticConfig(**{**CFG.__dict__, "seed": 8}))
    assert not np.array_equal(other.bid[:100], result.bid[:100])


def test_time_order_rate_and_valid_quotes(result):
    assert np.all(np.diff(result.ts) >= 0)
    assert result.ts[0] >= CFG.start_ms and result.ts[-1] < CFG.start_ms + CFG.duration_s * 1000
    for p in result.pairs:
        ts, bid, ask = series(result, p)
        per_s = ts.size / CFG.duration_s
        assert 2.0 < per_s < 8.0, (
            p,
            per_s,
        )  # several ticks/s per pair, scaled by the intraday profile
        gaps = np.diff(ts)
        assert gaps.std() / gaps.mean() > 0.8  # Poisson-like arrivals: irregular, not a metronome
    quotes = list(result.quotes())
    assert all(validate_quote(q, now=CFG.start_ms + 10**9) is None for q in quotes[::97])


def test_intraday_rate_varies():
    quiet = generate(
        SyntheticConfig(start_ms=1_705_284_000_000, duration_s=1800, seed=1, kinds=())
    )  # 02:00 UTC
    busy = generate(
        SyntheticConfig(start_ms=1_705_327_200_000, duration_s=1800, seed=1, kinds=())
    )  # 14:00 UTC
    assert len(busy) > 1.8 * len(quiet)


def _labelled_mask(result, pair, pad_ms=120_000):
    ts, _, _ = series(result, pair)
    mask = np.zeros(ts.size, bool)
    for e in result.labels + result.legit:
        if pair in e.pair.split(";"):
            mask |= inside(ts, e, pad_ms)
    return mask


def test_cross_rates_are_consistent_outside_events(result):
    ts, bid, ask = series(result, "EUR/JPY")
    clean = (
        ~_labelled_mask(result, "EUR/JPY")
        & ~_labelled_mask_at(result, "EUR/USD", ts)
        & ~_labelled_mask_at(result, "USD/JPY", ts)
    )
    sample = np.flatnonzero(clean)[::50]
    resid = [
        np.log(
            (bid[i] + ask[i])
            / 2
            / (mid_at(result, "EUR/USD", ts[i]) * mid_at(result, "USD/JPY", ts[i]))
        )
        for i in sample
    ]
    assert len(sample) > 50
    assert np.max(np.abs(resid)) * 1e4 < 3.0  # within a few bp: rounding and tick staleness only


def _labelled_mask_at(result, pair, ts, pad_ms=120_000):
    mask = np.zeros(ts.size, bool)
    for e in result.labels:
        if pair in e.pair.split(";"):
            mask |= inside(ts, e, pad_ms)
    return mask


def test_every_label_kind_is_injected_and_visible(result):
    kinds = {e.kind for e in result.labels}
    assert kinds == set(LABEL_KINDS)
    for e in result.labels:
        ts, bid, ask = series(result, e.pair)
        w = inside(ts, e)
        before = (ts < e.start_ts) & (ts > e.start_ts - 300_000)
        spread_before = np.median((ask - bid)[before])
        if e.kind == "spike":
            jump = abs(np.log(((bid + ask) / 2)[w][0] / mid_at(result, e.pair, e.start_ts - 1)))
            assert jump * 1e4 > 25, e
        elif e.kind == "spread_blowout":
            assert np.median((ask - bid)[w]) > 5 * spread_before, e
        elif e.kind == "frozen":
            assert w.sum() > 3 and np.ptp(bid[w]) == 0 and np.ptp(ask[w]) == 0, e
        elif e.kind == "crossed":
            assert np.all(bid[w] > ask[w]), e
        elif e.kind == "burst":
            assert w.sum() / ((e.end_ts - e.start_ts) / 1000) > 30, e
        elif e.kind == "cross_break":
            b, q = e.pair.split("/")
            legs = ("EUR/USD", "USD/JPY") if e.pair == "EUR/JPY" else ("EUR/USD", "GBP/USD")
            t = int(ts[w][len(ts[w]) // 2])
            implied = mid_at(result, legs[0], t) * (
                mid_at(result, legs[1], t)
                if e.pair == "EUR/JPY"
                else 1 / mid_at(result, legs[1], t)
            )
            assert abs(np.log(mid_at(result, e.pair, t) / implied)) * 1e4 > 10, e
        elif e.kind == "fix_ramp":
            assert e.params["fix"] == "WMR 16:00 London"
            fix = 1_705_334_400_000  # 2024-01-15 16:00 London = 16:00 UTC in winter
            assert e.start_ts < fix < e.end_ts
            drift = np.log(mid_at(result, e.pair, fix) / mid_at(result, e.pair, e.start_ts))
            assert np.sign(drift) == np.sign(e.params["amplitude_bp"]) and abs(drift) * 1e4 > 3, e


def test_crossed_quotes_only_where_labelled(result):
    crossed_ts = result.ts[result.bid > result.ask]
    windows = [(e.start_ts, e.end_ts) for e in result.labels if e.kind == "crossed"]
    assert crossed_ts.size > 0
    assert all(any(a <= t <= b for a, b in windows) for t in crossed_ts)


def test_news_jumps_move_related_pairs_consistently_and_do_not_revert(result):
    assert result.legit and all(e.kind == "news_jump" for e in result.legit)
    assert not {e.event_id for e in result.legit} & {e.event_id for e in result.labels}
    for e in result.legit:
        ccy = e.params["currency"]
        for pair in e.pair.split(";"):
            sign = 1 if pair.startswith(ccy) else -1
            if ccy == "USD":
                sign = 1 if pair.startswith("USD") else -1
            move = np.log(
                mid_at(result, pair, e.start_ts + 2000) / mid_at(result, pair, e.start_ts - 2000)
            )
            later = np.log(mid_at(result, pair, e.end_ts) / mid_at(result, pair, e.start_ts - 2000))
            assert sign * np.sign(e.params["jump_bp"]) * move * 1e4 > 10, (e, pair, move)
            assert np.sign(later) == np.sign(move)  # still moved five minutes later


def test_files_round_trip(result, tmp_path):
    ticks, labels = tmp_path / "t.csv", tmp_path / "l.csv"
    assert write_ticks(ticks, result) == len(result)
    write_labels(labels, result.labels)
    assert read_labels(labels) == result.labels
    back = list(read_file(ticks, source="synthetic", now=CFG.start_ms + 10**9))
    assert back == list(result.quotes())  # prices survive the text form exactly


def test_fix_times_and_durations():
    assert [n for _, n in fix_times(1_705_330_800_000, 1_705_338_000_000)] == ["WMR 16:00 London"]
    summer = fix_times(1_720_000_000_000, 1_720_000_000_000 + 86_400_000)
    assert any(n == "WMR 16:00 London" and (t // 3_600_000) % 24 == 15 for t, n in summer)  # BST
    assert (
        parse_duration("90s") == 90
        and parse_duration("2h") == 7200
        and parse_duration("1.5m") == 90
    )
    with pytest.raises(FxwatchError):
        parse_duration("soon")


def test_bad_config_says_what_to_do():
    with pytest.raises(FxwatchError, match="EUR/USD"):
        generate(SyntheticConfig(pairs=("EURO/USD",)))
    with pytest.raises(FxwatchError, match="no synthetic model"):
        generate(SyntheticConfig(pairs=("USD/TRY",)))
    with pytest.raises(FxwatchError, match="unknown event kinds"):
        generate(SyntheticConfig(kinds=("spoofing",)))


def test_samples_labels_file_matches_the_generator_format():
    from pathlib import Path

    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    labels = read_labels(samples / "synthetic_labels.csv")
    assert {e.kind for e in labels} <= set(LABEL_KINDS) and len(labels) >= 7
    assert any(e.kind == "fix_ramp" for e in labels)
