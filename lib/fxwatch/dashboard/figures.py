"""Plotly figures built from the DataFrames that `data.py` returns; nothing here queries."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from fxwatch.dashboard.data import hour_of_week, utc_naive

__all__ = [
    "PRICE_METRICS",
    "SPREAD_METRICS",
    "band_steps",
    "empty_figure",
    "pip_size",
    "price_figure",
    "spread_figure",
]

# Stats metrics drawn as bands on the price chart / the spread chart (first one present wins).
PRICE_METRICS = ("mid", "mid_avg", "price", "close")
SPREAD_METRICS = ("spread", "spread_avg")
# Like the classic rule (fxwatch.stream.window_alerts.bounds_table): stats of fewer windows give no
# band, and a scale never smaller than the metric's floor.
MIN_N = 5
try:
    from fxwatch.stream.window_alerts import MIN_SCALE
except ImportError:  # pragma: no cover - the streaming package is part of fxwatch
    MIN_SCALE = {"ticks": 1.0, "ret_std": 1e-7, "spread": 1e-7, "mid": 1e-6}
# At most this many points per quote line: a browser draws 20k-point SVG lines slowly.
MAX_POINTS = 4000

_AVG_COLOURS = ["#2ca02c", "#9467bd", "#8c564b", "#17becf"]
_ALERT_COLOURS = ["#d62728", "#ff7f0e", "#e377c2", "#bcbd22", "#7f7f7f", "#1f77b4"]


def pip_size(pair: str) -> float:
    """0.01 for yen pairs, 0.0001 otherwise (spreads are shown in pips)."""
    return 0.01 if "JPY" in (pair or "").upper() else 0.0001


def _base_layout(fig: go.Figure, title: str, height: int, uirevision: str | None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "xanchor": "right",
            "x": 1.0,
            "font": {"size": 11},
        },
        hovermode="x unified",
        uirevision=uirevision,  # keeps the user's zoom across live refreshes of the same pair
    )
    fig.update_xaxes(title_text="time (UTC)", showgrid=True)
    return fig


def empty_figure(message: str, height: int = 420) -> go.Figure:
    """A blank chart that says why it is blank and what to run."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": 14, "color": "#555"},
        align="center",
    )
    fig.update_layout(
        template="plotly_white", height=height, margin={"l": 20, "r": 20, "t": 20, "b": 20}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _thin(df: pd.DataFrame, limit: int = MAX_POINTS) -> pd.DataFrame:
    if len(df) <= limit:
        return df
    step = -(-len(df) // limit)
    idx = list(range(0, len(df), step))
    if idx[-1] != len(df) - 1:
        idx.append(len(df) - 1)  # always keep the latest tick
    return df.iloc[idx]


def _pick_metric(bands: pd.DataFrame, metrics: tuple[str, ...]) -> str | None:
    if bands is None or bands.empty or "metric" not in bands:
        return None
    present = set(bands["metric"].dropna())
    return next((m for m in metrics if m in present), None)


def band_steps(
    bands: pd.DataFrame, start: datetime, end: datetime, metric: str, scale: float = 1.0
) -> pd.DataFrame:
    """The band mean ± k·std as a step function over [start, end]: one step per hour-of-week.

    Returns columns x, lo, mean, hi (two rows per hour, at the hour's clipped start and end);
    hours without stats are left out (a gap in the band, not a made-up value).
    """
    rows = bands[(bands["metric"] == metric) & bands["mean"].notna() & bands["std"].notna()]
    if "n" in rows:
        rows = rows[rows["n"].fillna(0) >= MIN_N]  # the detectors ignore thinner statistics
    by_hour = {int(r.hour_of_week): r for r in rows.itertuples()}
    start, end = utc_naive(start), utc_naive(end)
    out: list[dict] = []
    t = start
    while t < end:
        nxt = min(t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1), end)
        r = by_hour.get(hour_of_week(t))
        if r is not None:
            k = float(r.k) if pd.notna(getattr(r, "k", None)) else 4.0
            std = max(float(r.std), MIN_SCALE.get(metric, 0.0))  # the detectors' scale floor
            for x in (t, nxt):
                out.append(
                    {
                        "x": x,
                        "lo": (r.mean - k * std) / scale,
                        "mean": r.mean / scale,
                        "hi": (r.mean + k * std) / scale,
                        "k": k,
                    }
                )
        else:
            out.append({"x": t, "lo": None, "mean": None, "hi": None, "k": None})
        t = nxt
    return pd.DataFrame(out, columns=["x", "lo", "mean", "hi", "k"])


def _add_band(fig: go.Figure, steps: pd.DataFrame, metric: str, unit: str = "") -> None:
    if steps.empty or steps["hi"].isna().all():
        return
    k = steps["k"].dropna().iloc[0]
    name = f"historical band: mean ± {k:g}·std of {metric}{unit}"
    edge = {"width": 0.8, "color": "rgba(110,110,110,0.45)", "dash": "dash"}
    fig.add_trace(
        go.Scatter(
            x=steps["x"],
            y=steps["lo"],
            mode="lines",
            line=edge,
            hoverinfo="skip",
            showlegend=False,
            legendgroup="band",
            connectgaps=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps["x"],
            y=steps["hi"],
            mode="lines",
            line=edge,
            fill="tonexty",
            fillcolor="rgba(120,120,120,0.10)",
            name=name,
            legendgroup="band",
            hoverinfo="skip",
            connectgaps=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps["x"],
            y=steps["mean"],
            mode="lines",
            name="historical mean",
            line={"color": "rgba(90,90,90,0.6)", "dash": "dot", "width": 1},
            legendgroup="band",
            connectgaps=False,
        )
    )


def _on_price(alerts: pd.DataFrame, q: pd.DataFrame | None, trends: pd.DataFrame | None):
    """The y of each alert (sorted by ts): the price line at its time.

    `value` means different things per detector (a price, a spread, a tick rate), so it is shown
    in the hover text instead. Without ticks (long ranges) the line is the shortest window's
    average.
    """
    ref = None
    if q is not None:
        ref = pd.DataFrame({"ts": q["ts"], "ref": (q["bid"] + q["ask"]) / 2})
    elif trends is not None and len(trends):
        shortest = trends[trends["window_len"] == trends["window_len"].min()]
        ref = pd.DataFrame({"ts": shortest["window_end"], "ref": shortest["mid_avg"]})
    if ref is not None and len(ref):
        ref = ref.dropna().sort_values("ts")
        return pd.merge_asof(alerts[["ts"]], ref, on="ts", direction="nearest")["ref"].values
    return alerts["value"] if "value" in alerts else None


def _add_incident(fig: go.Figure, incident: dict, evidence: pd.DataFrame, q, trends) -> None:
    """The selected incident: its span shaded, its alerts ringed on the price line."""
    key, severity = incident.get("key", ""), incident.get("severity", "")
    fig.add_vrect(
        x0=incident["start"],
        x1=max(incident["end"], incident["start"] + timedelta(seconds=2)),  # visible if instant
        fillcolor="rgba(214,39,40,0.10)",
        line_width=0,
        layer="below",
    )
    if evidence is None or not len(evidence):
        return
    e = evidence.sort_values("ts").copy()
    e["y"] = _on_price(e, q, trends)
    fig.add_trace(
        go.Scatter(
            x=e["ts"],
            y=e["y"],
            mode="markers",
            name=f"incident {key} ({severity}): evidence",
            marker={
                "symbol": "circle-open",
                "size": 20,
                "color": "#d62728",
                "line": {"width": 2.5},
            },
            customdata=e[["detector", "reason"]].values,
            hovertemplate="%{customdata[0]}: %{customdata[1]}<extra>evidence</extra>",
        )
    )


def price_figure(
    quotes: pd.DataFrame,
    trends: pd.DataFrame,
    alerts: pd.DataFrame,
    bands: pd.DataFrame | None = None,
    pair: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    incident: dict | None = None,
    evidence: pd.DataFrame | None = None,
) -> go.Figure:
    """Bid, ask and mid (full prices), windowed averages at their WINDOW END, bands and alerts;
    with `incident` (a row of data.INCIDENT_COLUMNS), its span and its `evidence` alerts."""
    fig = go.Figure()
    q = _thin(quotes.sort_values("ts")) if quotes is not None and len(quotes) else None
    if q is not None:
        fig.add_trace(
            go.Scatter(
                x=q["ts"],
                y=q["bid"],
                mode="lines",
                name="bid",
                line={"color": "#6baed6", "width": 1},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=q["ts"],
                y=q["ask"],
                mode="lines",
                name="ask",
                line={"color": "#fd8d3c", "width": 1},
            )
        )
        mid = q["mid"] if "mid" in q and q["mid"].notna().all() else (q["bid"] + q["ask"]) / 2
        fig.add_trace(
            go.Scatter(
                x=q["ts"], y=mid, mode="lines", name="mid", line={"color": "#08306b", "width": 1.6}
            )
        )
    if trends is not None and len(trends):
        for i, (wl, g) in enumerate(
            trends.sort_values("window_end").groupby("window_len", sort=True)
        ):
            # A window's average is known only when the window closes: plot it at window_end,
            # or the line would seem to lead the price by one window.
            fig.add_trace(
                go.Scatter(
                    x=g["window_end"],
                    y=g["mid_avg"],
                    mode="lines+markers",
                    name=f"avg {wl} (window end)",
                    line={"color": _AVG_COLOURS[i % len(_AVG_COLOURS)], "width": 2},
                    marker={"size": 4},
                    customdata=g[["window_start", "ticks"]].astype(str).values
                    if "ticks" in g
                    else None,
                    hovertemplate="avg %{y:.6g}<br>window %{customdata[0]} → %{x}"
                    "<br>%{customdata[1]} ticks"
                    "<extra>avg " + str(wl) + "</extra>",
                )
            )
    metric = _pick_metric(bands, PRICE_METRICS)
    if metric and start is not None and end is not None:
        _add_band(fig, band_steps(bands, start, end, metric), metric)
    if alerts is not None and len(alerts):
        a = alerts.sort_values("ts").copy()
        a["y"] = _on_price(a, q, trends)
        for i, (det, g) in enumerate(a.groupby("detector", sort=True)):
            fig.add_trace(
                go.Scatter(
                    x=g["ts"],
                    y=g["y"],
                    mode="markers",
                    name=f"alert: {det}",
                    marker={
                        "symbol": "x",
                        "size": 11,
                        "color": _ALERT_COLOURS[i % len(_ALERT_COLOURS)],
                        "line": {"width": 1},
                    },
                    customdata=g[["score", "reason", "value"]].values
                    if "value" in g
                    else g[["score", "reason"]].values,
                    hovertemplate="%{customdata[1]}<br>score %{customdata[0]:.2f}<extra>"
                    + str(det)
                    + "</extra>",
                )
            )
    if incident is not None:
        _add_incident(fig, incident, evidence, q, trends)
    title = f"{pair} price" if pair else "price"
    _base_layout(fig, title, 440, uirevision=pair)
    fig.update_yaxes(title_text="price", tickformat=".5~f" if "JPY" not in pair.upper() else ".3~f")
    if start is not None and end is not None:
        fig.update_xaxes(range=[start, end])
    return fig


def spread_figure(
    quotes: pd.DataFrame,
    trends: pd.DataFrame | None = None,
    bands: pd.DataFrame | None = None,
    pair: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> go.Figure:
    """Spread (ask - bid) in pips, tick by tick, with the windowed average spread at window end."""
    pip = pip_size(pair)
    fig = go.Figure()
    if quotes is not None and len(quotes):
        q = _thin(quotes.sort_values("ts"))
        spread = q["spread"] if "spread" in q and q["spread"].notna().all() else q["ask"] - q["bid"]
        fig.add_trace(
            go.Scatter(
                x=q["ts"],
                y=spread / pip,
                mode="lines",
                name="spread",
                line={"color": "#756bb1", "width": 1},
            )
        )
    if trends is not None and len(trends) and "spread_avg" in trends:
        for wl, g in trends.sort_values("window_end").groupby("window_len", sort=True):
            fig.add_trace(
                go.Scatter(
                    x=g["window_end"],
                    y=g["spread_avg"] / pip,
                    mode="lines",
                    name=f"avg spread {wl} (window end)",
                    line={"width": 1.5},
                )
            )
    metric = _pick_metric(bands, SPREAD_METRICS)
    if metric and start is not None and end is not None:
        _add_band(fig, band_steps(bands, start, end, metric, scale=pip), metric, " (pips)")
    _base_layout(fig, f"{pair} spread (pips)" if pair else "spread (pips)", 260, uirevision=pair)
    fig.update_yaxes(title_text="pips", rangemode="tozero")
    if start is not None and end is not None:
        fig.update_xaxes(range=[start, end])
    return fig
