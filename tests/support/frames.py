"""Spark DataFrames for tests: accepted quotes as the streaming queries see them."""

from __future__ import annotations

from pyspark.sql import functions as F

__all__ = ["accepted_quotes"]

_ROW_SCHEMA = "pair string, ts_ms long, offset long, bid double, ask double, source string"


def accepted_quotes(spark, rows):
    """(pair, ts_ms, offset, bid, ask, source) tuples -> a DataFrame with the accepted-quote
    columns write_quotes and the window transforms read (mid, spread; no low/high/open)."""
    return spark.createDataFrame(rows, _ROW_SCHEMA).select(
        "pair",
        F.timestamp_millis("ts_ms").alias("ts"),
        "offset",
        "bid",
        "ask",
        "source",
        ((F.col("bid") + F.col("ask")) / 2).alias("mid"),
        (F.col("ask") - F.col("bid")).alias("spread"),
        F.lit(None).cast("double").alias("low"),
        F.lit(None).cast("double").alias("high"),
        F.lit(None).cast("double").alias("open"),
    )
