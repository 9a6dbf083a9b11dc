"""foreachBatch writers: quotes (+ pair_status, dead letters), trends and alerts to Cassandra/Kafka."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from fxwatch.config import Settings
from fxwatch.stream.cassandra_io import prepared, process_session, with_retry, write_rows, write_table
from fxwatch.stream.read import accepted, dlq_json, rejected

__all__ = [
    "quotes_rows",
    "write_quotes",
    "update_pair_status",
    "write_dead_letters",
    "QuotesBatchWriter",
    "write_trends",
    "TRENDS_COLUMNS",
    "ALERT_COLUMNS",
    "write_alerts",
    "start_foreach_batch",
]

TRENDS_COLUMNS = [
    "pair", "window_len", "day", "window_end", "window_start", "ticks", "mid_avg", "bid_avg", "ask_avg",
    "open", "high", "low", "close", "spread_avg", "spread_min", "spread_max", "spread_std", "ret_std",
    "ema", "updated_at",
]
# What an alert DataFrame holds (ts/window_* timestamps; window_* NULL for tick-level detectors).
ALERT_COLUMNS = ["pair", "ts", "detector", "score", "reason", "window_start", "window_end", "value"]


def quotes_rows(quotes):
    """Accepted quotes -> rows of fxwatch.quotes (key (pair, day), ts, seq = Kafka offset)."""
    from pyspark.sql import functions as F

    from fxwatch.stats.features import utc_date

    return quotes.select(
        "pair", utc_date(F.col("ts")).alias("day"), "ts", F.col("offset").alias("seq"),
        "bid", "ask", "mid", "spread", "source", "low", "high", "open",
        F.current_timestamp().alias("ingested_at"),
    )


def write_quotes(quotes, settings: Settings, batch_rows: int = 500, concurrency: int = 4) -> int:
    """Upsert accepted quotes into fxwatch.quotes from the executors; returns rows written."""
    return write_table(quotes_rows(quotes), settings, "quotes", ("pair", "day"), batch_rows, concurrency)


def update_pair_status(quotes, settings: Settings, writer: str, batch_id: int) -> int:
    """Latest tick and tick count per pair in fxwatch.pair_status; a replayed batch is not counted twice.

    `writer` names the stream (its checkpoint) and `batch_id` its micro-batch: the count grows
    only for a batch id beyond the last one this writer recorded.
    """
    from pyspark.sql import functions as F

    latest = (
        quotes.groupBy("pair")
        .agg(F.max_by(F.struct("ts_ms", "bid", "ask"), F.struct("ts_ms", "offset")).alias("last"),
             F.count(F.lit(1)).alias("n"))
        .collect()
    )
    if not latest:
        return 0
    session = process_session(settings)
    ks = settings.keyspace
    now = int(time.time() * 1000)
    select = prepared(session, f"SELECT pair, last_ts, ticks_seen, writer, last_batch FROM {ks}.pair_status "
                               "WHERE pair IN ?")
    before = {p.pair: p for p in with_retry(lambda: list(session.execute(select, ([r["pair"] for r in latest],))),
                                            "reading pair_status")}
    rows = []
    for r in latest:
        prev = before.get(r["pair"])
        seen = (prev.ticks_seen or 0) if prev else 0
        replay = prev is not None and prev.writer == writer and prev.last_batch is not None and prev.last_batch >= batch_id
        prev_ts = int(prev.last_ts.replace(tzinfo=timezone.utc).timestamp() * 1000) if prev and prev.last_ts else None
        newer = prev_ts is None or r["last"]["ts_ms"] >= prev_ts
        ts, bid, ask = (r["last"]["ts_ms"], r["last"]["bid"], r["last"]["ask"]) if newer else (prev_ts, None, None)
        rows.append((r["pair"], ts, bid, ask, seen if replay else seen + r["n"], now, writer,
                     batch_id if not replay else prev.last_batch))
    cql = (f"INSERT INTO {ks}.pair_status (pair, last_ts, bid, ask, ticks_seen, updated_at, writer, last_batch) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    return with_retry(lambda: write_rows(session, cql, rows), "updating pair_status")


def write_dead_letters(rejects, settings: Settings) -> int:
    """Send rejected records to the DLQ topic (BadLine JSON with the reason); returns the count.

    At-least-once: a replayed micro-batch may dead-letter its records again.
    """
    rejects = rejects.cache()
    try:
        n = rejects.count()
        if n:
            (dlq_json(rejects).write.format("kafka").options(**settings.spark_kafka_options())
             .option("topic", settings.dlq_topic).save())
        return n
    finally:
        rejects.unpersist()


class QuotesBatchWriter:
    """foreachBatch function of the quotes query: accepted ticks -> quotes + pair_status, rejects -> DLQ."""

    def __init__(self, settings: Settings, writer: str, batch_rows: int = 500, concurrency: int = 4):
        self.settings, self.writer = settings, writer
        self.batch_rows, self.concurrency = batch_rows, concurrency
        self.counts = {"quotes": 0, "rejected": 0, "batches": 0}
        self.timings: list[float] = []
        self.stage_seconds = {"quotes": 0.0, "pair_status": 0.0, "dlq": 0.0}

    def __call__(self, records, batch_id: int) -> None:
        t0 = time.perf_counter()
        records = records.persist()
        try:
            good = accepted(records)
            t = time.perf_counter()
            self.counts["quotes"] += write_quotes(good, self.settings, self.batch_rows, self.concurrency)
            t, self.stage_seconds["quotes"] = time.perf_counter(), self.stage_seconds["quotes"] + time.perf_counter() - t
            update_pair_status(good, self.settings, self.writer, batch_id)
            t, self.stage_seconds["pair_status"] = time.perf_counter(), self.stage_seconds["pair_status"] + time.perf_counter() - t
            self.counts["rejected"] += write_dead_letters(rejected(records), self.settings)
            self.stage_seconds["dlq"] += time.perf_counter() - t
            self.counts["batches"] += 1
        finally:
            records.unpersist()
        self.timings.append(time.perf_counter() - t0)


def write_trends(trends, settings: Settings) -> int:
    """Upsert trend rows (TRENDS_COLUMNS) into fxwatch.trends; returns rows written."""
    return write_table(trends.select(*TRENDS_COLUMNS), settings, "trends", ("pair", "window_len", "day"))


def _iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_alerts(alerts, settings: Settings, kafka: bool = True) -> list[dict]:
    """Alerts (ALERT_COLUMNS) -> fxwatch.alerts (upsert by day, ts, pair, detector) and the alerts topic.

    Alerts are few: they are collected to the driver. Returns them as dicts (ts as epoch ms).
    """
    from pyspark.sql import functions as F

    rows = [r.asDict() for r in alerts.select(
        "pair", F.unix_millis("ts").alias("ts"), "detector", "score", "reason",
        F.unix_millis("window_start").alias("window_start"), F.unix_millis("window_end").alias("window_end"),
        F.col("value").cast("double").alias("value"),
    ).collect()]
    if not rows:
        return rows
    now = int(time.time() * 1000)
    session = process_session(settings)
    cql = (f"INSERT INTO {settings.keyspace}.alerts (day, ts, pair, detector, score, reason, window_start, "
           "window_end, value, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    values = [(2 ** 31 + r["ts"] // 86_400_000, r["ts"], r["pair"], r["detector"], float(r["score"]), r["reason"],
               r["window_start"], r["window_end"], r["value"], now) for r in rows]
    with_retry(lambda: write_rows(session, cql, values), "writing alerts to Cassandra")
    if kafka:
        _publish_alerts(rows, settings)
    return rows


def _publish_alerts(rows: list[dict], settings: Settings) -> None:
    """JSON alerts keyed by pair on the alerts topic (kafka-python producer, flushed)."""
    import json

    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka_client_config(), linger_ms=5)
    try:
        for r in rows:
            doc = {"v": 1, "pair": r["pair"], "ts": r["ts"], "time": _iso_ms(r["ts"]), "detector": r["detector"],
                   "score": r["score"], "reason": r["reason"], "window_start": _iso_ms(r["window_start"]),
                   "window_end": _iso_ms(r["window_end"]), "value": r["value"]}
            producer.send(settings.alerts_topic, key=r["pair"].encode(), value=json.dumps(doc).encode())
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=5)


def start_foreach_batch(df, fn, checkpoint: str, name: str, until_idle: bool, output_mode: str = "append",
                        trigger_seconds: float = 1.0):
    """Start `df.writeStream.foreachBatch(fn)` with a checkpoint; AvailableNow when until_idle."""
    writer = (df.writeStream.queryName(name).outputMode(output_mode).foreachBatch(fn)
              .option("checkpointLocation", checkpoint))
    writer = writer.trigger(availableNow=True) if until_idle else writer.trigger(processingTime=f"{trigger_seconds} seconds")
    return writer.start()
