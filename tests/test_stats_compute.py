"""compute_stats on seeded history: hour-of-week buckets, empty minutes counted, lookback respected."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

pytestmark = pytest.mark.spark

MONDAY = int(datetime(2014, 5, 5, tzinfo=timezone.utc).timestamp() * 1000)  # a Monday
MIN = 60_000


def _seed(spark):
    rows = []
    # EUR/USD, Monday 10:00-10:29: 2 ticks a minute; 10:30-10:59 silent (a gap inside the active hour)
    for m in range(30):
        for j, price in enumerate((1.3000 + m * 1e-4, 1.3001 + m * 1e-4)):
            rows.append(("EUR/USD", MONDAY + 10 * 60 * MIN + m * MIN + j * 20_000, j, price, price + 0.0002))
    # USD/JPY, Monday 11:00-11:59: one tick a minute
    for m in range(60):
        rows.append(("USD/JPY", MONDAY + 11 * 60 * MIN + m * MIN + 5, 0, 102.0, 102.02))
    # outside the lookback: the as-of day itself
    rows.append(("EUR/USD", MONDAY + 86_400_000 + 10 * 60 * MIN, 0, 9.0, 9.1))
    return spark.createDataFrame(rows, "pair string, ts_ms long, seq long, bid double, ask double")


def test_stats_per_hour_of_week_include_empty_minutes(spark):
    from pyspark.sql import Row
    from pyspark.testing import assertDataFrameEqual

    from fxwatch.stats.compute import compute_stats

    stats = compute_stats(spark, _seed(spark), as_of="2014-05-06", lookback_days=1)
    ticks = stats.where("metric = 'ticks'").select("pair", "hour_of_week", "n", "mean", "median", "mad")
    assertDataFrameEqual(ticks, [
        Row(pair="EUR/USD", hour_of_week=10, n=60, mean=1.0, median=1.0, mad=1.0),  # 30 x 2 ticks, 30 x 0
        Row(pair="USD/JPY", hour_of_week=11, n=60, mean=1.0, median=1.0, mad=0.0),
    ])
    mid = stats.where("metric = 'mid' AND pair = 'EUR/USD'").collect()
    assert len(mid) == 1 and mid[0]["n"] == 30  # price metrics only where there were ticks
    assert mid[0]["p99"] < 2.0  # the 9.0 tick of the as-of day is not history
    spread = stats.where("metric = 'spread' AND pair = 'USD/JPY'").first()
    assert spread["mean"] == pytest.approx(0.02) and spread["std"] == pytest.approx(0.0, abs=1e-12)


def test_hour_of_week_starts_monday_midnight_utc(spark):
    from pyspark.sql import functions as F

    from fxwatch.stats.features import hour_of_week

    df = spark.createDataFrame([(MONDAY,), (MONDAY - 1,), (MONDAY + 2 * 86_400_000 + 5 * 3_600_000,)], "t long")
    got = [r[0] for r in df.select(hour_of_week(F.timestamp_millis("t"))).collect()]
    assert got == [0, 167, 53]
