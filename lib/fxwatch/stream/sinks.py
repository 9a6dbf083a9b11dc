"""What every query's foreachBatch shares: timing, Spark -> Cassandra from the executors, alerts
and dead letters to Kafka. The CQL itself lives in fxwatch.store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager

import pyarrow as pa
from kafka import KafkaProducer
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

from fxwatch.config import Settings
from fxwatch.schema import STREAM_DLQ_SOURCE, dead_letter, iso_ms, kafka_origin
from fxwatch.store import alerts as alerts_table
from fxwatch.store.alerts import alert_id
from fxwatch.store.session import EPOCH_DATE_OFFSET, process_session

__all__ = [
    "BatchSink",
    "start_query",
    "write_from_executors",
    "write_alerts",
    "publish_dead_letters",
    "publish_json",
]


class BatchSink:
    """A foreachBatch function that counts what it wrote: `batches`, `rows`, `timings` (s).

    Subclasses implement `write(df, batch_id) -> rows written`.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.batches = 0
        self.rows = 0
        self.timings: list[float] = []

    def __call__(self, df, batch_id: int) -> None:
        t0 = time.perf_counter()
        self.rows += self.write(df, batch_id)
        self.batches += 1
        self.timings.append(time.perf_counter() - t0)

    def write(self, df, batch_id: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def summary(self) -> dict:
        """What `fxwatch stream run` reports for this query."""
        return {"batches": self.batches, "rows": self.rows, "batch_seconds": list(self.timings)}


def start_query(df, sink: BatchSink, name: str, output_mode: str, settings: Settings, config):
    """`df.writeStream.foreachBatch(sink)` with the query's checkpoint and trigger, started."""
    return (
        df.writeStream.queryName(f"{name}-{settings.quotes_topic}")
        .outputMode(output_mode)
        .foreachBatch(sink)
        .option("checkpointLocation", config.checkpoint(settings, name))
        .trigger(**config.trigger(name))
        .start()
    )


def _to_bindable(df):
    """Timestamps -> epoch ms (long), dates -> Cassandra day offsets (long): cheap to bind."""
    cols = []
    for f in df.schema.fields:
        if isinstance(f.dataType, (TimestampType, TimestampNTZType)):
            cols.append(F.unix_millis(F.col(f.name)).alias(f.name))
        elif isinstance(f.dataType, DateType):
            day = F.unix_date(F.col(f.name)).cast("long") + EPOCH_DATE_OFFSET
            cols.append(day.alias(f.name))
        else:
            cols.append(F.col(f.name))
    return df.select(*cols)


def write_from_executors(df, settings: Settings, write: Callable[..., int]) -> int:
    """Each task hands its rows (tuples in `df`'s column order, timestamps as epoch ms, dates as
    day offsets) to `write(session, keyspace, rows) -> count` (an fxwatch.store writer) on the
    executors; returns the rows written. Nothing but the counts reaches the driver."""
    data = _to_bindable(df)
    keyspace = settings.keyspace

    def write_partition(batches):
        session = process_session(settings)
        n = 0
        for rb in batches:
            n += write(session, keyspace, list(zip(*(c.to_pylist() for c in rb.columns))))
        yield pa.RecordBatch.from_pydict({"n": pa.array([n], pa.int64())})

    total = data.mapInArrow(write_partition, "n long").agg(F.sum("n")).collect()[0][0]
    return int(total or 0)


def write_alerts(rows: list[dict], settings: Settings, publish: bool = True) -> int:
    """Alert dicts {pair, ts (epoch ms), detector, score, reason, window_start, window_end, value}
    -> fxwatch.alerts, and the alerts topic when `publish`; returns how many."""
    if not rows:
        return 0
    alerts_table.insert_alerts(settings, rows)  # retries transient errors
    if publish:
        with _producer(settings) as producer:
            for r in rows:
                doc = {
                    "v": 1,
                    "id": alert_id(r["pair"], r["ts"], r["detector"]),
                    "pair": r["pair"],
                    "ts": r["ts"],
                    "time": iso_ms(r["ts"]),
                    "detector": r["detector"],
                    "score": r["score"],
                    "reason": r["reason"],
                    "window_start": _iso_or_none(r["window_start"]),
                    "window_end": _iso_or_none(r["window_end"]),
                    "value": r["value"],
                }
                producer.send(
                    settings.alerts_topic, key=r["pair"].encode(), value=json.dumps(doc).encode()
                )
            producer.flush(timeout=30)
    return len(rows)


def publish_json(settings: Settings, topic: str, records: list[tuple[str | None, dict]]) -> int:
    """(key, document) pairs -> JSON records on `topic` with this process's idempotent producer;
    returns how many (waits until the broker has them)."""
    if not records:
        return 0
    with _producer(settings) as producer:
        for key, doc in records:
            producer.send(
                topic,
                key=None if key is None else key.encode(),
                value=json.dumps(doc, separators=(",", ":")).encode(),
            )
        producer.flush(timeout=30)
    return len(records)


def publish_dead_letters(bad: list[dict], settings: Settings) -> int:
    """Rejected records {raw, reason, partition, offset} -> the DLQ topic (schema.dead_letter
    form)."""
    if not bad:
        return 0
    now = int(time.time() * 1000)
    with _producer(settings) as producer:
        for b in bad:
            doc = dead_letter(
                b["raw"],
                b["reason"],
                STREAM_DLQ_SOURCE,
                now,
                kafka_origin(b["partition"], b["offset"]),
            )
            producer.send(settings.dlq_topic, value=json.dumps(doc, separators=(",", ":")).encode())
        producer.flush(timeout=30)
    return len(bad)


def _iso_or_none(ms: int | None) -> str | None:
    return None if ms is None else iso_ms(ms)


_PRODUCERS: dict[tuple, object] = {}  # kafka-python producers of this process, by client config


@contextmanager
def _producer(settings: Settings):
    """This process's cached producer for the settings' cluster (creating one costs ~0.2 s:
    metadata, connections); dropped and closed when a send or flush fails, so the next batch
    starts afresh."""
    cfg = settings.kafka_client_config()
    key = tuple(sorted((k, str(v)) for k, v in cfg.items()))
    producer = _PRODUCERS.get(key)
    if producer is None:
        # idempotent, acks=all: a broker retry never writes an alert or dead letter twice
        producer = _PRODUCERS[key] = KafkaProducer(
            **cfg, linger_ms=5, acks="all", enable_idempotence=True
        )
    try:
        yield producer
    except BaseException:
        _PRODUCERS.pop(key, None)
        producer.close(timeout=5)
        raise
