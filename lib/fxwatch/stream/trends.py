"""The trends query: per pair and event-time window, averages, OHLC and spread statistics.

    Kafka fx-quotes ─ readStream ─> parse + validate ─> accepted quotes
        ─ withWatermark(ts, 30 s) ─ groupBy(pair, window(ts, 1 min))          tumbling
                                   ─ groupBy(pair, window(ts, 5 min, 1 min))   sliding
        ─ agg(count, avg, min, max, min_by/max_by, stddev)  ─ union
        ─ update mode ─ foreachBatch ─> Cassandra fxwatch.trends  (upsert by window: idempotent)

Every aggregate is a plain one (counts, sums, sums of squares, min/max): a window's state is a
few numbers, whatever its tick count. Two columns need the window's ticks in event-time order and
are therefore not computed here: `ret_std` (std of tick-to-tick log returns) is computed by the
classic rule's own 1-minute query (window_alerts.py), the only consumer that needs it, and the
EMA is drawn by the dashboard from the window closes. Holding each window's ordered ticks as an
array cost the trends query (see bench/README.md, "trends as plain aggregations").

Update mode writes a window's row again every micro-batch it grows, so the dashboard sees open
windows; the primary key (pair, window_len, day, window_end) makes each rewrite an overwrite. The
watermark decides when Spark drops a window's state: a tick more than 30 s behind the newest one
seen no longer changes its window.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import functions as F

from fxwatch.config import Settings
from fxwatch.store.trends import TRENDS_COLUMNS, write_trend_rows
from fxwatch.stream.config import DEFAULT_WINDOWS
from fxwatch.stream.features import utc_date
from fxwatch.stream.read import accepted, read_records
from fxwatch.stream.sinks import BatchSink, start_query, write_from_executors

__all__ = ["DEFAULT_WINDOWS", "TrendsSink", "build_trends", "start_trends", "window_stats"]


def start_trends(spark, settings: Settings, config):
    """Start the trends query; returns (StreamingQuery, TrendsSink)."""
    # read + parse + validate: the accepted quotes (pair, ts, ts_ms, bid, ask, mid, spread, ...)
    quotes = accepted(
        read_records(spark, settings, config.starting_offsets, config.max_offsets_per_trigger)
    )
    # watermark, windows, aggregation (see build_trends)
    trends = build_trends(quotes, config.trend_windows, config.watermark)
    # sink: update mode, each changed window upserted into Cassandra
    sink = TrendsSink(settings)
    return start_query(trends, sink, "trends", "update", settings, config), sink


class TrendsSink(BatchSink):
    """foreachBatch of the trends query: upsert the windows that changed; `rows` = rows written."""

    def write(self, trends, batch_id: int) -> int:
        return write_from_executors(trends.select(*TRENDS_COLUMNS), self.settings, write_trend_rows)


def build_trends(
    quotes,
    windows: Sequence[tuple[str, str, str | None]] = DEFAULT_WINDOWS,
    watermark: str = "30 seconds",
):
    """Quotes -> trend rows of every window spec (tumbling and sliding), one DataFrame.

    A window is final once the watermark (max event time − `watermark`) passes its end; in append
    mode only final windows come out, in update mode a window's row is re-emitted as it grows.
    A static DataFrame ignores the watermark.
    """
    marked = quotes.withWatermark("ts", watermark)
    parts = [window_stats(marked, w, s, label) for label, w, s in windows]
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.withColumn("updated_at", F.current_timestamp())


def window_stats(
    quotes,
    window: str = "1 minute",
    slide: str | None = None,
    label: str = "1m",
    with_returns: bool = False,
):
    """Per pair and event-time window: the trend columns (without updated_at).

    `quotes` must carry pair, ts (event time, ms precision), ts_ms, offset, bid, ask, mid, spread,
    and, when streaming, a watermark on `ts`. open/close are the mids of the first and last tick by
    (ts_ms, offset), so OHLC follows event time, not arrival.
    `with_returns=True` adds `ret_std`, the population std of the log returns between consecutive
    ticks: that needs the window's ticks in order, an array held in state per window, so only the
    classic rule's query asks for it; otherwise `ret_std` is absent.
    """

    win = F.window("ts", window, slide) if slide else F.window("ts", window)
    first_last = F.struct("ts_ms", "offset")
    aggs = [
        F.count(F.lit(1)).cast("int").alias("ticks"),
        F.avg("mid").alias("mid_avg"),
        F.avg("bid").alias("bid_avg"),
        F.avg("ask").alias("ask_avg"),
        F.max("mid").alias("high"),
        F.min("mid").alias("low"),
        F.min_by("mid", first_last).alias("open"),
        F.max_by("mid", first_last).alias("close"),
        F.avg("spread").alias("spread_avg"),
        F.min("spread").alias("spread_min"),
        F.max("spread").alias("spread_max"),
        F.stddev_pop("spread").alias("spread_std"),
    ]
    if with_returns:
        # event-time ordered mids of the window, for the log returns
        ordered = F.array_sort(F.collect_list(F.struct("ts_ms", "offset", "mid")))
        aggs.append(ordered.alias("ticks_arr"))
    agg = quotes.groupBy("pair", win.alias("w")).agg(*aggs)
    returns = [_ret_std(F.col("ticks_arr")).alias("ret_std")] if with_returns else []
    return agg.select(
        "pair",
        F.lit(label).alias("window_len"),
        utc_date(F.col("w.start")).alias("day"),
        F.col("w.end").alias("window_end"),
        F.col("w.start").alias("window_start"),
        "ticks",
        "mid_avg",
        "bid_avg",
        "ask_avg",
        "open",
        "high",
        "low",
        "close",
        "spread_avg",
        "spread_min",
        "spread_max",
        "spread_std",
        *returns,
    )


def _ret_std(ticks_arr):
    """Population std of the log returns between consecutive ticks of the ordered array."""
    mids = F.transform(ticks_arr, lambda x: x["mid"])
    n = F.size(mids)
    # slice needs a positive length: guard the 1-tick window
    m1 = F.greatest(n - 1, F.lit(1))
    rets = F.when(
        n > 1, F.zip_with(F.slice(mids, 2, m1), F.slice(mids, 1, m1), lambda a, b: F.log(a / b))
    )
    m = F.size(rets)
    s1 = F.aggregate(rets, F.lit(0.0), lambda acc, r: acc + r)
    s2 = F.aggregate(rets, F.lit(0.0), lambda acc, r: acc + r * r)
    return F.when(
        F.coalesce(m, F.lit(0)) > 0, F.sqrt(F.greatest(s2 / m - (s1 / m) * (s1 / m), F.lit(0.0)))
    )
