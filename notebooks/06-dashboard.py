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
# # 06 — The dashboard, inline
#
# The Dash app of `lib/fxwatch/dashboard/` reads what the streaming job wrote to Cassandra and
# shows, for any pair found in `pair_status`:
#
# * the current **bid / ask / spread** and the age of the last tick;
# * the **price** (bid, ask, mid — full prices) with the windowed **running averages plotted at the
#   window end** (an average is only known when its window closes: drawn at the window start it
#   would seem to lead the price);
# * the **historical band** mean ± k·std of the statistics the detectors use (latest stats version,
#   the hour-of-week of each hour shown);
# * **alert markers** on the price and an alert table (detector, score, reason) with a per-detector
#   filter; a small **health** panel (last tick age per pair, query lag).
#
# It refreshes itself every few seconds (`dcc.Interval`); each refresh computes its own time range.
# The code is split by concern — `data.py` queries, `figures.py` draws DataFrames, `components.py`
# lays out, `app.py` wires — so this notebook only composes and runs.
#
# Standalone, the same app is `fxwatch dashboard` (http://127.0.0.1:8050/).

# %% tags=["parameters"]
keyspace: str = ""  # Cassandra keyspace to read (empty: FXWATCH_KEYSPACE, else "fxwatch")
seed_demo: bool = False  # True: seed demo_keyspace with a sample (last 45 min, 2 pairs), show it
demo_keyspace: str = "fxwatch_demo_dash"  # keyspace that seed_demo fills (never the production one)
range_key: str = "1h"  # time range of the static figures: 15m | 1h | 6h | 24h | 7d
dashboard_port: int = 8050  # port of the inline dashboard's server (bound to 127.0.0.1)
jupyter_mode: str = "inline"  # inline (output cell) | jupyterlab (Lab tab) | tab | external (link)
refresh_ms: int = 5000  # live refresh period of the dashboard, ms

# %%
from datetime import UTC, datetime

import requests
from dash import jupyter_dash

from fxwatch.config import Settings
from fxwatch.dashboard import CassandraSource, create_app, figures, load_snapshot, run_inline
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema, truncate_tables

settings = Settings.from_env()
if seed_demo:
    settings = settings.with_(keyspace=demo_keyspace)
elif keyspace:
    settings = settings.with_(keyspace=keyspace)
jupyter_dash.default_mode = (
    jupyter_mode  # Dash >= 3: Jupyter support is built in (no jupyter-dash package)
)
print(
    f"reading keyspace {settings.keyspace!r} at "
    f"{settings.cassandra_hosts}:{settings.cassandra_port}"
)

# %% [markdown]
# ## Optional: a sample to look at
#
# With `seed_demo=True` the notebook writes a deterministic sample — quotes every second, 1-minute
# trends, one injected spike with two alerts, and stats for the band — into its own keyspace.
# Otherwise it shows whatever the pipeline wrote (run `00-quickstart` or `make demo` first).

# %%
if seed_demo:
    from fxwatch.dashboard.sample import sample_frames, seed_cassandra

    init_schema(settings)
    cluster, session = connect(settings)
    try:
        truncate_tables(session, settings.keyspace)
        counts = seed_cassandra(
            session, settings.keyspace, sample_frames(datetime.now(UTC), minutes=45)
        )
    finally:
        cluster.shutdown()
    print("seeded", counts)

# %% [markdown]
# ## One snapshot, as static figures
#
# `load_snapshot` does exactly the reads of one dashboard refresh. The figures are the dashboard's
# own, built from the DataFrames it returns (they also render on GitHub or in an HTML export, where
# no Dash server runs).

# %%
source = CassandraSource(settings)
snap = load_snapshot(source, None, range_key=range_key, anchor="latest")
if snap.error:
    print(snap.error)
elif snap.empty:
    print(
        "No data yet: run `make demo` (or notebook 00-quickstart), "
        "or rerun this with seed_demo=True."
    )
else:
    print(
        f"pairs {snap.pairs}; showing {snap.pair} from {snap.start:%Y-%m-%d %H:%M} "
        f"to {snap.end:%H:%M} UTC: "
        f"{len(snap.quotes)} quotes, {len(snap.trends)} trend windows, {len(snap.alerts)} alerts "
        f"(read in {snap.query_ms:.0f} ms)"
    )
    figures.price_figure(
        snap.quotes, snap.trends, snap.alerts, snap.bands, snap.pair, snap.start, snap.end
    ).show()
    figures.spread_figure(
        snap.quotes, snap.trends, snap.bands, snap.pair, snap.start, snap.end
    ).show()

# %%
snap.alerts[["ts", "pair", "detector", "score", "reason"]].head(20) if not snap.empty else None

# %% [markdown]
# ## The live dashboard, inline
#
# `run_inline` calls `app.run(jupyter_mode=...)`: Dash serves the app from a background thread of
# this kernel and displays it in the output cell, so the cell returns at once (and under papermill,
# which has no frontend, nothing blocks). Re-running the cell replaces the server on the same port;
# `fxwatch.dashboard.stop_inline(port)` stops it.

# %%
app = create_app(settings, data_source=source, refresh_ms=refresh_ms)
url = run_inline(app, port=dashboard_port, mode=jupyter_mode)

# %%
# The server answers: the layout holds the charts and the refresh timer.
layout = requests.get(url + "_dash-layout", timeout=10).json()
assert '"Graph"' in str(layout).replace("'", '"') and '"Interval"' in str(layout).replace("'", '"')
print(f"dashboard serving at {url}")
