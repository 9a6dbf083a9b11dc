"""Read the quotes topic into Spark: parse the JSON wire form, validate, keep Kafka coordinates."""

from __future__ import annotations

from fxwatch.config import Settings
from fxwatch.schema import (
    STREAM_DLQ_SOURCE,
    dead_letter_column,
    kafka_origin_column,
    reason_column,
    spark_schema,
)

__all__ = [
    "QUOTE_COLUMNS",
    "read_kafka",
    "parse_records",
    "accepted",
    "rejected",
    "read_records",
    "read_quotes",
    "dlq_json",
]

# Columns of an accepted quote as every downstream transform sees it.
QUOTE_COLUMNS = [
    "pair",
    "ts",
    "ts_ms",
    "bid",
    "ask",
    "mid",
    "spread",
    "source",
    "low",
    "high",
    "open",
    "partition",
    "offset",
    "kafka_ts",
]


def read_kafka(
    spark,
    settings: Settings,
    topic: str | None = None,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
):
    """The raw Kafka stream of a topic (key, value, topic, partition, offset, timestamp)."""
    reader = (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", topic or settings.quotes_topic)
        .option("startingOffsets", starting_offsets)
        .option("failOnDataLoss", "false")  # retention may delete unread data: skip it, don't die
    )
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    return reader.load()


_MAX_TS_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z


def parse_records(raw):
    """Raw Kafka rows -> one row per record: quote columns, Kafka coordinates, `raw` text and
    `reason`.

    `reason` is NULL for an accepted quote; for a rejected record it says why, and the quote
    columns may be NULL. Event time `ts` is a TimestampType with the milliseconds kept.
    """
    from pyspark.sql import functions as F

    j = F.col("j")
    now_ms = F.unix_millis(F.current_timestamp())
    return (
        raw
        # text and parsed struct (PERMISSIVE: a bad field becomes NULL, a bad document all-NULL)
        .select(
            # invalid UTF-8 (wrong encoding, random bytes) becomes U+FFFD in `raw`, so the DLQ and
            # the Arrow transfer to Python never choke on it; the reason says what was wrong
            F.expr("make_valid_utf8(CAST(value AS STRING))").alias("raw"),
            F.expr("is_valid_utf8(CAST(value AS STRING))").alias("utf8_ok"),
            F.from_json(F.col("value").cast("string"), spark_schema()).alias("j"),
            "partition",
            "offset",
            F.col("timestamp").alias("kafka_ts"),
        )
        # the reason: fxwatch.schema.QUOTE_RULES, the rule table the Python validators evaluate
        .withColumn("reason", reason_column(j, now_ms, F.col("utf8_ok")))
        # flat quote columns; event time as a millisecond timestamp
        .select(
            j["pair"].alias("pair"),
            # only a representable time: a huge ts would overflow (ANSI) and kill the query on every
            # restart; the reason column rejects it anyway
            F.when((j["ts"] > 0) & (j["ts"] < _MAX_TS_MS), F.timestamp_millis(j["ts"])).alias("ts"),
            j["ts"].alias("ts_ms"),
            j["bid"].alias("bid"),
            j["ask"].alias("ask"),
            ((j["bid"] + j["ask"]) / 2).alias("mid"),
            (j["ask"] - j["bid"]).alias("spread"),
            j["src"].alias("source"),
            j["low"].alias("low"),
            j["high"].alias("high"),
            j["open"].alias("open"),
            "partition",
            "offset",
            "kafka_ts",
            "raw",
            "reason",
        )
    )


def accepted(records):
    """The acceptable quotes of `parse_records` output (QUOTE_COLUMNS)."""
    return records.where("reason IS NULL").select(*QUOTE_COLUMNS)


def rejected(records):
    """The rejected records of `parse_records` output (raw text, reason, Kafka coordinates)."""
    return records.where("reason IS NOT NULL").select(
        "raw", "reason", "source", "partition", "offset", "kafka_ts"
    )


def read_records(
    spark,
    settings: Settings,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
):
    """Every record of the quotes topic, parsed and validated (see parse_records)."""
    return parse_records(
        read_kafka(
            spark,
            settings,
            starting_offsets=starting_offsets,
            max_offsets_per_trigger=max_offsets_per_trigger,
        )
    )


def read_quotes(
    spark,
    settings: Settings,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
):
    """The accepted quotes of the quotes topic as a streaming DataFrame (QUOTE_COLUMNS)."""
    return accepted(read_records(spark, settings, starting_offsets, max_offsets_per_trigger))


def dlq_json(rejects):
    """Rejected records -> Kafka rows (key, value): the DLQ record of fxwatch.schema.dead_letter."""
    from pyspark.sql import functions as F

    origin = kafka_origin_column(F.col("partition"), F.col("offset"))
    record = dead_letter_column(
        F.col("raw"),
        F.col("reason"),
        F.lit(STREAM_DLQ_SOURCE),
        F.unix_millis(F.current_timestamp()),
        origin,
    )
    return rejects.select(F.lit(None).cast("string").alias("key"), F.to_json(record).alias("value"))
