"""The machine's ceilings, measured in the run they are compared with.

* Spark's: Kafka -> the production parse and validation (`fxwatch.stream.read.read_records`) ->
  the `noop` sink, Trigger.AvailableNow, in the benchmark's own JVM: one pass to warm it (class
  loading, JIT, Kafka client), then the measured pass on fresh checkpoints. With `reads` > 1 that
  many such queries run concurrently on the same topic, as the pipeline's queries each read it.
* The tick store's: the ticks written by one Python process through `fxwatch.store.ticks`, micro-
  batch by micro-batch as the quotes query writes them (bench/store.py's chunk path).
"""

from __future__ import annotations

import multiprocessing as mp
import random
import tempfile
import time
from datetime import date, timedelta

from fxwatch.bench.store import chunk_worker, clear_day, stored_counts, timed_processes
from fxwatch.bench.ticks import BENCH_PAIRS
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


def store_ceiling(settings, ticks: int, chunk_batch: int = 50_000, echo=print) -> dict:
    """Ticks/s into the tick store from one Python process, in micro-batches of `chunk_batch`;
    checks that every tick is stored once."""
    day = date(2001, 1, 1) + timedelta(days=random.randrange(0, 3650))
    clear_day(settings, BENCH_PAIRS, day)  # fresh partitions, so the stored count is this run's
    job = (settings, ticks, day, 0, BENCH_PAIRS, chunk_batch, 8)
    elapsed, written = timed_processes(chunk_worker, [job], mp.get_context("spawn"))
    _, stored = stored_counts(settings, BENCH_PAIRS, day)
    if stored != ticks:
        raise RuntimeError(f"tick store ceiling run stored {stored} of {ticks} ticks")
    rate = round(written / elapsed, 1)
    echo(f"tick store ceiling: {written} ticks in {elapsed:.2f} s = {rate:,.0f} ticks/s")
    return {"store_ceiling_ticks_per_s": rate, "store_ceiling_batch": chunk_batch}
