"""Benchmark Kafka I/O: fresh topics, fast raw produce of prepared bytes, counting what a
topic holds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from fxwatch.bus.topics import ensure_topics

__all__ = ["fresh_topics", "raw_producer", "produce_raw", "topic_end_offsets", "count_records"]


def fresh_topics(settings, tag: str = "bench", partitions: int | None = None):
    """Settings whose quotes/DLQ/alerts topics are new (created now) and unique to this run."""
    fresh = settings.isolated(f"{tag}-{uuid.uuid4().hex[:8]}")
    if partitions:
        fresh = fresh.with_(quotes_partitions=partitions)
    ensure_topics(fresh, timeout_s=15)
    return fresh


def raw_producer(settings, **overrides):
    """A kafka-python producer tuned for throughput (big batches, acks=1, no per-record flush)."""
    cfg = {
        **settings.kafka_client_config(),
        "acks": 1,
        "linger_ms": 10,
        "batch_size": 512 * 1024,
        "max_in_flight_requests_per_connection": 5,
        "enable_idempotence": False,
        "client_id": "fxwatch-bench",
        "max_block_ms": 30_000,
    }
    cfg.update(overrides)
    return KafkaProducer(**cfg)


def produce_raw(
    settings,
    topic: str,
    keys: Sequence[bytes],
    values: Sequence[bytes],
    on_meta: Callable[[int, object], None] | None = None,
    producer=None,
) -> float:
    """Send every (key, value) to `topic`, flush, and return the seconds it took.

    `on_meta(i, record_metadata)` is called for record i once Kafka acknowledged it.
    """
    own = producer is None
    producer = producer or raw_producer(settings)
    t0 = time.perf_counter()
    try:
        for i, (k, v) in enumerate(zip(keys, values)):
            fut = producer.send(topic, key=k, value=v)
            if on_meta is not None:
                fut.add_callback(lambda md, i=i: on_meta(i, md))
        producer.flush(timeout=120)
        return time.perf_counter() - t0
    finally:
        if own:
            producer.close(timeout=10)


def topic_end_offsets(settings, topic: str) -> dict[int, int]:
    """{partition: end offset} of a topic (its record count when nothing was deleted)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def count_records(settings, topic: str) -> int:
    """How many records a topic holds (sum of end offsets; topics here are never compacted)."""
    return sum(topic_end_offsets(settings, topic).values())
