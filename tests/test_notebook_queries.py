"""The queries notebooks 03 and 04 write out are the library's queries: same Kafka topic, same
micro-batches, identical rows.

The notebooks' cells tagged `query` are executed as they stand (fxwatch.notebooks.tagged_namespace)
and run beside the library's query on one topic; each side's rows are collected per micro-batch
with foreachBatch and compared exactly (floats included).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import functions as F

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.detect.bank import WATCHED_PAIRS, default_cross, default_detectors
from fxwatch.notebooks import tagged_namespace
from fxwatch.schema import Quote
from fxwatch.sources.synthetic import SyntheticConfig, generate
from fxwatch.stream.config import DEFAULT_WINDOWS
from fxwatch.stream.features import unpivot_metrics
from fxwatch.stream.read import accepted, parse_records, read_records
from fxwatch.stream.tick_alerts import detect_ticks
from fxwatch.stream.trends import build_trends
from fxwatch.stream.window_alerts import bounds_table, classic_alerts, window_features

pytestmark = [pytest.mark.integration, pytest.mark.spark]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WATERMARK = "30 seconds"
BATCH = 2000  # maxOffsetsPerTrigger on both sides: the same micro-batches
# 3 minutes of 5 pairs with injected events (a crossed quote, a cross-rate break, ...)
DATA = SyntheticConfig(duration_s=180, rate=2.0, seed=11, events_per_hour=12.0)


@pytest.fixture(scope="module")
def topic(stack):
    """Settings on a new topic holding the synthetic ticks, then a tick beyond the watermark that
    both sides must drop.

    One partition: the detectors run a key's ticks in (ts_ms, offset) order, which is total only
    within a partition; a triangle key gets ticks of three pairs, and two of them with the same
    ts_ms and offset in different partitions would come in either order.
    """
    settings = stack.with_(quotes_partitions=1).isolated()
    ensure_topics(settings)
    produce(generate(DATA).quotes(), settings)
    start = DATA.start_ms
    produce([Quote("EUR/USD", start + 5_000, 1.0901, 1.0903, "late")], settings)
    return settings


def _run(*queries) -> list[list[tuple]]:
    """Run (DataFrame, output mode, checkpoint[, per-batch transform]) queries side by side over
    the whole topic (AvailableNow); for each, the sorted (batch id, row...) it emitted."""
    outs: list[list[tuple]] = []
    started = []
    try:
        for df, mode, checkpoint, *per_batch in queries:
            out: list[tuple] = []
            outs.append(out)

            def collect(batch, batch_id, out=out, per_batch=per_batch):
                frame = per_batch[0](batch) if per_batch else batch
                out.extend((batch_id, *r) for r in frame.collect())

            started.append(
                df.writeStream.outputMode(mode)
                .foreachBatch(collect)
                .option("checkpointLocation", str(checkpoint))
                .trigger(availableNow=True)
                .start()
            )
        for q in started:
            q.awaitTermination()
    finally:
        for q in started:
            q.stop()
    return [sorted(out, key=repr) for out in outs]


def _library_quotes(spark, settings):
    return accepted(read_records(spark, settings, max_offsets_per_trigger=BATCH))


def test_notebook_03_trends_query_is_the_library_query(spark, topic, tmp_path):
    nb = tagged_namespace(NOTEBOOKS / "03-streaming-trends.py")
    inline = nb["trends"](nb["parse_quotes"](nb["read_ticks"](spark, topic, BATCH)), WATERMARK)
    library = build_trends(_library_quotes(spark, topic), DEFAULT_WINDOWS, WATERMARK)
    assert inline.columns == library.columns  # a column added to either side fails here
    columns = [c for c in library.columns if c != "updated_at"]  # the wall clock differs
    ours, theirs = _run(
        (inline.select(*columns), "update", tmp_path / "inline"),
        (library.select(*columns), "update", tmp_path / "library"),
    )
    assert ours == theirs
    assert {r[0] for r in ours} >= {0, 1}, "the topic must span several micro-batches"
    assert {r[columns.index("window_len") + 1] for r in ours} == {"1m", "5m/1m"}


def test_notebook_03_parse_keeps_what_the_library_accepts(spark, topic):
    nb = tagged_namespace(NOTEBOOKS / "03-streaming-trends.py")
    raw = spark.read.format("kafka").options(**topic.spark_kafka_options())
    raw = raw.option("subscribe", topic.quotes_topic).load()
    cols = ["pair", "ts", "ts_ms", "bid", "ask", "mid", "spread", "offset", "kafka_ts"]
    ours = nb["parse_quotes"](raw).select(*cols).collect()
    theirs = accepted(parse_records(raw)).select(*cols).collect()
    assert sorted(ours) == sorted(theirs) and len(ours) > 1000


def _bounds(spark, settings):
    """Tight bounds from the data itself (half its spread per metric), so that windows break
    them on every metric the rule judges."""
    features = window_features(accepted(parse_records(_static_raw(spark, settings))))
    long = unpivot_metrics(features, ["pair", "hour_of_week"])
    stats = long.groupBy("pair", "hour_of_week", "metric").agg(
        F.count(F.lit(1)).alias("n"),
        F.avg("value").alias("mean"),
        (F.stddev_pop("value") / 2).alias("std"),
        F.percentile("value", 0.5).alias("median"),
        (F.stddev_pop("value") / 2 / 1.4826).alias("mad"),
    )
    return bounds_table(stats, k=1.0, method="both", min_n=1).cache()


def _static_raw(spark, settings):
    return (
        spark.read.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", settings.quotes_topic)
        .load()
    )


def test_notebook_04_classic_rule_is_the_library_rule(spark, topic, tmp_path):
    nb = tagged_namespace(NOTEBOOKS / "04-streaming-anomalies.py")
    bounds = _bounds(spark, topic)
    # the notebook: a stream-static join inside the streaming query
    inline = nb["classic_rule"](nb["window_features"](_library_quotes(spark, topic)), bounds)
    # the library: closed windows, joined with the bounds in foreachBatch (WindowAlertsSink)
    features = window_features(_library_quotes(spark, topic), watermark=WATERMARK)
    ours, theirs = _run(
        (inline, "append", tmp_path / "inline"),
        (features, "append", tmp_path / "library", lambda b: classic_alerts(b, bounds)),
    )
    assert ours == theirs
    detectors = {r[3] for r in ours}
    assert {d.rsplit("_", 1)[0] for d in detectors} == {"hist_ret_std", "hist_spread", "hist_ticks"}


def test_notebook_04_tick_detectors_are_the_library_detectors(spark, topic, tmp_path):
    nb = tagged_namespace(NOTEBOOKS / "04-streaming-anomalies.py")
    quotes = _library_quotes(spark, topic)
    library = detect_ticks(quotes, default_detectors, default_cross, WATCHED_PAIRS)
    by_pair, by_triangle, theirs = _run(
        (nb["detect_by_pair"](quotes), "append", tmp_path / "pair"),
        (nb["detect_by_triangle"](quotes, WATCHED_PAIRS), "append", tmp_path / "triangle"),
        (library, "append", tmp_path / "library"),
    )
    assert sorted(by_pair + by_triangle, key=repr) == theirs
    assert by_pair and by_triangle, "the data must make alerts keyed by pair and by triangle"
    assert {r[3] for r in by_triangle} <= {"crossrate", "frozen"}
