"""`fxwatch bench stats`: the historical stats job (Spark) against DuckDB on the same history.

Three timed figures on one generated history (Parquet, made once):

* duckdb: the statistics in DuckDB SQL on the Parquet files (the yardstick; median of 3 runs);
* spark: `fxwatch.stats.compute.compute_stats` on the same Parquet files (ticks in, per-minute
  features in Spark);
* chunk job: the stats job's own path (`fxwatch.stats.job.stats_from_store`) on the same ticks
  written (untimed) into the tick store of the bench keyspace: per (pair, day) task, read
  and decode the chunks and make the per-minute rows there (`load_minutes`), then
  `compute_stats_from_minutes` in Spark. Timed twice in the same run: on the minute chunks the
  stream writes, then after `compact_store` (timed too) has rewritten every finished hour as one
  chunk — the store the daily job reads once the days are compacted. Each time is then split
  into the read (the tasks, up to the minute rows) and the Spark part (the statistics from the
  cached minute rows).

Each result is compared with DuckDB's (`compare`): the same rows, to floating-point noise.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fxwatch.bench.pipeline import BENCH_KEYSPACE
from fxwatch.bench.ticks import BASE_MID, BENCH_PAIRS
from fxwatch.stats.compute import compute_stats
from fxwatch.stats.job import stats_from_store
from fxwatch.store.names import qualified
from fxwatch.store.schema import init_schema
from fxwatch.store.session import prepared, process_session
from fxwatch.store.ticks import (
    TICK_COLUMNS,
    compact_store,
    count_ticks,
    stored_days,
    write_ticks,
)
from fxwatch.stream.session import get_spark

__all__ = [
    "history_path",
    "write_history",
    "store_history",
    "duckdb_stats",
    "spark_stats",
    "chunk_job_stats",
    "chunk_job_parts",
    "compare",
    "bench_stats",
]

_FIRST_DAY = date(2024, 1, 1)  # a Monday: the history covers whole weeks from here


def history_path(settings, ticks: int, days: int) -> Path:
    return settings.stack_dir / "bench" / f"history-{ticks}-{days}d"


def write_history(
    path: Path, ticks: int, days: int, pairs=None, seed: int = 11, chunk: int = 2_000_000
) -> Path:
    """Write `ticks` quotes over `days` days as Parquet files (pair, ts_ms, offset, bid, ask),
    once."""
    done = path / "_SUCCESS"
    if done.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    pairs = tuple(pairs or BENCH_PAIRS[:5])
    rng = np.random.default_rng(seed)
    start = int(
        datetime(_FIRST_DAY.year, _FIRST_DAY.month, _FIRST_DAY.day, tzinfo=UTC).timestamp() * 1000
    )
    span = days * 86_400_000
    per_pair = ticks // len(pairs)
    part = 0
    for p_i, pair in enumerate(pairs):
        # uniform arrival times with a gap (a quiet hour every day) so the minute grid has
        # empty minutes
        ts = np.sort(rng.integers(start, start + span, per_pair, dtype=np.int64))
        ts = ts[(ts - start) % 86_400_000 >= 3_600_000]
        mid = BASE_MID[pair] * np.exp(np.cumsum(rng.normal(0, 3e-5, ts.size)))
        half = BASE_MID[pair] * (3e-5 + 2e-5 * rng.random(ts.size))
        for lo in range(0, ts.size, chunk):
            sl = slice(lo, lo + chunk)
            table = pa.table(
                {
                    "pair": pa.array([pair] * (min(ts.size, lo + chunk) - lo), pa.string()),
                    "ts_ms": ts[sl],
                    "offset": np.arange(lo, min(ts.size, lo + chunk), dtype=np.int64),
                    "bid": mid[sl] - half[sl],
                    "ask": mid[sl] + half[sl],
                }
            )
            pq.write_table(table, path / f"part-{p_i:02d}-{part:04d}.parquet", compression="snappy")
            part += 1
    done.write_text("ok\n")
    return path


def store_history(
    settings, path: Path, days: int, batch: int = 200_000, echo=print
) -> tuple[int, tuple[str, ...]]:
    """Put the Parquet history into the tick store of `settings.keyspace` as minute chunks, the
    form the stream writes; returns (ticks stored, pairs).

    Those (pair, day) partitions are emptied first (an earlier run may have compacted them, or
    written another history there), then the ticks written with the store's own writer
    (`write_ticks`: chunks per pair and minute). The Parquet `offset` becomes the tick id, so the
    store's (ts_ms, tick_id) order is the (ts_ms, offset) order compute_stats and DuckDB take the
    returns in."""
    init_schema(settings)
    files = sorted(path.glob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    pairs = tuple(sorted(set(pq.read_table(path, columns=["pair"]).column("pair").to_pylist())))
    dates = [_FIRST_DAY + timedelta(days=i) for i in range(days)]
    session = process_session(settings)
    echo(f"tick store: writing {rows} ticks into {settings.keyspace} as minute chunks")
    table = qualified(settings.keyspace, "quote_chunks")
    delete = prepared(session, f"DELETE FROM {table} WHERE pair = ? AND day = ?")
    for pair in pairs:
        for day in dates:
            session.execute(delete, (pair, day))
    for f in files:
        table = pq.read_table(f)
        n = table.num_rows
        ticks = pa.table(
            {
                "pair": table.column("pair"),
                "ts_ms": table.column("ts_ms"),
                "tick_id": table.column("offset"),
                "bid": table.column("bid"),
                "ask": table.column("ask"),
                "source": pa.array(["bench-stats"] * n, pa.string()),
                **{c: pa.nulls(n, pa.float64()) for c in ("low", "high", "open")},
            }
        ).select(TICK_COLUMNS)
        for lo in range(0, n, batch):
            write_ticks(session, settings.keyspace, ticks.slice(lo, batch))
    stored = count_ticks(session, settings.keyspace, pairs, dates)
    if stored != rows:
        raise RuntimeError(f"tick store holds {stored} ticks of the history, not {rows}")
    return stored, pairs


DUCKDB_SQL = """
WITH q AS (
  SELECT pair, ts_ms, "offset", (bid + ask) / 2 AS mid, ask - bid AS spread,
         (ts_ms // 60000) * 60000 AS m
  FROM read_parquet('{glob}') WHERE ts_ms >= {start} AND ts_ms < {end}
), r AS (
  SELECT *, ln(mid / lag(mid) OVER (PARTITION BY pair, m ORDER BY ts_ms, "offset")) AS ret FROM q
), feats AS (
  SELECT pair, m, count(*) AS ticks, avg(mid) AS mid_avg, avg(spread) AS spread_avg,
         stddev_pop(ret) AS ret_std
  FROM r GROUP BY pair, m
), spans AS (
  SELECT pair, greatest((min(ts_ms) // 3600000) * 3600000, {start}) AS lo,
         least((max(ts_ms) // 3600000 + 1) * 3600000, {end}) AS hi
  FROM q GROUP BY pair
), grid AS (
  SELECT pair, g.m FROM spans, LATERAL (SELECT unnest(range(lo, hi, 60000)) AS m) g
), win AS (
  SELECT g.pair, g.m, coalesce(f.ticks, 0) AS ticks, f.mid_avg, f.spread_avg, f.ret_std,
         (isodow(to_timestamp(g.m / 1000) AT TIME ZONE 'UTC') - 1) * 24
           + hour(to_timestamp(g.m / 1000) AT TIME ZONE 'UTC') AS hour_of_week
  FROM grid g LEFT JOIN feats f USING (pair, m)
), long AS (
  SELECT pair, hour_of_week, metric, value FROM (
    SELECT pair, hour_of_week, 'ret_std' AS metric, ret_std AS value FROM win UNION ALL
    SELECT pair, hour_of_week, 'spread', spread_avg FROM win UNION ALL
    SELECT pair, hour_of_week, 'ticks', CAST(ticks AS DOUBLE) FROM win UNION ALL
    SELECT pair, hour_of_week, 'mid', mid_avg FROM win)
  WHERE value IS NOT NULL AND NOT isnan(value)
), first AS (
  SELECT pair, hour_of_week, metric, count(*) AS n, avg(value) AS mean, stddev_pop(value) AS std,
         quantile_cont(value, 0.5) AS median, quantile_cont(value, 0.01) AS p01,
         quantile_cont(value, 0.99) AS p99
  FROM long GROUP BY ALL
), mad AS (
  SELECT l.pair, l.hour_of_week, l.metric, quantile_cont(abs(l.value - f.median), 0.5) AS mad
  FROM long l JOIN first f USING (pair, hour_of_week, metric) GROUP BY ALL
)
SELECT f.pair, f.hour_of_week, f.metric, f.n, f.mean, f.std, f.median, m.mad, f.p01, f.p99
FROM first f JOIN mad m USING (pair, hour_of_week, metric)
"""


def _range(days: int) -> tuple[date, int, int]:
    as_of = _FIRST_DAY + timedelta(days=days)
    start = int(
        datetime(_FIRST_DAY.year, _FIRST_DAY.month, _FIRST_DAY.day, tzinfo=UTC).timestamp() * 1000
    )
    return as_of, start, start + days * 86_400_000


def duckdb_stats(path: Path, days: int, threads: int | None = None):
    """The same statistics as fxwatch.stats.compute_stats, in DuckDB SQL; returns
    (pandas df, seconds)."""
    _, start, end = _range(days)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
    t0 = time.perf_counter()
    df = con.execute(DUCKDB_SQL.format(glob=str(path / "*.parquet"), start=start, end=end)).df()
    seconds = time.perf_counter() - t0
    con.close()
    return df, seconds


def spark_stats(spark, path: Path, days: int):
    """fxwatch.stats.compute_stats over the Parquet history, collected; returns
    (pandas df, seconds)."""
    as_of, _, _ = _range(days)
    t0 = time.perf_counter()
    df = compute_stats(spark, spark.read.parquet(str(path)), as_of, days).toPandas()
    return df, time.perf_counter() - t0


def chunk_job_stats(spark, settings, days: int, pairs, from_ticks: bool = False):
    """The stats job's path on the tick store of `settings.keyspace` (stats_from_store: the
    chunks' minute summaries read in the (pair, day) tasks — or, `from_ticks`, their ticks decoded
    and reduced to minutes there — statistics in Spark), collected; returns (pandas df, seconds)."""
    as_of, _, _ = _range(days)
    t0 = time.perf_counter()
    _, stats = stats_from_store(spark, settings, as_of, days, pairs, from_ticks=from_ticks)
    df = stats.toPandas()
    return df, time.perf_counter() - t0


def chunk_job_parts(spark, settings, days: int, pairs, from_ticks: bool = False) -> dict:
    """Where the chunk job's time goes: the read (the (pair, day) tasks: queries, and decoding
    the summaries or the ticks; counted into Spark's cache) vs the Spark part (the statistics from
    the cached minute rows, collected)."""
    as_of, _, _ = _range(days)
    minutes, stats = stats_from_store(spark, settings, as_of, days, pairs, from_ticks=from_ticks)
    minutes.cache()  # `stats` is planned on `minutes`: it reads the cache once it is filled
    t0 = time.perf_counter()
    n_minutes = minutes.count()
    t1 = time.perf_counter()
    stats.toPandas()
    t2 = time.perf_counter()
    minutes.unpersist()
    return {
        "chunk_minute_rows": n_minutes,
        "chunk_read_s": round(t1 - t0, 2),
        "chunk_spark_s": round(t2 - t1, 2),
    }


def compare(a, b, cols=("n", "mean", "std", "median", "mad", "p01", "p99")) -> dict[str, object]:
    """Rows in common and the largest relative difference per statistic (a sanity check of
    the yardstick)."""
    keys = ["pair", "hour_of_week", "metric"]
    m = a.merge(b, on=keys, suffixes=("_a", "_b"))
    out: dict[str, object] = {"rows_spark": len(a), "rows_duckdb": len(b), "rows_matched": len(m)}
    worst = 0.0
    for c in cols:
        x, y = m[f"{c}_a"].astype(float), m[f"{c}_b"].astype(float)
        rel = (
            ((x - y).abs() / y.abs().clip(lower=1e-12))
            .where(~(x.isna() & y.isna()), 0.0)
            .fillna(1.0)
        )
        worst = max(worst, float(rel.max()) if len(rel) else 0.0)
    out["max_rel_diff"] = worst
    return out


def bench_stats(
    settings, ticks: int = 20_000_000, days: int = 30, chunk_job: bool = True, echo=print
) -> dict[str, object]:
    """Write the history once, time DuckDB, Spark on Parquet, then the stats job's path on the
    tick store (unless `chunk_job` is False: no Cassandra needed), check they agree with DuckDB,
    report the ratios."""
    path = history_path(settings, ticks, days)
    t0 = time.perf_counter()
    write_history(path, ticks, days)
    gen_s = time.perf_counter() - t0
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in path.glob("*.parquet"))
    echo(f"history: {rows} ticks over {days} days in {path} ({gen_s:.1f} s to make or find)")
    runs = [duckdb_stats(path, days) for _ in range(3)]
    duck, duck_s = runs[0][0], float(np.median([sec for _, sec in runs]))
    echo(f"duckdb: {len(duck)} stats rows in {duck_s:.2f} s (median of 3 runs)")
    spark = get_spark(settings, app_name="fxwatch-bench-stats")
    spark_df, spark_s = spark_stats(spark, path, days)
    echo(f"spark: {len(spark_df)} stats rows in {spark_s:.1f} s")
    out: dict[str, object] = {
        "stats_ticks": rows,
        "stats_days": days,
        "duckdb_s": round(duck_s, 2),
        "spark_s": round(spark_s, 2),
        "spark_vs_duckdb": round(spark_s / duck_s, 2),
        "spark_master": settings.spark_master,
    }
    out.update(compare(spark_df, duck))
    if chunk_job:
        out.update(_chunk_job_figures(spark, settings, path, days, duck, duck_s, echo))
    return out


def _chunk_job_figures(spark, settings, path: Path, days: int, duck, duck_s: float, echo):
    """The chunk job's figures: the history stored in the bench keyspace as minute chunks
    (untimed); the job timed on them, compared with DuckDB and split into read and Spark part;
    the store compacted (timed); the job again on the hour chunks (the `chunk_job_*` headline:
    what the daily job reads once finished days are compacted)."""
    s = settings.with_(keyspace=BENCH_KEYSPACE)
    t0 = time.perf_counter()
    stored, pairs = store_history(s, path, days, echo=echo)
    store_s = time.perf_counter() - t0
    echo(f"tick store: {stored} ticks in {BENCH_KEYSPACE} ({store_s:.1f} s)")
    out: dict[str, object] = {"history_store_s": round(store_s, 1)}
    before = _timed_chunk_job(spark, s, days, pairs, duck, duck_s, "minute chunks", echo)
    out.update({f"minute_{k}": v for k, v in before.items()})
    _, start, end = _range(days)
    session = process_session(s)
    t0 = time.perf_counter()
    history_days = stored_days(session, s.keyspace, end, pairs, since_ms=start)  # not other runs'
    done = compact_store(session, s.keyspace, end, history_days)
    compact_s = time.perf_counter() - t0
    echo(
        f"compaction: {done['chunks']} minute chunks -> {done['hours']} hour chunks "
        f"in {compact_s:.1f} s"
    )
    out.update(
        compaction_s=round(compact_s, 2),
        compaction_hours=done["hours"],
        compaction_minute_chunks=done["chunks"],
    )
    out.update(_timed_chunk_job(spark, s, days, pairs, duck, duck_s, "hour chunks", echo))
    out["chunk_job_compacted_speedup"] = round(out["minute_chunk_job_s"] / out["chunk_job_s"], 2)
    # the same job decoding every tick instead of reading the minute summaries (the design before)
    ticks = _timed_chunk_job(spark, s, days, pairs, duck, duck_s, "hour chunks' ticks", echo, True)
    out.update({f"ticks_{k}": v for k, v in ticks.items()})
    return out


def _timed_chunk_job(
    spark, s, days: int, pairs, duck, duck_s: float, form: str, echo, from_ticks: bool = False
):
    """The chunk job on the store as it is: timed as its first run (what a daily run in this JVM
    pays: the job's Python workers and their Cassandra sessions start) and warm (the median of two
    more runs), compared with DuckDB, then split into parts."""
    chunk_df, chunk_s = chunk_job_stats(spark, s, days, pairs, from_ticks)
    warm_s = float(
        np.median([chunk_job_stats(spark, s, days, pairs, from_ticks)[1] for _ in range(2)])
    )
    echo(f"chunk job on {form}: {len(chunk_df)} stats rows in {chunk_s:.1f} s, warm {warm_s:.1f} s")
    agree = compare(chunk_df, duck)
    out: dict[str, object] = {
        "chunk_job_s": round(chunk_s, 2),
        "chunk_job_vs_duckdb": round(chunk_s / duck_s, 2),
        "chunk_job_warm_s": round(warm_s, 2),
        "chunk_job_warm_vs_duckdb": round(warm_s / duck_s, 2),
        "chunk_rows": agree["rows_spark"],
        "chunk_rows_matched": agree["rows_matched"],
        "chunk_max_rel_diff": agree["max_rel_diff"],
    }
    parts = chunk_job_parts(spark, s, days, pairs, from_ticks)
    echo(f"  parts: read {parts['chunk_read_s']} s, spark {parts['chunk_spark_s']} s")
    out.update(parts)
    return out
