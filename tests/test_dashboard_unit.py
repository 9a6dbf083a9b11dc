"""Dashboard without services: figures from DataFrames, callbacks called directly and via Flask."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fxwatch.config import Settings
from fxwatch.dashboard import InMemorySource, create_app, figures
from fxwatch.dashboard.app import Dashboard, format_age
from fxwatch.dashboard.components import IDS
from fxwatch.dashboard.data import (
    days_between,
    hour_of_week,
    incident_frame,
    load_snapshot,
    time_range,
    with_ema,
)
from fxwatch.dashboard.sample import sample_frames
from fxwatch.errors import FxwatchError

NOW = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


@pytest.fixture()
def frames():
    return sample_frames(NOW, minutes=30)


@pytest.fixture()
def source(frames):
    return InMemorySource(
        frames["status"],
        frames["quotes"],
        frames["trends"],
        frames["alerts"],
        frames["stats"],
        incident_rows=frames["incidents"],
    )


@pytest.fixture()
def app(source):
    return create_app(Settings.from_env(), data_source=source)


def _trace(fig, name_prefix):
    found = [t for t in fig.data if (t.name or "").startswith(name_prefix)]
    assert found, f"no trace named {name_prefix}… in {[t.name for t in fig.data]}"
    return found[0]


# ---- data helpers ------------------------------------------------------------------------------
def test_days_between_spans_utc_days_newest_first():
    days = days_between(datetime(2026, 11, 23, 23, 30), datetime(2026, 11, 25, 0, 10))
    assert [str(d) for d in days] == ["2026-11-25", "2026-11-24", "2026-11-23"]
    assert len(days_between(datetime(2026, 1, 1), datetime(2026, 3, 1))) == 8  # capped


def test_hour_of_week_monday_zero():
    assert hour_of_week(datetime(2026, 11, 23, 0, 5)) == 0  # a Monday
    assert hour_of_week(datetime(2026, 11, 29, 23, 59)) == 167  # the Sunday after
    assert hour_of_week(datetime(2026, 11, 25, 11, 0, tzinfo=UTC)) == 2 * 24 + 11


def test_time_range_anchors_at_latest_tick_or_now(frames):
    status = frames["status"]
    start, end = time_range(status, "EUR/USD", "15m", "latest", NOW + timedelta(days=3))
    last = status.loc[status.pair == "EUR/USD", "last_ts"].iloc[0]
    assert end == last + timedelta(seconds=1) and end - start == timedelta(minutes=15)
    start, end = time_range(status, "EUR/USD", "1h", "now", NOW)
    assert end == NOW.replace(tzinfo=None) and end - start == timedelta(hours=1)


def test_query_date_is_computed_at_each_refresh(source):
    """The seed froze its query date at start-up; each refresh must compute its own range."""
    board = Dashboard(source)
    board.refresh(1, "EUR/USD", "1h", "now", None, None, now=NOW)
    board.refresh(2, "EUR/USD", "1h", "now", None, None, now=NOW + timedelta(days=1))
    ends = [c[3] for c in source.calls if c[0] == "quotes"]
    assert ends == [NOW.replace(tzinfo=None), (NOW + timedelta(days=1)).replace(tzinfo=None)]


def test_format_age():
    assert format_age(4) == "4 s"
    assert format_age(600) == "10 min"
    assert format_age(3 * 86400) == "3 d"
    assert format_age(None) == "—"


# ---- figures -----------------------------------------------------------------------------------
def test_running_average_is_plotted_at_window_end(frames):
    trends = frames["trends"][frames["trends"].pair == "EUR/USD"]
    quotes = frames["quotes"][frames["quotes"].pair == "EUR/USD"]
    fig = figures.price_figure(quotes, trends, frames["alerts"].iloc[0:0], None, "EUR/USD")
    avg = _trace(fig, "avg 1m")
    xs = pd.to_datetime(list(avg.x))
    assert list(xs) == list(pd.to_datetime(trends.sort_values("window_end")["window_end"]))
    assert (xs != pd.to_datetime(trends.sort_values("window_end")["window_start"])).all()


def test_price_is_full_price_not_points(frames):
    quotes = frames["quotes"][frames["quotes"].pair == "USD/JPY"]
    fig = figures.price_figure(
        quotes, frames["trends"].iloc[0:0], frames["alerts"].iloc[0:0], None, "USD/JPY"
    )
    bid = _trace(fig, "bid")
    assert min(bid.y) > 100  # 151.xx, not the '20' of TrueFX's points field
    assert list(bid.y) == pytest.approx(list(quotes.sort_values("ts")["bid"]))


def test_alert_markers_sit_on_the_price(frames):
    pair = "EUR/USD"
    q = frames["quotes"][frames["quotes"].pair == pair]
    a = frames["alerts"][frames["alerts"].pair == pair]
    fig = figures.price_figure(q, frames["trends"].iloc[0:0], a, None, pair)
    markers = [t for t in fig.data if (t.name or "").startswith("alert: ")]
    assert sorted(t.name for t in markers) == ["alert: spread", "alert: zscore"]
    z = _trace(fig, "alert: zscore")
    assert z.mode == "markers"
    assert min(q.bid) <= z.y[0] <= max(q.ask)


def test_bands_are_mean_plus_minus_k_std_of_the_hour(frames):
    stats = frames["stats"][frames["stats"].pair == "EUR/USD"].assign(k=3.0)
    start, end = NOW.replace(tzinfo=None) - timedelta(minutes=30), NOW.replace(tzinfo=None)
    steps = figures.band_steps(stats, start, end, "mid")
    row = stats[(stats.metric == "mid") & (stats.hour_of_week == hour_of_week(start))].iloc[0]
    assert steps["hi"].iloc[0] == pytest.approx(row["mean"] + 3.0 * row["std"])
    assert steps["lo"].iloc[0] == pytest.approx(row["mean"] - 3.0 * row["std"])
    fig = figures.price_figure(
        frames["quotes"].iloc[0:0],
        frames["trends"].iloc[0:0],
        frames["alerts"].iloc[0:0],
        stats,
        "EUR/USD",
        start,
        end,
    )
    assert _trace(fig, "historical band").name.startswith("historical band: mean ± 3·std of mid")


def test_band_leaves_a_gap_where_an_hour_has_no_stats(frames):
    stats = frames["stats"][frames["stats"].pair == "EUR/USD"].assign(k=4.0)
    start = datetime(2026, 11, 30, 1, 0)  # Monday 01:00: hour_of_week 1, not in the sample stats
    steps = figures.band_steps(stats, start, start + timedelta(hours=1), "mid")
    assert steps["hi"].isna().all()


def test_spread_in_pips(frames):
    q = frames["quotes"][frames["quotes"].pair == "USD/JPY"]
    fig = figures.spread_figure(q, None, None, "USD/JPY")
    spread = _trace(fig, "spread")
    assert list(spread.y) == pytest.approx(list((q.sort_values("ts")["spread"]) / 0.01))


# ---- callbacks called directly ---------------------------------------------------------------
def test_refresh_lists_every_pair_and_keeps_the_chosen_one(app):
    board = app.fxwatch_board
    out = board.refresh(1, "USD/JPY", "1h", "latest", None, None, now=NOW)
    assert [o["value"] for o in out[(IDS.pair, "options")]] == ["EUR/USD", "USD/JPY"]
    assert out[(IDS.pair, "value")] == "USD/JPY"
    assert out[(IDS.empty, "style")] == {"display": "none"}
    assert len(out["health_rows"]) == 2
    assert out[(IDS.health_note, "children")].startswith("query lag ")
    # The quote cards show full prices of the chosen pair.
    cards = json.dumps(out[(IDS.cards, "children")], default=lambda o: o.to_plotly_json())
    assert "151." in cards and "pips" in cards
    # An unknown pair (e.g. gone from pair_status) falls back to the first one.
    assert (
        board.refresh(2, "AUD/NZD", "1h", "latest", None, None, now=NOW)[(IDS.pair, "value")]
        == "EUR/USD"
    )


def test_alert_table_and_per_detector_filter(app):
    board = app.fxwatch_board
    out = board.refresh(1, "EUR/USD", "1h", "latest", None, None, now=NOW)
    assert {r["detector"] for r in out["alert_rows"]} == {"zscore", "spread"}
    assert set(out["alert_rows"][0]) == {"ts", "pair", "detector", "score", "reason"}
    known = out[(IDS.detectors, "options")]
    out = board.refresh(2, "EUR/USD", "1h", "latest", ["zscore"], known, now=NOW)
    assert [r["detector"] for r in out["alert_rows"]] == ["zscore"]
    assert out[(IDS.detectors, "value")] == ["zscore"]
    markers = [
        t.name for t in out[(IDS.price, "figure")].data if (t.name or "").startswith("alert: ")
    ]
    assert markers == ["alert: zscore"]
    assert out[(IDS.alert_count, "children")].startswith("1 of 2")


def test_empty_state_says_what_to_run():
    board = create_app(Settings.from_env(), data_source=InMemorySource()).fxwatch_board
    out = board.refresh(1, None, "1h", "latest", None, None, now=NOW)
    assert out[(IDS.pair, "options")] == [] and out["alert_rows"] == []
    text = json.dumps(out[(IDS.empty, "children")], default=lambda o: o.to_plotly_json())
    assert "make demo" in text and "fxwatch stream run" in text
    assert out[(IDS.empty, "style")]["display"] == "block"
    fig = out[(IDS.price, "figure")]
    assert "see the note above" in fig.layout.annotations[0].text


def test_unreachable_cassandra_is_a_message_not_a_crash():
    class Down(InMemorySource):
        def pair_status(self):
            raise FxwatchError(
                "Cassandra at 127.0.0.1:9042 is not reachable: start it with `fxwatch stack up`"
            )

    snap = load_snapshot(Down(), None, now=NOW)
    assert snap.empty and "fxwatch stack up" in snap.error
    out = Dashboard(Down()).view(snap, None, None)
    text = json.dumps(out[(IDS.empty, "children")], default=lambda o: o.to_plotly_json())
    assert "not reachable" in text and "fxwatch stack up" in text


# ---- through Flask's test client ---------------------------------------------------------------
def _layout_ids(node, found=None):
    found = {} if found is None else found
    if isinstance(node, dict):
        if "type" in node and "props" in node:
            props = node["props"]
            if props.get("id"):
                found[props["id"]] = node["type"]
            _layout_ids(props.get("children"), found)
        else:
            for v in node.values():
                _layout_ids(v, found)
    elif isinstance(node, list):
        for v in node:
            _layout_ids(v, found)
    return found


def test_dash_layout_has_graphs_interval_table_and_controls(app):
    client = app.server.test_client()
    resp = client.get("/_dash-layout")
    assert resp.status_code == 200
    ids = _layout_ids(resp.get_json())
    assert ids[IDS.price] == "Graph" and ids[IDS.spread] == "Graph"
    assert ids[IDS.interval] == "Interval"
    assert ids[IDS.alerts] == "Div" and ids[IDS.health] == "Div"  # plain HTML tables inside
    assert ids[IDS.pair] == "Dropdown" and ids[IDS.range] == "Dropdown"
    deps = client.get("/_dash-dependencies").get_json()
    assert any(
        f"{IDS.interval}.n_intervals" == i["id"] + "." + i["property"]
        for d in deps
        for i in d["inputs"]
    )


def test_refresh_through_the_test_client(app):
    client = app.server.test_client()
    outputs = [{"id": cid, "property": prop} for cid, prop in Dashboard.OUTPUTS]
    payload = {
        "output": ".." + "...".join(f"{o['id']}.{o['property']}" for o in outputs) + "..",
        "outputs": outputs,
        "inputs": [
            {"id": IDS.interval, "property": "n_intervals", "value": 1},
            {"id": IDS.pair, "property": "value", "value": "USD/JPY"},
            {"id": IDS.range, "property": "value", "value": "1h"},
            {"id": IDS.anchor, "property": "value", "value": "latest"},
            {"id": IDS.detectors, "property": "value", "value": None},
            {"id": IDS.selected_incident, "property": "data", "value": None},
        ],
        "state": [{"id": IDS.detectors, "property": "options", "value": []}],
        "changedPropIds": [f"{IDS.interval}.n_intervals"],
    }
    resp = client.post("/_dash-update-component", json=payload)
    assert resp.status_code == 200, resp.data[:500]
    body = resp.get_json()["response"]
    assert body[IDS.pair]["value"] == "USD/JPY"
    assert [o["value"] for o in body[IDS.pair]["options"]] == ["EUR/USD", "USD/JPY"]
    names = [t.get("name") for t in body[IDS.price]["figure"]["data"]]
    assert "mid" in names and "avg 1m (window end)" in names and "alert: zscore" in names
    cells = json.dumps(body[IDS.alerts]["children"])
    assert '"zscore"' in cells and '"spread"' in cells and "anomaly (sample)" in cells
    assert body[IDS.health_note]["children"].startswith("query lag")


def test_long_ranges_draw_trends_without_reading_every_tick(source):
    board = Dashboard(source)
    out = board.refresh(1, "EUR/USD", "24h", "latest", None, None, now=NOW)
    assert not [c for c in source.calls if c[0] == "quotes"], "a 24 h range must not read raw ticks"
    names = [t.name for t in out[(IDS.price, "figure")].data]
    assert "avg 1m (window end)" in names and "mid" not in names
    z = _trace(out[(IDS.price, "figure")], "alert: zscore")
    assert z.y[0] is not None
    board.refresh(2, "EUR/USD", "1h", "latest", None, None, now=NOW)
    assert [c for c in source.calls if c[0] == "quotes"]


# ---- incidents: the primary list, with drill-down to the evidence ------------------------------
def test_incidents_are_listed_newest_first_with_severity_kinds_and_root_cause(source, frames):
    later = (
        frames["incidents"]
        .iloc[[0]]
        .assign(incident_id="later", start=lambda d: d["start"] + timedelta(minutes=5))
    )
    source.incident_rows = pd.concat([frames["incidents"], later], ignore_index=True)
    out = Dashboard(source).refresh(1, "USD/JPY", "1h", "latest", None, None, now=NOW)
    rows = out["incident_rows"]
    assert [r["incident_id"] for r in rows][0] == "later"  # newest first
    assert [r["key"] for r in rows] == ["USD/JPY", "USD/JPY"]  # the chosen pair's only
    assert rows[1]["severity"] == "high" and rows[1]["kinds"] == "spread, zscore"
    assert rows[1]["root_cause"].startswith("USD/JPY: price spike — ")
    assert out[(IDS.incident_count, "children")].startswith("2 for USD/JPY")
    assert out["evidence_rows"] == [] and out[(IDS.evidence, "children")] == []
    text = json.dumps(out[(IDS.incidents, "children")], default=lambda o: o.to_plotly_json())
    assert IDS.incident_row in text and "price spike" in text


def test_clicking_an_incident_shows_its_alerts_and_rings_them_on_the_price_chart(source, frames):
    board = Dashboard(source)
    inc = frames["incidents"][frames["incidents"].key == "EUR/USD"].iloc[0]
    out = board.refresh(1, "EUR/USD", "1h", "latest", None, None, now=NOW, incident=inc.incident_id)
    assert {r["detector"] for r in out["evidence_rows"]} == {"zscore", "spread"}
    assert (
        "Evidence of the high incident on EUR/USD (2 alerts"
        in out[(IDS.evidence_title, "children")]
    )
    fig = out[(IDS.price, "figure")]
    ring = _trace(fig, "incident EUR/USD (high): evidence")
    assert len(ring.x) == 2 and all(y is not None for y in ring.y)
    assert [s.type for s in fig.layout.shapes] == ["rect"]  # the incident's span
    # an id that is not among the pair's incidents (another pair chosen since) selects nothing
    out = board.refresh(2, "USD/JPY", "1h", "latest", None, None, now=NOW, incident=inc.incident_id)
    assert out["evidence_rows"] == [] and not out[(IDS.price, "figure")].layout.shapes


def test_a_click_selects_an_incident_a_second_click_clears_it_and_redraws_do_nothing():
    import dash

    assert Dashboard.select_incident("a", 1, None) == "a"
    assert Dashboard.select_incident("a", 2, "a") is None
    assert Dashboard.select_incident("b", 1, "a") == "b"
    assert Dashboard.select_incident("a", 0, "a") is dash.no_update  # a row drawn, not clicked
    assert Dashboard.select_incident(None, None, "a") is dash.no_update


def test_a_triangle_incident_is_listed_under_each_of_its_legs(source, frames):
    tri = incident_frame(
        [
            {
                "incident_id": "t1",
                "key": "EUR-JPY-USD",
                "start_ms": int((NOW - timedelta(minutes=3)).timestamp() * 1000),
                "end_ms": int((NOW - timedelta(minutes=3)).timestamp() * 1000),
                "pairs": ("EUR/JPY", "EUR/USD", "USD/JPY"),
                "kinds": ("crossrate",),
                "n_alerts": 1,
                "max_score": 0.8,
                "severity": "low",
                "root_cause": "triangle EUR-JPY-USD out of line",
                "alert_ids": ("x",),
            }
        ]
    )
    source.incident_rows = pd.concat([frames["incidents"], tri], ignore_index=True)
    for pair in ("EUR/USD", "USD/JPY"):
        got = source.incidents(NOW - timedelta(hours=1), NOW, pair)
        assert "t1" in set(got["incident_id"]) and set(got["key"]) == {pair, "EUR-JPY-USD"}


def test_ema_is_computed_from_the_window_closes_not_read_from_the_table(frames):
    trends = frames["trends"][frames["trends"].pair == "EUR/USD"].assign(ema=float("nan"))
    got = with_ema(trends.sample(frac=1.0, random_state=1))  # any order in, window order out
    expected = trends.sort_values("window_end")["close"].ewm(span=5, adjust=False).mean()
    assert list(got["ema"]) == pytest.approx(list(expected))
    assert got["window_end"].is_monotonic_increasing


def test_a_row_click_through_the_test_client_selects_that_incident(app, frames):
    client = app.server.test_client()
    ids = list(frames["incidents"]["incident_id"])
    rows = [{"id": {"index": i, "type": IDS.incident_row}, "property": "n_clicks"} for i in ids]
    clicked = json.dumps({"index": ids[1], "type": IDS.incident_row}, separators=(",", ":"))
    payload = {
        "output": f"{IDS.selected_incident}.data",
        "outputs": {"id": IDS.selected_incident, "property": "data"},
        "inputs": [[{**r, "value": int(r["id"]["index"] == ids[1])} for r in rows]],
        "state": [{"id": IDS.selected_incident, "property": "data", "value": None}],
        "changedPropIds": [f"{clicked}.n_clicks"],
    }
    resp = client.post("/_dash-update-component", json=payload)
    assert resp.status_code == 200, resp.data[:500]
    assert resp.get_json()["response"][IDS.selected_incident]["data"] == ids[1]
