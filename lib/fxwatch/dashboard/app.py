"""The Dash app: `create_app(settings, data_source=None)` wires layout, data and figures
together."""

from __future__ import annotations

import socket
from datetime import datetime

import dash
import pandas as pd
from dash import ALL, Input, Output, State

from fxwatch.config import Settings
from fxwatch.dashboard import components, figures
from fxwatch.dashboard.components import IDS
from fxwatch.dashboard.data import CassandraSource, DataSource, Snapshot, load_snapshot, utc_naive
from fxwatch.errors import FxwatchError

__all__ = ["Dashboard", "create_app", "format_age", "run_inline", "serve", "stop_inline"]

# A pair whose last tick is older than this is shown red in the health panel.
STALE_AFTER_S = 300.0


def format_age(seconds: float | None) -> str:
    """A short human age: '4 s', '12 min', '3.5 h', '410 d'."""
    if seconds is None or pd.isna(seconds):
        return "—"
    s = max(float(seconds), 0.0)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} d"


class Dashboard:
    """The dashboard's behaviour, independent of Dash: tests call `refresh` directly."""

    # Order of the refresh callback's outputs (the keys of the dict `view` returns).
    OUTPUTS = [
        (IDS.pair, "options"),
        (IDS.pair, "value"),
        (IDS.cards, "children"),
        (IDS.price, "figure"),
        (IDS.spread, "figure"),
        (IDS.incidents, "children"),
        (IDS.incident_count, "children"),
        (IDS.evidence_title, "children"),
        (IDS.evidence, "children"),
        (IDS.alerts, "children"),
        (IDS.alert_count, "children"),
        (IDS.detectors, "options"),
        (IDS.detectors, "value"),
        (IDS.health, "children"),
        (IDS.health_note, "children"),
        (IDS.empty, "children"),
        (IDS.empty, "style"),
        (IDS.refreshed, "children"),
    ]

    def __init__(self, source: DataSource):
        self.source = source

    def refresh(
        self,
        n_intervals: int | None,
        pair: str | None,
        range_key: str | None,
        anchor: str | None,
        selected: list[str] | None,
        known: list | None,
        now: datetime | None = None,
        incident: str | None = None,
    ) -> dict:
        """Read a fresh snapshot (its time range computed now) and build every dynamic part;
        `incident` is the id of the incident clicked (its evidence is shown and marked).

        Returns {(component id, property): value} for the callback's outputs, plus the plain rows
        behind the tables under "incident_rows", "evidence_rows", "alert_rows" and "health_rows".
        """
        snap = load_snapshot(
            self.source, pair, range_key or "1h", anchor or "latest", now=now, incident=incident
        )
        return self.view(snap, selected, known)

    @staticmethod
    def select_incident(clicked: str | None, n_clicks: int | None, current: str | None):
        """The incident selection after a click on a row: that incident, or none when it was
        already selected; a row (re)drawn without a click changes nothing (`dash.no_update`)."""
        if not clicked or not n_clicks:
            return dash.no_update
        return None if clicked == current else clicked

    def _incidents(self, snap: Snapshot, out: dict) -> None:
        """The incident list (newest first), and the selected incident's evidence."""
        rows = [
            {
                "incident_id": r.incident_id,
                "start": f"{r.start:%Y-%m-%d %H:%M:%S}",
                "key": r.key,
                "severity": r.severity,
                "kinds": ", ".join(r.kinds),
                "n_alerts": int(r.n_alerts),
                "root_cause": r.root_cause,
            }
            for r in snap.incidents.itertuples()
        ]
        chosen = snap.incident["incident_id"] if snap.incident else None
        out["incident_rows"] = rows
        out[(IDS.incidents, "children")] = components.incident_table(
            rows, chosen, f"no incidents for {snap.pair} in this range"
        )
        counts = snap.incidents["severity"].value_counts() if rows else {}
        by_severity = ", ".join(
            f"{counts[s]} {s}" for s in ("high", "medium", "low") if s in counts
        )
        out[(IDS.incident_count, "children")] = (
            f"{len(rows)} for {snap.pair} and its triangles in range ({by_severity}) · "
            "click one for its evidence"
            if rows
            else ""
        )
        evidence = [_alert_row(r) for r in snap.evidence.itertuples()] if chosen else []
        out["evidence_rows"] = evidence
        out[(IDS.evidence_title, "children")] = (
            f"Evidence of the {snap.incident['severity']} incident on {snap.incident['key']} "
            f"({len(evidence)} alerts, ringed on the price chart)"
            if chosen
            else ""
        )
        out[(IDS.evidence, "children")] = (
            components.table(components.ALERT_COLUMNS, evidence, "its alerts are not stored")
            if chosen
            else []
        )

    def view(self, snap: Snapshot, selected: list[str] | None, known: list | None) -> dict:
        out: dict = {}
        out[(IDS.pair, "options")] = [{"label": p, "value": p} for p in snap.pairs]
        out[(IDS.pair, "value")] = snap.pair
        out[(IDS.refreshed, "children")] = f"refreshed {snap.now:%Y-%m-%d %H:%M:%S} UTC"

        # Health: last tick age per pair, and how long this refresh's reads took.
        health = []
        for r in snap.status.itertuples():
            age = (snap.now - utc_naive(r.last_ts)).total_seconds() if pd.notna(r.last_ts) else None
            health.append(
                {
                    "pair": r.pair,
                    "last_ts": f"{r.last_ts:%Y-%m-%d %H:%M:%S}" if pd.notna(r.last_ts) else "—",
                    "age": format_age(age),
                    "ticks_seen": int(r.ticks_seen) if pd.notna(r.ticks_seen) else None,
                    "_alarm": age is not None and age > STALE_AFTER_S,
                }
            )
        out["health_rows"] = health
        out[(IDS.health, "children")] = components.table(
            components.HEALTH_COLUMNS, health, "no pairs yet"
        )
        out[(IDS.health_note, "children")] = (
            f"query lag {snap.query_ms:.0f} ms · {len(snap.pairs)} pair(s) · "
            f"{self.source.describe()}"
        )

        message = snap.error or (components.EMPTY_HINT if snap.empty else None)
        out[(IDS.empty, "children")], out[(IDS.empty, "style")] = components.empty_state(
            message, error=snap.error is not None and snap.empty
        )

        if snap.empty:
            blank = figures.empty_figure(
                "waiting for quotes — see the note above"
                if not snap.error
                else "no connection — see the note above"
            )
            out[(IDS.cards, "children")] = components.quote_cards(None, None, None, "—", "")
            out[(IDS.price, "figure")] = blank
            out[(IDS.spread, "figure")] = figures.empty_figure("", height=160)
            out["incident_rows"] = out["evidence_rows"] = []
            out[(IDS.incidents, "children")] = components.incident_table(
                [], None, "no incidents yet"
            )
            out[(IDS.incident_count, "children")] = ""
            out[(IDS.evidence_title, "children")] = ""
            out[(IDS.evidence, "children")] = []
            out["alert_rows"] = []
            out[(IDS.alerts, "children")] = components.table(
                components.ALERT_COLUMNS, [], "no alerts yet"
            )
            out[(IDS.alert_count, "children")] = ""
            out[(IDS.detectors, "options")] = []
            out[(IDS.detectors, "value")] = []
            return out

        # Current quote of the selected pair, from pair_status (the latest tick written).
        row = snap.status[snap.status["pair"] == snap.pair].iloc[0]
        bid = float(row["bid"]) if pd.notna(row["bid"]) else None
        ask = float(row["ask"]) if pd.notna(row["ask"]) else None
        spread = (
            (ask - bid) / figures.pip_size(snap.pair)
            if bid is not None and ask is not None
            else None
        )
        last = utc_naive(row["last_ts"]) if pd.notna(row["last_ts"]) else None
        age = format_age((snap.now - last).total_seconds()) + " ago" if last else ""
        out[(IDS.cards, "children")] = components.quote_cards(
            bid,
            ask,
            spread,
            f"{last:%Y-%m-%d %H:%M:%S}" if last else "—",
            age,
            digits=3 if "JPY" in snap.pair.upper() else 5,
        )

        # Detector filter: every detector seen is offered; newly seen ones start selected.
        detectors = sorted(set(snap.alerts["detector"].dropna())) if len(snap.alerts) else []
        known_values = {o["value"] if isinstance(o, dict) else o for o in (known or [])}
        chosen = set(selected if selected is not None else [])
        chosen |= {d for d in detectors if d not in known_values}
        chosen &= set(detectors)
        out[(IDS.detectors, "options")] = [{"label": d, "value": d} for d in detectors]
        out[(IDS.detectors, "value")] = [d for d in detectors if d in chosen]
        alerts = (
            snap.alerts[snap.alerts["detector"].isin(chosen)] if len(snap.alerts) else snap.alerts
        )

        self._incidents(snap, out)
        table = alerts.head(500)
        out["alert_rows"] = [_alert_row(r) for r in table.itertuples()]
        out[(IDS.alerts, "children")] = components.table(
            components.ALERT_COLUMNS, out["alert_rows"], f"no alerts for {snap.pair} in this range"
        )
        out[(IDS.alert_count, "children")] = (
            f"{len(alerts)} of {len(snap.alerts)} alert(s) for {snap.pair} in range"
            if len(snap.alerts)
            else f"no alerts for {snap.pair} in this range"
        )

        if len(snap.quotes) or len(snap.trends):
            out[(IDS.price, "figure")] = figures.price_figure(
                snap.quotes,
                snap.trends,
                alerts,
                snap.bands,
                snap.pair,
                snap.start,
                snap.end,
                incident=snap.incident,
                evidence=snap.evidence,
            )
            out[(IDS.spread, "figure")] = figures.spread_figure(
                snap.quotes, snap.trends, snap.bands, snap.pair, snap.start, snap.end
            )
        else:
            msg = (
                f"No {snap.pair} quotes between {snap.start:%Y-%m-%d %H:%M} and "
                f"{snap.end:%H:%M} UTC: "
                "choose a longer range, or anchor it at the latest tick"
            )
            out[(IDS.price, "figure")] = figures.empty_figure(msg)
            out[(IDS.spread, "figure")] = figures.empty_figure("", height=200)
        return out


def _alert_row(r) -> dict:
    """A row of an alert table (all alerts, or an incident's evidence)."""
    return {
        "ts": f"{r.ts:%Y-%m-%d %H:%M:%S.%f}"[:-3],
        "pair": r.pair,
        "detector": r.detector,
        "score": None if pd.isna(r.score) else float(r.score),
        "reason": r.reason or "",
    }


def create_app(
    settings: Settings | None = None,
    data_source: DataSource | None = None,
    refresh_ms: int = 5000,
    **dash_kwargs,
) -> dash.Dash:
    """The dashboard app. `data_source` defaults to Cassandra as `settings` describe it."""
    settings = settings or Settings.from_env()
    source = data_source if data_source is not None else CassandraSource(settings)
    board = Dashboard(source)
    app = dash.Dash(__name__, title="fxwatch", update_title=None, **dash_kwargs)
    app.layout = components.build_layout(source.describe(), refresh_ms=refresh_ms)

    @app.callback(
        [Output(cid, prop) for cid, prop in Dashboard.OUTPUTS],
        Input(IDS.interval, "n_intervals"),
        Input(IDS.pair, "value"),
        Input(IDS.range, "value"),
        Input(IDS.anchor, "value"),
        Input(IDS.detectors, "value"),
        Input(IDS.selected_incident, "data"),
        State(IDS.detectors, "options"),
    )
    def refresh(n_intervals, pair, range_key, anchor, selected, incident, known):
        out = board.refresh(
            n_intervals, pair, range_key, anchor, selected, known, incident=incident
        )
        return [out[key] for key in Dashboard.OUTPUTS]

    @app.callback(
        Output(IDS.selected_incident, "data"),
        Input({"type": IDS.incident_row, "index": ALL}, "n_clicks"),
        State(IDS.selected_incident, "data"),
        prevent_initial_call=True,
    )
    def select_incident(_clicks, current):
        trigger = dash.ctx.triggered_id
        clicked = trigger["index"] if isinstance(trigger, dict) else None
        n_clicks = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
        return Dashboard.select_incident(clicked, n_clicks, current)

    app.fxwatch_board = board  # type: ignore[attr-defined]  # for tests and notebooks
    return app


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise FxwatchError(
                f"port {port} on {host} is in use: stop what holds it or pass another, "
                f"e.g. --port {port + 1}"
            ) from None


def serve(
    settings: Settings | None = None,
    host: str = "127.0.0.1",
    port: int = 8050,
    refresh_ms: int = 5000,
    debug: bool = False,
) -> None:
    """Run the dashboard standalone (blocks until interrupted)."""
    _check_port(host, port)
    app = create_app(settings, refresh_ms=refresh_ms)
    if not debug:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per refresh request
    print(f"fxwatch dashboard on http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    app.run(host=host, port=port, debug=debug)


def run_inline(
    app: dash.Dash,
    port: int = 8050,
    mode: str = "inline",
    height: int = 1100,
    host: str = "127.0.0.1",
) -> str:
    """Show the app in a notebook output cell (Dash's built-in Jupyter support); returns its URL.

    The server runs in a background thread of the kernel, so the cell returns at once (also under
    papermill, where there is no frontend to display the iframe). Calling it again on the same port
    replaces the previous server.
    """
    from dash import jupyter_dash

    jupyter_dash.default_mode = mode
    if (host, port) not in jupyter_dash._servers:
        _check_port(host, port)
    app.run(jupyter_mode=mode, host=host, port=port, jupyter_height=height)
    return f"http://{host}:{port}/"


def stop_inline(port: int = 8050, host: str = "127.0.0.1") -> bool:
    """Stop a server that `run_inline` started; True if one was running."""
    from dash import jupyter_dash

    server = jupyter_dash._servers.pop((host, port), None)
    if server is None:
        return False
    server.shutdown()
    return True
