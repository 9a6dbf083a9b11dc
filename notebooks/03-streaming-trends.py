# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: fxwatch
#     language: python
#     name: fxwatch
# ---

# %% [markdown]
# # 03 — Spark Structured Streaming, from Kafka to windowed trends in Cassandra
#
# This notebook writes out the **trends query** of fxwatch (`lib/fxwatch/stream/trends.py`) in the
# style of Spark's own structured-streaming examples, and uses small hand-made streams to show each
# concept at work:
#
# | section | concept |
# |---|---|
# | 1 | the query: `readStream` → `from_json` → watermark → `window` → `groupBy().agg()` |
# | 2 | event time vs processing time |
# | 3 | tumbling vs sliding windows |
# | 4 | the watermark, and a late tick that is dropped |
# | 5 | output modes: append, update, complete on the same query |
# | 6 | `foreachBatch` into Cassandra (an idempotent sink), checkpoints, stop and restart |
# | 7 | triggers: processing time, AvailableNow, real-time mode |
# | 8 | monitoring: `StreamingQueryListener`, `lastProgress`, the Spark UI |
# | 9 | pictures: ticks with 1- and 5-minute averages, OHLC candles |
#
# Cells tagged `query` hold the query itself; `tests/test_notebook_queries.py` runs them and the
# library's `build_trends` on the same Kafka topic and asserts identical rows, so this lesson cannot
# drift from what production runs. Exercises are at the end.
#
# Needs the local stack: `fxwatch stack up`. A few minutes with the defaults (`make notebooks` runs
# it on two minutes of ticks).

# %% tags=["parameters"]
minutes: float = 6.0  # minutes of synthetic ticks to stream
rate: float = 4.0  # mean ticks per second per pair
keyspace: str = "fxwatch_nb03"  # Cassandra keyspace of this notebook (its trends table is emptied)
watermark: str = "30 seconds"  # how late a tick may arrive and still count
batch_ticks: int = 1500  # at most this many ticks per micro-batch (maxOffsetsPerTrigger)
chart_pair: str = "EUR/USD"  # the pair of the lessons and the charts
realtime: bool = True  # run the real-time mode demo (False: show its code only)
spark_ui: bool = True  # start Spark's web UI with the session (its Structured Streaming tab)
seed: int = 3  # synthetic generator seed

# %%
import json
import shutil
import time

import pandas as pd
import plotly.graph_objects as go
from IPython.display import display
from pyspark.sql.streaming import StreamingQueryListener

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.config import Settings
from fxwatch.schema import Quote
from fxwatch.sources.synthetic import SyntheticConfig, generate
from fxwatch.stack.manager import wait_until
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema, truncate_tables
from fxwatch.store.trends import TRENDS_COLUMNS, read_trends, write_trend_rows
from fxwatch.stream.session import get_spark
from fxwatch.stream.sinks import write_from_executors

settings = Settings.from_env().with_(keyspace=keyspace).isolated()  # topics of this run only
synthetic = SyntheticConfig(duration_s=minutes * 60, rate=rate, seed=seed)
checkpoints = settings.checkpoint_dir / "nb03" / settings.quotes_topic
shutil.rmtree(checkpoints, ignore_errors=True)
print("topic", settings.quotes_topic, "| keyspace", settings.keyspace)

# %% [markdown]
# ## Publish a few minutes of synthetic ticks
# The generator's ticks carry their own time (`ts`, January 2024): that is **event time**.

# %%
init_schema(settings)
cluster, session = connect(settings)
truncate_tables(session, settings.keyspace, ("trends",))  # this notebook's rows only, from now on
ensure_topics(settings)
ticks = generate(synthetic)
print(produce(ticks.quotes(), settings))
# 2 shuffle partitions on 2 cores: fewer, bigger tasks (each stateful partition costs per batch)
spark = get_spark(
    settings,
    app_name="fxwatch-nb03",
    **{"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": str(spark_ui).lower()},
)

# %% [markdown]
# A **listener** sees every query of the session: each finished micro-batch calls `onQueryProgress`.
# It is registered first so that section 8 can show what all the queries below did.


# %%
class ProgressLog(StreamingQueryListener):
    """Keeps one row per micro-batch of every query."""

    def __init__(self):
        self.rows = []

    def onQueryStarted(self, event):
        pass

    def onQueryProgress(self, event):
        p = event.progress
        self.rows.append(
            {
                "query": p.name,
                "batch": p.batchId,
                "input_rows": p.numInputRows,
                "rows_per_s": round(p.processedRowsPerSecond or 0.0),
                "batch_ms": p.durationMs.get("triggerExecution"),
                "watermark": p.eventTime.get("watermark"),
            }
        )

    def onQueryIdle(self, event):
        pass

    def onQueryTerminated(self, event):
        pass


progress_log = ProgressLog()
spark.streams.addListener(progress_log)

# %% [markdown]
# ## 1. The query, written out
#
# Read → parse → watermark → windows → aggregate, one stage per line. Nothing runs yet: these
# functions only *describe* a computation on an unbounded table. `parse_quotes` keeps the records
# that pass fxwatch's validation rules (`fxwatch.schema.QUOTE_RULES`; the production quotes query
# sends the others to the dead-letter topic).

# %% tags=["query"]
from pyspark.sql import functions as F

from fxwatch.schema import reason_column, spark_schema


def read_ticks(spark, settings, max_offsets_per_trigger=None):
    """The Kafka topic as an unbounded table: key, value (bytes), partition, offset, timestamp."""
    reader = (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())  # bootstrap servers (and security)
        .option("subscribe", settings.quotes_topic)
        .option("startingOffsets", "earliest")  # a new query starts at the beginning
        .option("failOnDataLoss", "false")  # retention may delete unread data: skip it
    )
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    return reader.load()


def parse_quotes(raw):
    """Kafka rows -> accepted quotes: pair, event time `ts` (ms precision), prices, Kafka offset."""
    j = F.col("j")
    return (
        raw.select(
            F.from_json(F.col("value").cast("string"), spark_schema()).alias("j"),  # JSON -> struct
            F.expr("is_valid_utf8(CAST(value AS STRING))").alias("utf8_ok"),
            "offset",
            F.col("timestamp").alias("kafka_ts"),  # when Kafka got it: processing-side time
        )
        .withColumn(
            "reason", reason_column(j, F.unix_millis(F.current_timestamp()), F.col("utf8_ok"))
        )
        .where("reason IS NULL")  # valid quotes only
        .select(
            j["pair"].alias("pair"),
            F.timestamp_millis(j["ts"]).alias("ts"),  # event time: epoch ms -> timestamp
            j["ts"].alias("ts_ms"),
            j["bid"].alias("bid"),
            j["ask"].alias("ask"),
            ((j["bid"] + j["ask"]) / 2).alias("mid"),
            (j["ask"] - j["bid"]).alias("spread"),
            "offset",
            "kafka_ts",
        )
    )


def window_stats(quotes, window, label: str):
    """Per pair and event-time window: tick count, averages, OHLC of mid, spread statistics."""
    first_last = F.struct("ts_ms", "offset")  # event-time order; the offset breaks ties
    return (
        quotes.groupBy("pair", window.alias("w"))
        .agg(
            F.count(F.lit(1)).cast("int").alias("ticks"),
            F.avg("mid").alias("mid_avg"),
            F.avg("bid").alias("bid_avg"),
            F.avg("ask").alias("ask_avg"),
            F.max("mid").alias("high"),
            F.min("mid").alias("low"),
            F.min_by("mid", first_last).alias("open"),  # mid of the earliest tick
            F.max_by("mid", first_last).alias("close"),  # mid of the latest tick
            F.avg("spread").alias("spread_avg"),
            F.min("spread").alias("spread_min"),
            F.max("spread").alias("spread_max"),
            F.stddev_pop("spread").alias("spread_std"),
        )
        .select(
            "pair",
            F.lit(label).alias("window_len"),
            # the UTC day of the window (Cassandra partition key), whatever the session time zone
            F.date_from_unix_date(F.floor(F.unix_millis("w.start") / 86_400_000).cast("int")).alias(
                "day"
            ),
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
        )
    )


def trends(quotes, watermark: str = "30 seconds"):
    """Quotes -> trend rows: tumbling 1-minute and sliding 5-minute (every minute) windows."""
    marked = quotes.withWatermark("ts", watermark)  # how late a tick may be and still count
    tumbling = window_stats(marked, F.window("ts", "1 minute"), "1m")
    sliding = window_stats(marked, F.window("ts", "5 minutes", "1 minute"), "5m/1m")
    return tumbling.unionByName(sliding).withColumn("updated_at", F.current_timestamp())


# %%
quotes = parse_quotes(read_ticks(spark, settings, batch_ticks))
trend_rows = trends(quotes, watermark)
print("streaming:", trend_rows.isStreaming)
trend_rows.printSchema()

# %% [markdown]
# ## 2. Event time vs processing time
#
# Each tick says when it happened (`ts`, set by the source: **event time**); Kafka stamps when it
# arrived (`kafka_ts`), and Spark sees it later still (**processing time**). The same parse works on
# a *static* read of the topic (`spark.read` instead of `spark.readStream`), handy for looking:
# minutes of 2024 arrived within seconds today. Windows follow event time, so they are the minutes
# in which the ticks happened, however late or fast they arrive.

# %%
static_quotes = parse_quotes(
    spark.read.format("kafka")
    .options(**settings.spark_kafka_options())
    .option("subscribe", settings.quotes_topic)
    .load()
).cache()
static_quotes.select(
    F.min("ts").alias("first event time"),
    F.max("ts").alias("last event time"),
    F.min("kafka_ts").alias("first arrival (Kafka)"),
    F.max("kafka_ts").alias("last arrival (Kafka)"),
    F.current_timestamp().alias("processing time now"),
    F.count(F.lit(1)).alias("ticks"),
).toPandas().T

# %% [markdown]
# ## 3. Tumbling vs sliding windows
#
# A **tumbling** window (`window(ts, "1 minute")`) puts each tick in exactly one window; a
# **sliding** window (`window(ts, "5 minutes", "1 minute")`) in five overlapping ones, so the
# 5-minute average is updated every minute. Here is where one tick goes:

# %%
one_tick = spark.sql("SELECT TIMESTAMP'2024-01-15 14:02:30' AS ts")
pd.concat(
    [
        one_tick.select(F.lit(name).alias("kind"), w.alias("window")).toPandas()
        for name, w in (
            ("tumbling 1 min", F.window("ts", "1 minute")),
            ("sliding 5 min / 1 min", F.window("ts", "5 minutes", "1 minute")),
        )
    ],
    ignore_index=True,
)

# %% [markdown]
# ## 4. The watermark, and a late tick that is dropped
#
# A streaming aggregation keeps each window's running result in **state**. The watermark,
# `max event time seen − delay`, tells Spark when a window can no longer change: its state is
# dropped, and a tick for it that arrives afterwards is **ignored**.
#
# The lesson: 16 ticks of `chart_pair`, one every 10 s from 14:00:00, go to a topic of their own.
# A first run (AvailableNow) counts them per minute; the watermark becomes 14:02:30 − delay. Then
# two more ticks arrive: one stamped 14:00:05 (its minute has been final since the watermark passed
# 14:01:00) and one stamped 14:02:05. A second run from the same checkpoint counts them — or not.

# %%
T0 = pd.Timestamp("2024-01-15 14:00:00", tz="UTC").value // 1_000_000  # epoch ms


def lesson_ticks(seconds):
    """Hand-made ticks of chart_pair at T0 + s for each s (a small, steady price)."""
    return [
        Quote(chart_pair, T0 + int(s * 1000), 1.1000 + s * 1e-6, 1.1002 + s * 1e-6, "lesson")
        for s in seconds
    ]


def lesson_topic():
    """A new one-partition topic (one partition: the records come back in the order sent)."""
    lesson = settings.with_(quotes_partitions=1).isolated()
    ensure_topics(lesson)
    return lesson


def minute_counts(quotes, watermark: str):
    """The smallest windowed aggregation: ticks per pair and minute."""
    return (
        quotes.withWatermark("ts", watermark)
        .groupBy("pair", F.window("ts", "1 minute").alias("w"))
        .agg(F.count(F.lit(1)).alias("ticks"))
        .select("pair", F.date_format("w.start", "HH:mm").alias("minute"), "ticks")
    )


def late_tick_demo(watermark: str):
    """Run 1 over 16 ticks, then 2 more ticks (one late) and run 2; what each run emitted."""
    lesson = lesson_topic()
    produce(lesson_ticks(range(0, 151, 10)), lesson)
    checkpoint = checkpoints / f"late-{lesson.quotes_topic}"
    emitted = []
    runs = []
    for run, late in ((1, None), (2, [5, 125])):
        if late:
            produce(lesson_ticks(late), lesson)
        q = (
            minute_counts(parse_quotes(read_ticks(spark, lesson)), watermark)
            .writeStream.queryName(f"nb03_late_run{run}")
            .outputMode("update")
            .foreachBatch(
                lambda df, batch, run=run: emitted.extend(
                    {"run": run, "batch": batch, **r.asDict()} for r in df.collect()
                )
            )
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        q.awaitTermination()
        runs.append(
            {
                "run": run,
                "watermark after": q.lastProgress["eventTime"].get("watermark"),
                "rows dropped as late": sum(
                    op.get("numRowsDroppedByWatermark", 0)
                    for p in q.recentProgress
                    for op in p["stateOperators"]
                ),
            }
        )
    return pd.DataFrame(emitted), pd.DataFrame(runs)


late_emitted, late_runs = late_tick_demo(watermark)
display(late_runs)
late_emitted

# %% [markdown]
# Run 2 emitted the 14:02 minute again with one more tick, and nothing for 14:00: the tick stamped
# 14:00:05 came after the watermark had passed the end of its minute, so Spark dropped it — the
# progress report counts it under `numRowsDroppedByWatermark`. The tick stamped 14:02:05 was late
# too (older than the newest tick), but its minute was still open, so it counted. Spark drops a tick
# only when its *window* is final (window end ≤ the watermark of the batch before). The promise is
# one-sided: a tick less late than the delay always counts; a later one *may* be dropped.
#
# ## 5. Output modes: append, update, complete — the same query
#
# The same minute counts over the 16 lesson ticks, cut into micro-batches of 8 records, once per
# output mode. **complete** emits the whole result table every batch (state is never dropped);
# **update** emits the windows that changed in the batch; **append** emits a window once, when the
# watermark says it is final — later, but never a partial count. (The last batch read no data: Spark
# runs such a batch when the watermark moved, to emit and drop what became final. The 14:02 minute
# never comes out in append mode: no later tick has pushed the watermark past its end.)

# %%
lesson = lesson_topic()
produce(lesson_ticks(range(0, 151, 10)), lesson)
by_mode = []
for mode in ("complete", "update", "append"):
    q = (
        minute_counts(parse_quotes(read_ticks(spark, lesson, max_offsets_per_trigger=8)), watermark)
        .writeStream.queryName(f"nb03_{mode}")
        .outputMode(mode)
        .foreachBatch(
            lambda df, batch, mode=mode: by_mode.append(
                {
                    "mode": mode,
                    "batch": batch,
                    "emitted": ", ".join(
                        f"{r.minute}: {r.ticks}" for r in df.orderBy("minute").collect()
                    ),
                }
            )
        )
        .option("checkpointLocation", str(checkpoints / f"modes-{mode}"))
        .trigger(availableNow=True)
        .start()
    )
    q.awaitTermination()
pd.DataFrame(by_mode).pivot(index="batch", columns="mode", values="emitted").fillna("")

# %% [markdown]
# ## 6. `foreachBatch` into Cassandra, checkpoints, and a restart
#
# Spark has no Cassandra sink that runs on Spark 4, so each micro-batch goes through
# `foreachBatch(function)`: a plain DataFrame and its batch id, written by fxwatch's store code from
# the executors. After a crash Spark **replays** the last uncommitted batch, and in update mode it
# rewrites a window's row every batch the window grows: the sink must be **idempotent**. The trends
# table's primary key (pair, window_len, day, window_end) makes every rewrite an overwrite.
#
# The checkpoint folder is what makes a restart exact: `offsets/N` is written before batch N runs
# (which Kafka offsets it reads), `commits/N` after it succeeded, `state/` holds the windows' state.
# We start the query, **stop it after two batches**, look at the checkpoint, start it again from the
# same checkpoint, and count the rows in Cassandra.

# %%
written = []  # rows handed to Cassandra, per batch (more than the table will hold)


def upsert_trends(batch, batch_id):
    """foreachBatch: the batch's changed windows -> Cassandra fxwatch.trends (upserts)."""
    n = write_from_executors(batch.select(*TRENDS_COLUMNS), settings, write_trend_rows)
    written.append({"batch": batch_id, "rows written": n})


def start_trends(**trigger):
    return (
        trends(parse_quotes(read_ticks(spark, settings, batch_ticks)), watermark)
        .writeStream.queryName("nb03_trends")
        .outputMode("update")
        .foreachBatch(upsert_trends)
        .option("checkpointLocation", str(checkpoints / "trends"))
        .trigger(**trigger)
        .start()
    )


first = start_trends(processingTime="1 second")
wait_until(lambda: len(written) >= 2 or not first.isActive, 300, 0.2)
first.stop()
if first.exception():
    raise first.exception()
folder = checkpoints / "trends"
print(
    "after the stop  offsets:",
    sorted(int(p.name) for p in (folder / "offsets").iterdir() if p.name.isdigit()),
    " commits:",
    sorted(int(p.name) for p in (folder / "commits").iterdir() if p.name.isdigit()),
)

# %% [markdown]
# Start the same query again, on the same checkpoint, until the topic is drained. It resumes after
# the last committed batch (a batch with offsets but no commit would be run again, from the state of
# the batch before it). Then count: rows written by all batches, rows in Cassandra, and the windows
# the data holds (the same query on the static read).

# %%
second = start_trends(availableNow=True)  # same checkpoint: resumes after the last commit
second.awaitTermination()
pairs = sorted(static_quotes.select("pair").distinct().toPandas().pair)
day = pd.Timestamp(synthetic.start_ms, unit="ms").date()
lo, hi = pd.Timestamp(0).to_pydatetime(), pd.Timestamp("2100-01-01").to_pydatetime()
in_table = sum(
    len(read_trends(session, settings.keyspace, p, w, day, lo, hi))
    for p in pairs
    for w in ("1m", "5m/1m")
)
expected = trends(static_quotes).count()  # the same query on a static read: every window once
pd.DataFrame(
    {
        "rows written by the batches": [sum(w["rows written"] for w in written)],
        "rows in Cassandra": [in_table],
        "windows in the data": [expected],
        "batches (run 1 + run 2)": [len(written)],
        "run 2 started at batch": [(second.recentProgress or [{"batchId": None}])[0]["batchId"]],
    }
)

# %% [markdown]
# More rows were written than the table holds (open windows are rewritten as they grow, and the
# restart may replay a batch), yet the table has exactly one row per window: no duplicates.
#
# ## 7. Triggers
#
# * `trigger(processingTime="1 second")` (section 6): a micro-batch every second, for as long as the
#   query runs — the production setting (`PipelineConfig` gives the alert path 1 s, the minute
#   windows 5 s).
# * `trigger(availableNow=True)` (sections 4–6): process everything the topic holds now, in as many
#   batches as `maxOffsetsPerTrigger` asks, then stop — a streaming query run as a batch job, with
#   the same checkpoint semantics (`fxwatch stream run --until-idle`).
# * `trigger(realTime="5 seconds")` (Spark 4.2): **real-time mode**, for stateless queries: a
#   long-running task per Kafka partition passes each record through as it arrives; the interval is
#   how often it checkpoints, not a latency. Sinks: Kafka, `foreach`, console — not memory or
#   `foreachBatch`; no aggregations or state. Below, a stateless check (crossed quotes, bid ≥ ask)
#   from a one-partition topic to a Kafka topic; we time a crossed tick from `produce` to the alert
#   read back (bench/README.md measures it properly: a few ms per record, against ~1 s for
#   micro-batches).

# %%
rt = lesson_topic()
crossed = (
    parse_quotes(read_ticks(spark, rt))
    .where("bid >= ask")  # stateless: no window, no state, no shuffle
    .select(
        F.col("pair").alias("key"),
        F.to_json(F.struct("pair", "ts_ms", "bid", "ask")).alias("value"),
    )
)
rt_writer = (
    crossed.writeStream.queryName("nb03_realtime")
    .format("kafka")
    .options(**settings.spark_kafka_options())
    .option("topic", rt.alerts_topic)
    .option("checkpointLocation", str(checkpoints / "realtime"))
    .outputMode("update")  # real-time mode requires update
    .trigger(realTime="5 seconds")
)
if realtime:
    from kafka import KafkaConsumer

    spark.conf.set("spark.sql.streaming.realTimeMode.minBatchDuration", "1000")
    consumer = KafkaConsumer(
        rt.alerts_topic,
        **rt.kafka_client_config(),
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    seen = []

    def poll():
        for records in consumer.poll(timeout_ms=50).values():
            seen.extend((json.loads(r.value), time.time()) for r in records)
        return seen

    rt_query = rt_writer.start()
    latencies = []
    try:
        for i in range(3):  # the first one also waits for the query's tasks to start
            sent = time.time()
            produce([Quote(chart_pair, T0 + i, 1.1003, 1.1001, "lesson")], rt)
            if not wait_until(lambda i=i: len(poll()) > i, 120, 0.01):
                raise RuntimeError("no alert from the real-time query within 120 s")
            latencies.append(round((seen[i][1] - sent) * 1000))
    finally:
        rt_query.stop()
        consumer.close()
    print(f"produce -> alert read back, ms: {latencies} (the first includes the query's start)")
else:
    print("real-time demo skipped (realtime=False); the query above is what it runs")

# %% [markdown]
# ## 8. Monitoring: the listener, `lastProgress`, the Spark UI
#
# Every query reports each micro-batch as a `StreamingQueryProgress`: `query.lastProgress` (the
# latest, as a dict), `query.recentProgress` (the last few), and the listener registered at the
# start, which saw them all:
#
# (`nb03_trends` counts every tick twice: its two aggregations, tumbling and sliding, are a union of
# two branches over the same source, and each branch scans the topic's offsets of the batch. The
# library's `build_trends` gives the same rows from one groupBy and one scan: the 1-minute window
# that ends at E is the last minute of the 5-minute window that ends at E, so it aggregates each
# sliding window twice, over all its ticks and over those of its last minute — 1.4× faster,
# bench/README.md.)

# %%
spark.streams.removeListener(progress_log)
print(json.dumps({k: second.lastProgress[k] for k in ("batchId", "numInputRows", "durationMs")}))
pd.DataFrame(progress_log.rows).groupby("query", dropna=False).agg(
    batches=("batch", "count"),
    input_rows=("input_rows", "sum"),
    median_batch_ms=("batch_ms", "median"),
    last_watermark=("watermark", "last"),
)

# %% [markdown]
# **The Spark UI** shows the same per query (tab *Structured Streaming*: input rate, batch
# durations, state rows, and each batch's jobs) at the address below — port 4040, or the next free
# one when another Spark application holds it. fxwatch's other sessions start with the UI off to
# save memory on small machines (`FXWATCH_SPARK_UI=true` turns it on); this notebook asks for it
# (`spark_ui`). The UI lives as long as the session: open it while the kernel runs.

# %%
ui = spark.sparkContext.uiWebUrl
print(f"Spark UI: {ui}  (Structured Streaming tab: {ui}/StreamingQuery/)" if ui else "UI is off")

# %% [markdown]
# ## 9. Pictures: the ticks, their 1- and 5-minute averages, and OHLC candles
#
# Read back from Cassandra, what the dashboard reads. A window's average is drawn at its end: the
# 5-minute sliding average is the trailing average of the last five minutes, updated every minute.

# %%
rows = pd.DataFrame(
    [
        r._asdict()
        for w in ("1m", "5m/1m")
        for r in read_trends(session, settings.keyspace, chart_pair, w, day, lo, hi)
    ]
).sort_values("window_end")
one_min, five_min = rows[rows.window_len == "1m"], rows[rows.window_len == "5m/1m"]
tick_df = static_quotes.where(F.col("pair") == chart_pair).select("ts", "mid").toPandas()
fig = go.Figure()
fig.add_scatter(x=tick_df.ts, y=tick_df.mid, mode="lines", name="ticks (mid)", line={"width": 1})
fig.add_scatter(
    x=one_min.window_end, y=one_min.mid_avg, mode="lines+markers", name="1-minute average"
)
fig.add_scatter(
    x=five_min.window_end, y=five_min.mid_avg, mode="lines+markers", name="5-minute average"
)
fig.update_layout(title=f"{chart_pair}: ticks and windowed averages", height=400)
fig.show()

# %%
candles = go.Figure(
    go.Candlestick(
        x=one_min.window_start,
        open=one_min.open,
        high=one_min.high,
        low=one_min.low,
        close=one_min.close,
        name="1-minute OHLC",
    )
)
candles.update_layout(
    title=f"{chart_pair}: 1-minute candles (open/close = first/last tick by event time)",
    height=400,
    xaxis_rangeslider_visible=False,
)
candles.show()

# %% [markdown]
# ## Exercises
#
# 1. **A shorter watermark.** Change the watermark to `"5 seconds"` and rerun the late-tick cell
#    (`late_tick_demo`). What changes, and why?
# 2. **A finer slide.** Make the sliding windows 5 minutes long every 30 seconds. How many windows
#    does one tick belong to now, and how many trend rows would the data of this notebook make?
# 3. **Which output mode for which sink?** The dashboard wants to see the current minute; the
#    anomaly rule must never judge a half-filled window. Which output mode suits each, and why does
#    update mode need an idempotent sink?
#
# The solutions are in the collapsed cells below (click to expand).

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution 1: with a 5 s delay the watermark after run 1 is 14:02:25 instead of 14:02:00, yet the
# counts do not change: the tick stamped 14:02:05 is older than the watermark, but Spark drops a
# tick only when its window is final, and 14:02-14:03 ends after 14:02:25. A shorter delay means
# windows close (and, in append mode, come out) sooner, not that ticks of open windows are lost.
late5_emitted, late5_runs = late_tick_demo("5 seconds")
display(late5_runs)
late5_emitted

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution 2: a tick is in window length / slide = 10 windows; the static read counts the rows.
print(one_tick.select(F.window("ts", "5 minutes", "30 seconds")).count(), "windows per tick")
print(
    window_stats(static_quotes, F.window("ts", "5 minutes", "30 seconds"), "5m/30s").count(),
    "rows with a 30 s slide, against",
    window_stats(static_quotes, F.window("ts", "5 minutes", "1 minute"), "5m/1m").count(),
    "with 1 minute",
)

# %% [markdown] tags=["solution"] jupyter={"source_hidden": true}
# *Solution 3*: the dashboard wants **update** (it sees open windows as they grow); the rule wants
# **append** (a window comes out once, final). Update rewrites a window every batch it changes, and
# a restart replays the last uncommitted batch: only a sink keyed by the window (an upsert) keeps
# one row per window.

# %%
cluster.shutdown()  # the Cassandra session of this notebook
