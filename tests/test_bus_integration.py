"""Against the real local Kafka (`fxwatch stack up`): topics, produce, consume back, DLQ."""

import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import admin_client, ensure_topics
from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.schema import BadLine, Quote
from fxwatch.sources.replay import read_file
from fxwatch.sources.synthetic import SyntheticConfig, generate

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def settings():
    """Settings with per-run topic names; fails (never skips) when no broker answers."""
    base = Settings.from_env()
    try:
        admin_client(base, timeout_s=10).close()
    except FxwatchError as exc:
        pytest.fail(f"integration tests need Kafka: {exc}", pytrace=False)
    s = base.isolated()
    yield s
    admin = admin_client(s)
    try:
        admin.delete_topics(list(s.topics))
    finally:
        admin.close()


def consume_all(settings, topic, expected, timeout_s=30.0):
    """Every record of `topic` (from the beginning) until `expected` arrived or the deadline
    passed."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        **settings.kafka_client_config(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )
    records = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        # a moment more to catch duplicates beyond the expected count
        extra_deadline = time.monotonic() + 1.5
        while time.monotonic() < extra_deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def test_ensure_topics_is_idempotent(settings):
    first = ensure_topics(settings)
    assert first == {
        settings.quotes_topic: "created",
        settings.dlq_topic: "created",
        settings.alerts_topic: "created",
        settings.incidents_topic: "created",
    }
    assert set(ensure_topics(settings).values()) == {"existing"}
    admin = admin_client(settings)
    try:
        (meta,) = admin.describe_topics([settings.quotes_topic])
        assert len(meta["partitions"]) == settings.quotes_partitions
        from kafka.admin import ConfigResource, ConfigResourceType

        for topic, days in ((settings.quotes_topic, 7), (settings.dlq_topic, 30)):
            cfg = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])[
                "topic"
            ][topic]
            assert int(cfg["retention.ms"]["value"]) == days * 86_400_000
    finally:
        admin.close()


def test_produce_sample_with_bad_lines_and_consume_back(settings):
    ensure_topics(settings)
    now = int(time.time() * 1000)
    synth = generate(
        SyntheticConfig(start_ms=now - 600_000, duration_s=300, rate=2.0, seed=3, kinds=())
    )
    items = list(read_file(SAMPLES / "bad_lines.csv")) + list(synth.quotes())
    good = [i for i in items if isinstance(i, Quote)]
    bad = [i for i in items if isinstance(i, BadLine)]
    assert len(bad) == 7 and len(good) > 1000

    summary = produce(items, settings)
    assert (summary.sent, summary.dead_lettered, summary.failed) == (len(good), 7, 0)
    print(f"\nproducer: {summary}")

    records = consume_all(settings, settings.quotes_topic, len(good))
    got = Counter(r.value.decode() for r in records)
    assert got == Counter(q.to_json() for q in good)  # every good quote exactly once, nothing else
    partitions_of = defaultdict(set)
    for r in records:
        q = Quote.from_json(r.value)
        assert r.key.decode() == q.pair
        partitions_of[q.pair].add(r.partition)
    assert all(len(p) == 1 for p in partitions_of.values())  # keyed: one pair, one partition
    by_pair = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_pair[r.key.decode()].append(Quote.from_json(r.value).ts_ms)
    assert all(ts == sorted(ts) for ts in by_pair.values())  # per-pair order kept

    dlq = consume_all(settings, settings.dlq_topic, 7)
    back = [BadLine.from_json(r.value) for r in dlq]
    assert sorted((b.raw, b.reason) for b in back) == sorted((b.raw, b.reason) for b in bad)
    assert all(r.key.decode() == "csv" for r in dlq)


def test_producer_throughput(settings):
    ensure_topics(settings)
    now = int(time.time() * 1000)
    synth = generate(
        SyntheticConfig(start_ms=now - 3_600_000, duration_s=1800, rate=4.0, seed=4, kinds=())
    )
    summary = produce(synth.quotes(), settings)
    assert summary.sent == len(synth) and summary.failed == 0
    print(f"\nthroughput: {summary}")
