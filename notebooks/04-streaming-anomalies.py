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
# # 04 — Streaming anomaly detection: windows against history, detectors in Spark state
#
# Two kinds of detection run as streaming queries (`lib/fxwatch/stream/window_alerts.py` and
# `lib/fxwatch/stream/tick_alerts.py`):
#
# * **The classic rule**: each *final* 1-minute window of a pair (append mode + watermark, so a
#   half-filled window never fires) is compared with the bounds of that pair and hour-of-week from
#   `fxwatch.stats` — mean ± k·std and median ± k·1.4826·MAD of the log-return std, spread and tick
#   count. (The price level is in the stats too, for the dashboard's band, but the rule leaves it
#   out by default: a price is a random walk and drifts out of any band learnt from past weeks.) The
#   bounds are a small table re-read inside `foreachBatch` when a newer stats version lands (checked
#   every few seconds) and broadcast-joined to the batch. Cold start: with no stats yet the rule
#   stays silent.
# * **Tick detectors** (`fxwatch.detect`): spread blow-out, crossed quotes, stale feed, robust
#   z-score, tick rate, ramp-and-revert, CUSUM, online bounds. Each needs memory of past ticks:
#   Spark keeps it as **state** per key with `applyInPandasWithState` — one pickled detector set per
#   pair, plus one key per currency triangle (EUR-JPY-USD: EUR/USD ≈ EUR/JPY ÷ USD/JPY) holding the
#   cross-rate check of its three legs. No key sees all pairs, so the keys spread over the
#   executors. State lives in the RocksDB state store and the checkpoint, so a restart resumes with
#   warm detectors.
#
# Alerts go to Cassandra `fxwatch.alerts` and to the Kafka topic `fx-alerts`.

# %% tags=["parameters"]
minutes: float = 10.0  # minutes of synthetic ticks (with injected manipulations)
rate: float = 3.0  # mean ticks per second per pair
events_per_hour: float = 12.0  # injected events of each kind per hour
topic_suffix: str = "-nb04"  # topics of this notebook, apart from the real ones
keyspace: str = "fxwatch"  # Cassandra keyspace
seed: int = 11  # synthetic generator seed

# %%
import uuid

import pandas as pd

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.config import Settings
from fxwatch.detect.bank import WATCHED_PAIRS, default_cross, default_detectors
from fxwatch.sources.synthetic import SyntheticConfig, generate
from fxwatch.store.alerts import read_alerts
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.pipeline import run_pipeline
from fxwatch.stream.read import read_quotes
from fxwatch.stream.session import get_spark
from fxwatch.stream.tick_alerts import detect_ticks

run_tag = uuid.uuid4().hex[:6]
base = Settings.from_env().with_(keyspace=keyspace)
settings = base.with_(
    quotes_topic=f"{base.quotes_topic}{topic_suffix}-{run_tag}",
    dlq_topic=f"{base.dlq_topic}{topic_suffix}-{run_tag}",
    alerts_topic=f"{base.alerts_topic}{topic_suffix}-{run_tag}",
)
synthetic = SyntheticConfig(
    duration_s=minutes * 60, rate=rate, seed=seed, events_per_hour=events_per_hour
)

# %% [markdown]
# ## Publish ticks with labelled manipulations

# %%
init_schema(settings)
ensure_topics(settings)
ticks = generate(synthetic)
print(produce(ticks.quotes(), settings))
labels = pd.DataFrame(
    [
        {"kind": e.kind, "pair": e.pair, "start": pd.Timestamp(e.start_ts, unit="ms")}
        for e in ticks.labels
    ]
)
labels

# %% [markdown]
# ## The stateful operator
# `detect_ticks` explodes each quote to its keys (its pair, and each watched triangle holding the
# pair), groups by key and runs
# the detectors over the key's ticks of the micro-batch in (event time, offset) order.

# %%
spark = get_spark(settings, app_name="fxwatch-nb04")
verdicts = detect_ticks(
    read_quotes(spark, settings), default_detectors, default_cross, WATCHED_PAIRS
)
verdicts.explain()

# %% [markdown]
# ## Run quotes + anomalies until idle, then read the alerts back

# %%
summary = run_pipeline(
    spark, settings, PipelineConfig(queries=("quotes", "alerts"), until_idle=True)
)
{k: v for k, v in summary.items() if k != "queries"}

# %%
cluster, session = connect(settings)
start = pd.Timestamp(synthetic.start_ms, unit="ms", tz="UTC").to_pydatetime()
end = pd.Timestamp(
    synthetic.start_ms + int(minutes * 60_000) + 60_000, unit="ms", tz="UTC"
).to_pydatetime()
alerts = pd.DataFrame(read_alerts(session, settings.keyspace, start, end))
cluster.shutdown()
alerts[["pair", "ts", "detector", "score", "reason"]] if len(alerts) else alerts

# %% [markdown]
# Which injected events were caught? (A caught event has an alert on one of its pairs within it.)


# %%
def caught(e):
    if alerts.empty:
        return False
    hit = alerts[alerts.pair.isin(e.pair.split(";"))]
    ts = pd.to_datetime(hit.ts)
    return bool(
        (
            (ts >= pd.Timestamp(e.start_ts - 2000, unit="ms"))
            & (ts <= pd.Timestamp(e.end_ts + 5000, unit="ms"))
        ).any()
    )


pd.DataFrame([{"kind": e.kind, "pair": e.pair, "caught": caught(e)} for e in ticks.labels])
