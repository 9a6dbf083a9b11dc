"""The classic rule inside the trends query: which windows are final, once, across restarts and replays."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark

T0 = 1_705_327_200_000  # a Monday 14:00 UTC
MIN = 60_000


class NoStats:
    """Cold start: no stats version yet, so nothing is written; the judge still tracks the windows."""

    def current(self, spark):
        return None, None


def trend_rows(spark, minutes, pair="EUR/USD"):
    """1-minute trend rows (and one 5-minute row the judge must ignore) for the given minute offsets."""
    from pyspark.sql import functions as F

    rows = [(pair, "1m", T0 + m * MIN, T0 + (m + 1) * MIN, 30, 1.1, 1e-4, 1e-5) for m in minutes]
    rows += [(pair, "5m/1m", T0 + minutes[0] * MIN, T0 + (minutes[0] + 5) * MIN, 150, 1.1, 1e-4, None)]
    return (spark.createDataFrame(rows, "pair string, window_len string, s long, e long, ticks int, mid_avg double, "
                                        "spread_avg double, ret_std double")
            .select("pair", "window_len", F.timestamp_millis("s").alias("window_start"),
                    F.timestamp_millis("e").alias("window_end"), "ticks", "mid_avg", "spread_avg", "ret_std",
                    # the other trend columns, as the trends query has them
                    *[F.col("mid_avg").alias(c) for c in ("bid_avg", "ask_avg", "open", "high", "low", "close")],
                    *[F.col("spread_avg").alias(c) for c in ("spread_min", "spread_max")],
                    F.lit(0.0).alias("spread_std")))


def feed(j, spark, trends, batch_id):
    """Drive the judge as the trends query does: the batch's 1-minute rows, collected once."""
    from fxwatch.stream.panes import minute_rows

    j(minute_rows(trends), batch_id, spark)


def judge(settings, folder):
    from fxwatch.stream.window_judge import ClosedWindowJudge

    return ClosedWindowJudge(settings, NoStats(), folder, watermark_ms=30_000, kafka=False)


def test_a_window_is_judged_once_its_end_is_behind_the_watermark(spark, base_settings, tmp_path):
    j = judge(base_settings, tmp_path)
    feed(j, spark, trend_rows(spark, [0, 1]), 0)
    assert j.windows == 0  # newest start m1, mark m1 - 30 s: minute 0 ends at m1, still open
    feed(j, spark, trend_rows(spark, [1, 2]), 1)  # minute 1 grows, minute 2 starts: mark m2 - 30 s passes m1
    assert j.windows == 1 and set(j.state["open"]) == {("EUR/USD", T0 + MIN), ("EUR/USD", T0 + 2 * MIN)}
    feed(j, spark, trend_rows(spark, [4]), 2)
    assert j.windows == 3 and set(j.state["open"]) == {("EUR/USD", T0 + 4 * MIN)}


def test_restart_and_replay_resume_from_the_snapshot(spark, base_settings, tmp_path):
    j = judge(base_settings, tmp_path)
    feed(j, spark, trend_rows(spark, [0, 1]), 0)
    feed(j, spark, trend_rows(spark, [1, 2]), 1)
    # the job died before Spark committed batch 1: a new driver replays it from batch 0's snapshot
    again = judge(base_settings, tmp_path)
    feed(again, spark, trend_rows(spark, [1, 2]), 1)
    assert again.windows == 1 and again.state["open"] == j.state["open"]
    # then carries on: minute 1 and 2 close once minute 4 starts
    later = judge(base_settings, tmp_path)
    feed(later, spark, trend_rows(spark, [4]), 2)
    assert later.windows == 2 and set(later.state["open"]) == {("EUR/USD", T0 + 4 * MIN)}


def test_the_newest_row_of_a_window_is_the_one_judged(spark, base_settings, tmp_path):
    from pyspark.sql import functions as F

    j = judge(base_settings, tmp_path)
    feed(j, spark, trend_rows(spark, [0]), 0)
    feed(j, spark, trend_rows(spark, [0]).withColumn("ticks", F.lit(99)), 1)  # minute 0 grew (update mode)
    assert j.state["open"][("EUR/USD", T0)][3] == 99


def test_interval_words():
    from fxwatch.errors import FxwatchError
    from fxwatch.stream.jobs import interval_ms

    assert [interval_ms(t) for t in ("30 seconds", "1 minute", "2 minutes", "500 milliseconds")] == [
        30_000, 60_000, 120_000, 500]
    with pytest.raises(FxwatchError, match="30 seconds"):
        interval_ms("soon")
