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
# # 01 — Ingestion: where quotes come from
#
# fxwatch reads quotes from three kinds of sources, all in `lib/fxwatch/sources/`, and all yielding
# the same two record types of `fxwatch.schema`:
#
# * a **`Quote`** — pair (`EUR/USD`), event time (UTC epoch ms), bid, ask, source, optional
#   low/high/open;
# * a **`BadLine`** — the raw text of a line that could not be used and the *reason*
#   (`bad_price: …`, `field_count: …`), which the producer sends to the dead-letter topic instead
#   of dropping it.
#
# Sources:
#
# 1. **TrueFX** (`sources/truefx.py`): the live Web API. With `TRUEFX_USER`/`TRUEFX_PASSWORD` in the
#    environment it opens a session and polls incremental updates; without them it polls the public
#    snapshot. It backs off exponentially on errors and never logs credentials.
# 2. **Replay** (`sources/replay.py`): TrueFX history files, QuantConnect Lean tick files and plain
#    `pair,ts,bid,ask` CSV, merged in event-time order, at any speed.
# 3. **Synthetic** (`sources/synthetic.py`): several pairs with consistent cross rates and injected,
#    labelled manipulation events — the ground truth for scoring detectors.
#
# Crossed or locked quotes (bid ≥ ask) are *valid data*: they are kept and flagged later by
# detectors.

# %% tags=["parameters"]
samples_dir: str = ""  # folder of the sample tick files (empty: data/samples of the checkout)
truefx_seconds: float = 3.0  # how long to poll TrueFX when credentials are set
synthetic_hours: float = 1.0  # length of the synthetic series to generate
synthetic_seed: int = 7  # random seed of the synthetic generator
synthetic_rate: float = 2.0  # mean ticks per second per pair
plot_pair: str = ""  # pair to plot from the synthetic series (empty: the one with most events)

# %%
import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from fxwatch.config import Settings
from fxwatch.schema import BadLine, Quote
from fxwatch.sources.replay import read_file, read_files
from fxwatch.sources.synthetic import SyntheticConfig, generate
from fxwatch.sources.truefx import TrueFXClient

settings = Settings.from_env()
samples = Path(samples_dir) if samples_dir else settings.samples_dir
have_truefx = bool(os.environ.get("TRUEFX_USER"))


def frame(items) -> pd.DataFrame:
    """Quotes as a DataFrame with a UTC time column."""
    df = pd.DataFrame(
        [
            {"pair": q.pair, "ts": q.ts_ms, "bid": q.bid, "ask": q.ask, "src": q.source}
            for q in items
            if isinstance(q, Quote)
        ]
    )
    if not df.empty:
        df["time"] = pd.to_datetime(df["ts"], unit="ms", utc=True)
    return df


# %% [markdown]
# ## TrueFX
#
# Only when `TRUEFX_USER` is set in the environment (never in a parameter: executed notebooks are
# kept as an audit trail). Otherwise this notebook says so and goes on with the replay.

# %%
if have_truefx:
    client = TrueFXClient.from_settings(settings, interval_s=1.0)
    live = list(client.stream(duration_s=truefx_seconds))
    print(f"{client!r}: {len(live)} items")
    display(frame(live).tail(10))  # noqa: F821
else:
    print("TRUEFX_USER is not set: skipping the live TrueFX poll, replaying recorded data instead.")

# %% [markdown]
# ## Replay: the ECB press conference, 2014-05-08, two venues
#
# Half an hour of real EUR/USD ticks from OANDA (UTC) and FXCM (UTC−05:00, fixed) in Lean's tick
# format. The reader takes the pair, the date and the venue's time zone from the path, and the two
# files are merged in event-time order. Note FXCM's many locked and crossed quotes.

# %%
lean_files = sorted(samples.glob("lean/*/tick/eurusd/*.csv"))
real = frame(read_files(lean_files))
real["crossed"] = real["bid"] >= real["ask"]
real.groupby("src").agg(
    ticks=("ts", "size"),
    crossed_or_locked=("crossed", "sum"),
    first=("time", "min"),
    last=("time", "max"),
)

# %%
fig = go.Figure()
for src, g in real.groupby("src"):
    mid = (
        ((g["bid"] + g["ask"]) / 2).set_axis(g["time"]).resample("1s").last().dropna()
    )  # 1 s is enough here
    fig.add_scatter(x=mid.index, y=mid.values, mode="lines", name=src)
fig.update_layout(title="EUR/USD mid around the ECB press conference (2014-05-08, UTC)", height=380)
fig

# %% [markdown]
# ## Bad lines are kept, with a reason

# %%
items = list(read_file(samples / "bad_lines.csv"))
pd.DataFrame([{"raw": i.raw, "reason": i.reason} for i in items if isinstance(i, BadLine)])

# %% [markdown]
# ## Synthetic day with labelled events
#
# Each currency has a latent log-price in USD; every pair is the difference of two of them, so
# EUR/JPY ≈ EUR/USD × USD/JPY holds by construction. Ticks arrive as a Poisson process whose rate
# follows the trading day. Injected events (the labels): bad-tick spikes, spread blow-outs, frozen
# quotes, cross-rate breaks, ramp-and-revert into the 16:00 London fix, crossed quotes, quote
# bursts. News jumps are *legitimate* moves (all pairs of a currency move together and stay):
# they are not labels, a good detector leaves them alone.

# %%
result = generate(
    SyntheticConfig(
        start_ms=1_705_332_600_000,  # 2024-01-15 15:30 UTC: covers the London fix
        duration_s=synthetic_hours * 3600,
        rate=synthetic_rate,
        seed=synthetic_seed,
    )
)
labels = pd.DataFrame([e.__dict__ for e in result.labels + result.legit])
labels["start"] = pd.to_datetime(labels["start_ts"], unit="ms", utc=True)
print(f"{len(result)} ticks of {', '.join(result.pairs)}")
labels[["event_id", "kind", "pair", "start", "params"]]

# %%
syn = frame(result.quotes())
plot_pair = plot_pair or pd.Series([p for e in result.labels for p in e.pair.split(";")]).mode()[0]
g = syn[syn["pair"] == plot_pair]
fig = go.Figure()
fig.add_scatter(x=g["time"], y=g["bid"], mode="lines", name="bid", line={"width": 1})
fig.add_scatter(x=g["time"], y=g["ask"], mode="lines", name="ask", line={"width": 1})
for e in result.labels + result.legit:
    if plot_pair in e.pair.split(";"):
        fig.add_vrect(
            x0=pd.to_datetime(e.start_ts - 2000, unit="ms", utc=True),
            x1=pd.to_datetime(e.end_ts + 2000, unit="ms", utc=True),
            fillcolor="green" if e.kind == "news_jump" else "red",
            opacity=0.2,
            line_width=0,
            annotation_text=e.kind,
            annotation_position="top left",
        )
fig.update_layout(
    title=f"Synthetic {plot_pair}: labelled events (red), legitimate news jumps (green)", height=420
)
fig
