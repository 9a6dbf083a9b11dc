"""foreachBatch writers: quotes (+ pair_status, dead letters), trends and alerts to Cassandra/Kafka."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone

from fxwatch.config import Settings
from fxwatch.stream.cassandra_io import insert_cql, prepared, process_session, with_retry, write_rows, write_table
from fxwatch.stream.read import dlq_json

__all__ = [
    "quotes_rows",
    "write_quotes",
    "update_pair_status",
    "pair_status_rows",
    "write_records_once",
    "publish_dead_letters",
    "write_dead_letters",
    "QuotesBatchWriter",
    "write_trends",
    "TRENDS_COLUMNS",
    "ALERT_COLUMNS",
    "write_alerts",
    "write_alert_rows",
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

    latest = [
        {"pair": r["pair"], "n": r["n"], "ts_ms": r["last"]["ts_ms"], "bid": r["last"]["bid"], "ask": r["last"]["ask"]}
        for r in quotes.groupBy("pair")
        .agg(F.max_by(F.struct("ts_ms", "bid", "ask"), F.struct("ts_ms", "offset")).alias("last"),
             F.count(F.lit(1)).alias("n"))
        .collect()
    ]
    return pair_status_rows(latest, settings, writer, batch_id)


def pair_status_rows(latest: list[dict], settings: Settings, writer: str, batch_id: int) -> int:
    """pair_status from per-pair summaries {pair, n, ts_ms, bid, ask} of one micro-batch."""
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
        newer = prev_ts is None or r["ts_ms"] >= prev_ts
        ts, bid, ask = (r["ts_ms"], r["bid"], r["ask"]) if newer else (prev_ts, None, None)
        rows.append((r["pair"], ts, bid, ask, seen if replay else seen + r["n"], now, writer,
                     batch_id if not replay else prev.last_batch))
    cql = (f"INSERT INTO {ks}.pair_status (pair, last_ts, bid, ask, ticks_seen, updated_at, writer, last_batch) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    return with_retry(lambda: write_rows(session, cql, rows), "updating pair_status")


_QUOTE_INSERT_COLUMNS = ["pair", "day", "ts", "seq", "bid", "ask", "mid", "spread", "source", "low", "high", "open",
                         "ingested_at"]
_PASS_SCHEMA = ("kind string, pair string, n long, ts_ms long, seq long, bid double, ask double, "
                "raw string, reason string, partition int")


def write_records_once(records, settings: Settings, batch_rows: int = 500, concurrency: int = 4):
    """One pass over parsed records on the executors: accepted quotes are upserted into fxwatch.quotes,
    and each task returns only small things — per-pair summaries and the rejected records.

    Returns (quotes written, [{pair, n, ts_ms, bid, ask}], [{raw, reason, partition, seq}]).
    """
    from pyspark.sql import functions as F

    from fxwatch.stats.features import utc_date
    from fxwatch.stream.cassandra_io import EPOCH_DATE_OFFSET

    data = records.select(
        "reason", "raw", "partition",
        "pair", (F.unix_date(utc_date(F.col("ts"))).cast("long") + EPOCH_DATE_OFFSET).alias("day"),
        F.col("ts_ms").alias("ts"), F.col("offset").alias("seq"),
        "bid", "ask", "mid", "spread", "source", "low", "high", "open",
        F.unix_millis(F.current_timestamp()).alias("ingested_at"),
    )
    cql = insert_cql(settings.keyspace, "quotes", _QUOTE_INSERT_COLUMNS)

    def write_partition(batches):
        import pyarrow as pa

        session = process_session(settings)
        out = {k: [] for k in ("kind", "pair", "n", "ts_ms", "seq", "bid", "ask", "raw", "reason", "partition")}
        per_pair: dict[str, list] = {}  # pair -> [n, ts_ms, seq, bid, ask]
        for rb in batches:
            cols = rb.to_pydict()
            reasons = cols["reason"]
            good = [i for i, r in enumerate(reasons) if r is None]
            rows = [tuple(cols[c][i] for c in _QUOTE_INSERT_COLUMNS) for i in good]
            if rows:
                with_retry(lambda: write_rows(session, cql, rows, 2, batch_rows, concurrency), "writing quotes to Cassandra")
            for pair, _day, ts, seq, bid, ask, *_ in rows:
                st = per_pair.get(pair)
                if st is None:
                    per_pair[pair] = [1, ts, seq, bid, ask]
                else:
                    st[0] += 1
                    if (ts, seq) >= (st[1], st[2]):
                        st[1:] = [ts, seq, bid, ask]
            for i, r in enumerate(reasons):
                if r is not None:
                    for k, v in (("kind", "bad"), ("pair", None), ("n", 1), ("ts_ms", None), ("seq", cols["seq"][i]),
                                 ("bid", None), ("ask", None), ("raw", cols["raw"][i]), ("reason", r),
                                 ("partition", cols["partition"][i])):
                        out[k].append(v)
        for pair, (n, ts, seq, bid, ask) in per_pair.items():
            for k, v in (("kind", "pair"), ("pair", pair), ("n", n), ("ts_ms", ts), ("seq", seq), ("bid", bid),
                         ("ask", ask), ("raw", None), ("reason", None), ("partition", None)):
                out[k].append(v)
        schema = pa.schema([("kind", pa.string()), ("pair", pa.string()), ("n", pa.int64()), ("ts_ms", pa.int64()),
                            ("seq", pa.int64()), ("bid", pa.float64()), ("ask", pa.float64()), ("raw", pa.string()),
                            ("reason", pa.string()), ("partition", pa.int32())])
        yield pa.RecordBatch.from_pydict(out, schema=schema)

    result = data.mapInArrow(write_partition, _PASS_SCHEMA).collect()
    pairs: dict[str, dict] = {}
    bad = []
    for r in result:
        if r["kind"] == "bad":
            bad.append({"raw": r["raw"], "reason": r["reason"], "partition": r["partition"], "seq": r["seq"]})
            continue
        cur = pairs.get(r["pair"])
        if cur is None:
            pairs[r["pair"]] = {"pair": r["pair"], "n": r["n"], "ts_ms": r["ts_ms"], "seq": r["seq"], "bid": r["bid"],
                                "ask": r["ask"]}
        else:
            cur["n"] += r["n"]
            if (r["ts_ms"], r["seq"]) >= (cur["ts_ms"], cur["seq"]):
                cur.update(ts_ms=r["ts_ms"], seq=r["seq"], bid=r["bid"], ask=r["ask"])
    return sum(p["n"] for p in pairs.values()), list(pairs.values()), bad


def publish_dead_letters(bad: list[dict], settings: Settings) -> int:
    """Rejected records -> the DLQ topic in the BadLine JSON form (kafka-python, flushed)."""
    import json

    if not bad:
        return 0
    now = int(time.time() * 1000)
    with _producer(settings) as producer:
        for b in bad:
            doc = {"v": 1, "raw": b["raw"] or "", "reason": b["reason"], "src": "spark", "ts": now,
                   "origin": f"kafka:{b['partition']}:{b['seq']}"}
            producer.send(settings.dlq_topic, value=json.dumps(doc, separators=(",", ":")).encode())
        producer.flush(timeout=30)
    return len(bad)


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
        # one Spark job: executors write the accepted quotes and hand back per-pair summaries + rejects
        n, latest, bad = write_records_once(records, self.settings, self.batch_rows, self.concurrency)
        t = time.perf_counter()
        self.stage_seconds["quotes"] += t - t0
        pair_status_rows(latest, self.settings, self.writer, batch_id)
        t, self.stage_seconds["pair_status"] = time.perf_counter(), self.stage_seconds["pair_status"] + time.perf_counter() - t
        self.counts["rejected"] += self._dead_letter_once(bad, batch_id)
        self.stage_seconds["dlq"] += time.perf_counter() - t
        self.counts["quotes"] += n
        self.counts["batches"] += 1
        self.timings.append(time.perf_counter() - t0)

    def _dead_letter_once(self, bad: list[dict], batch_id: int) -> int:
        """Send a batch's rejects to the DLQ unless this batch already did (a replay after a crash
        before Spark's commit): a marker per batch beside the checkpoint, written once they are
        acknowledged. Only a crash between the acknowledgement and the marker still sends them twice."""
        if not bad:
            return 0
        from pathlib import Path

        folder = Path(self.writer) / "fxwatch-dlq-sent"
        marker = folder / str(batch_id)
        if marker.exists():
            return len(bad)
        n = publish_dead_letters(bad, self.settings)
        folder.mkdir(parents=True, exist_ok=True)
        marker.touch()
        for old in folder.iterdir():  # replays only ever concern the newest batches
            if old.name.isdigit() and int(old.name) < batch_id - 10:
                old.unlink(missing_ok=True)
        return n


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
    return write_alert_rows(rows, settings, kafka)


def write_alert_rows(rows: list[dict], settings: Settings, kafka: bool = True) -> list[dict]:
    """Alert dicts {pair, ts (epoch ms), detector, score, reason, window_start, window_end, value}
    -> fxwatch.alerts and the alerts topic; returns them."""
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

    with _producer(settings) as producer:
        for r in rows:
            doc = {"v": 1, "pair": r["pair"], "ts": r["ts"], "time": _iso_ms(r["ts"]), "detector": r["detector"],
                   "score": r["score"], "reason": r["reason"], "window_start": _iso_ms(r["window_start"]),
                   "window_end": _iso_ms(r["window_end"]), "value": r["value"]}
            producer.send(settings.alerts_topic, key=r["pair"].encode(), value=json.dumps(doc).encode())
        producer.flush(timeout=30)


_PRODUCERS: dict[tuple, object] = {}  # kafka-python producers of this process, by client config


@contextmanager
def _producer(settings: Settings):
    """This process's cached producer for the settings' cluster (creating one costs ~0.2 s: metadata,
    connections); dropped and closed when a send or flush fails, so the next batch starts afresh."""
    from kafka import KafkaProducer

    cfg = settings.kafka_client_config()
    key = tuple(sorted((k, str(v)) for k, v in cfg.items()))
    producer = _PRODUCERS.get(key)
    if producer is None:
        producer = _PRODUCERS[key] = KafkaProducer(**cfg, linger_ms=5)
    try:
        yield producer
    except BaseException:
        _PRODUCERS.pop(key, None)
        producer.close(timeout=5)
        raise


def start_foreach_batch(df, fn, checkpoint: str, name: str, until_idle: bool, output_mode: str = "append",
                        trigger_seconds: float = 1.0):
    """Start `df.writeStream.foreachBatch(fn)` with a checkpoint; AvailableNow when until_idle."""
    writer = (df.writeStream.queryName(name).outputMode(output_mode).foreachBatch(fn)
              .option("checkpointLocation", checkpoint))
    writer = writer.trigger(availableNow=True) if until_idle else writer.trigger(processingTime=f"{trigger_seconds} seconds")
    return writer.start()
