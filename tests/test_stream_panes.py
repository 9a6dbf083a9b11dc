"""Sliding trend windows combined from 1-minute panes equal Spark's own sliding aggregation."""

from __future__ import annotations

import math
import random

import pytest

pytestmark = pytest.mark.spark

T0 = 1_705_327_200_000  # a Monday 14:00 UTC
MIN = 60_000


def quotes(spark, until_ms=None):
    """Two pairs over 12 minutes, random gaps (minute 6 of EUR/USD empty), equal timestamps."""
    from pyspark.sql import functions as F

    rng = random.Random(4)
    rows, offset = [], 0
    for pair, mid in (("EUR/USD", 1.09), ("USD/JPY", 148.0)):
        t = T0 + rng.randrange(0, 20_000)
        while t < T0 + 12 * MIN:
            if not (pair == "EUR/USD" and T0 + 6 * MIN <= t < T0 + 7 * MIN):
                mid *= 1 + rng.gauss(0, 1e-4)
                half = mid * rng.uniform(2e-5, 9e-5)
                rows.append((pair, t, offset, mid - half, mid + half))
                offset += 1
            t += rng.choice([0, 150, 900, 4000, 11_000])
    if until_ms is not None:
        rows = [r for r in rows if r[1] < until_ms]
    return (spark.createDataFrame(rows, "pair string, ts_ms long, offset long, bid double, ask double")
            .select("pair", F.timestamp_millis("ts_ms").alias("ts"), "ts_ms", "offset", "bid", "ask",
                    ((F.col("bid") + F.col("ask")) / 2).alias("mid"), (F.col("ask") - F.col("bid")).alias("spread")))


def keyed(rows):
    return {(r["pair"], r["start_ms"]): r for r in rows}


def test_windows_from_panes_equal_sparks_sliding_windows_across_batches(spark, tmp_path):
    from pyspark.sql import functions as F

    from fxwatch.stream.panes import SlidingFromPanes, minute_rows
    from fxwatch.stream.trends import window_stats

    expected = {(r["pair"], r["s"]): r.asDict() for r in window_stats(quotes(spark), "5 minutes", "1 minute", "5m/1m")
                .withColumn("s", F.unix_millis("window_start")).collect()}
    deriver = SlidingFromPanes(tmp_path)
    got = {}
    # batch 0: the first 7.5 minutes (the last pane half full); batch 1 (a new driver: state from the
    # snapshot): every pane again, so the half-full one is updated
    got.update(keyed(deriver.windows(minute_rows(window_stats(quotes(spark, T0 + 7 * MIN + 30_000), "1 minute")), 0)))
    deriver = SlidingFromPanes(tmp_path)
    got.update(keyed(deriver.windows(minute_rows(window_stats(quotes(spark), "1 minute")), 1)))
    assert set(got) == set(expected) and len(got) > 20
    for key, e in expected.items():
        g = got[key]
        assert g["end_ms"] == key[1] + 5 * MIN and g["ticks"] == e["ticks"], key
        for col in ("open", "high", "low", "close", "spread_min", "spread_max"):
            assert g[col] == e[col], (key, col)
        for col in ("mid_avg", "bid_avg", "ask_avg", "spread_avg", "spread_std"):
            assert math.isclose(g[col], e[col], rel_tol=1e-9, abs_tol=1e-15), (key, col, g[col], e[col])
        assert e["ret_std"] is None and g["ret_std"] is None


def test_split_windows_derives_only_what_panes_can_make():
    from fxwatch.stream.panes import split_windows
    from fxwatch.stream.trends import DEFAULT_WINDOWS

    assert split_windows(DEFAULT_WINDOWS) == ([("1m", "1 minute", None)], [("1m", "5m/1m", 5, MIN)])
    odd = (("1m", "1 minute", None), ("10m/2m", "10 minutes", "2 minutes"), ("5m/90s", "5 minutes", "90 seconds"))
    assert split_windows(odd) == (list(odd), [])
