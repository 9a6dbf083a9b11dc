"""compute_stats on seeded history: hour-of-week buckets, empty minutes counted, lookback
respected; the per-minute features made from the tick store's sorted ticks (`minute_rows`, no
Spark) are those Spark makes from the ticks, and give the same statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

MONDAY = int(datetime(2014, 5, 5, tzinfo=UTC).timestamp() * 1000)  # a Monday
MIN = 60_000


def _seed(spark):
    rows = []
    # EUR/USD, Monday 10:00-10:29: 2 ticks a minute; 10:30-10:59 silent (a gap inside the active
    # hour)
    for m in range(30):
        for j, price in enumerate((1.3000 + m * 1e-4, 1.3001 + m * 1e-4)):
            rows.append(
                ("EUR/USD", MONDAY + 10 * 60 * MIN + m * MIN + j * 20_000, j, price, price + 0.0002)
            )
    # USD/JPY, Monday 11:00-11:59: one tick a minute
    for m in range(60):
        rows.append(("USD/JPY", MONDAY + 11 * 60 * MIN + m * MIN + 5, 0, 102.0, 102.02))
    # outside the lookback: the as-of day itself
    rows.append(("EUR/USD", MONDAY + 86_400_000 + 10 * 60 * MIN, 0, 9.0, 9.1))
    return spark.createDataFrame(rows, "pair string, ts_ms long, seq long, bid double, ask double")


@pytest.mark.spark
def test_stats_per_hour_of_week_include_empty_minutes(spark):
    from pyspark.sql import Row
    from pyspark.testing import assertDataFrameEqual

    from fxwatch.stats.compute import compute_stats

    stats = compute_stats(spark, _seed(spark), as_of="2014-05-06", lookback_days=1)
    ticks = stats.where("metric = 'ticks'").select(
        "pair", "hour_of_week", "n", "mean", "median", "mad"
    )
    assertDataFrameEqual(
        ticks,
        [
            Row(
                pair="EUR/USD", hour_of_week=10, n=60, mean=1.0, median=1.0, mad=1.0
            ),  # 30 x 2 ticks, 30 x 0
            Row(pair="USD/JPY", hour_of_week=11, n=60, mean=1.0, median=1.0, mad=0.0),
        ],
    )
    mid = stats.where("metric = 'mid' AND pair = 'EUR/USD'").collect()
    assert len(mid) == 1 and mid[0]["n"] == 30  # price metrics only where there were ticks
    assert mid[0]["p99"] < 2.0  # the 9.0 tick of the as-of day is not history
    spread = stats.where("metric = 'spread' AND pair = 'USD/JPY'").first()
    assert spread["mean"] == pytest.approx(0.02) and spread["std"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.spark
def test_hour_of_week_starts_monday_midnight_utc(spark):
    from pyspark.sql import functions as F

    from fxwatch.stream.features import hour_of_week

    df = spark.createDataFrame(
        [(MONDAY,), (MONDAY - 1,), (MONDAY + 2 * 86_400_000 + 5 * 3_600_000,)], "t long"
    )
    got = [r[0] for r in df.select(hour_of_week(F.timestamp_millis("t"))).collect()]
    assert got == [0, 167, 53]


@pytest.mark.spark
def test_exact_percentile_is_sparks_percentile(spark):
    """The quantiles read off a sorted array are the very doubles Spark's exact `percentile`
    returns."""
    import random

    from pyspark.sql import functions as F

    from fxwatch.stats.compute import exact_percentile

    rng = random.Random(5)
    rows = [
        (g, float(rng.choice([rng.randint(0, 3), rng.gauss(0, 1)])))
        for g in range(40)
        for _ in range(1 + g * 7 % 61)
    ]  # 1 to 61 values a group, with ties
    df = spark.createDataFrame(rows, "g int, x double")
    ps = (0.01, 0.5, 0.99)
    want = df.groupBy("g").agg(*[F.percentile("x", p).alias(f"p{i}") for i, p in enumerate(ps)])
    arr = df.groupBy("g").agg(
        F.count(F.lit(1)).alias("n"), F.sort_array(F.collect_list("x")).alias("v")
    )
    got = arr.select(
        "g", *[exact_percentile(F.col("v"), F.col("n"), p).alias(f"p{i}") for i, p in enumerate(ps)]
    )
    assert sorted(got.collect()) == sorted(want.collect())  # exactly equal, not approximately


@pytest.mark.spark
def test_minute_features_are_window_stats_on_the_full_grid(spark):
    """The lag-window features and the gap-filled grid equal window_stats' 1-minute rows joined onto
    every minute of each pair's span (hour of first tick .. end of hour of last tick, in range)."""
    import random

    from pyspark.sql import functions as F

    from fxwatch.stats.compute import minute_features, prepare_quotes
    from fxwatch.stream.trends import window_stats

    rng = random.Random(7)
    rows = []
    for pair, first_min, last_min in (("EUR/USD", 10 * 60 + 17, 13 * 60 + 2), ("USD/JPY", 0, 47)):
        price = 1.3 if pair == "EUR/USD" else 102.0
        for m in range(first_min, last_min + 1):
            if rng.random() < 0.3 and m not in (first_min, last_min):
                continue  # an empty minute
            for _j in range(rng.choice([1, 1, 2, 5])):
                price *= 1 + rng.gauss(0, 1e-4)
                ts = (
                    MONDAY + m * MIN + rng.choice([0, 0, rng.randrange(MIN)])
                )  # equal ts: offset orders
                rows.append((pair, ts, rng.randrange(1000), price, price + 2e-4))
    rows.append(("EUR/USD", MONDAY - 1, 0, 1.0, 1.1))  # before the range
    quotes = spark.createDataFrame(
        rows, "pair string, ts_ms long, seq long, bid double, ask double"
    )
    start, end = MONDAY, MONDAY + 86_400_000
    ms = F.unix_millis("window_start").alias("ms")
    got = {
        (r.pair, r.ms): r
        for r in minute_features(spark, quotes, start, end).select("*", ms).collect()
    }

    q = prepare_quotes(quotes).where((F.col("ts_ms") >= start) & (F.col("ts_ms") < end))
    ref = {
        (r.pair, r.ms): r
        for r in window_stats(q, "1 minute", with_returns=True).select("*", ms).collect()
    }
    spans = {"EUR/USD": (10 * 60, 14 * 60), "USD/JPY": (0, 60)}
    assert set(got) == {
        (p, MONDAY + m * MIN) for p, (lo, hi) in spans.items() for m in range(lo, hi)
    }
    for key, r in got.items():
        w = ref.get(key)
        assert r.ticks == (w.ticks if w else 0)
        assert (
            r.hour_of_week == (key[1] - MONDAY) // 3_600_000
        )  # Monday: hour of the week = hour of the day
        if w is None:
            assert r.mid_avg is None and r.spread_avg is None and r.ret_std is None
            continue
        assert (r.mid_avg, r.spread_avg) == pytest.approx((w.mid_avg, w.spread_avg), rel=1e-15)
        assert (r.ret_std is None) == (w.ret_std is None)
        if w.ret_std is not None:
            assert r.ret_std == pytest.approx(w.ret_std, rel=1e-9, abs=1e-15)


def _sorted_ticks(seed: int, minutes: int = 40, start: int = MONDAY) -> pa.Table:
    """Ticks of one pair as the tick store returns them: sorted by (ts_ms, tick_id), with
    1-tick minutes, empty minutes, busy minutes and several ticks in the same millisecond."""
    rng = np.random.default_rng(seed)
    ts = []
    for m in range(minutes):
        n = rng.choice([0, 1, 1, 2, 3, 7, 25])
        at = rng.integers(0, MIN, n)
        at[: n // 3] = at[0] if n else 0  # a third of them in one millisecond
        ts += [start + m * MIN + int(a) for a in at]
    ts = np.array(ts, dtype=np.int64)
    ids = rng.integers(-(2**63), 2**63 - 1, ts.size, dtype=np.int64)
    order = np.lexsort((ids, ts))
    bid = 1.3 * np.exp(np.cumsum(rng.normal(0, 1e-4, ts.size)))
    ask = bid + 1e-5 + rng.random(ts.size) * 2e-5
    return pa.table({"ts_ms": ts[order], "tick_id": ids[order], "bid": bid, "ask": ask})


def _pandas_minutes(pair: str, ticks: pa.Table):
    """The per-minute features, the plain way: group the ticks by minute, returns in row order."""
    df = ticks.to_pandas()
    df["mid"] = (df["bid"] + df["ask"]) / 2
    df["spread"] = df["ask"] - df["bid"]
    rows = []
    for m, g in df.groupby(df["ts_ms"] // MIN * MIN, sort=True):
        mid = g["mid"].to_numpy()
        ret = np.log(mid[1:] / mid[:-1])
        std = float(np.std(ret)) if ret.size else None
        rows.append((pair, m, len(g), mid.mean(), g["spread"].mean(), std))
    return rows


def _assert_same_minutes(got, want):
    assert [r[:3] for r in got] == [r[:3] for r in want]  # pair, minute, ticks
    for g, w in zip(got, want):
        assert g[3:5] == pytest.approx(w[3:5], rel=1e-14)
        assert (g[5] is None) == (w[5] is None)
        if w[5] is not None:
            assert g[5] == pytest.approx(w[5], rel=1e-9, abs=1e-15)


def _rows(batch: pa.RecordBatch):
    return list(zip(*[batch.column(c).to_pylist() for c in batch.schema.names]))


def test_minute_rows_are_the_per_minute_features_of_sorted_ticks():
    from fxwatch.stats.compute import MINUTE_COLUMNS, minute_rows

    ticks = _sorted_ticks(3)
    got = minute_rows("EUR/USD", ticks)
    assert got.schema.names == MINUTE_COLUMNS
    want = _pandas_minutes("EUR/USD", ticks)
    assert any(r[2] == 1 for r in want) and any(r[2] > 10 for r in want)  # the cases are there
    _assert_same_minutes(_rows(got), want)
    assert minute_rows("EUR/USD", ticks.slice(0, 0)).num_rows == 0
    with pytest.raises(ValueError, match="not sorted"):
        minute_rows("EUR/USD", ticks.take(pa.array(np.arange(ticks.num_rows)[::-1])))


def test_a_chunks_minute_summary_decodes_to_its_minute_rows_exactly():
    """The tick store's per-minute summary (fxwatch.store.minutes) round-trips minute_rows
    bit for bit, NULL ret_std (1-tick minutes) included, at any minute of its chunk."""
    from fxwatch.store.minutes import decode_minutes, encode_minutes, minute_rows, minutes_batch

    ticks = _sorted_ticks(5, minutes=60)  # an hour chunk's worth
    rows = minute_rows("EUR/USD", ticks)
    assert rows.column("ret_std").null_count > 0  # the NULL case is there
    blob = encode_minutes(rows, MONDAY)
    assert len(blob) == 3 + 30 * rows.num_rows  # 30 B a minute, not ~17 B a tick
    back = minutes_batch("EUR/USD", [decode_minutes(blob, MONDAY)])
    assert back.equals(rows)
    # the summary of a chunk whose first tick is late in its hour: offsets from the chunk's key
    late = ticks.filter(pa.compute.greater_equal(ticks.column("ts_ms"), MONDAY + 30 * MIN))
    part = minute_rows("EUR/USD", late)
    assert minutes_batch("EUR/USD", [decode_minutes(encode_minutes(part, MONDAY), MONDAY)]).equals(
        part
    )
    with pytest.raises(ValueError, match="outside the chunk"):
        encode_minutes(rows, MONDAY + MIN)  # a minute before the chunk's key
    assert minutes_batch("EUR/USD", []).num_rows == 0


@pytest.mark.spark
def test_minute_rows_equal_sparks_tick_minutes(spark):
    """minute_rows on the store's sorted ticks == _tick_minutes (the lag window) on the same ticks
    as Spark rows, ties in ts_ms ordered by tick id on both sides."""
    from fxwatch.stats.compute import _tick_minutes, minute_rows, prepare_quotes

    ticks = _sorted_ticks(5, minutes=90, start=MONDAY - 30 * MIN)  # across midnight
    quotes = spark.createDataFrame(
        pa.table(
            {
                "pair": ["USD/JPY"] * ticks.num_rows,
                "ts_ms": ticks.column("ts_ms"),
                "seq": ticks.column("tick_id"),
                "bid": ticks.column("bid"),
                "ask": ticks.column("ask"),
            }
        ).to_pandas()
    )
    want = sorted(tuple(r) for r in _tick_minutes(prepare_quotes(quotes)).collect())
    _assert_same_minutes(_rows(minute_rows("USD/JPY", ticks)), want)


@pytest.mark.spark
def test_stats_from_minutes_are_the_stats_from_ticks(spark):
    """compute_stats_from_minutes on minute_rows of each pair-day == compute_stats on the ticks:
    the same rows (lookback, pair filter, empty minutes) to floating-point summation noise."""
    from fxwatch.stats.compute import (
        MINUTE_SCHEMA,
        STATS_COLUMNS,
        compute_stats,
        compute_stats_from_minutes,
        minute_rows,
    )

    day = 86_400_000
    quotes, minutes = [], []
    for i, pair in enumerate(("EUR/USD", "USD/JPY", "GBP/USD")):
        for d in (-1, 0, 1):  # the day before the lookback, the lookback day, the as-of day
            t = _sorted_ticks(10 * i + d + 1, minutes=150, start=MONDAY + d * day + i * 97 * MIN)
            minutes += _rows(minute_rows(pair, t))
            quotes += [
                (pair, ts, tid, b, a)
                for ts, tid, b, a in zip(*[t.column(c).to_pylist() for c in t.column_names])
            ]
    quotes_df = spark.createDataFrame(
        quotes, "pair string, ts_ms long, seq long, bid double, ask double"
    )
    minutes_df = spark.createDataFrame(minutes, MINUTE_SCHEMA)
    for pairs in (None, ["USD/JPY"]):
        args = ("2014-05-06", 1, pairs)
        want = {tuple(r[:3]): r for r in compute_stats(spark, quotes_df, *args).collect()}
        got = {
            tuple(r[:3]): r for r in compute_stats_from_minutes(spark, minutes_df, *args).collect()
        }
        assert want and set(got) == set(want)
        assert {k[0] for k in got} == set(pairs or ("EUR/USD", "USD/JPY", "GBP/USD"))
        for key, w in want.items():
            g = got[key]
            for c in STATS_COLUMNS[3:]:
                assert g[c] == pytest.approx(w[c], rel=1e-12, abs=1e-18), (key, c)
