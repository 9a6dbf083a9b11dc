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
# # 04 — Streaming anomaly detection: a stream-static join, and state per key with timeouts
#
# Two kinds of detection run as streaming queries in fxwatch; this notebook writes both out.
#
# * **The classic rule** (`lib/fxwatch/stream/window_alerts.py`): each *final* 1-minute window of a
#   pair (append mode + watermark: a half-filled window never fires) is compared with the bounds of
#   that pair and hour-of-week learnt from history — mean ± k·std and median ± k·1.4826·MAD of the
#   log-return volatility, the spread and the tick count. The bounds are a small **static**
#   DataFrame; joining a stream with it is a **stream-static join** (stateless: each micro-batch is
#   joined with the static side as it is now).
# * **Tick detectors** (`lib/fxwatch/stream/tick_alerts.py`, detectors from `fxwatch.detect`):
#   spread blow-out, crossed quotes, stale feed, robust z-score, tick rate, ramp-and-revert, CUSUM.
#   Each needs memory of past ticks: **arbitrary stateful processing** with
#   `applyInPandasWithState` keeps one state per key in Spark's state store — per pair, and for the
#   cross-rate check per group of currency triangles (EUR-JPY-USD: EUR/USD ≈ EUR/JPY ÷ USD/JPY;
#   triangles that share a leg form one group, so the check can tell which leg moved).
#
# Cells tagged `query` hold the queries themselves; `tests/test_notebook_queries.py` runs them and
# the library's queries on the same Kafka topic and asserts identical rows. Reading and parsing the
# topic is written out in notebook 03; here it is the library's `read_quotes`.
#
# Needs the local stack: `fxwatch stack up`. A few minutes with the defaults (`make notebooks` runs
# it with fewer ticks and one week of history).

# %% tags=["parameters"]
minutes: float = 10.0  # minutes of synthetic ticks (with injected manipulations)
rate: float = 3.0  # mean ticks per second per pair
events_per_hour: float = 12.0  # injected events of each kind per hour
history_weeks: int = 2  # calm weeks before (same hours of the week) to learn the bounds from
k: float = 4.0  # half-width of the historical band in std (or 1.4826·MAD) units
keyspace: str = "fxwatch"  # Cassandra keyspace of the settings (nothing is written: memory sinks)
chart_pair: str = "EUR/USD"  # the pair plotted with its band and alerts
quiet_after_s: int = 30  # event-time silence after which the timeout demo reports a pair
batch_ticks: int = 2000  # at most this many ticks per micro-batch (maxOffsetsPerTrigger)
seed: int = 11  # synthetic generator seed

# %%
import shutil
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from pyspark.sql import functions as F

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.config import Settings
from fxwatch.detect.bank import WATCHED_PAIRS
from fxwatch.sources.synthetic import SyntheticConfig, generate
from fxwatch.stats.compute import compute_stats
from fxwatch.stream.read import read_quotes
from fxwatch.stream.session import get_spark
from fxwatch.stream.window_alerts import bounds_table

settings = Settings.from_env().with_(keyspace=keyspace).isolated()  # topics of this run only
synthetic = SyntheticConfig(
    duration_s=minutes * 60, rate=rate, seed=seed, events_per_hour=events_per_hour
)
checkpoints = settings.checkpoint_dir / "nb04" / settings.quotes_topic
shutil.rmtree(checkpoints, ignore_errors=True)
print("topic", settings.quotes_topic, "| checkpoints under", checkpoints)

# %% [markdown]
# ## Publish ticks with labelled manipulations

# %%
ensure_topics(settings)
ticks = generate(synthetic)
print(produce(ticks.quotes(), settings))
labels = pd.DataFrame(
    [
        {
            "kind": e.kind,
            "pair": e.pair,
            "start": pd.Timestamp(e.start_ts, unit="ms"),
            "end": pd.Timestamp(e.end_ts, unit="ms"),
        }
        for e in ticks.labels
    ]
)
# 2 shuffle partitions on 2 cores: fewer, bigger tasks (each stateful partition costs per batch)
spark = get_spark(settings, app_name="fxwatch-nb04", **{"spark.sql.shuffle.partitions": "2"})
labels

# %% [markdown]
# ## 1. The static side: historical bounds
#
# In production the daily job (notebook 05) writes statistics per pair, hour of week and metric to
# `fxwatch.stats`, and the streaming job turns the newest version into bounds. Here the history is
# `history_weeks` calm weeks of synthetic ticks at the same hours of the week (whole hours: the job
# counts a minute without ticks as a window with `ticks = 0`), and the same two library functions
# make the bounds: `compute_stats` (the job's) and `bounds_table` (the rule's). The result is an
# ordinary — *static* — DataFrame.


# %%
HOUR_MS = 3_600_000
first_hour = synthetic.start_ms // HOUR_MS * HOUR_MS
hours = -(-(synthetic.start_ms + int(synthetic.duration_s * 1000) - first_hour) // HOUR_MS)


def calm_week(weeks_before: int) -> pd.DataFrame:
    cfg = SyntheticConfig(
        start_ms=first_hour - weeks_before * 7 * 86_400_000,
        duration_s=hours * 3600,
        rate=rate,
        seed=1000 + weeks_before,
        events_per_hour=0.0,
        legit_per_hour=0.0,
    )
    return pd.DataFrame([(q.pair, q.ts_ms, q.bid, q.ask) for q in generate(cfg).quotes()])


history = spark.createDataFrame(
    pd.concat([calm_week(w) for w in range(1, history_weeks + 1)], ignore_index=True),
    "pair string, ts_ms long, bid double, ask double",
)
as_of = pd.Timestamp(synthetic.start_ms, unit="ms").date().isoformat()
stats = compute_stats(spark, history, as_of, lookback_days=7 * history_weeks)
bounds = bounds_table(stats, k=k, method="both").cache()
print(f"{history.count():,} historical ticks -> {bounds.count()} bounds rows")
start_how = (synthetic.start_ms // HOUR_MS + 72) % 168  # hour of week of the live data's start
bounds.where((F.col("pair") == chart_pair) & (F.col("hour_of_week") == int(start_how))).orderBy(
    "metric", "method"
).toPandas()

# %% [markdown]
# ## 2. The classic rule written out: closed windows ⋈ bounds (a stream-static join)
#
# Stage by stage: watermark → tumbling 1-minute windows per pair with the metrics the rule checks →
# one row per (window, metric) → **join with the static bounds** → keep the values outside them.
# `ret_std` (volatility) is the std of the log returns between consecutive ticks, so it needs the
# window's ticks in event-time order: an array kept in the window's state until the window closes.

# %% tags=["query"]
from pyspark.sql import functions as F

RULE_METRICS = ("ret_std", "spread", "ticks")  # the metrics the rule judges


def window_features(quotes, watermark: str = "30 seconds"):
    """Accepted quotes -> per pair and closed 1-minute window: ticks, mid_avg, spread_avg,
    ret_std."""
    ordered = F.array_sort(F.collect_list(F.struct("ts_ms", "offset", "mid")))
    mids = F.transform(F.col("ticks_arr"), lambda x: x["mid"])
    n = F.size(mids)
    m1 = F.greatest(n - 1, F.lit(1))  # slice needs a positive length: guard the 1-tick window
    rets = F.when(
        n > 1, F.zip_with(F.slice(mids, 2, m1), F.slice(mids, 1, m1), lambda a, b: F.log(a / b))
    )
    m = F.size(rets)
    s1 = F.aggregate(rets, F.lit(0.0), lambda acc, r: acc + r)
    s2 = F.aggregate(rets, F.lit(0.0), lambda acc, r: acc + r * r)
    ret_std = F.when(
        F.coalesce(m, F.lit(0)) > 0, F.sqrt(F.greatest(s2 / m - (s1 / m) * (s1 / m), F.lit(0.0)))
    )
    return (
        quotes.withWatermark("ts", watermark)  # a window is final once the watermark passes it
        .groupBy("pair", F.window("ts", "1 minute").alias("w"))  # tumbling 1-minute windows
        .agg(
            F.count(F.lit(1)).cast("int").alias("ticks"),
            F.avg("mid").alias("mid_avg"),
            F.avg("spread").alias("spread_avg"),
            ordered.alias("ticks_arr"),  # the window's ticks in event-time order
        )
        .select(
            "pair",
            F.col("w.start").alias("window_start"),
            F.col("w.end").alias("window_end"),
            # hour of week, 0 = Monday 00:00 UTC (1970-01-01 was a Thursday: hour 72)
            ((F.floor(F.unix_millis("w.start") / 3_600_000) + 72) % 168)
            .cast("int")
            .alias("hour_of_week"),
            "ticks",
            "mid_avg",
            "spread_avg",
            ret_std.alias("ret_std"),
        )
    )


def classic_rule(features, bounds, metrics=RULE_METRICS):
    """Window features x static bounds -> one alert per metric outside its historical band."""
    value, lo, hi = F.col("value"), F.col("lo"), F.col("hi")
    half = F.greatest((hi - lo) / 2, F.lit(1e-12))
    excess = F.when(value < lo, lo - value).otherwise(value - hi) / half
    side = F.when(value < lo, F.lit("below")).otherwise(F.lit("above"))
    long = features.select(
        "pair",
        "window_start",
        "window_end",
        "hour_of_week",
        # one row per metric: (metric name as in fxwatch.stats, the window's value)
        F.explode(
            F.array(
                *[
                    F.struct(F.lit(name).alias("metric"), F.col(col).cast("double").alias("value"))
                    for name, col in (
                        ("ret_std", "ret_std"),
                        ("spread", "spread_avg"),
                        ("ticks", "ticks"),
                        ("mid", "mid_avg"),
                    )
                ]
            )
        ).alias("mv"),
    ).select("pair", "window_start", "window_end", "hour_of_week", "mv.metric", "mv.value")
    return (
        long.where("value IS NOT NULL AND NOT isnan(value)")
        .where(F.col("metric").isin(list(metrics)))
        # the stream-static join: each micro-batch meets the bounds table as it is now
        .join(F.broadcast(bounds), ["pair", "hour_of_week", "metric"])
        .where((value < lo) | (value > hi))
        .select(
            "pair",
            F.col("window_start").alias("ts"),
            F.concat(F.lit("hist_"), "metric", F.lit("_"), "method").alias("detector"),
            (1 - 0.5 * F.exp(-excess)).alias("score"),  # in [0.5, 1): grows with the excess
            F.format_string(
                "%s %.6g %s historical %s bounds [%.6g, %.6g] for hour-of-week %d",
                "metric",
                value,
                side,
                "method",
                lo,
                hi,
                "hour_of_week",
            ).alias("reason"),
            "window_start",
            "window_end",
            "value",
        )
    )


# %% [markdown]
# Started in **append** mode, the query emits each window once, when the watermark has passed its
# end. `maxOffsetsPerTrigger` cuts the topic into several micro-batches, like a live feed would.

# %%
rule_query = (
    classic_rule(
        window_features(read_quotes(spark, settings, max_offsets_per_trigger=batch_ticks)), bounds
    )
    .writeStream.outputMode("append")
    .format("memory")
    .queryName("nb04_classic")
    .option("checkpointLocation", str(checkpoints / "classic"))
    .trigger(availableNow=True)
    .start()
)
rule_query.awaitTermination()
window_alerts = spark.table("nb04_classic").toPandas()
print(f"{len(rule_query.recentProgress)} micro-batches, {len(window_alerts)} window alerts")
window_alerts.sort_values("ts").head(10)

# %% [markdown]
# ## 3. Tick detectors: arbitrary state per pair
#
# `groupBy("pair").applyInPandasWithState(func, output schema, state schema, mode, timeout)`:
# for every pair that has ticks in a micro-batch, Spark calls `func(key, frames, state)` with the
# pair's new ticks and its **state** from the previous batch. The state here is the pair's
# detectors, pickled into one binary column. Spark stores it in the state store (RocksDB) and
# **checkpoints** it with the query's offsets, so a restarted query resumes with warm detectors and
# a replayed batch starts again from the state it had.
#
# The **cross-rate check** is the same operator with other keys: `detect_by_triangle` sends each
# quote to the key of its pair's group of triangles, whose state holds the cross-pair detectors.

# %% tags=["query"]
import pickle

import pandas as pd
from pyspark.sql.streaming.state import GroupStateTimeout

from fxwatch.detect.bank import cross_keys, default_cross, default_detectors, new_state
from fxwatch.schema import Quote

ALERT_SCHEMA = "pair string, ts_ms long, detector string, score double, reason string"
INPUT = ["pair", "ts_ms", "bid", "ask", "source", "low", "high", "open", "offset"]


def _opt(v):
    return None if pd.isna(v) else float(v)


def run_detectors(key, frames, state):
    """One key's new ticks of a micro-batch through its detectors; the detectors are the state."""
    (k,) = key
    detectors = (
        pickle.loads(state.get[0])  # the detectors as the last committed batch left them
        if state.exists
        else new_state(k, default_detectors, default_cross)  # first tick of this key
    )
    batch = pd.concat(list(frames), ignore_index=True).sort_values(
        ["ts_ms", "offset"], kind="stable"
    )
    alerts = []
    for r in batch.itertuples(index=False):
        q = Quote(
            r.pair,
            int(r.ts_ms),
            float(r.bid),
            float(r.ask),
            r.source,
            _opt(r.low),
            _opt(r.high),
            _opt(r.open),
        )
        alerts.extend(detectors.update_many(q))
    state.update((pickle.dumps(detectors, protocol=pickle.HIGHEST_PROTOCOL),))
    yield pd.DataFrame(
        [(a.pair, int(a.ts_ms), a.detector, float(a.score), a.reason) for a in alerts],
        columns=["pair", "ts_ms", "detector", "score", "reason"],
    )


def detect_by_pair(quotes):
    """Accepted quotes -> the alerts of each pair's detectors (state keyed by pair)."""
    return (
        quotes.select(F.col("pair").alias("key"), *INPUT)
        .groupBy("key")
        .applyInPandasWithState(
            run_detectors, ALERT_SCHEMA, "blob binary", "append", GroupStateTimeout.NoTimeout
        )
    )


def detect_by_triangle(quotes, pairs):
    """Accepted quotes -> the cross-rate alerts of the currency triangles among `pairs` (state
    keyed by group of triangles sharing a leg: a quote goes to its pair's group)."""
    # which key a pair's quotes go to: EUR-JPY-USD and EUR-GBP-USD share EUR/USD, so all five
    # pairs map to 'EUR-GBP-JPY-USD' (one state that sees every leg of both triangles)
    triangles = cross_keys(pairs)
    of_pair = F.create_map(
        *[x for p, t in triangles.items() for x in (F.lit(p), F.array(*map(F.lit, t)))]
    )
    return (
        quotes.select(F.explode(of_pair[F.col("pair")]).alias("key"), *INPUT)
        .groupBy("key")
        .applyInPandasWithState(
            run_detectors, ALERT_SCHEMA, "blob binary", "append", GroupStateTimeout.NoTimeout
        )
    )


# %%
def run_to_memory(df, name: str):
    """Run a streaming DataFrame over the whole topic (AvailableNow) into a memory table."""
    q = (
        df.writeStream.outputMode("append")
        .format("memory")
        .queryName(name)
        .option("checkpointLocation", str(checkpoints / name))
        .trigger(availableNow=True)
        .start()
    )
    q.awaitTermination()
    return q, spark.table(name).toPandas()


quotes = read_quotes(spark, settings, max_offsets_per_trigger=batch_ticks)
pair_query, pair_alerts = run_to_memory(detect_by_pair(quotes), "nb04_by_pair")
tri_query, tri_alerts = run_to_memory(detect_by_triangle(quotes, WATCHED_PAIRS), "nb04_by_triangle")
print(f"{len(pair_alerts)} alerts keyed by pair, {len(tri_alerts)} keyed by triangle group")
pd.concat([pair_alerts, tri_alerts]).groupby("detector").size().rename("alerts").to_frame()

# %% [markdown]
# ### What is checkpointed
#
# A query's checkpoint folder holds `offsets/` (the Kafka offsets each batch will read, written
# before it runs), `commits/` (written when it has finished), and `state/<operator>/<partition>/`
# (the state store's versions: RocksDB files, one version per batch). Spark's **state data
# source** reads that state back as a table: one row per key, here the pickled detectors.


# %%
def folder_sizes(root: Path) -> pd.DataFrame:
    rows = [
        {"folder": str(p.relative_to(root)), "files": sum(1 for f in p.rglob("*") if f.is_file())}
        for p in sorted(root.iterdir())
    ]
    return pd.DataFrame(rows)


print(folder_sizes(checkpoints / "nb04_by_triangle").to_string(index=False))
state = spark.read.format("statestore").load(str(checkpoints / "nb04_by_triangle"))
state.select(
    "key.key", F.length("value.groupState.blob").alias("state_bytes"), "partition_id"
).toPandas()

# %% [markdown]
# ## 4. State with a timeout: report a pair that went quiet
#
# `GroupStateTimeout.EventTimeTimeout`: a key's function sets a timeout timestamp in event time;
# when the **watermark** passes it and the key got no new ticks, Spark calls the function once more
# with `state.hasTimedOut` set. Here `chart_pair` is cut off half-way through the data (a filter on
# the stream) and the query reports it `quiet_after_s` seconds of event time later.


# %%
def quiet_pairs(key, frames, state):
    (pair,) = key
    if state.hasTimedOut:  # no tick for quiet_after_s, and the watermark has passed that point
        last_ms, n = state.get
        state.remove()
        yield pd.DataFrame(
            {"pair": [pair], "last_tick_ms": [last_ms], "ticks": [n], "event": ["quiet"]}
        )
        return
    last_ms, n = state.get if state.exists else (0, 0)
    for f in frames:
        last_ms, n = max(last_ms, int(f.ts_ms.max())), n + len(f)
    state.update((last_ms, n))
    state.setTimeoutTimestamp(last_ms + quiet_after_s * 1000)  # event time, in ms


cut = synthetic.start_ms + int(synthetic.duration_s * 500)  # half-way
feed = read_quotes(spark, settings, max_offsets_per_trigger=batch_ticks).where(
    (F.col("pair") != chart_pair) | (F.col("ts_ms") < cut)
)
quiet = (
    feed.withWatermark("ts", "10 seconds")
    .groupBy("pair")
    .applyInPandasWithState(
        quiet_pairs,
        "pair string, last_tick_ms long, ticks long, event string",
        "last_ms long, n long",
        "append",
        GroupStateTimeout.EventTimeTimeout,
    )
)
quiet_query, quiet_rows = run_to_memory(quiet, "nb04_quiet")
quiet_rows.assign(last_tick=pd.to_datetime(quiet_rows.last_tick_ms, unit="ms"))

# %% [markdown]
# ## 5. A pair's mid, its historical band, and the alerts on it
#
# The band is the `mid` bounds of each minute's hour of week (mean ± k·std); the rule does not judge
# the price level (a random walk drifts out of any band learnt from past weeks), but a person reads
# it. Markers: the window alerts (at the window start) and the tick alerts; shaded: the injected
# events on this pair.

# %%
tick_df = pd.DataFrame(
    [(q.ts_ms, q.mid) for q in ticks.quotes() if q.pair == chart_pair], columns=["ts_ms", "mid"]
)
tick_df["time"] = pd.to_datetime(tick_df.ts_ms, unit="ms")
band = (
    bounds.where((F.col("pair") == chart_pair) & (F.col("metric") == "mid"))
    .where(F.col("method") == "meanstd")
    .toPandas()
    .set_index("hour_of_week")
)
minute = tick_df.time.dt.floor("min")
how = ((tick_df.ts_ms // 3_600_000 + 72) % 168).astype(int)
tick_df["lo"], tick_df["hi"] = how.map(band.lo), how.map(band.hi)
fig = go.Figure()
fig.add_scatter(x=tick_df.time, y=tick_df.hi, line={"width": 0}, name="band hi", showlegend=False)
fig.add_scatter(
    x=tick_df.time,
    y=tick_df.lo,
    fill="tonexty",
    line={"width": 0},
    fillcolor="rgba(99,110,250,0.15)",
    name=f"historical band (mean ± {k:g}·std)",
)
fig.add_scatter(
    x=tick_df.time, y=tick_df.mid, mode="lines", name=f"{chart_pair} mid", line={"width": 1}
)
tick_hits = pair_alerts[pair_alerts.pair == chart_pair]
fig.add_scatter(
    x=pd.to_datetime(tick_hits.ts_ms, unit="ms"),
    y=tick_df.set_index("ts_ms").mid.reindex(tick_hits.ts_ms).values,
    mode="markers",
    marker={"symbol": "x", "size": 9, "color": "crimson"},
    name="tick alerts",
    text=tick_hits.detector + ": " + tick_hits.reason,
)
win_hits = window_alerts[window_alerts.pair == chart_pair]
fig.add_scatter(
    x=win_hits.ts,
    y=[tick_df.mid.max()] * len(win_hits),
    mode="markers",
    marker={"symbol": "triangle-down", "size": 10, "color": "darkorange"},
    name="window alerts (classic rule)",
    text=win_hits.reason,
)
for e in labels[labels.pair.str.contains(chart_pair, regex=False)].itertuples():
    fig.add_vrect(x0=e.start, x1=e.end, fillcolor="grey", opacity=0.2, line_width=0)
fig.update_layout(
    title=f"{chart_pair}: mid, historical band, alerts (grey: injected events)",
    height=450,
    hovermode="closest",
)
fig.show()

# %% [markdown]
# Which injected events were caught? (A caught event has an alert on one of its pairs within it.)


# %%
def ms(t):
    return t.astype("datetime64[ms]").astype("int64")


all_alerts = pd.concat(  # each alert as the span of time it speaks for: a tick, or a window
    [
        pair_alerts.assign(end_ms=pair_alerts.ts_ms)[["pair", "ts_ms", "end_ms"]],
        tri_alerts.assign(end_ms=tri_alerts.ts_ms)[["pair", "ts_ms", "end_ms"]],
        pd.DataFrame(
            {
                "pair": window_alerts.pair,
                "ts_ms": ms(window_alerts.window_start),
                "end_ms": ms(window_alerts.window_end),
            }
        ),
    ]
)


def caught(e) -> bool:
    hit = all_alerts[all_alerts.pair.isin(e.pair.split(";"))]
    return bool(((hit.ts_ms <= e.end_ts + 5000) & (hit.end_ms >= e.start_ts - 2000)).any())


pd.DataFrame([{"kind": e.kind, "pair": e.pair, "caught": caught(e)} for e in ticks.labels])

# %% [markdown]
# ## Exercises
#
# 1. **A narrower band.** Make the bounds with `k=3` instead of `k` and run the classic rule on a
#    *static* read of the same topic (`spark.read.format("kafka")`, the same parse, no streaming:
#    a static DataFrame ignores the watermark). How many window alerts now? Which metric gains most?
# 2. **When does a timeout fire?** In section 4 the quiet pair is reported `quiet_after_s` seconds
#    of event time after its last tick. What decides *when* (in processing terms) the report comes
#    out? Show, from `quiet_query.recentProgress`, the watermark of each micro-batch.
#
# The solutions are in the collapsed cells below (click to expand).

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution 1: the same functions on a static DataFrame (window_features ignores the watermark).
from fxwatch.stream.read import accepted, parse_records

static_quotes = accepted(
    parse_records(
        spark.read.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", settings.quotes_topic)
        .load()
    )
)
narrow = bounds_table(stats, k=3.0, method="both")
static_alerts = classic_rule(window_features(static_quotes), narrow).toPandas()
pd.DataFrame(
    {
        f"k={k:g}": window_alerts.groupby("detector").size(),
        "k=3": static_alerts.groupby("detector").size(),
    }
).fillna(0).astype(int)

# %% tags=["solution"] jupyter={"source_hidden": true}
# Solution 2: the report comes out in the first batch whose watermark passes the last tick +
# quiet_after_s; the watermark (max event time seen - 10 s) is only known after a batch ends.
marks = pd.DataFrame(
    [
        {
            "batch": p["batchId"],
            "rows": p["numInputRows"],
            "watermark": p.get("eventTime", {}).get("watermark"),
        }
        for p in quiet_query.recentProgress
    ]
)
marks
