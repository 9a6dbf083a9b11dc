"""compute_stats: per pair and hour-of-week statistics of 1-minute window metrics, gaps included."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from fxwatch.stats.features import hour_of_week, unpivot_metrics

__all__ = ["STATS_COLUMNS", "as_of_range", "prepare_quotes", "minute_features", "compute_stats"]

STATS_COLUMNS = ["pair", "hour_of_week", "metric", "n", "mean", "std", "median", "mad", "p01", "p99"]
_MINUTE_MS = 60_000


def as_of_range(as_of: str | date, lookback_days: int) -> tuple[int, int]:
    """[start, end) in epoch ms: the `lookback_days` whole UTC days before `as_of` (exclusive)."""
    d = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    end = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    start = end - timedelta(days=lookback_days)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def prepare_quotes(quotes):
    """Any frame with pair, ts_ms (or ts), bid, ask [, seq|offset] -> the columns window_stats needs."""
    from pyspark.sql import functions as F

    cols = set(quotes.columns)
    df = quotes
    if "ts_ms" not in cols:
        df = df.withColumn("ts_ms", F.unix_millis("ts"))
    order = "offset" if "offset" in cols else ("seq" if "seq" in cols else None)
    return df.select(
        "pair", "ts_ms", F.timestamp_millis("ts_ms").alias("ts"),
        (F.col(order) if order else F.lit(0)).cast("long").alias("offset"),
        "bid", "ask", ((F.col("bid") + F.col("ask")) / 2).alias("mid"), (F.col("ask") - F.col("bid")).alias("spread"),
    )


def minute_features(spark, quotes, start_ms: int, end_ms: int):
    """1-minute window metrics per pair over the full minute grid of each pair's active span.

    The grid runs from the hour of a pair's first tick to the end of the hour of its last (within
    [start_ms, end_ms)); minutes without ticks are rows with ticks = 0 and NULL price metrics, so a
    gap lowers the tick-count statistics instead of vanishing from them.
    """
    from pyspark.sql import functions as F

    from fxwatch.stream.trends import window_stats

    q = prepare_quotes(quotes).where((F.col("ts_ms") >= start_ms) & (F.col("ts_ms") < end_ms))
    feats = window_stats(q, "1 minute", None, label="1m").select(
        "pair", "window_start", "ticks", "mid_avg", "spread_avg", "ret_std")
    hour = 3_600_000
    spans = (q.groupBy("pair").agg(F.min("ts_ms").alias("lo"), F.max("ts_ms").alias("hi"))
             .select("pair",
                     F.greatest(F.floor(F.col("lo") / hour) * hour, F.lit(start_ms)).alias("lo"),
                     F.least((F.floor(F.col("hi") / hour) + 1) * hour, F.lit(end_ms)).alias("hi")))
    minutes = spark.range(start_ms // _MINUTE_MS, (end_ms + _MINUTE_MS - 1) // _MINUTE_MS).select(
        (F.col("id") * _MINUTE_MS).alias("m"))
    grid = (spans.join(minutes, (F.col("m") >= F.col("lo")) & (F.col("m") < F.col("hi")))
            .select("pair", F.timestamp_millis("m").alias("window_start")))
    return (grid.join(feats, ["pair", "window_start"], "left")
            .withColumn("ticks", F.coalesce("ticks", F.lit(0)))
            .withColumn("hour_of_week", hour_of_week(F.col("window_start"))))


def compute_stats(spark, quotes_df, as_of: str | date, lookback_days: int, pairs=None):
    """Per pair, hour-of-week (0 = Monday 00h UTC) and metric: n, mean, std, median, MAD, p01, p99.

    Input: quotes with pair, ts_ms (or ts), bid, ask; only the `lookback_days` days before `as_of`
    count. Metrics (fxwatch.stats.features.METRICS) are those of 1-minute windows, with empty minutes
    included (ticks = 0). Returns STATS_COLUMNS; std is the population std.
    """
    from pyspark.sql import functions as F

    start_ms, end_ms = as_of_range(as_of, lookback_days)
    if pairs:
        quotes_df = quotes_df.where(F.col("pair").isin(list(pairs)))
    long = unpivot_metrics(minute_features(spark, quotes_df, start_ms, end_ms), ["pair", "hour_of_week"])
    keys = ["pair", "hour_of_week", "metric"]
    first = long.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("n"), F.avg("value").alias("mean"), F.stddev_pop("value").alias("std"),
        F.percentile("value", 0.5).alias("median"), F.percentile("value", 0.01).alias("p01"),
        F.percentile("value", 0.99).alias("p99"),
    )
    mad = (long.join(first.select(*keys, "median"), keys)
           .groupBy(*keys).agg(F.percentile(F.abs(F.col("value") - F.col("median")), 0.5).alias("mad")))
    return first.join(mad, keys).select(*STATS_COLUMNS)
