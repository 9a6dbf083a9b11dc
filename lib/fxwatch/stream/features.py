"""Spark columns shared by the queries and the stats job: UTC date, hour of week, the rule's
metrics."""

from __future__ import annotations

from pyspark.sql import functions as F

__all__ = ["METRICS", "hour_of_week", "tick_id", "utc_date", "unpivot_metrics"]

# metric name in fxwatch.stats -> column of a 1-minute window row (trends.window_stats output)
METRICS: dict[str, str] = {
    "ret_std": "ret_std",  # std of tick log returns inside the window (volatility)
    "spread": "spread_avg",  # mean spread (ask - bid) in price units
    "ticks": "ticks",  # tick count (0 for an empty window: gaps count)
    "mid": "mid_avg",  # price level
}


def tick_id():
    """A tick's identity from what it is, not where it sits in Kafka: a 64-bit hash of its source
    and prices. With (pair, ts) it identifies a tick in the tick store, so the same tick produced
    twice (a file replayed, a producer retry, a re-sent snapshot) is stored once, and two
    different ticks in the same millisecond stay two."""
    return F.xxhash64("source", "bid", "ask", "low", "high", "open")


def hour_of_week(ts_col):
    """0..167, Monday 00:00 UTC = 0; epoch arithmetic, so the session time zone cannot shift it."""
    # 1970-01-01 00:00 UTC was a Thursday: hour 72 of its week
    return ((F.floor(F.unix_millis(ts_col) / 3_600_000) + 72) % 168).cast("int")


def utc_date(ts_col):
    """The UTC calendar date of a timestamp, whatever spark.sql.session.timeZone says."""
    return F.date_from_unix_date(F.floor(F.unix_millis(ts_col) / 86_400_000).cast("int"))


def unpivot_metrics(df, ids):
    """Window rows -> (ids..., metric, value) rows, one per METRICS entry (NULL values dropped)."""
    pairs = F.array(
        *[
            F.struct(F.lit(m).alias("metric"), F.col(c).cast("double").alias("value"))
            for m, c in METRICS.items()
        ]
    )
    return (
        df.select(*ids, F.explode(pairs).alias("mv"))
        .select(*ids, "mv.metric", "mv.value")
        .where("value IS NOT NULL AND NOT isnan(value)")
    )
