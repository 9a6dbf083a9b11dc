"""The stats job's Cassandra I/O in Spark: quote history in, a stats DataFrame out as a version."""

from __future__ import annotations

import pyarrow as pa

from fxwatch.config import Settings
from fxwatch.store.pair_status import known_pairs
from fxwatch.store.session import process_session
from fxwatch.store.stats import write_stats_version
from fxwatch.store.ticks import read_ticks_arrow

__all__ = ["QUOTE_HISTORY_SCHEMA", "load_quotes", "write_stats"]

QUOTE_HISTORY_SCHEMA = "pair string, ts_ms long, seq long, bid double, ask double"
_DAY_MS = 86_400_000


def load_quotes(spark, settings: Settings, start_ms: int, end_ms: int, pairs=None, slices: int = 4):
    """Quotes of [start_ms, end_ms) from the tick store, read (pair, UTC day) by (pair, day) on
    the executors (one paged query each, chunks decoded there) -> DataFrame; `seq` = tick id."""
    pairs = list(pairs) if pairs else known_pairs(settings)
    days = range(start_ms // _DAY_MS, (end_ms - 1) // _DAY_MS + 1)
    tasks = [(p, d) for p in pairs for d in days]
    if not tasks:
        return spark.createDataFrame([], QUOTE_HISTORY_SCHEMA)

    def read(batches):
        session = process_session(settings)
        for rb in batches:
            for pair, day in zip(rb.column("pair").to_pylist(), rb.column("day").to_pylist()):
                lo, hi = max(start_ms, day * _DAY_MS), min(end_ms, (day + 1) * _DAY_MS)
                t = read_ticks_arrow(session, settings.keyspace, pair, lo, hi)
                if t.num_rows:
                    columns = [
                        t.column(c).combine_chunks() for c in ("ts_ms", "tick_id", "bid", "ask")
                    ]
                    yield pa.RecordBatch.from_arrays(
                        [pa.array([pair] * t.num_rows, pa.string()), *columns],
                        names=["pair", "ts_ms", "seq", "bid", "ask"],
                    )

    return (
        spark.createDataFrame(tasks, "pair string, day long")
        .repartition(min(slices, len(tasks)))
        .mapInArrow(read, QUOTE_HISTORY_SCHEMA)
    )


def write_stats(
    stats_df,
    settings: Settings,
    as_of: str,
    lookback_days: int,
    k: float,
    version: str | None = None,
) -> str:
    """Write a stats DataFrame (STATS_COLUMNS) as a new version, then announce it in stats_versions.

    The version row is written last, so a reader that sees it finds all its stats rows.
    """
    return write_stats_version(settings, stats_df.collect(), as_of, lookback_days, k, version)
