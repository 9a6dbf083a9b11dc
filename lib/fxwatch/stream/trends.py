"""Windowed trends per pair: averages, OHLC of mid, tick count, spread stats, log-return std, EMA."""

from __future__ import annotations

from typing import Sequence

__all__ = ["DEFAULT_WINDOWS", "window_stats", "build_trends"]

# (label stored in trends.window_len, window duration, slide or None for tumbling)
DEFAULT_WINDOWS: tuple[tuple[str, str, str | None], ...] = (
    ("1m", "1 minute", None),
    ("5m/1m", "5 minutes", "1 minute"),
)


def window_stats(quotes, window: str = "1 minute", slide: str | None = None, label: str = "1m",
                 ema_tau_ms: int = 15_000, with_returns: bool | None = None):
    """Per pair and event-time window: the trend columns (without updated_at).

    `quotes` must carry pair, ts (event time, ms precision), ts_ms, offset, bid, ask, mid, spread,
    and, when streaming, a watermark on `ts`. Ticks are ordered by (ts_ms, offset) inside a window, so
    OHLC and the log returns follow event time, not arrival. `ema` is the EMA of mid at the window's
    last tick with time constant `ema_tau_ms`, seeded with the window's first mid.
    ret_std and ema need the window's ticks in order (a collected array in state); `with_returns`
    defaults to tumbling windows only — sliding windows would hold each tick's array 5 times over
    (measured: 74 s vs 13 s for 193k ticks), so for them ret_std and ema are NULL.
    """
    from pyspark.sql import functions as F

    from fxwatch.stats.features import utc_date

    if with_returns is None:
        with_returns = slide is None

    win = F.window("ts", window, slide) if slide else F.window("ts", window)
    first_last = F.struct("ts_ms", "offset")
    aggs = [
        F.count(F.lit(1)).cast("int").alias("ticks"),
        F.avg("mid").alias("mid_avg"), F.avg("bid").alias("bid_avg"), F.avg("ask").alias("ask_avg"),
        F.max("mid").alias("high"), F.min("mid").alias("low"),
        F.min_by("mid", first_last).alias("open"), F.max_by("mid", first_last).alias("close"),
        F.avg("spread").alias("spread_avg"), F.min("spread").alias("spread_min"),
        F.max("spread").alias("spread_max"), F.stddev_pop("spread").alias("spread_std"),
    ]
    if with_returns:
        # event-time ordered mids of the window, for the log returns and the EMA
        aggs.append(F.array_sort(F.collect_list(F.struct("ts_ms", "offset", "mid"))).alias("ticks_arr"))
    agg = quotes.groupBy("pair", win.alias("w")).agg(*aggs)
    if with_returns:
        mids = F.transform("ticks_arr", lambda x: x["mid"])
        n = F.size(mids)
        # log returns between consecutive ticks (slice needs a positive length: guard the 1-tick window)
        rets = F.when(n > 1, F.zip_with(F.slice(mids, 2, F.greatest(n - 1, F.lit(1))),
                                        F.slice(mids, 1, F.greatest(n - 1, F.lit(1))),
                                        lambda a, b: F.log(a / b)))
        m = F.size(rets)
        s1 = F.aggregate(rets, F.lit(0.0), lambda acc, r: acc + r)
        s2 = F.aggregate(rets, F.lit(0.0), lambda acc, r: acc + r * r)
        ret_std = F.when(F.coalesce(m, F.lit(0)) > 0, F.sqrt(F.greatest(s2 / m - (s1 / m) * (s1 / m), F.lit(0.0))))
        first = F.element_at("ticks_arr", 1)
        ema = F.aggregate(
            "ticks_arr",
            F.struct(first["ts_ms"].alias("t"), first["mid"].alias("e")),
            lambda acc, x: F.struct(
                x["ts_ms"].alias("t"),
                (acc["e"] + (1 - F.exp(-(x["ts_ms"] - acc["t"]) / F.lit(float(ema_tau_ms)))) * (x["mid"] - acc["e"])).alias("e"),
            ),
            lambda acc: acc["e"],
        )
    else:
        ret_std = ema = F.lit(None).cast("double")
    return agg.select(
        "pair",
        F.lit(label).alias("window_len"),
        utc_date(F.col("w.start")).alias("day"),
        F.col("w.end").alias("window_end"),
        F.col("w.start").alias("window_start"),
        "ticks", "mid_avg", "bid_avg", "ask_avg", "open", "high", "low", "close",
        "spread_avg", "spread_min", "spread_max", "spread_std",
        ret_std.alias("ret_std"),
        ema.alias("ema"),
    )


def build_trends(quotes, windows: Sequence[tuple[str, str, str | None]] = DEFAULT_WINDOWS,
                 watermark: str = "30 seconds", ema_tau_ms: int = 15_000):
    """Quotes -> trend rows of every window spec (tumbling and sliding), one DataFrame.

    A window is final once the watermark (max event time − `watermark`) passes its end; in append
    mode only final windows come out, in update mode a window's row is re-emitted as it grows
    (the Cassandra key makes that an overwrite). A static DataFrame ignores the watermark.
    """
    from pyspark.sql import functions as F

    marked = quotes.withWatermark("ts", watermark)
    parts = [window_stats(marked, w, s, label, ema_tau_ms) for label, w, s in windows]
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.withColumn("updated_at", F.current_timestamp())
