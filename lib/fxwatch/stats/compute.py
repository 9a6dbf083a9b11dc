"""compute_stats: per pair and hour-of-week statistics of 1-minute window metrics, gaps included.

Two ways in, one way on:

* `compute_stats(spark, quotes_df, ...)`: ticks (any frame of quotes) -> the per-minute features
  in Spark (`_tick_minutes`: a lag window over every tick, so a shuffle and a sort of them all);
* `compute_stats_from_minutes(spark, minutes_df, ...)`: the per-minute features already made
  (`minute_rows`), as the tick store keeps them beside each chunk and
  `fxwatch.stats.spark_io.load_minutes` reads them, so Spark only sees one row per minute.

Both then share every later step: the empty-minute grid of each pair's span, the hour of week,
the unpivot to one row per metric, the moments and the exact quantiles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from fxwatch.store.minutes import MINUTE_ARROW_SCHEMA, minute_rows
from fxwatch.stream.features import hour_of_week, unpivot_metrics

__all__ = [
    "STATS_COLUMNS",
    "MINUTE_COLUMNS",
    "MINUTE_SCHEMA",
    "as_of_range",
    "prepare_quotes",
    "minute_rows",
    "minute_features",
    "exact_percentile",
    "compute_stats",
    "compute_stats_from_minutes",
]

STATS_COLUMNS = [
    "pair",
    "hour_of_week",
    "metric",
    "n",
    "mean",
    "std",
    "median",
    "mad",
    "p01",
    "p99",
]
# One row per pair and non-empty minute (m = the minute's start, epoch ms): what `_tick_minutes`
# makes in Spark and `minute_rows` makes from a pair-day of sorted ticks (and the tick store
# keeps beside each chunk: fxwatch.store.minutes).
_MINUTE_ARROW_SCHEMA = MINUTE_ARROW_SCHEMA
MINUTE_COLUMNS = _MINUTE_ARROW_SCHEMA.names
_SPARK_TYPE = {pa.string(): "string", pa.int64(): "long", pa.int32(): "int", pa.float64(): "double"}
# the same schema as Spark DDL ("pair string, m long, ticks int, ..."), for mapInArrow
MINUTE_SCHEMA = ", ".join(f"{f.name} {_SPARK_TYPE[f.type]}" for f in _MINUTE_ARROW_SCHEMA)
_MINUTE_MS = 60_000
_HOUR_MS = 3_600_000


def as_of_range(as_of: str | date, lookback_days: int) -> tuple[int, int]:
    """[start, end) in epoch ms: the `lookback_days` whole UTC days before `as_of` (exclusive)."""
    d = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    end = datetime(d.year, d.month, d.day, tzinfo=UTC)
    start = end - timedelta(days=lookback_days)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def prepare_quotes(quotes):
    """Any frame with pair, ts_ms (or ts), bid, ask [, seq|offset] -> the columns window_stats
    needs."""
    from pyspark.sql import functions as F

    cols = set(quotes.columns)
    df = quotes
    if "ts_ms" not in cols:
        df = df.withColumn("ts_ms", F.unix_millis("ts"))
    order = "offset" if "offset" in cols else ("seq" if "seq" in cols else None)
    return df.select(
        "pair",
        "ts_ms",
        F.timestamp_millis("ts_ms").alias("ts"),
        (F.col(order) if order else F.lit(0)).cast("long").alias("offset"),
        "bid",
        "ask",
        ((F.col("bid") + F.col("ask")) / 2).alias("mid"),
        (F.col("ask") - F.col("bid")).alias("spread"),
    )


def _floor_to(col, step_ms: int):
    """Epoch ms floored to a multiple of `step_ms` (a floor modulo: right for instants before
    1970 too)."""
    from pyspark.sql import functions as F

    return col - F.pmod(col, F.lit(step_ms))


def _tick_minutes(q):
    """Ticks -> one row per pair and non-empty minute `m` (epoch ms): ticks, mid_avg, spread_avg,
    ret_std.

    The same values as the classic rule's 1-minute rows (trends.window_stats with_returns=True):
    ret_std is the population std of the log returns between consecutive ticks of the minute, in
    (ts_ms, offset, mid) order (a `lag` window), NULL for a 1-tick minute.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # partition by minute first: the sort's prefix is then the minute (a long), not the pair name
    in_minute = Window.partitionBy("m", "pair").orderBy("ts_ms", "offset", "mid")
    return (
        q.select(
            "pair",
            _floor_to(F.col("ts_ms"), _MINUTE_MS).alias("m"),
            "ts_ms",
            "offset",
            "mid",
            "spread",
        )
        # log return from the previous tick of the same pair and minute
        .withColumn("ret", F.log(F.col("mid") / F.lag("mid").over(in_minute)))
        .groupBy("pair", "m")
        .agg(
            F.count(F.lit(1)).cast("int").alias("ticks"),
            F.avg("mid").alias("mid_avg"),
            F.avg("spread").alias("spread_avg"),
            F.stddev_pop("ret").alias("ret_std"),
        )
    )


def _with_empty_minutes(feats, start_ms: int, end_ms: int):
    """Non-empty minutes -> the full minute grid of each pair's active span, empty minutes as
    ticks = 0.

    The span runs from the hour of a pair's first minute to the end of the hour of its last, within
    [start_ms, end_ms). Each row brings the empty minutes up to its pair's next row (or the span's
    end), the first row also those from the span's start: one window over the minute rows, no join.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_pair = Window.partitionBy("pair").orderBy("m")
    m, step = F.col("m"), F.lit(_MINUTE_MS)
    lo = F.greatest(_floor_to(m, _HOUR_MS), F.lit(start_ms))  # used on the pair's first row only
    hi = F.least(
        _floor_to(m, _HOUR_MS) + _HOUR_MS, F.lit(end_ms)
    )  # used on the pair's last row only
    empty = F.array().cast("array<long>")
    before = F.when(F.col("prev").isNull() & (lo < m), F.sequence(lo, m - step, step)).otherwise(
        empty
    )
    until = F.coalesce(F.col("next"), hi)
    after = F.when(until > m + step, F.sequence(m + step, until - step, step)).otherwise(empty)
    own = F.col("g") == F.col("m")
    return (
        feats.select(
            "*", F.lag("m").over(by_pair).alias("prev"), F.lead("m").over(by_pair).alias("next")
        )
        # this row's minute plus the empty minutes around it
        .select("*", F.explode(F.concat(before, F.array("m"), after)).alias("g"))
        .select(
            "pair",
            F.timestamp_millis("g").alias("window_start"),
            F.when(own, F.col("ticks")).otherwise(F.lit(0)).alias("ticks"),
            *[F.when(own, F.col(c)).alias(c) for c in ("mid_avg", "spread_avg", "ret_std")],
        )
    )


def minute_features(spark, quotes, start_ms: int, end_ms: int):
    """1-minute window metrics per pair over the full minute grid of each pair's active span.

    The grid runs from the hour of a pair's first tick to the end of the hour of its last (within
    [start_ms, end_ms)); minutes without ticks are rows with ticks = 0 and NULL price metrics, so a
    gap lowers the tick-count statistics instead of vanishing from them.
    """
    from pyspark.sql import functions as F

    q = prepare_quotes(quotes).where((F.col("ts_ms") >= start_ms) & (F.col("ts_ms") < end_ms))
    return _minute_grid(_tick_minutes(q), start_ms, end_ms)


def _minute_grid(minutes, start_ms: int, end_ms: int):
    """Non-empty minute rows (MINUTE_COLUMNS) -> the full minute grid with its hour of week."""
    from pyspark.sql import functions as F

    return _with_empty_minutes(minutes, start_ms, end_ms).withColumn(
        "hour_of_week", hour_of_week(F.col("window_start"))
    )


def exact_percentile(sorted_values, n, p: float):
    """Spark's exact `percentile(value, p)` over an ascending array of its `n` non-NULL values.

    The same arithmetic (position (n - 1) * p, linear interpolation between its neighbours), so the
    result is the same double, and the same as DuckDB's quantile_cont.
    """
    from pyspark.sql import functions as F

    pos = (n - 1) * F.lit(p)
    lower, higher = F.floor(pos), F.ceil(pos)
    lo_v = F.element_at(sorted_values, (lower + 1).cast("int"))
    hi_v = F.element_at(sorted_values, (higher + 1).cast("int"))
    return (
        F.when(n == 0, F.lit(None).cast("double"))
        .when((higher == lower) | (hi_v == lo_v), lo_v)
        .otherwise((higher - pos) * lo_v + (pos - lower) * hi_v)
    )


def compute_stats(spark, quotes_df, as_of: str | date, lookback_days: int, pairs=None):
    """Per pair, hour-of-week (0 = Monday 00h UTC) and metric: n, mean, std, median, MAD, p01, p99.

    Input: quotes with pair, ts_ms (or ts), bid, ask; only the `lookback_days` days before `as_of`
    count. Metrics (fxwatch.stream.features.METRICS) are those of 1-minute windows, with empty
    minutes included (ticks = 0). Returns STATS_COLUMNS; std is the population std; the quantiles
    are exact (Spark's `percentile`), the MAD is the median of |value - median|.
    """
    from pyspark.sql import functions as F

    start_ms, end_ms = as_of_range(as_of, lookback_days)
    if pairs:
        quotes_df = quotes_df.where(F.col("pair").isin(list(pairs)))
    return _stats_of_grid(minute_features(spark, quotes_df, start_ms, end_ms))


def compute_stats_from_minutes(
    spark, minutes_df, as_of: str | date, lookback_days: int, pairs=None
):
    """compute_stats from per-minute rows (MINUTE_COLUMNS, e.g. `spark_io.load_minutes` or
    `minute_rows`) instead of ticks: the same STATS_COLUMNS rows, to floating-point summation
    order. Only the minutes of the `lookback_days` days before `as_of` count."""
    from pyspark.sql import functions as F

    start_ms, end_ms = as_of_range(as_of, lookback_days)
    minutes = minutes_df.where((F.col("m") >= start_ms) & (F.col("m") < end_ms))
    if pairs:
        minutes = minutes.where(F.col("pair").isin(list(pairs)))
    return _stats_of_grid(_minute_grid(minutes.select(*MINUTE_COLUMNS), start_ms, end_ms))


def _stats_of_grid(grid):
    """The minute grid (pair, hour_of_week and the METRICS columns) -> STATS_COLUMNS rows."""
    from pyspark.sql import functions as F

    long = unpivot_metrics(grid, ["pair", "hour_of_week"])
    # one pass: moments plus each group's sorted values (a few hundred), the quantiles read off them
    groups = long.groupBy("pair", "hour_of_week", "metric").agg(
        F.count(F.lit(1)).alias("n"),
        F.avg("value").alias("mean"),
        F.stddev_pop("value").alias("std"),
        F.sort_array(F.collect_list("value")).alias("v"),
    )
    n, v = F.col("n"), F.col("v")
    return (
        groups.select(
            "*",
            exact_percentile(v, n, 0.5).alias("median"),
            exact_percentile(v, n, 0.01).alias("p01"),
            exact_percentile(v, n, 0.99).alias("p99"),
        )
        # the sorted absolute deviations from the median: a column of its own, sorted once
        .withColumn("dev", F.sort_array(F.transform(v, lambda x: F.abs(x - F.col("median")))))
        .withColumn("mad", exact_percentile(F.col("dev"), n, 0.5))
        .select(*STATS_COLUMNS)
    )
