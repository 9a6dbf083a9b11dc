"""`fxwatch bench stats`: the historical stats job (Spark) against DuckDB on the same Parquet
history."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fxwatch.bench.ticks import BASE_MID, BENCH_PAIRS
from fxwatch.stats.compute import compute_stats
from fxwatch.stream.session import get_spark

__all__ = ["history_path", "write_history", "duckdb_stats", "spark_stats", "compare", "bench_stats"]

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


def bench_stats(settings, ticks: int = 20_000_000, days: int = 30, echo=print) -> dict[str, object]:
    """Write the history once, time DuckDB then Spark on it, check they agree, report the ratio."""
    path = history_path(settings, ticks, days)
    t0 = time.perf_counter()
    write_history(path, ticks, days)
    gen_s = time.perf_counter() - t0
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in path.glob("*.parquet"))
    echo(f"history: {rows} ticks over {days} days in {path} ({gen_s:.1f} s to make or find)")
    duck, duck_s = duckdb_stats(path, days)
    echo(f"duckdb: {len(duck)} stats rows in {duck_s:.1f} s")
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
    return out
