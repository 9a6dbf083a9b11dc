"""Trend transforms: OHLC, averages, ms event time and final windows (static and streaming
inputs)."""

from __future__ import annotations

import json
import math
import time

import pytest

pytestmark = pytest.mark.spark

BASE = 1_399_553_100_000  # 2014-05-08T12:45:00.000Z
QUOTE_DDL = "pair string, ts_ms long, offset long, bid double, ask double"


def _quotes(spark, rows):
    from pyspark.sql import functions as F

    df = spark.createDataFrame(rows, QUOTE_DDL)
    return (
        df.withColumn("ts", F.timestamp_millis("ts_ms"))
        .withColumn("mid", (F.col("bid") + F.col("ask")) / 2)
        .withColumn("spread", F.col("ask") - F.col("bid"))
    )


def test_tumbling_window_ohlc_follows_event_time_not_arrival(spark):
    from pyspark.sql import Row
    from pyspark.testing import assertDataFrameEqual

    from fxwatch.stream.trends import window_stats

    # arrival order shuffled; event order: 1.0 (.001), 3.0 (.500), 2.0 (59.999); next window 5.0
    rows = [
        ("EUR/USD", BASE + 59_999, 3, 1.9, 2.1),
        ("EUR/USD", BASE + 1, 1, 0.9, 1.1),
        ("EUR/USD", BASE + 500, 2, 2.9, 3.1),
        ("EUR/USD", BASE + 60_000, 4, 4.9, 5.1),
    ]
    out = window_stats(_quotes(spark, rows), "1 minute", with_returns=True).where(
        f"window_start = timestamp_millis({BASE})"
    )
    got = out.select("ticks", "open", "high", "low", "close", "mid_avg")
    assertDataFrameEqual(got, [Row(ticks=3, open=1.0, high=3.0, low=1.0, close=2.0, mid_avg=2.0)])
    r = out.collect()[0]
    rets = [math.log(3.0 / 1.0), math.log(2.0 / 3.0)]
    mean = sum(rets) / 2
    assert r["ret_std"] == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in rets) / 2))
    assert r["spread_avg"] == pytest.approx(0.2) and r["spread_std"] == pytest.approx(
        0.0, abs=1e-12
    )


def test_build_trends_keeps_milliseconds_and_labels_window_specs(spark):
    from fxwatch.stream.trends import build_trends

    rows = [
        ("USD/JPY", BASE + 123 + i * 10_000, i, 150.0 + i * 0.01, 150.02 + i * 0.01)
        for i in range(12)
    ]
    q = _quotes(spark, rows)
    assert (
        q.selectExpr("unix_millis(ts) % 1000 AS ms").first()["ms"] == 123
    )  # ms kept in event time
    out = build_trends(q).collect()
    lens = sorted({r["window_len"] for r in out})
    assert lens == ["1m", "5m/1m"]
    one = sorted((r for r in out if r["window_len"] == "1m"), key=lambda r: r["window_start"])
    assert [r["ticks"] for r in one] == [6, 6]
    assert one[0]["open"] == pytest.approx(150.01) and one[0]["close"] == pytest.approx(150.06)
    sliding = [r for r in out if r["window_len"] == "5m/1m"]
    assert len(sliding) == 6 and max(r["ticks"] for r in sliding) == 12
    # plain aggregations only: the ordered-returns column is the classic rule's, not the trends'
    assert "ret_std" not in out[0].asDict() and "ema" not in out[0].asDict()


def test_nest_windows_puts_specs_that_end_together_in_one_groupby():
    from fxwatch.stream.trends import nest_windows

    default = nest_windows((("1m", "1 minute", None), ("5m/1m", "5 minutes", "1 minute")))
    assert default == [(("5 minutes", "1 minute"), [("1m", 60_000), ("5m/1m", 300_000)])]
    # a 90 s window sliding by 1 min ends between whole minutes: it gets its own groupBy
    mixed = nest_windows(
        (("1m", "1 minute", None), ("90s", "90 seconds", "1 minute"), ("1h", "1 hour", None))
    )
    assert mixed == [
        (("1 minute", None), [("1m", 60_000)]),
        (("1 hour", None), [("1h", 3_600_000)]),
        (("90 seconds", "1 minute"), [("90s", 90_000)]),
    ]


def test_one_scan_trends_equal_one_groupby_per_window_spec(spark):
    """The nested groupBy (the tumbling minute as the last minute of the sliding window) gives the
    rows of one groupBy per spec, ties, gaps and minute edges included."""
    import random

    from pyspark.testing import assertDataFrameEqual

    from fxwatch.store.trends import TREND_STATS
    from fxwatch.stream.trends import build_trends, window_stats

    rnd = random.Random(5)
    rows, offset = [], 0
    for pair in ("EUR/USD", "USD/JPY"):
        for minute in (0, 1, 2, 4, 9, 10):  # gaps of one and of several minutes
            for _ in range(rnd.randint(1, 6)):
                ts = BASE + minute * 60_000 + rnd.choice([0, 1, 59_999, rnd.randrange(60_000)])
                mid = 1.0 + rnd.random()
                offset += 1
                rows.append((pair, ts, offset, mid - 0.001, mid + 0.001))
    q = _quotes(spark, rows)
    columns = ["pair", "window_len", "day", "window_end", "window_start", *TREND_STATS]
    one_per_spec = window_stats(q, "1 minute", None, "1m").unionByName(
        window_stats(q, "5 minutes", "1 minute", "5m/1m")
    )
    assertDataFrameEqual(build_trends(q).select(columns), one_per_spec.select(columns))


def test_streaming_append_emits_only_final_windows(spark, tmp_path):
    """Append mode + watermark: a window appears once, complete, after the watermark passes it."""
    from pyspark.sql import functions as F

    from fxwatch.stream.trends import build_trends

    src = tmp_path / "in"
    src.mkdir()

    def put(name, rows):
        (src / name).write_text(
            "".join(
                json.dumps(dict(zip(["pair", "ts_ms", "offset", "bid", "ask"], r))) + "\n"
                for r in rows
            )
        )

    stream = (
        spark.readStream.schema(QUOTE_DDL)
        .option("maxFilesPerTrigger", 1)
        .json(str(src))
        .withColumn("ts", F.timestamp_millis("ts_ms"))
        .withColumn("mid", (F.col("bid") + F.col("ask")) / 2)
        .withColumn("spread", F.col("ask") - F.col("bid"))
    )
    trends = build_trends(stream, windows=(("1m", "1 minute", None),), watermark="10 seconds")
    got: list = []
    q = (
        trends.writeStream.outputMode("append")
        .foreachBatch(lambda df, _id: got.extend(df.collect()))
        .option("checkpointLocation", str(tmp_path / "cp"))
        .start()
    )
    try:
        # first batch: part of window 1 (a low first tick, then higher ones)
        put(
            "a.json",
            [("EUR/USD", BASE + 5_000, 1, 0.99, 1.01), ("EUR/USD", BASE + 20_000, 2, 1.99, 2.01)],
        )
        q.processAllAvailable()
        assert got == []  # window 1 still open: nothing partial is emitted
        # second batch: rest of window 1 + a tick 75 s later, which moves the watermark past it
        put(
            "b.json",
            [("EUR/USD", BASE + 50_000, 3, 2.99, 3.01), ("EUR/USD", BASE + 135_000, 4, 3.99, 4.01)],
        )
        deadline = time.monotonic() + 60
        while not got and time.monotonic() < deadline:
            q.processAllAvailable()
        assert len(got) == 1
        w = got[0]
        assert (w["ticks"], w["open"], w["high"], w["low"], w["close"]) == (3, 1.0, 3.0, 1.0, 3.0)
    finally:
        q.stop()
