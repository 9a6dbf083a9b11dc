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
# # 05 — Historical statistics (the daily production job)
#
# The streaming anomaly rule compares each closed 1-minute window of a pair — its log-return
# volatility, mean spread, tick count and price level — with what is normal **for that pair at
# that hour of the week** (FX liquidity follows the sessions: Tokyo, London, New York, the weekend).
# This job computes that normal from stored history:
#
# 0. compact the finished hours of the lookback in the tick store: the stream writes one chunk
#    per pair and minute (1 440 a day), a reader of history pays per chunk, so every hour that
#    ended over 24 h ago becomes one chunk (`fxwatch store compact` does the same for any range);
# 1. read the `lookback_days` days before `as_of` from the tick store (Cassandra
#    `fxwatch.quote_chunks`: compressed chunks of a pair's ticks), one (pair, day)
#    partition per query on the Spark executors (a bounded read: no full scan). Each chunk keeps,
#    beside its ticks, one row per minute of them (ticks, mean mid, mean spread, std of the tick
#    log returns — written with the ticks, in the same Cassandra row), and only those are read:
#    Spark gets a row per minute, and no tick is decoded;
# 2. complete the 1-minute windows of each pair **to the full minute grid**: a minute without
#    ticks is a row with `ticks = 0`, so gaps lower the tick-count statistics instead of
#    disappearing;
# 3. per pair, hour-of-week (0 = Monday 00h UTC) and metric: n, mean, std, median, MAD, p01, p99;
# 4. write them as a new **version** to `fxwatch.stats`, then announce it in
#    `fxwatch.stats_versions`. The running stream checks for a newer version every few seconds and
#    swaps its bounds.
#
# Production: `fxwatch job stats --date 2026-11-25` runs this notebook with papermill and keeps the
# executed copy in `runs/stats/<date>/`. Credentials come from the environment, never parameters.

# %% tags=["parameters"]
as_of: str = "2026-11-25"  # UTC day the stats are valid from (history: the lookback days before it)
lookback_days: int = 28  # days of history to learn from
k: float = 4.0  # bound half-width in std (or 1.4826·MAD) units, stored with the version
keyspace: str = "fxwatch"  # Cassandra keyspace to read quotes from and write stats to
pairs: str = ""  # comma-separated pairs like EUR/USD,USD/JPY (empty: every pair in pair_status)
write: bool = True  # False: compute and show only
compact: bool = True  # compact the lookback's hours that ended over 24 h ago before reading
heatmap_pair: str = ""  # pair whose statistics the heatmaps show (empty: the first one)

# %%
import time

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.schema import pair_problem
from fxwatch.stats.compute import as_of_range
from fxwatch.stats.job import stats_from_store
from fxwatch.stats.spark_io import write_stats
from fxwatch.stream.session import get_spark

settings = Settings.from_env().with_(keyspace=keyspace)
start_ms, end_ms = as_of_range(as_of, lookback_days)
pair_list = [p.strip() for p in pairs.split(",") if p.strip()] or None
for p in pair_list or ():
    if pair_problem(p):
        raise FxwatchError(f"parameter pairs: {pair_problem(p)}")
spark = get_spark(settings, app_name="fxwatch-stats")
print(
    f"history {time.strftime('%Y-%m-%d', time.gmtime(start_ms / 1000))} .. {as_of} (exclusive), "
    f"pairs: {pair_list or 'all seen'}"
)

# %% [markdown]
# ## Compact the finished hours of the lookback
#
# Safe to repeat and to stop: an hour chunk is written before the minute chunks it replaces are
# deleted, and readers skip a chunk an earlier one covers. Hours that ended less than 24 h ago are
# left alone: a stream may still be writing into them.

# %%
from fxwatch.store.session import process_session
from fxwatch.store.ticks import compact_store, stored_days

if compact:
    t0 = time.perf_counter()
    before_ms = min(end_ms, int(time.time() * 1000) - 86_400_000)
    session = process_session(settings)
    todo = stored_days(session, keyspace, before_ms, pair_list, since_ms=start_ms)
    done = compact_store(session, keyspace, before_ms, todo)
    print(
        f"compacted {done['chunks']:,} minute chunks into {done['hours']:,} hour chunks "
        f"({done['ticks']:,} ticks) in {done['days']} pair-days, {time.perf_counter() - t0:.1f} s"
    )

# %% [markdown]
# ## Read the history (bounded, partition by partition) as 1-minute rows

# %%
t0 = time.perf_counter()
minutes, stats = stats_from_store(spark, settings, as_of, lookback_days, pair_list)
minutes = minutes.cache()  # `stats` is planned on it: computed from the cache below
n_minutes, n_quotes = minutes.selectExpr("count(*)", "coalesce(sum(ticks), 0)").first()
read_s = time.perf_counter() - t0
print(
    f"{n_quotes:,} quotes read in {read_s:.1f} s ({n_quotes / max(read_s, 1e-9):,.0f} ticks/s) "
    f"as {n_minutes:,} 1-minute rows"
)
if n_quotes == 0:
    raise FxwatchError(
        f"no quotes in {keyspace}.quote_chunks for the {lookback_days} days before {as_of}: "
        "run the stream first (`fxwatch stream run`) or pick another --date"
    )

# %% [markdown]
# ## Statistics per pair × hour-of-week × metric

# %%
t0 = time.perf_counter()
stats = stats.cache()
n_stats = stats.count()
print(f"{n_stats:,} stats rows in {time.perf_counter() - t0:.1f} s")
stats.orderBy("pair", "metric", "hour_of_week").limit(12).toPandas()

# %% [markdown]
# ## The statistics per hour of week, as a picture
#
# One heatmap per metric: rows are days (Monday first), columns hours (UTC); a cell is the mean of
# that metric over the 1-minute windows of that hour in the lookback. The FX week shows up in them:
# the Asian, London and New York sessions, the quiet weekend. Blank cells had no history.

# %%
import numpy as np
import plotly.express as px

frame = stats.select("pair", "hour_of_week", "metric", "mean", "n").toPandas()
shown = heatmap_pair or (sorted(frame.pair.unique())[0] if len(frame) else "")
days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
for metric in ("ticks", "spread", "ret_std"):
    one = frame[(frame.pair == shown) & (frame.metric == metric)]
    grid = np.full((7, 24), np.nan)
    how = one.hour_of_week.to_numpy()
    grid[how // 24, how % 24] = one["mean"].to_numpy()
    px.imshow(
        grid,
        x=[f"{h:02d}h" for h in range(24)],
        y=days,
        aspect="auto",
        color_continuous_scale="Viridis",
        labels={"color": f"mean {metric}"},
        title=f"{shown}: mean {metric} per 1-minute window, by hour of week (UTC)",
    ).update_layout(height=300, margin={"t": 40, "b": 20}).show()

# %% [markdown]
# ## Write the version (stats rows first, then the announcement the stream watches)

# %%
version = write_stats(stats, settings, as_of, lookback_days, k) if write else None
print(f"version {version} written" if version else "not written (write=False)")
