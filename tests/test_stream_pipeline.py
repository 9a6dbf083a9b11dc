"""The streaming pipeline on the real stack: until-idle end to end, replay idempotency, dead
letters, and a stats version picked up while the anomaly query runs."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, date, datetime

import pytest

from support.frames import accepted_quotes

pytestmark = [pytest.mark.spark, pytest.mark.integration]

WEEK_MS = 7 * 86_400_000
MONDAY_2001 = 978_912_000_000  # 2001-01-08T00:00:00Z, a Monday


def random_monday_ms() -> int:
    """A Monday in 2001-2019 no other test run is likely to use (Cassandra partitions are per
    day)."""
    return MONDAY_2001 + random.randrange(0, 950) * WEEK_MS


def empty_partitions(settings, pairs, days) -> None:
    """Empty the tick partitions (pair, day) a test counts: the test keyspace outlives runs, and
    other tests draw their random days from the same years."""
    from fxwatch.bench.store import clear_day

    for day in days:
        clear_day(settings, pairs, day)


def produce(settings, values, keys=None) -> None:
    """Send raw values (str/bytes) to the quotes topic, keyed by pair, and wait for delivery."""
    from kafka import KafkaProducer

    p = KafkaProducer(**settings.kafka_client_config(), linger_ms=10, batch_size=512 * 1024)
    try:
        for i, v in enumerate(values):
            key = (keys[i] if keys else "EUR/USD").encode()
            p.send(settings.quotes_topic, key=key, value=v if isinstance(v, bytes) else v.encode())
        p.flush(timeout=60)
    finally:
        p.close()


def consume_all(settings, topic, expect: int, deadline_s: float = 30) -> list[dict]:
    """Read a topic from the start until `expect` records arrived or the deadline passed."""
    from kafka import KafkaConsumer

    c = KafkaConsumer(
        topic,
        **settings.kafka_client_config(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    out: list[dict] = []
    deadline = time.monotonic() + deadline_s
    try:
        while len(out) < expect and time.monotonic() < deadline:
            for m in c:
                out.append(json.loads(m.value))
    finally:
        c.close()
    return out


def days_of(ts_list) -> list[date]:
    return sorted({datetime.fromtimestamp(t / 1000, tz=UTC).date() for t in ts_list})


def count_quotes(session, ks, pairs, days) -> int:
    from fxwatch.store.ticks import count_ticks

    return count_ticks(session, ks, pairs, days)


BAD = [
    b"not json at all",
    b'{"v":1,"pair":"EURUSD","ts":1399553100000,"bid":1.1,"ask":1.2,"src":"t"}',
    b'{"v":1,"pair":"EUR/USD","ts":1399553100000,"bid":-1.0,"ask":1.2,"src":"t"}',
    b'{"v":1,"pair":"EUR/USD","ts":"soon","bid":1.1,"ask":1.2,"src":"t"}',
]


def test_until_idle_end_to_end_and_replay_is_idempotent(
    spark, stack, unique_topics, cassandra_session, tmp_path
):
    from fxwatch.sources.synthetic import SyntheticConfig, generate
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import run_pipeline

    s = unique_topics
    res = generate(
        SyntheticConfig(
            start_ms=random_monday_ms() + 14 * 3_600_000,
            duration_s=240,
            rate=5.0,
            seed=3,
            events_per_hour=10,
        )
    )
    quotes = list(res.quotes())
    half = len(quotes) // 2
    pairs, days = sorted({q.pair for q in quotes}), days_of(q.ts_ms for q in quotes)
    empty_partitions(s, pairs, days)
    # first run on half the ticks (quotes only), then a restart on the same checkpoint: it resumes
    produce(s, [q.to_json() for q in quotes[:half]], [q.pair for q in quotes[:half]])
    config = PipelineConfig(until_idle=True, checkpoints=tmp_path / "cp1")
    r0 = run_pipeline(spark, s, config.with_(queries=("quotes",)), timeout=300)
    assert r0["quotes"] == half
    produce(
        s,
        [q.to_json() for q in quotes[half:]] + BAD,
        [q.pair for q in quotes[half:]] + ["EUR/USD"] * len(BAD),
    )

    r = run_pipeline(spark, s, config, timeout=300)
    assert r["quotes"] == len(quotes) - half and r["rejected"] == len(
        BAD
    )  # resumed: nothing lost, nothing twice
    # stored once per tick identity: the sample's frozen feed re-quotes a few ticks within one ms
    distinct = len(
        {(q.pair, q.ts_ms, q.source, q.bid, q.ask, q.low, q.high, q.open) for q in quotes}
    )
    assert distinct < len(quotes)
    assert count_quotes(cassandra_session, s.keyspace, pairs, days) == distinct
    # milliseconds and prices survive into the tick store
    from fxwatch.store.ticks import read_ticks

    first = min(quotes, key=lambda q: q.ts_ms)
    stored = read_ticks(cassandra_session, s.keyspace, first.pair, first.ts_ms, first.ts_ms + 1)
    rows = stored[["ts_ms", "bid", "ask"]].itertuples(index=False, name=None)
    assert (first.ts_ms, first.bid, first.ask) in list(rows)
    # pair_status counts each tick once
    st = cassandra_session.execute(
        f"SELECT ticks_seen FROM {s.keyspace}.pair_status WHERE pair=%s", (first.pair,)
    ).one()
    assert st.ticks_seen >= sum(q.pair == first.pair for q in quotes)
    # dead letters carry reasons; the query did not die on them
    dlq = consume_all(s, s.dlq_topic, len(BAD))
    assert sorted(d["reason"].split(":")[0] for d in dlq) == [
        "bad_pair",
        "bad_price",
        "unparseable",
        "unparseable",
    ]
    # trends: closed 1-minute windows with tick counts adding up to the ticks of those minutes
    t_rows = list(
        cassandra_session.execute(
            f"SELECT window_start, ticks, open, close FROM {s.keyspace}.trends "
            "WHERE pair=%s AND window_len='1m' AND day=%s",
            (first.pair, days_of([first.ts_ms])[0]),
        )
    )
    assert len(t_rows) >= 4 and sum(t.ticks for t in t_rows) == sum(
        q.pair == first.pair for q in quotes
    )
    # sliding 5-minute windows: every tick is in five of them
    s_rows = list(
        cassandra_session.execute(
            f"SELECT ticks FROM {s.keyspace}.trends "
            "WHERE pair=%s AND window_len='5m/1m' AND day=%s",
            (first.pair, days_of([first.ts_ms])[0]),
        )
    )
    assert sum(t.ticks for t in s_rows) == 5 * sum(q.pair == first.pair for q in quotes)
    # tick detectors: the injected events raise alerts, in Cassandra and on the alerts topic
    assert r["alerts"] > 0
    n_alerts = sum(
        cassandra_session.execute(
            f"SELECT count(*) FROM {s.keyspace}.alerts WHERE day=%s", (d,)
        ).one()[0]
        for d in days
    )
    assert n_alerts >= r["alerts"]  # (another run may share a day, never fewer)
    assert len(consume_all(s, s.alerts_topic, r["alerts"])) == r["alerts"]

    # replay everything from scratch (fresh checkpoints): same rows, nothing doubled
    r2 = run_pipeline(
        spark, s, config.with_(queries=("quotes",), checkpoints=tmp_path / "cp2"), timeout=300
    )
    assert r2["quotes"] == len(quotes)
    assert count_quotes(cassandra_session, s.keyspace, pairs, days) == distinct


def test_write_quotes_twice_gives_same_rows(spark, stack, cassandra_session):

    from fxwatch.stream.quotes import write_quotes

    t0 = random_monday_ms()
    rows = [
        ("NZD/USD", t0 + i * 250 + 1, i, 0.6 + i * 1e-5, 0.6002 + i * 1e-5, "test")
        for i in range(1000)
    ]
    df = accepted_quotes(spark, rows)
    day = days_of([t0])
    empty_partitions(stack, ["NZD/USD"], day)
    assert write_quotes(df, stack) == 1000
    assert count_quotes(cassandra_session, stack.keyspace, ["NZD/USD"], day) == 1000
    assert write_quotes(df, stack) == 1000
    assert count_quotes(cassandra_session, stack.keyspace, ["NZD/USD"], day) == 1000


def _wait(cond, deadline_s: float, what: str):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.5)
    pytest.fail(f"timed out after {deadline_s} s waiting for {what}")


def test_bad_records_are_dead_lettered_while_the_query_keeps_running(
    spark, stack, unique_topics, cassandra_session, tmp_path
):
    from fxwatch.bus.topics import ensure_topics
    from fxwatch.schema import Quote
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import start_pipeline

    s = unique_topics
    ensure_topics(s)
    t0 = random_monday_ms() + 10 * 3_600_000
    empty_partitions(s, ["GBP/USD"], days_of([t0]))
    good = [Quote("GBP/USD", t0 + i * 1000, 1.25, 1.2502, "t").to_json() for i in range(20)]
    config = PipelineConfig(queries=("quotes",), checkpoints=tmp_path / "cp", quotes_trigger_s=0.5)
    started = start_pipeline(spark, s, config)
    q, w = started["quotes"]
    try:
        produce(s, good[:10] + BAD + good[10:], ["GBP/USD"] * 24)
        _wait(
            lambda: count_quotes(cassandra_session, s.keyspace, ["GBP/USD"], days_of([t0])) == 20,
            90,
            "20 quotes",
        )
        assert q.isActive and q.exception() is None
        more = [Quote("GBP/USD", t0 + 100_000 + i, 1.25, 1.2502, "t").to_json() for i in range(5)]
        produce(s, [b"{broken"] + more, ["GBP/USD"] * 6)
        _wait(
            lambda: count_quotes(cassandra_session, s.keyspace, ["GBP/USD"], days_of([t0])) == 25,
            90,
            "25 quotes",
        )
        assert q.isActive
        dlq = consume_all(s, s.dlq_topic, len(BAD) + 1)
        assert len(dlq) == len(BAD) + 1 and all(
            d["reason"] and d["origin"].startswith("kafka:") for d in dlq
        )
    finally:
        q.stop()


def test_stats_version_landing_mid_run_is_picked_up(spark, stack, unique_topics, tmp_path):
    from fxwatch.bus.topics import ensure_topics
    from fxwatch.schema import Quote
    from fxwatch.stats.spark_io import write_stats
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import start_pipeline

    s = unique_topics
    ensure_topics(s)
    pair = "AUD/USD"
    t0 = random_monday_ms() + 9 * 3_600_000  # Monday 09:00 UTC: hour_of_week 9

    def minute(m, price, n=30):
        return [
            Quote(pair, t0 + m * 60_000 + i * (60_000 // n), price, price + 0.0002, "t").to_json()
            for i in range(n)
        ]

    config = PipelineConfig(
        queries=("window_alerts",),
        checkpoints=tmp_path / "cp",
        windows_trigger_s=0.5,
        stats_refresh_s=0,
        publish_alerts=False,
    )
    q, w = start_pipeline(spark, s, config)["window_alerts"]
    try:
        # cold start: no stats for this version yet -> windows are judged against nothing new
        before = list(w.versions_seen)
        produce(s, minute(0, 0.70) + minute(1, 0.70) + minute(2, 0.70), [pair] * 90)
        _wait(lambda: w.windows >= 1, 90, "the first closed window")
        # a stats version lands: price level 0.70 with a tiny std, tick count 30/min
        stats = spark.createDataFrame(
            [
                (pair, 9, "mid", 50, 0.7001, 0.00001, 0.7001, 0.00001, 0.69, 0.71),
                (pair, 9, "ticks", 50, 30.0, 1.0, 30.0, 1.0, 28.0, 32.0),
            ],
            "pair string, hour_of_week int, metric string, n long, mean double, std double, "
            "median double, mad double, p01 double, p99 double",
        )
        today = datetime.now(UTC).date().isoformat()  # newest as-of: becomes the current version
        version = write_stats(stats, s, as_of=today, lookback_days=7, k=4.0)
        # a quote burst (90 ticks instead of ~30) in minute 3 must be flagged once minute 3 closes
        # (minute 5 moves the watermark past it)
        produce(s, minute(3, 0.70, 90) + minute(5, 0.70, 2), [pair] * 92)
        _wait(lambda: w.alerts >= 1, 120, "an alert against the new stats version")
        assert version in w.versions_seen and version not in before
        assert q.isActive
    finally:
        q.stop()


def test_a_replayed_batch_does_not_dead_letter_its_rejects_twice(
    spark, stack, unique_topics, tmp_path
):
    from datetime import datetime

    from fxwatch.bus.topics import ensure_topics
    from fxwatch.stream.quotes import QuotesSink
    from fxwatch.stream.read import parse_records

    s = unique_topics
    ensure_topics(s)
    now = datetime.now(UTC)
    raw = spark.createDataFrame(
        [(None, v, 0, i, now) for i, v in enumerate(BAD)],
        "key binary, value binary, partition int, offset long, timestamp timestamp",
    )
    records = parse_records(raw)
    w = QuotesSink(s, checkpoint=str(tmp_path / "cp"))
    w(records, 7)
    w(records, 7)  # the same micro-batch again: the job died before Spark committed it
    w(
        records, 8
    )  # a new batch with the same records is sent (its offsets would differ in real life)
    assert w.rejected == 3 * len(BAD)
    assert len(consume_all(s, s.dlq_topic, 3 * len(BAD), deadline_s=10)) == 2 * len(BAD)
