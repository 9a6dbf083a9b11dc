"""The trends query: per pair and event-time window, averages, OHLC and spread statistics.

    Kafka fx-quotes ─ readStream ─> parse + validate ─> accepted quotes
        ─ withWatermark(ts, 30 s) ─ groupBy(pair, window(ts, 5 min, 1 min))   sliding
        ─ agg(count, avg, min, max, min_by/max_by, stddev)   over the whole window  -> "5m/1m"
              and the same aggregates over its last minute only                    -> "1m"
        ─ update mode ─ foreachBatch ─> Cassandra fxwatch.trends  (upsert by window: idempotent)

One groupBy, one read of Kafka: the 1-minute tumbling window that ends at E is the last minute of
the 5-minute window that ends at E (both slide by one minute), so the sliding window's aggregation
also computes the tumbling rows, with each aggregate taken over the rows of its last minute only.
Written as two groupBys and a union (notebook 03 does that, and a test shows both give the same
rows), each branch would read and parse the Kafka topic again: the one-scan form is 1.4x faster
(bench/README.md, "trends in one scan"). `nest_windows` decides which window specs share a
groupBy this way; any other spec gets its own.

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
from fxwatch.store.trends import TREND_STATS, TRENDS_COLUMNS, write_trend_rows
from fxwatch.stream.config import DEFAULT_WINDOWS, interval_ms
from fxwatch.stream.features import utc_date
from fxwatch.stream.read import accepted, read_records
from fxwatch.stream.sinks import BatchSink, start_query, write_from_executors

__all__ = [
    "DEFAULT_WINDOWS",
    "TrendsSink",
    "build_trends",
    "nest_windows",
    "start_trends",
    "window_stats",
]


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
    A static DataFrame ignores the watermark. Specs that nest (`nest_windows`) share one groupBy.
    """
    marked = quotes.withWatermark("ts", watermark)
    parts = [_nested_window_stats(marked, outer, inner) for outer, inner in nest_windows(windows)]
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.withColumn("updated_at", F.current_timestamp())


def nest_windows(windows: Sequence[tuple[str, str, str | None]]):
    """Group window specs that one sliding-window groupBy can compute together.

    Specs with the same slide (a tumbling window slides by its length) whose lengths are whole
    multiples of that slide end at the same instants; the window of length `l` that ends at E is
    then the last `l` of the longest one that ends at E. Returns [((window, slide), [(label,
    length_ms), ...]), ...]: the groupBy's window spec and, for each spec it computes, the label and
    how much of the window's end it covers (the longest spec covers all of it).
    """
    by_slide: dict[int, list[tuple[str, str, str | None, int]]] = {}
    alone = []
    for label, window, slide in windows:
        length = interval_ms(window)
        step = interval_ms(slide) if slide else length
        if length % step:
            alone.append(((window, slide), [(label, length)]))  # ends between the slide's steps
        else:
            by_slide.setdefault(step, []).append((label, window, slide, length))
    nested = []
    for specs in by_slide.values():
        _, window, slide, _ = max(specs, key=lambda spec: spec[3])
        nested.append(((window, slide), [(label, length) for label, _, _, length in specs]))
    return nested + alone


def _nested_window_stats(marked, outer: tuple[str, str | None], inner):
    """The trend rows of the specs `inner` [(label, length_ms)] from one groupBy over `outer`."""
    window, slide = outer
    if len(inner) == 1:
        return window_stats(marked, window, slide, inner[0][0])
    win = F.window("ts", window, slide) if slide else F.window("ts", window)
    # the window is assigned before the groupBy, so a tick can be tested against its window's end
    assigned = marked.select("*", win.alias("w"))
    aggs, rows = [], []
    whole = interval_ms(window)
    for i, (label, length) in enumerate(inner):
        start = F.timestamp_millis(F.unix_millis("w.end") - length)
        # the longest spec is the whole window: every tick counts, no test per tick
        in_tail = None if length == whole else F.col("ts") >= start  # in the window's last `length`
        aggs += [c.alias(f"{name}_{i}") for name, c in _aggregates(in_tail).items()]
        rows.append(
            F.struct(
                F.lit(label).alias("window_len"),
                start.alias("window_start"),
                *[F.col(f"{name}_{i}").alias(name) for name in TREND_STATS],
            )
        )
    agg = assigned.groupBy("pair", "w").agg(*aggs)
    # one row per spec; a shorter spec's window may hold no tick yet (then it is not a row)
    return (
        agg.select("pair", F.col("w.end").alias("window_end"), F.explode(F.array(*rows)).alias("r"))
        .select("pair", "window_end", "r.*")
        .where(F.col("ticks") > 0)
        .select(
            "pair",
            "window_len",
            utc_date(F.col("window_start")).alias("day"),
            "window_end",
            "window_start",
            *TREND_STATS,
        )
    )


def _aggregates(only=None) -> dict[str, object]:
    """The trend aggregates by name; with `only` (a boolean column), over the rows where it holds
    (the others are NULL to every aggregate, and count only counts the rows that hold)."""

    def col(name):
        return F.when(only, F.col(name)) if only is not None else F.col(name)

    first_last = F.struct("ts_ms", "offset")
    order = F.when(only, first_last) if only is not None else first_last
    ticks = F.count(F.when(only, F.lit(1))) if only is not None else F.count(F.lit(1))
    return {
        "ticks": ticks.cast("int"),
        "mid_avg": F.avg(col("mid")),
        "bid_avg": F.avg(col("bid")),
        "ask_avg": F.avg(col("ask")),
        "high": F.max(col("mid")),
        "low": F.min(col("mid")),
        "open": F.min_by(col("mid"), order),
        "close": F.max_by(col("mid"), order),
        "spread_avg": F.avg(col("spread")),
        "spread_min": F.min(col("spread")),
        "spread_max": F.max(col("spread")),
        "spread_std": F.stddev_pop(col("spread")),
    }


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
    aggs = [c.alias(name) for name, c in _aggregates().items()]
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
        *TREND_STATS,
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
