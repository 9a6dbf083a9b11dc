"""The quotes query: every accepted tick into the tick store, rejects to the dead-letter topic.

    Kafka fx-quotes ─ readStream ─> parse + validate (read.parse_records)
        ─ foreachBatch: one pass on the executors ─> Cassandra fxwatch.quote_chunks  (merged by
                                                     tick identity: exactly once)
                                                  ─> per-pair summary ─> fxwatch.pair_status
                                                  ─> rejected records ─> Kafka fx-quotes-dlq

No watermark and no state: each micro-batch is written as it comes. A replayed micro-batch merges
ticks its chunks already hold (nothing changes), counts nothing twice in pair_status, and does not
dead-letter its rejects twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

from fxwatch.config import Settings
from fxwatch.store import pair_status
from fxwatch.store.session import process_session
from fxwatch.store.ticks import TICK_COLUMNS, write_tick_rows, write_ticks
from fxwatch.stream.features import tick_id
from fxwatch.stream.read import read_records
from fxwatch.stream.sinks import BatchSink, publish_dead_letters, start_query, write_from_executors

__all__ = ["QuotesSink", "start_quotes", "write_quotes", "write_quotes_of", "write_records_once"]

_PASS_SCHEMA = (
    "kind string, pair string, n long, ts_ms long, offset long, bid double, ask double, "
    "raw string, reason string, partition int"
)
# beside the checkpoint: the batches whose rejects the DLQ acknowledged
_DLQ_MARKERS = "fxwatch-dlq-sent"


def start_quotes(spark, settings: Settings, config):
    """Start the quotes query; returns (StreamingQuery, QuotesSink)."""
    # read: every record of the quotes topic, parsed and validated (rejects keep their reason)
    records = read_records(spark, settings, config.starting_offsets, config.max_offsets_per_trigger)
    # sink: accepted ticks -> Cassandra, rejects -> DLQ, in one pass per micro-batch
    sink = QuotesSink(settings, config.checkpoint(settings, "quotes"))
    return start_query(records, sink, "quotes", "append", settings, config), sink


def write_quotes(quotes, settings: Settings) -> int:
    """Merge a DataFrame of accepted quotes (read.QUOTE_COLUMNS) into the tick store from the
    executors, one task per pair; returns the ticks handed in. For batch loads (tests, backfills):
    the query uses `write_records_once`, which also reports rejects and per-pair summaries."""
    return write_quotes_of(
        quotes.select(
            "pair",
            F.unix_millis("ts").alias("ts_ms"),
            tick_id().alias("tick_id"),
            "bid",
            "ask",
            "source",
            "low",
            "high",
            "open",
        ),
        settings,
    )


def write_quotes_of(ticks, settings: Settings) -> int:
    """Merge a DataFrame with TICK_COLUMNS into the tick store, one task per pair (a chunk is read,
    merged and written back whole: one writer at a time); returns the ticks handed in."""
    return write_from_executors(
        ticks.select(*TICK_COLUMNS).repartition("pair"), settings, write_tick_rows
    )


def write_records_once(records, settings: Settings, batch_rows: int = 500, concurrency: int = 4):
    """One pass over parsed records on the executors: each task merges its accepted quotes into
    the tick store (all of a pair's ticks at once) and returns only small things — per-pair
    summaries and rejects. `batch_rows` is unused (chunks are written one per statement).

    Returns (quotes written, [{pair, n, ts_ms, bid, ask}], [{raw, reason, partition, offset}]).
    """
    data = records.select(
        "reason",
        # the record's text travels to Python only when it is rejected (the DLQ needs it)
        F.when(F.col("reason").isNotNull(), F.col("raw")).alias("raw"),
        "partition",
        "offset",
        "pair",
        "ts_ms",
        tick_id().alias("tick_id"),  # with ts_ms the identity: what the tick is
        "bid",
        "ask",
        "source",
        "low",
        "high",
        "open",
    )
    keyspace = settings.keyspace

    def write_partition(batches):
        batches = list(batches)
        if not batches:
            return
        session = process_session(settings)
        records = pa.Table.from_batches(batches)
        ok = pc.is_null(records.column("reason"))
        good = records.filter(ok)
        if good.num_rows:
            write_ticks(session, keyspace, good.select(TICK_COLUMNS), concurrency)  # retries
        bad = records.filter(pc.invert(ok))
        rejects = pa.table(
            {
                "kind": pa.array(["bad"] * bad.num_rows, pa.string()),
                "n": pa.array(np.ones(bad.num_rows, np.int64)),
                **{c: bad.column(c) for c in ("raw", "reason", "partition", "offset")},
            }
        )
        summary = pa.concat_tables([rejects, _newest_per_pair(good)], promote_options="default")
        yield from summary.select(_ARROW_PASS.names).cast(_ARROW_PASS).to_batches()

    pairs: dict[str, dict] = {}
    split: set[str] = set()  # pairs whose ticks several tasks wrote
    bad = []
    for r in data.mapInArrow(write_partition, _PASS_SCHEMA).collect():
        if r["kind"] == "bad":
            bad.append(
                {
                    "raw": r["raw"],
                    "reason": r["reason"],
                    "partition": r["partition"],
                    "offset": r["offset"],
                }
            )
            continue
        cur = pairs.get(r["pair"])
        if cur is None:
            pairs[r["pair"]] = {k: r[k] for k in ("pair", "n", "ts_ms", "offset", "bid", "ask")}
            continue
        split.add(r["pair"])
        cur["n"] += r["n"]
        if (r["ts_ms"], r["offset"]) >= (cur["ts_ms"], cur["offset"]):
            cur.update(ts_ms=r["ts_ms"], offset=r["offset"], bid=r["bid"], ask=r["ask"])
    if split:  # records not keyed by pair: chunk merges may have raced; merge again, a task a pair
        write_quotes_of(
            data.where(F.col("reason").isNull() & F.col("pair").isin(sorted(split))), settings
        )
    return sum(p["n"] for p in pairs.values()), list(pairs.values()), bad


def _newest_per_pair(good: pa.Table) -> pa.Table:
    """Accepted ticks -> one row per pair: kind 'pair', its tick count n, and the ts_ms, offset,
    bid, ask of its newest tick (by (ts_ms, offset))."""
    newest = good.select(["pair", "ts_ms", "offset", "bid", "ask"]).sort_by(
        [("pair", "ascending"), ("ts_ms", "ascending"), ("offset", "ascending")]
    )
    pairs = newest.column("pair").to_numpy(zero_copy_only=False)
    last = np.flatnonzero(np.r_[pairs[1:] != pairs[:-1], True]) if len(pairs) else np.array([], int)
    counts = np.diff(np.r_[-1, last])
    return (
        newest.take(pa.array(last, pa.int64()))
        .append_column("kind", pa.array(["pair"] * len(last), pa.string()))
        .append_column("n", pa.array(counts, pa.int64()))
    )


_ARROW_PASS = pa.schema(
    [
        ("kind", pa.string()),
        ("pair", pa.string()),
        ("n", pa.int64()),
        ("ts_ms", pa.int64()),
        ("offset", pa.int64()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("partition", pa.int32()),
    ]
)


class QuotesSink(BatchSink):
    """foreachBatch of the quotes query; `rows` = quotes stored, `rejected` = records
    dead-lettered."""

    def __init__(
        self, settings: Settings, checkpoint: str, batch_rows: int = 500, concurrency: int = 4
    ):
        super().__init__(settings)
        self.checkpoint = checkpoint
        self.batch_rows, self.concurrency = batch_rows, concurrency
        self.rejected = 0

    def write(self, records, batch_id: int) -> int:
        n, latest, bad = write_records_once(
            records, self.settings, self.batch_rows, self.concurrency
        )
        pair_status.update_pair_status(self.settings, latest, self.checkpoint, batch_id)
        self.rejected += self._dead_letter_once(bad, batch_id)
        return n

    def summary(self) -> dict:
        return {**super().summary(), "rejected": self.rejected}

    def _dead_letter_once(self, bad: list[dict], batch_id: int) -> int:
        """Send a batch's rejects to the DLQ unless this batch already did (a replay after a crash
        before Spark's commit): a marker per batch beside the checkpoint, written once they are
        acknowledged. Only a crash between the acknowledgement and the marker sends them twice."""
        if not bad:
            return 0
        folder = Path(self.checkpoint) / _DLQ_MARKERS
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
