"""Incidents through the streaming job (alerts topic -> session windows -> Cassandra + topic) give
the offline engine's incidents on the same alerts and on the same ticks."""

from __future__ import annotations

import csv
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from fxwatch.detect.incidents import INCIDENT_GAP_MS, Incident, group_alerts
from fxwatch.schema import alert_id, iso_ms
from support.times import epoch_ms
from test_stream_pipeline import consume_all, random_monday_ms

pytestmark = [pytest.mark.spark, pytest.mark.integration]

HOUR_MS = 3_600_000


def _alert(pair, ts, detector, score=0.7, reason="r"):
    return {
        "pair": pair,
        "ts": ts,
        "detector": detector,
        "score": score,
        "reason": reason,
        "window_start": None,
        "window_end": None,
        "value": None,
    }


def _window(ms: int, hours: float = 2) -> tuple[datetime, datetime]:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return t - timedelta(hours=hours), t + timedelta(hours=hours)


def test_streamed_incidents_equal_group_alerts_on_the_same_alert_records(
    spark, stack, unique_topics, cassandra_session, tmp_path
):
    from fxwatch.store.incidents import read_incidents
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import run_pipeline
    from fxwatch.stream.sinks import write_alerts

    s = unique_topics
    t0 = random_monday_ms() + 10 * HOUR_MS
    gap = INCIDENT_GAP_MS
    alerts = [
        _alert("EUR/USD", t0, "zscore", 0.97, "bad tick: +9.0 sigma spike reverted"),
        _alert("EUR/USD", t0 + gap - 1, "spread", 0.6),  # one ms inside the gap: same incident
        _alert("EUR/USD", t0 + 2 * gap - 1, "tickrate", 0.5),  # exactly one gap later: a new one
        _alert("USD/JPY", t0 + 1_000, "crossrate", 0.8, "cross-rate: USD/JPY moved 31 bp"),
        _alert("EUR-JPY-USD", t0 + 2_000, "crossrate", 0.7, "cross-rate: residual +8 bp"),
        {**_alert("GBP/USD", t0, "hist_spread_mad", 0.9), "window_start": t0},
    ]
    closer = _alert("NZD/USD", t0 + HOUR_MS, "crossed", 1.0)  # moves the watermark; stays open
    write_alerts(alerts + [closer], s)
    write_alerts(alerts[3:4], s)  # a replayed alert: published twice, counted once
    expected = group_alerts(
        [{**a, "id": alert_id(a["pair"], a["ts"], a["detector"])} for a in alerts]
    )
    assert [i.n_alerts for i in expected if i.key == "EUR/USD"] == [2, 1]

    config = PipelineConfig(until_idle=True, queries=("incidents",), checkpoints=tmp_path / "cp")
    r = run_pipeline(spark, s, config, timeout=180)
    since, until = _window(t0)
    got = [Incident(**row) for row in read_incidents(cassandra_session, s.keyspace, since, until)]
    assert r["incidents"] == len(expected)
    assert got == expected  # ids, times, kinds, alert ids, severity and root cause
    docs = consume_all(s, s.incidents_topic, len(expected))
    assert sorted(d["id"] for d in docs) == sorted(i.incident_id for i in expected)
    assert {d["id"]: d["root_cause"] for d in docs} == {
        i.incident_id: i.root_cause for i in expected
    }


def _ticks_file(path, start_ms: int) -> tuple[int, int]:
    """Synthetic ticks with injected events, then one crossed quote 10 minutes after the rest
    (its alerts move the streaming job's watermark past every earlier incident); no two ticks
    share a millisecond (pairs tied in time may run in either order in a triangle's state).
    Returns (ticks written, the closing quote's time)."""
    from fxwatch.sources.synthetic import SyntheticConfig, generate

    res = generate(
        SyntheticConfig(start_ms=start_ms, duration_s=600, rate=2.0, seed=5, events_per_hour=12)
    )
    seen: set[int] = set()
    rows = []
    for q in res.quotes():
        if q.ts_ms not in seen:
            seen.add(q.ts_ms)
            rows.append((q.pair, q.ts_ms, repr(q.bid), repr(q.ask)))
    last = rows[-1]
    close_ts = max(seen) + 600_000
    rows.append(("EUR/USD", close_ts, "1.2001", "1.2"))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["pair", "ts", "bid", "ask"])
        w.writerows(rows)
    assert last[1] < close_ts
    return len(rows), close_ts


def test_streaming_path_and_fxwatch_detect_give_the_same_incidents_on_the_same_ticks(
    spark, stack, unique_topics, cassandra_session, tmp_path
):
    from fxwatch.bus.producer import produce
    from fxwatch.cli import main
    from fxwatch.sources.replay import read_file
    from fxwatch.store.alerts import read_alerts
    from fxwatch.store.incidents import read_incidents
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import run_pipeline

    s = unique_topics
    t0 = random_monday_ms() + 13 * HOUR_MS
    ticks = tmp_path / "ticks.csv"
    n, close_ts = _ticks_file(ticks, t0)

    assert n > 1000
    # offline: `fxwatch detect` on the file
    out, alerts_csv = tmp_path / "incidents.csv", tmp_path / "a.csv"
    args = ["--files", str(ticks), "--output", str(alerts_csv), "--incidents", str(out)]
    assert main(["detect", *args]) == 0
    with open(out, newline="") as fh:
        offline = [r for r in csv.DictReader(fh)]
    closed = [r for r in offline if r["start"] < iso_ms(close_ts)]  # the last one is still open
    assert len(closed) >= 3 and any(int(r["n_alerts"]) > 1 for r in closed)

    # streaming: the same ticks -> Kafka -> tick alerts -> alerts topic -> incidents
    produce(read_file(ticks), s)
    config = PipelineConfig(
        until_idle=True, queries=("tick_alerts", "incidents"), checkpoints=tmp_path / "cp"
    )
    r = run_pipeline(spark, s, config, timeout=300)
    assert r["queries"]["tick_alerts"]["rows"] > 0
    since, until = _window(t0, hours=3)
    stored = read_alerts(cassandra_session, s.keyspace, since, until)
    streamed = read_incidents(cassandra_session, s.keyspace, since, until)
    # the incidents path: the streamed incidents are those of the alerts the stream raised
    alerts = [{**a, "ts": epoch_ms(a["ts"])} for a in stored]
    assert streamed == [asdict(i) for i in group_alerts(alerts) if i.start_ms < close_ts]
    # the detectors' part: the two engines raised the same alerts
    with open(alerts_csv, newline="") as fh:
        offline_alerts = sorted((r["pair"], r["ts"], r["detector"]) for r in csv.DictReader(fh))
    streamed_alerts = sorted((a["pair"], iso_ms(a["ts"]), a["detector"]) for a in alerts)
    assert streamed_alerts == offline_alerts, "the two engines' detectors raised different alerts"
    # hence the same incidents, but for the last one, still open in the stream

    def fields(i):
        return (
            i["incident_id"],
            i["key"],
            i["start"],
            i["end"],
            i["kinds"],
            i["alert_ids"],
            i["n_alerts"],
            i["severity"],
            i["root_cause"],
        )

    as_csv = [
        {
            **i,
            "start": iso_ms(i["start_ms"]),
            "end": iso_ms(i["end_ms"]),
            "kinds": " ".join(i["kinds"]),
            "alert_ids": " ".join(i["alert_ids"]),
            "n_alerts": str(i["n_alerts"]),
        }
        for i in streamed
    ]
    assert [fields(i) for i in as_csv] == [fields(i) for i in closed]
