"""The stats job's Cassandra I/O in Spark: quote history in, a stats DataFrame out as a version.

The history is read (pair, UTC day) by (pair, day) on the executors: one paged query of the tick
store per pair-day, the next ones already sent while one is decoded. `load_quotes` hands every
tick to Spark (`read_ranges_arrow`); `load_minutes` reads only the per-minute summaries the store
keeps beside each chunk (`read_minute_ranges`, fxwatch.store.minutes), so Spark gets ~1 row per
minute and no tick is decoded; `from_ticks=True` makes the same rows from the ticks instead
(`minute_rows` in the task that decodes them: the benchmark's comparison).
"""

from __future__ import annotations

import pyarrow as pa

from fxwatch.config import Settings
from fxwatch.stats.compute import MINUTE_SCHEMA, minute_rows
from fxwatch.store.pair_status import known_pairs
from fxwatch.store.session import process_session
from fxwatch.store.stats import write_stats_version
from fxwatch.store.ticks import read_minute_ranges, read_ranges_arrow

__all__ = ["QUOTE_HISTORY_SCHEMA", "MINUTE_SCHEMA", "load_quotes", "load_minutes", "write_stats"]

QUOTE_HISTORY_SCHEMA = "pair string, ts_ms long, seq long, bid double, ask double"
_DAY_MS = 86_400_000


def load_quotes(spark, settings: Settings, start_ms: int, end_ms: int, pairs=None, slices: int = 4):
    """Quotes of [start_ms, end_ms) from the tick store, read (pair, UTC day) by (pair, day) on
    the executors (one paged query each, the next ones sent ahead, chunks decoded there) ->
    DataFrame; `seq` = tick id."""
    read = _from_ticks(settings, _tick_rows)
    return _per_pair_day(
        spark, settings, start_ms, end_ms, pairs, slices, read, QUOTE_HISTORY_SCHEMA
    )


def load_minutes(
    spark,
    settings: Settings,
    start_ms: int,
    end_ms: int,
    pairs=None,
    slices: int = 4,
    from_ticks: bool = False,
):
    """Per-minute features of [start_ms, end_ms) (whole minutes) from the tick store -> DataFrame
    (MINUTE_SCHEMA: pair, m, ticks, mid_avg, spread_avg, ret_std), one row per pair and non-empty
    minute: the input of `fxwatch.stats.compute.compute_stats_from_minutes`.

    Read (pair, day) by (pair, day) as `load_quotes` reads, but only the chunks' per-minute
    summaries; with `from_ticks`, the ticks themselves, reduced to the same rows by `minute_rows`
    in the task that decodes them."""

    def summaries(session, ranges):
        for rb in read_minute_ranges(session, settings.keyspace, ranges):
            if rb.num_rows:
                yield rb

    read = _from_ticks(settings, minute_rows) if from_ticks else summaries
    return _per_pair_day(spark, settings, start_ms, end_ms, pairs, slices, read, MINUTE_SCHEMA)


def _from_ticks(settings: Settings, rows_of):
    """A `_per_pair_day` reader: each range's ticks (`read_ranges_arrow`) -> `rows_of(pair,
    ticks)` for every non-empty one."""

    def read(session, ranges):
        for (pair, _, _), t in zip(ranges, read_ranges_arrow(session, settings.keyspace, ranges)):
            if t.num_rows:
                yield rows_of(pair, t)

    return read


def _tick_rows(pair: str, t: pa.Table) -> pa.RecordBatch:
    """A pair-day of ticks from the store -> QUOTE_HISTORY_SCHEMA rows (the tick id as `seq`)."""
    columns = [t.column(c).combine_chunks() for c in ("ts_ms", "tick_id", "bid", "ask")]
    return pa.RecordBatch.from_arrays(
        [pa.array([pair] * t.num_rows, pa.string()), *columns],
        names=["pair", "ts_ms", "seq", "bid", "ask"],
    )


def _per_pair_day(spark, settings, start_ms, end_ms, pairs, slices, read, schema: str):
    """One Spark task input row per (pair, UTC day) of [start_ms, end_ms), spread over `slices`
    partitions; each executor yields `read(session, ranges)` — Arrow batches of `schema` — for
    its pair-days as (pair, start_ms, end_ms) ranges -> DataFrame of `schema`."""
    pairs = list(pairs) if pairs else known_pairs(settings)
    days = range(start_ms // _DAY_MS, (end_ms - 1) // _DAY_MS + 1)
    tasks = [(p, d) for p in pairs for d in days]
    if not tasks:
        return spark.createDataFrame([], schema)

    def task(batches):
        session = process_session(settings)
        ranges = [
            (pair, max(start_ms, day * _DAY_MS), min(end_ms, (day + 1) * _DAY_MS))
            for rb in batches
            for pair, day in zip(rb.column("pair").to_pylist(), rb.column("day").to_pylist())
        ]  # the task's pair-days, read in turn with the next ones' queries already sent
        yield from read(session, ranges)

    return (
        spark.createDataFrame(tasks, "pair string, day long")
        .repartition(min(slices, len(tasks)))
        .mapInArrow(task, schema)
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
