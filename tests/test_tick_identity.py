"""A tick is stored once whatever re-sends it: its key comes from what it is (pair, time, source,
prices), not from where it sits in Kafka. And an alert carries an id a consumer de-duplicates on."""

from __future__ import annotations

import json
import random
import secrets
import time
from datetime import UTC, datetime

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.integration]


def _own_day_ms() -> int:
    """A random minute between 09:00 and 20:00 of a random day in 2006-2019: the keyspace is shared
    with earlier runs, so each test writes where nothing else is likely to be."""
    base = int(datetime(2006, 1, 2, tzinfo=UTC).timestamp() * 1000)
    return base + random.randrange(5000) * 86_400_000 + (540 + random.randrange(660)) * 60_000


def _stored(session, keyspace, quotes) -> int:
    """Ticks stored for these quotes' pairs and sources within their time span (not whole days:
    the keyspace holds earlier runs' ticks too)."""
    from fxwatch.store.ticks import read_ticks

    lo, hi = min(q.ts_ms for q in quotes), max(q.ts_ms for q in quotes) + 1
    sources = {q.source for q in quotes}
    return sum(
        int(read_ticks(session, keyspace, pair, lo, hi)["source"].isin(sources).sum())
        for pair in sorted({q.pair for q in quotes})
    )


def _distinct(quotes) -> int:
    """Ticks that differ in what they are: a tick repeated with the same time, source and prices
    (a frozen feed re-quoting within one millisecond) is one tick."""
    return len({(q.pair, q.ts_ms, q.source, q.bid, q.ask, q.low, q.high, q.open) for q in quotes})


def _run_quotes(spark, settings, tmp_path) -> dict:
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import run_pipeline

    config = PipelineConfig(queries=("quotes",), until_idle=True, checkpoints=tmp_path / "cp")
    return run_pipeline(spark, settings, config, timeout=300)


@pytest.fixture()
def topics(unique_topics):
    from fxwatch.bus.topics import ensure_topics

    ensure_topics(unique_topics)
    return unique_topics


def _ticks(n: int, seed: int):
    from fxwatch.sources.synthetic import SyntheticConfig, generate

    res = generate(
        SyntheticConfig(
            start_ms=_own_day_ms(),
            duration_s=n / 10,
            rate=2.0,
            seed=seed,
            events_per_hour=0.0,
            legit_per_hour=0.0,
        )
    )
    return list(res.quotes())


def test_the_same_file_produced_twice_is_stored_once(
    spark, stack, topics, cassandra_session, tmp_path
):
    from fxwatch.bus.producer import produce

    quotes = _ticks(2000, seed=41)
    produce(quotes, topics)
    produce(quotes, topics)  # `fxwatch produce` run twice on the same file
    r = _run_quotes(spark, topics, tmp_path)
    assert r["quotes"] == 2 * len(quotes)  # both copies went through the stream...
    assert _stored(cassandra_session, topics.keyspace, quotes) == _distinct(quotes)  # ...once


def test_a_producer_restarted_mid_file_stores_each_tick_once(
    spark, stack, topics, cassandra_session, tmp_path
):
    from fxwatch.bus.producer import produce

    quotes = _ticks(2000, seed=43)
    produce(quotes[: len(quotes) * 3 // 5], topics)  # died 60 % into the file...
    produce(quotes, topics)  # ...and was started again from the top
    _run_quotes(spark, topics, tmp_path)
    assert _stored(cassandra_session, topics.keyspace, quotes) == _distinct(quotes)


def test_a_truefx_reconnect_resending_the_snapshot_stores_it_once(
    spark, stack, topics, cassandra_session, tmp_path, monkeypatch
):
    from fxwatch.bus.producer import produce
    from fxwatch.config import Settings
    from fxwatch.schema import Quote
    from fxwatch.sources.truefx import TrueFXClient
    from support.flaky_http import FlakyTrueFX

    ts = _own_day_ms()
    snapshot = (
        f"EUR/USD,{ts},1.09,123,1.09,127,1.08922,1.09673,1.09384\n"
        f"USD/JPY,{ts + 5},148.,123,148.,132,147.500,148.900,148.100\n"
    )
    user, password = "trader7", "pw-" + secrets.token_hex(6)
    with FlakyTrueFX(user, password, snapshot=snapshot) as server:
        monkeypatch.setenv("TRUEFX_USER", user)
        monkeypatch.setenv("TRUEFX_PASSWORD", password)
        monkeypatch.setenv("FXWATCH_TRUEFX_URL", server.url)
        settings = Settings.from_env()
        items = []
        for _ in range(2):  # a client restarted after a disconnect has lost its in-memory de-dup
            client = TrueFXClient.from_settings(settings, interval_s=0.05, timeout_s=2.0)
            items += [i for i in client.stream(limit=2) if isinstance(i, Quote)]
    assert len(items) == 4 and len({(q.pair, q.ts_ms) for q in items}) == 2
    produce(items, topics)
    _run_quotes(spark, topics, tmp_path)
    assert _stored(cassandra_session, topics.keyspace, items) == 2


def test_two_different_ticks_in_the_same_millisecond_stay_two(
    spark, stack, topics, cassandra_session, tmp_path
):
    from fxwatch.bus.producer import produce
    from fxwatch.schema import Quote

    ts = _own_day_ms()
    quotes = [
        Quote("EUR/USD", ts, 1.1000, 1.1002, "t"),
        Quote("EUR/USD", ts, 1.1001, 1.1003, "t"),
        Quote("EUR/USD", ts, 1.1000, 1.1002, "other-venue"),
    ]
    produce(quotes, topics)
    _run_quotes(spark, topics, tmp_path)
    assert _stored(cassandra_session, topics.keyspace, quotes) == 3


def test_a_replayed_alert_batch_carries_the_same_ids(spark, stack, topics):
    """The alert producer is idempotent with acks=all; a replayed micro-batch publishes its alerts
    again, with the same ids, so a consumer that de-duplicates by id sees each alert once."""
    from kafka import KafkaConsumer

    from fxwatch.stream.tick_alerts import TickAlertsSink

    s = topics
    ts = _own_day_ms()
    rows = [("EUR/USD", ts + i, "spike", 0.9, "test alert") for i in range(5)]
    alerts = spark.createDataFrame(
        rows, "pair string, ts_ms long, detector string, score double, reason string"
    )
    sink = TickAlertsSink(s)
    sink(alerts, 3)
    sink(alerts, 3)  # the same micro-batch again: the job died before Spark committed it
    consumer = KafkaConsumer(
        s.alerts_topic,
        **s.kafka_client_config(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    records: list[dict] = []
    deadline = time.monotonic() + 30
    try:
        while len(records) < 10 and time.monotonic() < deadline:
            records += [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()
    assert len(records) == 10  # at-least-once on the wire...
    assert len({r["id"] for r in records}) == 5  # ...exactly once by id
    assert all(len(r["id"]) == 16 for r in records)
