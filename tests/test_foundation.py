"""The foundation against the real stack: Spark reads Kafka, the schema is idempotent and keyed
right."""

from __future__ import annotations

import datetime as dt

import pytest

from fxwatch.config import Settings

pytestmark = pytest.mark.integration


def test_spark_reads_messages_produced_to_the_real_broker(stack, spark, unique_topics: Settings):
    from kafka import KafkaProducer

    cfg = unique_topics
    producer = KafkaProducer(**cfg.kafka_client_config())
    sent = {f"tick-{i}" for i in range(25)}
    for value in sent:
        producer.send(cfg.quotes_topic, key=b"EUR/USD", value=value.encode())
    producer.flush(timeout=30)
    producer.close()

    stream = (
        spark.readStream.format("kafka")
        .options(**cfg.spark_kafka_options())
        .option("subscribe", cfg.quotes_topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    name = f"foundation_{cfg.quotes_topic.replace('-', '_')}"
    query = (
        stream.selectExpr("CAST(key AS STRING) AS k", "CAST(value AS STRING) AS v")
        .writeStream.format("memory")
        .queryName(name)
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination(timeout=120)
        rows = spark.sql(f"SELECT k, v FROM {name}").collect()
    finally:
        query.stop()
    assert {r.v for r in rows} == sent
    assert {r.k for r in rows} == {"EUR/USD"}


def test_schema_is_idempotent_and_keeps_same_millisecond_ticks_apart(stack, cassandra_session):
    from fxwatch.store.schema import TABLES, init_schema

    assert init_schema(stack) == list(TABLES)  # a second run changes nothing and does not fail
    ts = dt.datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
    day = ts.date()
    insert = cassandra_session.prepare(
        "INSERT INTO quotes (pair, day, ts, seq, bid, ask, source) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    pair = "TST/SAM"
    cassandra_session.execute("DELETE FROM quotes WHERE pair=%s AND day=%s", (pair, day))
    for seq, bid in ((1, 1.1), (2, 1.2), (2, 1.2)):  # the third is a replay of the second
        cassandra_session.execute(insert, (pair, day, ts, seq, bid, bid + 0.0001, "test"))
    rows = list(
        cassandra_session.execute(
            "SELECT seq, bid FROM quotes WHERE pair=%s AND day=%s", (pair, day)
        )
    )
    assert sorted((r.seq, r.bid) for r in rows) == [(1, 1.1), (2, 1.2)]
