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
# # 03 — Streaming trends with Spark Structured Streaming
#
# A streaming job here is three layers (all in `lib/fxwatch/stream`):
#
# 1. `read_quotes(spark, settings)` — the Kafka topic as an unbounded DataFrame: JSON parsed with
#    `from_json` and the wire schema, validated (bad records are split off and dead-lettered by the
#    quotes query), event time `ts` as a **millisecond** timestamp, Kafka partition/offset kept;
# 2. `build_trends(quotes)` — a pure transform: per pair, event-time windows (tumbling 1 min,
#    sliding 5 min every 1 min) with averages, OHLC of mid, spread stats, log-return std and an EMA;
# 3. a sink — `foreachBatch` upserting each micro-batch into Cassandra `fxwatch.trends`.
#
# **Watermark.** `withWatermark("ts", "30 seconds")` tells Spark that ticks more than 30 s older
# than the newest one seen are late: windows ending before *max event time − 30 s* are final, their
# state is dropped, late ticks for them are ignored. **Output modes**: *append* emits a window once,
# when it is final; *update* re-emits a window each time it changes (our Cassandra key makes that an
# overwrite, so the table converges to the final values). The pipeline uses update for trends (the
# dashboard sees the current minute) and append for the anomaly rule (never judge a partial window).
#
# Needs the local stack: `fxwatch stack up`.

# %% tags=["parameters"]
minutes: float = 6.0  # minutes of synthetic ticks to stream
rate: float = 4.0  # mean ticks per second per pair
topic_suffix: str = "-nb03"  # topics of this notebook, apart from the real ones
keyspace: str = "fxwatch"  # Cassandra keyspace for the trends
watermark: str = "30 seconds"  # how late a tick may arrive and still count
seed: int = 3  # synthetic generator seed

# %%
import uuid

import pandas as pd

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.config import Settings
from fxwatch.sources.synthetic import SyntheticConfig, generate
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.pipeline import run_pipeline
from fxwatch.stream.read import read_quotes
from fxwatch.stream.session import get_spark
from fxwatch.stream.trends import build_trends

run_tag = uuid.uuid4().hex[:6]
base = Settings.from_env().with_(keyspace=keyspace)
settings = base.with_(
    quotes_topic=f"{base.quotes_topic}{topic_suffix}-{run_tag}",
    dlq_topic=f"{base.dlq_topic}{topic_suffix}-{run_tag}",
    alerts_topic=f"{base.alerts_topic}{topic_suffix}-{run_tag}",
)
synthetic = SyntheticConfig(duration_s=minutes * 60, rate=rate, seed=seed)

# %% [markdown]
# ## Publish a few minutes of synthetic ticks

# %%
init_schema(settings)
ensure_topics(settings)
ticks = generate(synthetic)
print(produce(ticks.quotes(), settings))
spark = get_spark(settings, app_name="fxwatch-nb03")

# %% [markdown]
# ## The streaming DataFrame and its plan
# Nothing runs yet: `read_quotes` and `build_trends` only describe the computation.

# %%
quotes = read_quotes(spark, settings)
trends = build_trends(quotes, watermark=watermark)
print("streaming:", trends.isStreaming)
quotes.printSchema()

# %% [markdown]
# ## Append vs update, side by side (memory sink, Trigger.AvailableNow)
# With AvailableNow the query processes what Kafka holds, then stops. In *append* mode the newest
# windows are missing: the watermark has not passed them yet (they will be emitted by a later run,
# when newer ticks arrive). In *update* mode they are there, partial.

# %%
counts = {}
for mode in ("append", "update"):
    q = (
        trends.writeStream.outputMode(mode)
        .format("memory")
        .queryName(f"trends_{mode}_{run_tag}")
        .option("checkpointLocation", str(settings.checkpoint_dir / "nb03" / run_tag / mode))
        .trigger(availableNow=True)
        .start()
    )
    try:
        q.awaitTermination()
    finally:
        q.stop()
    counts[mode] = spark.table(f"trends_{mode}_{run_tag}").where("window_len = '1m'").count()
counts

# %% [markdown]
# ## The production wiring: quotes + trends queries into Cassandra, until idle
#
# The trends query of `fxwatch stream run` (`lib/fxwatch/stream/trends.py`) is `build_trends` above,
# in update mode, with a `foreachBatch` sink that upserts each changed window into Cassandra.

# %%
config = PipelineConfig(queries=("quotes", "trends"), until_idle=True, watermark=watermark)
summary = run_pipeline(spark, settings, config)
{k: v for k, v in summary.items() if k != "queries"}

# %%
cluster, session = connect(settings)
day = pd.Timestamp(synthetic.start_ms, unit="ms").date()
rows = session.execute(
    "SELECT window_start, window_end, ticks, open, high, low, close, mid_avg, spread_avg, "
    "ret_std, ema "
    "FROM trends WHERE pair=%s AND window_len='1m' AND day=%s",
    (synthetic.pairs[0], day),
)
df = pd.DataFrame(list(rows)).sort_values("window_start")
cluster.shutdown()
df
