"""Layout pieces of the dashboard: controls, quote cards, the incident list and its evidence,
charts, the alert table, the health panel."""

from __future__ import annotations

from dash import dcc, html

from fxwatch.dashboard.data import ANCHORS, RANGE_LABELS

__all__ = [
    "ALERT_COLUMNS",
    "HEALTH_COLUMNS",
    "INCIDENT_COLUMNS",
    "IDS",
    "EMPTY_HINT",
    "build_layout",
    "empty_state",
    "incident_table",
    "quote_cards",
    "table",
]


class IDS:
    """Component ids, in one place for app.py and the tests."""

    interval = "refresh-interval"
    pair = "pair-select"
    range = "range-select"
    anchor = "anchor-select"
    detectors = "detector-filter"
    cards = "quote-cards"
    price = "price-graph"
    spread = "spread-graph"
    alerts = "alert-table"
    alert_count = "alert-count"
    incidents = "incident-table"
    incident_count = "incident-count"
    incident_row = "incident-row"  # pattern-matching id type: {"type": incident_row, "index": id}
    selected_incident = "selected-incident"  # dcc.Store: the incident id clicked, or None
    evidence = "evidence-table"
    evidence_title = "evidence-title"
    health = "health-table"
    health_note = "health-note"
    empty = "empty-state"
    refreshed = "last-refresh"


EMPTY_HINT = (
    "No quotes yet. Run `make demo` for the bundled sample, or feed the pipeline yourself: "
    "`fxwatch produce …` to publish quotes, then `fxwatch stream run --until-idle` "
    "to write them here."
)

_CARD = {
    "border": "1px solid #e3e3e3",
    "borderRadius": "6px",
    "padding": "8px 14px",
    "minWidth": "130px",
    "background": "#fafafa",
}
_LABEL = {
    "fontSize": "11px",
    "color": "#666",
    "textTransform": "uppercase",
    "letterSpacing": "0.04em",
}
_VALUE = {"fontSize": "20px", "fontWeight": "600", "fontFamily": "monospace"}
_SECTION = {"marginTop": "14px"}
_CELL = {
    "padding": "4px 10px",
    "borderBottom": "1px solid #eee",
    "textAlign": "left",
    "verticalAlign": "top",
}
_HEAD = dict(_CELL, fontWeight="600", background="#f3f3f3", borderBottom="1px solid #ddd")

ALERT_COLUMNS = [
    ("ts", "time (UTC)"),
    ("pair", "pair"),
    ("detector", "detector"),
    ("score", "score"),
    ("reason", "reason"),
]
INCIDENT_COLUMNS = [
    ("start", "time (UTC)"),
    ("key", "pair / triangle"),
    ("severity", "severity"),
    ("kinds", "evidence"),
    ("n_alerts", "alerts"),
    ("root_cause", "root cause"),
]
_SEVERITY_COLOUR = {"high": "#b71c1c", "medium": "#a15c00", "low": "#555"}
HEALTH_COLUMNS = [
    ("pair", "pair"),
    ("last_ts", "last tick (UTC)"),
    ("age", "last tick age"),
    ("ticks_seen", "ticks seen"),
]


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def table(
    columns: list[tuple[str, str]], rows: list[dict], empty: str = "nothing to show"
) -> html.Table:
    """A plain HTML table of `rows` (dicts); a row with `_alarm` truthy is drawn red."""
    head = html.Thead(html.Tr([html.Th(label, style=_HEAD) for _, label in columns]))
    if not rows:
        body = [html.Tr(html.Td(empty, colSpan=len(columns), style=dict(_CELL, color="#888")))]
    else:
        body = [
            html.Tr(
                [html.Td(_fmt(r.get(key)), style=_CELL) for key, _ in columns],
                style={"color": "#b71c1c"} if r.get("_alarm") else None,
            )
            for r in rows
        ]
    return html.Table(
        [head, html.Tbody(body)],
        style={"borderCollapse": "collapse", "width": "100%", "fontSize": "13px"},
    )


def incident_table(rows: list[dict], selected: str | None, empty: str) -> html.Table:
    """The incident list: one clickable row per incident (dict with INCIDENT_COLUMNS keys and
    `incident_id`); the selected one is highlighted, severity in colour."""
    head = html.Thead(html.Tr([html.Th(label, style=_HEAD) for _, label in INCIDENT_COLUMNS]))
    if not rows:
        body = [
            html.Tr(html.Td(empty, colSpan=len(INCIDENT_COLUMNS), style=dict(_CELL, color="#888")))
        ]
    else:
        body = []
        for r in rows:
            cells = []
            for key, _ in INCIDENT_COLUMNS:
                style = _CELL
                if key == "severity":
                    colour = _SEVERITY_COLOUR.get(r.get(key), "#555")
                    style = dict(_CELL, color=colour, fontWeight="600")
                cells.append(html.Td(_fmt(r.get(key)), style=style))
            chosen = r["incident_id"] == selected
            body.append(
                html.Tr(
                    cells,
                    id={"type": IDS.incident_row, "index": r["incident_id"]},
                    n_clicks=0,
                    title="show the alerts behind this incident",
                    style={"cursor": "pointer", "background": "#e8f0fe" if chosen else None},
                )
            )
    return html.Table(
        [head, html.Tbody(body)],
        style={"borderCollapse": "collapse", "width": "100%", "fontSize": "13px"},
    )


def _card(label: str, value: str, note: str = "") -> html.Div:
    children = [html.Div(label, style=_LABEL), html.Div(value, style=_VALUE)]
    if note:
        children.append(html.Div(note, style={"fontSize": "11px", "color": "#888"}))
    return html.Div(children, style=_CARD)


def quote_cards(
    bid: float | None,
    ask: float | None,
    spread_pips: float | None,
    last_tick: str,
    age: str,
    digits: int = 5,
) -> list:
    """The current bid / ask / spread / last-tick cards."""
    fmt = lambda v: "—" if v is None else f"{v:.{digits}f}"
    return [
        _card("bid", fmt(bid)),
        _card("ask", fmt(ask)),
        _card("spread", "—" if spread_pips is None else f"{spread_pips:.1f} pips"),
        _card("last tick (UTC)", last_tick, age),
    ]


def empty_state(message: str | None, error: bool = False) -> tuple[list, dict]:
    """Children and style of the banner that says what to run (hidden when there is no message)."""
    if not message:
        return [], {"display": "none"}
    colour = ("#fdecea", "#b71c1c") if error else ("#fff8e1", "#7a5b00")
    # `commands` in the message are shown as code
    parts = [
        html.Code(
            p, style={"background": "rgba(0,0,0,0.06)", "padding": "1px 4px", "borderRadius": "3px"}
        )
        if i % 2
        else html.Span(p)
        for i, p in enumerate(message.split("`"))
        if p
    ]
    return (
        [html.Strong("Cassandra is not reachable. " if error else "Nothing to show yet. "), *parts],
        {
            "display": "block",
            "background": colour[0],
            "color": colour[1],
            "padding": "10px 14px",
            "borderRadius": "6px",
            "marginTop": "10px",
            "fontSize": "14px",
        },
    )


def build_layout(source_label: str, refresh_ms: int = 5000, default_range: str = "1h") -> html.Div:
    """The whole page; every dynamic part is filled by the refresh callback."""
    controls = html.Div(
        [
            html.Div(
                [
                    html.Label("Pair", style=_LABEL),
                    dcc.Dropdown(
                        id=IDS.pair,
                        options=[],
                        value=None,
                        clearable=False,
                        placeholder="no pairs yet",
                        style={"width": "170px"},
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label("Time range", style=_LABEL),
                    dcc.Dropdown(
                        id=IDS.range,
                        options=[{"label": v, "value": k} for k, v in RANGE_LABELS.items()],
                        value=default_range,
                        clearable=False,
                        style={"width": "170px"},
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label("Anchor", style=_LABEL),
                    dcc.RadioItems(
                        id=IDS.anchor,
                        options=[{"label": v, "value": k} for k, v in ANCHORS.items()],
                        value="latest",
                        inline=True,
                        inputStyle={"marginRight": "4px"},
                        labelStyle={"marginRight": "14px", "fontSize": "13px"},
                    ),
                ]
            ),
        ],
        style={"display": "flex", "gap": "24px", "alignItems": "flex-end", "flexWrap": "wrap"},
    )

    alerts = html.Div(
        [
            html.Div(
                [
                    html.H3("All alerts", style={"margin": "0", "fontSize": "16px"}),
                    html.Span(id=IDS.alert_count, style={"color": "#666", "fontSize": "13px"}),
                ],
                style={"display": "flex", "gap": "12px", "alignItems": "baseline"},
            ),
            dcc.Checklist(
                id=IDS.detectors,
                options=[],
                value=[],
                inline=True,
                inputStyle={"marginRight": "4px"},
                labelStyle={"marginRight": "14px", "fontSize": "13px"},
            ),
            html.Div(
                id=IDS.alerts,
                children=table(ALERT_COLUMNS, [], "no alerts yet"),
                style={"maxHeight": "320px", "overflowY": "auto"},
            ),
        ],
        style=_SECTION,
    )

    incidents = html.Div(
        [
            html.Div(
                [
                    html.H3("Incidents", style={"margin": "0", "fontSize": "16px"}),
                    html.Span(id=IDS.incident_count, style={"color": "#666", "fontSize": "13px"}),
                ],
                style={"display": "flex", "gap": "12px", "alignItems": "baseline"},
            ),
            html.Div(
                id=IDS.incidents,
                children=incident_table([], None, "no incidents yet"),
                style={"maxHeight": "280px", "overflowY": "auto", "marginTop": "4px"},
            ),
            html.Div(
                id=IDS.evidence_title,
                style={"color": "#444", "fontSize": "13px", "margin": "8px 0 2px"},
            ),
            html.Div(
                id=IDS.evidence, children=[], style={"maxHeight": "220px", "overflowY": "auto"}
            ),
            dcc.Store(id=IDS.selected_incident, data=None),
        ],
        style=_SECTION,
    )

    health = html.Div(
        [
            html.H3("Health", style={"margin": "0", "fontSize": "16px"}),
            html.Div(
                id=IDS.health_note, style={"color": "#666", "fontSize": "13px", "margin": "4px 0"}
            ),
            html.Div(id=IDS.health, children=table(HEALTH_COLUMNS, [], "no pairs yet")),
        ],
        style=_SECTION,
    )

    return html.Div(
        [
            html.Div(
                [
                    html.H2(
                        "fxwatch — FX rates and incidents",
                        style={"margin": "0", "fontSize": "22px"},
                    ),
                    html.Span(id=IDS.refreshed, style={"color": "#888", "fontSize": "12px"}),
                ],
                style={
                    "display": "flex",
                    "justifyContent": "space-between",
                    "alignItems": "baseline",
                },
            ),
            html.Div(f"source: {source_label}", style={"color": "#888", "fontSize": "12px"}),
            html.Div(id=IDS.empty, children=[], style={"display": "none"}),
            html.Div(controls, style=_SECTION),
            html.Div(
                id=IDS.cards,
                children=quote_cards(None, None, None, "—", ""),
                style={"display": "flex", "gap": "12px", "marginTop": "14px", "flexWrap": "wrap"},
            ),
            incidents,
            dcc.Graph(id=IDS.price, config={"displaylogo": False}, style={"marginTop": "8px"}),
            dcc.Graph(id=IDS.spread, config={"displaylogo": False}),
            alerts,
            health,
            dcc.Interval(id=IDS.interval, interval=refresh_ms, n_intervals=0),
        ],
        style={
            "fontFamily": "system-ui, -apple-system, sans-serif",
            "maxWidth": "1200px",
            "margin": "0 auto",
            "padding": "14px 20px",
        },
    )
