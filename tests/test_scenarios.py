"""Labelled-scenario scorer on constructed alerts and labels (no detectors involved)."""

import math

import pandas as pd
import pytest

from fxwatch.eval.scenarios import Alert, as_alerts, merge_scores, score_scenarios
from fxwatch.sources.synthetic import EventLabel

PAIRS = ("EUR/USD", "USD/JPY", "EUR/JPY", "GBP/USD", "EUR/GBP")
S = 1_000  # one second in ms


def lab(eid, kind, pair, start, end):
    return EventLabel(eid, kind, pair, start * S, end * S, {})


def test_recall_delay_and_tolerance():
    labels = [
        lab("a", "spike", "EUR/USD", 100, 100),
        lab("b", "spike", "USD/JPY", 500, 500),
        lab("c", "frozen", "GBP/USD", 1000, 1060),
    ]
    alerts = [
        Alert(
            "EUR/USD", 100 * S - 500, "zscore"
        ),  # 0.5 s early: within the 1 s tolerance, delay clipped to 0
        Alert("USD/JPY", 498 * S, "zscore"),  # 2 s early: outside tolerance -> miss + false alarm
        Alert(
            "GBP/USD", 1012 * S, "stale", 1.0, 1013 * S
        ),  # raised 1 s after the tick it points at
        Alert("GBP/USD", 1020 * S, "bounds"),
    ]
    sc = score_scenarios(alerts, labels, pairs=PAIRS, pair_hours=5.0)
    ev = {e.event_id: e for e in sc.events}
    assert ev["a"].detected and ev["a"].delay_ms == 0
    assert not ev["b"].detected and ev["b"].delay_ms is None
    assert ev["c"].detected and ev["c"].delay_ms == 13 * S and ev["c"].first_detector == "stale"
    assert ev["c"].n_alerts == 2
    k = sc.by_kind().set_index("kind")
    assert k.loc["spike", "recall"] == 0.5 and k.loc["frozen", "recall"] == 1.0
    assert k.loc["frozen", "delay_p50_s"] == 13.0
    s = sc.summary()
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["false_alarm_clusters"] == 1 and s["fa_per_pair_hour"] == pytest.approx(0.2)
    assert s["precision"] == pytest.approx(2 / 3)


def test_grace_after_end():
    labels = [lab("r", "fix_ramp", "EUR/USD", 0, 600)]
    inside = score_scenarios(
        [Alert("EUR/USD", 629 * S, "ramp")], labels, pairs=PAIRS, pair_hours=1, grace_ms=30 * S
    )
    after = score_scenarios(
        [Alert("EUR/USD", 631 * S, "ramp")], labels, pairs=PAIRS, pair_hours=1, grace_ms=30 * S
    )
    assert inside.events[0].detected and inside.events[0].delay_ms == 629 * S
    assert not after.events[0].detected and len(after.false_alarm_clusters) == 1


def test_cross_break_detected_on_its_pair_or_its_triangle_only():
    labels = [lab("x", "cross_break", "EUR/JPY", 100, 130)]

    def score(pair):
        return score_scenarios(
            [Alert(pair, 101 * S, "crossrate")], labels, pairs=PAIRS, pair_hours=1
        )

    for hit in ("EUR/JPY", "EUR-JPY-USD"):
        sc = score(hit)
        assert sc.events[0].detected and not sc.clusters, hit
    for miss in ("USD/JPY", "GBP/USD", "EUR-GBP-USD"):  # a leg that did not move, another pair
        sc = score(miss)
        assert not sc.events[0].detected and len(sc.false_alarm_clusters) == 1, miss
    assert score("USD/JPY").summary()["leg_attribution_false_alarms"] == 1
    assert score("EUR-GBP-USD").summary()["leg_attribution_false_alarms"] == 0


def test_alert_on_a_pair_no_event_touched_is_a_false_alarm_whatever_the_detector():
    labels = [lab("s", "spike", "EUR/USD", 100, 100)]
    alerts = [
        Alert("EUR/USD", 100 * S, "zscore"),
        Alert("EUR/JPY", 100 * S + 300, "crossrate"),  # a leg of the spike's triangles: no excuse
        Alert("EUR/JPY", 100 * S + 400, "zscore"),
        Alert("EUR-JPY-USD", 100 * S + 500, "crossrate"),  # a triangle id matches cross breaks only
    ]
    sc = score_scenarios(alerts, labels, pairs=PAIRS, pair_hours=1)
    assert sc.events[0].n_alerts == 1 and sc.matched_alerts == 1
    assert [(c.pair, c.detectors, c.n_alerts) for c in sc.false_alarm_clusters] == [
        ("EUR-JPY-USD", ("crossrate",), 1),
        ("EUR/JPY", ("crossrate", "zscore"), 2),
    ]
    assert sc.summary()["leg_attribution_false_alarms"] == 1


def test_false_alarms_are_incidents_with_the_incident_gap():
    alerts = [Alert("EUR/USD", 1000 * S + i * 59 * S, "zscore") for i in range(3)]  # 59 s apart
    alerts += [Alert("EUR/USD", 2000 * S, "bounds"), Alert("EUR/USD", 2060 * S, "bounds")]
    s = score_scenarios(alerts, [], pairs=PAIRS, pair_hours=10.0).summary()
    assert s["false_alarm_incidents"] == 3  # one of 3 alerts, then 60 s apart: two
    assert s["fa_incidents_per_pair_hour"] == pytest.approx(0.3) == s["fa_per_pair_hour"]


def test_false_alarms_cluster_by_pair_and_gap():
    burst = [
        Alert("EUR/USD", 1000 * S + i * 100, "crossed") for i in range(500)
    ]  # 50 s, 100 ms apart
    later = [Alert("EUR/USD", 1200 * S, "zscore")]  # 150 s after the burst: a new cluster
    other = [Alert("USD/JPY", 1010 * S, "zscore")]  # same time, other pair: its own cluster
    sc = score_scenarios(
        burst + later + other, [], pairs=PAIRS, pair_hours=10.0, cluster_gap_ms=30 * S
    )
    sizes = sorted(c.n_alerts for c in sc.clusters)
    assert sizes == [1, 1, 500]
    assert sc.summary()["fa_per_pair_hour"] == pytest.approx(0.3)
    assert math.isnan(sc.summary()["recall"])


def test_legit_moves_counted_separately():
    legit = [lab("n", "news_jump", "EUR/USD;EUR/JPY;EUR/GBP", 100, 400)]
    alerts = [
        Alert("EUR/JPY", 150 * S, "bounds"),
        Alert("USD/JPY", 150 * S, "bounds"),
        Alert("USD/JPY", 151 * S, "crossrate"),
        Alert("EUR-JPY-USD", 152 * S, "crossrate"),  # names a triangle the move touched
    ]
    sc = score_scenarios(alerts, [], legit, pairs=PAIRS, pair_hours=1)
    s = sc.summary()
    assert s["legit_clusters"] == 2 and s["legit_events_hit"] == 1 and s["legit_events"] == 1
    # USD/JPY did not move: its alerts are a false alarm, whatever detector raised them
    assert [(c.pair, c.legit) for c in sc.clusters] == [
        ("EUR-JPY-USD", True),
        ("EUR/JPY", True),
        ("USD/JPY", False),
    ]
    assert sc.clusters[2].detectors == ("bounds", "crossrate")
    assert s["false_alarm_clusters"] == 1 and s["leg_attribution_false_alarms"] == 1


def test_legit_and_noise_on_same_pair_split():
    legit = [lab("n", "news_jump", "EUR/USD", 100, 400)]
    alerts = [Alert("EUR/USD", 150 * S, "bounds"), Alert("EUR/USD", 1000 * S, "bounds")]
    s = score_scenarios(alerts, [], legit, pairs=PAIRS, pair_hours=1).summary()
    assert s["legit_clusters"] == 1 and s["false_alarm_clusters"] == 1


def test_as_alerts_from_dataframe_iso_and_tuples():
    df = pd.DataFrame(
        {
            "pair": ["EUR/USD"],
            "ts": ["2024-01-15T14:00:01.500Z"],
            "detector": ["spread"],
            "score": [0.9],
            "reason": ["x"],
        }
    )
    a = as_alerts(df)[0]
    assert a.ts_ms == 1_705_327_201_500 and a.detector == "spread" and a.raised_ms == a.ts_ms
    t = as_alerts([("EUR/USD", 5, "zscore", 0.7, 9)])[0]
    assert (t.ts_ms, t.raised_ms, t.score) == (5, 9, 0.7)


def test_merge_pools_events_and_pair_hours():
    a = score_scenarios(
        [Alert("EUR/USD", 100 * S, "z")],
        [lab("1", "spike", "EUR/USD", 100, 100)],
        pairs=PAIRS,
        pair_hours=5,
    )
    b = score_scenarios(
        [Alert("EUR/USD", 900 * S, "z")],
        [lab("2", "spike", "EUR/USD", 100, 100)],
        pairs=PAIRS,
        pair_hours=5,
    )
    m = merge_scores([a, b]).summary()
    assert (m["events"], m["detected"], m["pair_hours"], m["false_alarm_clusters"]) == (2, 1, 10, 1)
    assert m["fa_per_pair_hour"] == pytest.approx(0.1)


def test_flagged_between_and_frame():
    from fxwatch.eval.scenarios import alerts_frame, flagged_between

    al = [
        Alert("EUR/USD", 10, "zscore"),
        Alert("EUR/USD", 20, "ramp"),
        Alert("NZD/USD", 15, "ramp"),
    ]
    assert [a.ts_ms for a in flagged_between(al, "EUR/USD", 10, 19)] == [10]
    assert [a.detector for a in flagged_between(al, "EUR/USD", 0, 99, detectors=["ramp"])] == [
        "ramp"
    ]
    df = alerts_frame(al)
    assert (
        list(df.columns) == ["pair", "ts_ms", "time", "detector", "score", "emitted_ms"]
        and len(df) == 3
    )
