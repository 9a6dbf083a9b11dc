"""Incidents (fxwatch.detect.incidents): the grouping rule, ids, severity and root cause."""

from __future__ import annotations

import random

import pytest

from fxwatch.detect.incidents import (
    INCIDENT_GAP_MS,
    Incident,
    describe,
    group_alerts,
    incident_id,
    incident_key,
    key_pairs,
    severity_of,
)
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import alert_id

T0 = 1_399_553_100_000  # 2014-05-08T12:45:00Z


def v(pair, dt_ms, detector="zscore", score=0.7, reason="r"):
    return Verdict(pair, T0 + dt_ms, detector, score, True, reason)


def test_gap_strictly_less_than_sixty_seconds_merges():
    merged = group_alerts([v("EUR/USD", 0), v("EUR/USD", INCIDENT_GAP_MS - 1, "spread")])
    split = group_alerts([v("EUR/USD", 0), v("EUR/USD", INCIDENT_GAP_MS, "spread")])
    assert [i.n_alerts for i in merged] == [2]
    assert [(i.start_ms - T0, i.end_ms - T0, i.kinds) for i in split] == [
        (0, 0, ("zscore",)),
        (INCIDENT_GAP_MS, INCIDENT_GAP_MS, ("spread",)),
    ]


def test_a_chain_of_close_alerts_is_one_incident_however_long():
    chain = [v("USD/JPY", k * 50_000, "tickrate" if k % 2 else "zscore") for k in range(10)]
    (inc,) = group_alerts(chain)
    assert (inc.start_ms - T0, inc.end_ms - T0, inc.n_alerts) == (0, 450_000, 10)
    assert inc.kinds == ("tickrate", "zscore")


def test_keys_never_mix_and_the_order_is_by_start_then_key():
    alerts = [
        v("USD/JPY", 10),
        v("EUR/USD", 10),
        v("EUR-JPY-USD", 5, "crossrate"),
        v("EUR/USD", 20, "spread"),
    ]
    got = group_alerts(alerts)
    assert [(i.key, i.start_ms - T0, i.n_alerts) for i in got] == [
        ("EUR-JPY-USD", 5, 1),
        ("EUR/USD", 10, 2),
        ("USD/JPY", 10, 1),
    ]
    assert [incident_key(a) for a in alerts] == ["USD/JPY", "EUR/USD", "EUR-JPY-USD", "EUR/USD"]


def test_ids_are_deterministic_and_the_input_order_does_not_matter():
    rng = random.Random(7)
    alerts = [
        v(rng.choice(["EUR/USD", "GBP/USD"]), rng.randrange(0, 3_600_000), d, rng.random())
        for d in ["zscore", "spread", "tickrate", "cusum"] * 25
    ]
    first = group_alerts(alerts)
    rng.shuffle(alerts)
    assert group_alerts(alerts) == first
    assert len({i.incident_id for i in first}) == len(first)
    for inc in first:
        assert inc.incident_id == incident_id(inc.key, inc.start_ms)
    # every alert in exactly one incident
    assert sum(i.n_alerts for i in first) == len({(a.pair, a.ts_ms, a.detector) for a in alerts})


def test_dicts_and_verdicts_give_the_same_incident_and_repeats_count_once():
    verdicts = [v("EUR/USD", 0, "zscore", 0.97, "bad tick"), v("EUR/USD", 30_000, "spread", 0.6)]
    dicts = [
        {
            "id": alert_id(x.pair, x.ts_ms, x.detector),
            "pair": x.pair,
            "ts": x.ts_ms,
            "detector": x.detector,
            "score": x.score,
            "reason": x.reason,
        }
        for x in verdicts
    ]
    assert group_alerts(dicts + dicts[:1]) == group_alerts(verdicts)
    (inc,) = group_alerts(verdicts)
    assert inc.alert_ids == tuple(alert_id(x.pair, x.ts_ms, x.detector) for x in verdicts)
    assert inc.n_alerts == 2 and inc.max_score == 0.97


def test_triangle_incident_names_its_legs_in_market_convention():
    assert key_pairs("EUR-JPY-USD") == ("EUR/JPY", "EUR/USD", "USD/JPY")
    assert key_pairs("EUR-GBP-USD") == ("EUR/GBP", "EUR/USD", "GBP/USD")
    assert key_pairs("USD/JPY") == ("USD/JPY",)
    (inc,) = group_alerts(
        [v("EUR-JPY-USD", 0, "crossrate", 0.8, "cross-rate: residual +9.0 bp (tolerance 4.1 bp)")]
    )
    assert inc.pairs == ("EUR/JPY", "EUR/USD", "USD/JPY")
    assert inc.root_cause.startswith("triangle EUR-JPY-USD (EUR/JPY, EUR/USD, USD/JPY)")
    assert "no single leg" in inc.root_cause and "+9.0 bp" in inc.root_cause


@pytest.mark.parametrize(
    "kinds, n, score, expected",
    [
        (["zscore"], 1, 0.6, "low"),
        (["zscore"], 2, 0.89, "low"),
        (["zscore"], 3, 0.6, "medium"),
        (["crossed"], 1, 1.0, "medium"),
        (["zscore", "spread"], 2, 0.6, "medium"),
        (["zscore", "spread"], 2, 0.95, "high"),
        (["zscore", "spread", "tickrate"], 3, 0.5, "high"),
        (["zscore", "zscore"], 2, 0.95, "medium"),  # one kind of evidence, twice
    ],
)
def test_severity_follows_the_documented_rule(kinds, n, score, expected):
    assert severity_of(kinds, n, score) == expected


def test_root_cause_is_one_line_led_by_the_most_specific_evidence():
    severity, text = describe(
        "USD/JPY",
        ["spread", "zscore", "hist_ret_std_mad"],
        [("zscore", "bad tick: +9.1 sigma\nspike " + "x" * 400), ("spread", "spread 5x")],
        4,
        0.97,
    )
    assert severity == "high"
    assert "\n" not in text and len(text) < 400
    assert text.startswith("USD/JPY: price spike — bad tick: +9.1 sigma spike")
    assert "also spread blow-out, 1-minute volatility outside historical bounds" in text
    assert text.endswith("(4 alerts)")
    # the one explanation: group_alerts applies describe to each incident
    (inc,) = group_alerts([v("USD/JPY", 0, "spread", 0.5, "wide"), v("USD/JPY", 9, "zscore", 0.9)])
    assert (inc.severity, inc.root_cause) == describe(
        "USD/JPY", inc.kinds, [("zscore", "r"), ("spread", "wide")], 2, 0.9
    )


def test_an_incident_is_a_frozen_record_and_empty_input_gives_none():
    assert group_alerts([]) == []
    (inc,) = group_alerts([v("EUR/USD", 0)])
    assert isinstance(inc, Incident)
    with pytest.raises(AttributeError):
        inc.key = "x"  # type: ignore[misc]


def test_the_specific_explanation_leads_even_when_a_generic_one_scores_higher():
    (inc,) = group_alerts(
        [
            v("GBP/USD", 0, "bounds", 1.0, "mid 1.254 below historical bounds"),
            v("GBP/USD", 5, "zscore", 0.8, "bad tick: -11.0 sigma spike reverted within 1 ticks"),
        ]
    )
    assert inc.root_cause.startswith("GBP/USD: price spike — bad tick: -11.0 sigma")
    assert "also price outside historical bounds" in inc.root_cause
    assert (inc.severity, inc.max_score) == ("high", 1.0)
