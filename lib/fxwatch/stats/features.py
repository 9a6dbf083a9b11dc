"""Window features shared by the stats job and the streaming rule: hour of week and metric names."""

from __future__ import annotations

__all__ = ["METRICS", "hour_of_week", "utc_date", "unpivot_metrics"]

# metric name in fxwatch.stats -> column of a 1-minute window row (trends.window_stats output)
METRICS: dict[str, str] = {
    "ret_std": "ret_std",  # std of tick log returns inside the window (volatility)
    "spread": "spread_avg",  # mean spread (ask - bid) in price units
    "ticks": "ticks",  # tick count (0 for an empty window: gaps count)
    "mid": "mid_avg",  # price level
}


def hour_of_week(ts_col):
    """0..167, Monday 00:00 UTC = 0; epoch arithmetic, so the session time zone cannot shift it."""
    from pyspark.sql import functions as F

    # 1970-01-01 00:00 UTC was a Thursday: hour 72 of its week
    return ((F.floor(F.unix_millis(ts_col) / 3_600_000) + 72) % 168).cast("int")


def utc_date(ts_col):
    """The UTC calendar date of a timestamp, whatever spark.sql.session.timeZone says."""
    from pyspark.sql import functions as F

    return F.date_from_unix_date(F.floor(F.unix_millis(ts_col) / 86_400_000).cast("int"))


def unpivot_metrics(df, ids):
    """Window rows -> (ids..., metric, value) rows, one per METRICS entry (NULL values dropped)."""
    from pyspark.sql import functions as F

    pairs = F.array(*[F.struct(F.lit(m).alias("metric"), F.col(c).cast("double").alias("value"))
                      for m, c in METRICS.items()])
    return (df.select(*ids, F.explode(pairs).alias("mv"))
            .select(*ids, "mv.metric", "mv.value").where("value IS NOT NULL AND NOT isnan(value)"))
