"""The machine's ceilings, measured in the run they are compared with.

* Spark's: Kafka -> the production parse and validation (`fxwatch.stream.read.read_records`) ->
  the `noop` sink, Trigger.AvailableNow, in the benchmark's own JVM: one pass to warm it (class
  loading, JIT, Kafka client), then the measured pass on fresh checkpoints. With `reads` > 1 that
  many such queries run concurrently on the same topic, as the pipeline's queries each read it.
* The tick store's: the pipeline's own ticks (same pairs and spacing, on a day of their own)
  written by one Python process through `fxwatch.store.ticks.write_ticks`, micro-batch by
  micro-batch as the quotes query writes them. (Dense ticks, 1 ms apart, make a few big chunks
  and flatter the store twenty-fold: `fxwatch bench store` measures that data model question.)
"""

from __future__ import annotations

import multiprocessing as mp
import random
import tempfile
import time
from datetime import date, timedelta

from fxwatch.bench.store import clear_day, stored_counts, timed_processes
from fxwatch.store.session import close_sessions, insert_cql, prepared, process_session
from fxwatch.store.ticks import CHUNKS_COLUMNS, write_ticks
from fxwatch.stream.read import read_records

__all__ = ["spark_parse_ceiling", "store_ceiling"]


def _parse_pass(spark, settings, reads: int) -> float:
    """Seconds for `reads` concurrent parse -> noop queries to read the whole topic once."""
    with tempfile.TemporaryDirectory(prefix="fxwatch-ceiling-") as tmp:
        t0 = time.perf_counter()
        queries = [
            read_records(spark, settings)
            .writeStream.format("noop")
            .queryName(f"ceiling-{i}-{settings.quotes_topic}")
            .option("checkpointLocation", f"{tmp}/{i}")
            .trigger(availableNow=True)
            .start()
            for i in range(reads)
        ]
        try:
            for q in queries:
                q.awaitTermination()
        finally:
            for q in queries:
                if q.isActive:
                    q.stop()
        return time.perf_counter() - t0


def spark_parse_ceiling(spark, settings, ticks: int, reads: int = 1, echo=print) -> dict:
    """Ticks/s of Kafka -> parse + validate -> noop, warm (a warm-up pass first, same JVM)."""
    cold = _parse_pass(spark, settings, reads)
    warm = _parse_pass(spark, settings, reads)
    rate = round(ticks / warm, 1)
    echo(
        f"Spark ceiling, {reads} read(s) of {ticks} JSON ticks: cold {ticks / cold:,.0f} ticks/s, "
        f"warm {rate:,.0f} ticks/s"
    )
    tag = "spark_ceiling" if reads == 1 else f"spark_ceiling_{reads}_reads"
    return {f"{tag}_ticks_per_s": rate, f"{tag}_cold_ticks_per_s": round(ticks / cold, 1)}


def store_ceiling(settings, data, chunk_batch: int = 50_000, echo=print) -> dict:
    """Ticks/s into the tick store from one Python process, in micro-batches of `chunk_batch`, of
    the pipeline's own ticks (`data`, BenchTicks: the same pairs and spacing, so the same number
    and size of chunks, moved to a day of their own); checks that every tick is stored once."""
    day = date(2001, 1, 1) + timedelta(days=random.randrange(0, 3650))
    first = int(data.ts_ms[0])
    shift = _day_ms(day) - (first - first % 86_400_000)
    if (int(data.ts_ms[-1]) + shift) // 86_400_000 != _day_ms(day) // 86_400_000:
        raise ValueError("store_ceiling: the ticks must lie within one UTC day")
    clear_day(settings, data.pairs, day)  # fresh partitions, so the stored count is this run's
    job = (settings, data.tick_table(shift), chunk_batch, 8)
    elapsed, written = timed_processes(_store_worker, [job], mp.get_context("spawn"))
    _, stored = stored_counts(settings, data.pairs, day)
    if stored != len(data):
        raise RuntimeError(f"tick store ceiling run stored {stored} of {len(data)} ticks")
    rate = round(written / elapsed, 1)
    echo(f"tick store ceiling: {written} ticks in {elapsed:.2f} s = {rate:,.0f} ticks/s")
    return {"store_ceiling_ticks_per_s": rate, "store_ceiling_batch": chunk_batch}


def _day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000


def _store_worker(args) -> tuple[float, float, int]:
    """One process: the ticks as the quotes query hands them to the store, micro-batch by
    micro-batch."""
    settings, table, chunk_batch, concurrency, barrier = args
    n = table.num_rows
    session = process_session(settings)
    prepared(session, insert_cql(settings.keyspace, "quote_chunks", CHUNKS_COLUMNS))  # warm
    barrier.wait()
    t0 = time.time()
    for lo in range(0, n, chunk_batch):
        write_ticks(session, settings.keyspace, table.slice(lo, chunk_batch), concurrency)
    t1 = time.time()
    close_sessions()
    return t0, t1, n
