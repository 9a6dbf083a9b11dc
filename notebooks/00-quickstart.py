# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python (fxwatch)
#     language: python
#     name: fxwatch
# ---

# %% [markdown]
# # 00 — Quickstart: the whole pipeline in a few minutes
#
# ```
# data/samples (labelled synthetic ticks) ─> Kafka fx-quotes ─> Spark Structured Streaming
#     ─> Cassandra (quote_chunks, trends, alerts, pair_status)
#     ─> plotly figures and the Dash dashboard
# ```
#
# 1. start the local Kafka and Cassandra (no Docker; idempotent),
# 2. replay a labelled sample — synthetic ticks of five pairs with injected manipulations —
#    into Kafka,
# 3. run the streaming queries (quotes, trends, anomalies) until they have processed everything,
# 4. look at trends and alerts, compare the alerts with the injected events,
# 5. open the dashboard inline.
#
# Each step is one call into `lib/fxwatch`; the numbered notebooks 01–07 explain each in depth.
# Everything goes to a keyspace of its own (`fxwatch_quickstart`) and to topics of this run, so
# rerunning starts clean and never touches production data.

# %% tags=["parameters"]
keyspace: str = "fxwatch_quickstart"  # Cassandra keyspace it writes and reads (emptied first)
sample_file: str = "synthetic_ticks.csv"  # labelled tick file in data/samples to replay
labels_file: str = "synthetic_labels.csv"  # the injected events of that file
max_ticks: int = 0  # replay at most this many ticks (0: the whole file, ~79k ticks, 2 h of 5 pairs)
run_tag: str = ""  # suffix of this run's Kafka topics (empty: new per run, so reruns start clean)
pipeline_timeout: float = 900.0  # seconds the streaming queries may take to drain the topic
dashboard_port: int = 8050  # port of the inline dashboard (bound to 127.0.0.1)

# %%
import itertools
import time
from datetime import UTC, datetime

import pandas as pd
import plotly.express as px

from fxwatch.config import Settings

tag = run_tag or datetime.now(UTC).strftime("qs%Y%m%d%H%M%S")
settings = Settings.from_env().with_(keyspace=keyspace).isolated(tag)  # topics of this run
sample_path = settings.samples_dir / sample_file
labels_path = settings.samples_dir / labels_file
print(f"keyspace {settings.keyspace}; topics {', '.join(settings.topics)}")

# %% [markdown]
# ## 1. The local stack
#
# `stack_up` starts Kafka (KRaft) and Cassandra as plain JVM processes if they are not running,
# waits until both answer, and creates the schema. Already running: it returns at once.

# %%
from fxwatch.stack import stack_status, stack_up
from fxwatch.store.connection import connect
from fxwatch.store.schema import truncate_tables

stack_up(settings)
for st in stack_status(settings):
    print(st.line())

cluster, session = connect(settings)
truncate_tables(
    session, settings.keyspace, ("quote_chunks", "trends", "alerts", "pair_status")
)  # a clean slate
cluster.shutdown()

# %% [markdown]
# ## 2. Replay the labelled sample into Kafka
#
# `read_file` yields a `Quote` per good line (and a `BadLine` with its reason per bad one); the
# producer sends quotes keyed by pair — so each pair's ticks stay in order in one partition — and
# bad lines to the dead-letter topic. `max_ticks` keeps test runs short.

# %%
from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.sources.replay import read_file

ensure_topics(settings)
items = read_file(sample_path)
if max_ticks:
    items = itertools.islice(items, max_ticks)
t0 = time.perf_counter()
summary = produce(items, settings)
print(summary, f"in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## 3. Stream it: quotes, trends and anomalies until idle
#
# `run_pipeline` with `PipelineConfig(until_idle=True)` starts the Structured Streaming queries with
# an available-now trigger: they process everything in the topic, write it to Cassandra, and stop.
# (Without `until_idle` the same queries run forever: `fxwatch stream run`.) The first micro-batch
# is slow (Python workers start); later ones take well under a second.

# %%
from fxwatch.store.stats import latest_version
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.pipeline import run_pipeline
from fxwatch.stream.session import get_spark, stop_spark

# The classic windowed rule compares windows with historical statistics (notebook 05 computes them);
# in a fresh keyspace there are none yet, so only the tick-level detectors run.
queries = (
    ("quotes", "trends", "alerts")
    if latest_version(settings)
    else ("quotes", "trends", "tick_alerts")
)
spark = get_spark(settings, app_name="fxwatch-quickstart")
result = run_pipeline(
    spark, settings, PipelineConfig(queries=queries, until_idle=True), timeout=pipeline_timeout
)
print({k: v for k, v in result.items() if k != "queries"})
pd.DataFrame(
    {name: {"batches": q["batches"], "rows": q["rows"]} for name, q in result["queries"].items()}
).T

# %%
stop_spark()  # frees the two cores for the dashboard; Cassandra holds the results

# %% [markdown]
# ## 4. Trends and alerts
#
# The dashboard's own reads and figures: `load_snapshot` returns what one refresh of the dashboard
# reads (quotes, trends, alerts and historical bands of one pair), `price_figure` draws it — the
# windowed averages at their window **end**, alerts as markers on the price. Ticks are stored in
# compressed chunks per pair and minute; every reader (this one, the stats job, `fxwatch quotes`)
# goes through `fxwatch.store.ticks.read_ticks(settings, None, pair, start_ms, end_ms)`.

# %%
from fxwatch.dashboard import CassandraSource, figures, load_snapshot
from fxwatch.sources.synthetic import read_labels

source = CassandraSource(settings)
labels = pd.DataFrame([vars(label) for label in read_labels(labels_path)])
status = source.pair_status()
status

# %%
# The pair with the most injected events, over the whole replay.
replayed = labels[labels["pair"].isin(status["pair"])] if len(status) else labels
pair = (
    replayed["pair"].value_counts().index[0]
    if len(replayed)
    else (status["pair"].iloc[0] if len(status) else None)
)
snap = load_snapshot(source, pair, range_key="6h", anchor="latest")
assert not snap.empty and len(snap.quotes) and len(snap.trends), (
    snap.error or "the pipeline wrote no quotes or trends: read the output of step 3"
)
print(
    f"{snap.pair}: {len(snap.quotes)} quotes, {len(snap.trends)} trend windows, "
    f"{len(snap.alerts)} alerts"
)
figures.price_figure(
    snap.quotes, snap.trends, snap.alerts, snap.bands, snap.pair, snap.start, snap.end
).show()

# %%
# Alerts of every pair by detector.
alerts = source.alerts(snap.start, snap.end)
if len(alerts):
    px.histogram(alerts, x="detector", color="pair", title="alerts by detector and pair").show()
alerts.head(10)

# %% [markdown]
# ### Did the alerts find the injected events?
#
# An event counts as found when an alert of one of its pairs falls inside it (with 30 s of slack for
# windowed detectors). The detection notebook (07) scores detectors properly; this is a first look.

# %%
slack = pd.Timedelta(seconds=30)
rows = []
if len(alerts):
    last_tick = pd.to_datetime(status["last_ts"]).max()
    for ev in labels.itertuples():
        start = pd.to_datetime(ev.start_ts, unit="ms")
        end = pd.to_datetime(ev.end_ts, unit="ms")
        if start > last_tick:
            continue  # not replayed (max_ticks)
        hit = alerts[
            alerts["pair"].isin(ev.pair.split(";"))
            & (alerts["ts"] >= start - slack)
            & (alerts["ts"] <= end + slack)
        ]
        rows.append(
            {
                "event": ev.event_id,
                "kind": ev.kind,
                "pair": ev.pair,
                "start (UTC)": start,
                "found": len(hit) > 0,
                "detectors": ", ".join(sorted(set(hit["detector"]))),
            }
        )
found = pd.DataFrame(rows)
print(
    f"{int(found['found'].sum()) if len(found) else 0} of {len(found)} "
    "replayed events have an alert"
)
found

# %% [markdown]
# ## 5. The dashboard, inline
#
# The same app as `fxwatch dashboard --keyspace fxwatch_quickstart`, served from this kernel (Dash's
# built-in Jupyter support). Choose a pair, a time range, filter the alerts by detector.

# %%
from dash import jupyter_dash

from fxwatch.dashboard import create_app, run_inline

jupyter_dash.default_mode = "inline"
app = create_app(settings, data_source=source)
url = run_inline(app, port=dashboard_port)
print(f"dashboard at {url}")
