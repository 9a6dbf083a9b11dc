"""Dashboard against the real local Cassandra, and `fxwatch dashboard` served as a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fxwatch.dashboard import CassandraSource, create_app, load_snapshot
from fxwatch.dashboard.components import IDS
from fxwatch.dashboard.sample import sample_frames, seed_cassandra

pytestmark = pytest.mark.integration

KEYSPACE = "fxwatch_test_dash"
TABLES = ["quote_chunks", "trends", "alerts", "incidents", "stats", "stats_versions", "pair_status"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _non_loopback_address() -> str | None:
    """This machine's outward address (a UDP 'connect' sends nothing), or None if it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # not up yet
            last_exc = exc
        time.sleep(interval_s)
    raise AssertionError(
        f"timed out after {timeout_s:.0f} s waiting for {what} (last error: {last_exc})"
    )


@pytest.fixture(scope="module")
def dash_settings(stack):
    """Settings on a keyspace of the dashboard tests' own, emptied first."""
    from fxwatch.store.connection import connect
    from fxwatch.store.schema import init_schema, truncate_tables

    settings = stack.with_(keyspace=KEYSPACE)
    init_schema(settings)
    cluster, session = connect(settings)
    truncate_tables(session, KEYSPACE, TABLES)
    yield settings, session
    cluster.shutdown()


def test_empty_keyspace_shows_the_empty_state(dash_settings):
    settings, _ = dash_settings
    snap = load_snapshot(CassandraSource(settings), None)
    assert snap.error is None and snap.empty


def test_reads_span_utc_days_with_prepared_statements(dash_settings):
    settings, session = dash_settings
    end = datetime(2026, 11, 25, 0, 15, tzinfo=UTC)  # 30 min straddling midnight UTC
    seed_cassandra(session, KEYSPACE, sample_frames(end, minutes=30, pairs=("GBP/USD",)))
    source = CassandraSource(settings)
    try:
        snap = load_snapshot(source, "GBP/USD", "1h", "latest", now=end + timedelta(days=2))
        assert snap.error is None
        days = set(snap.quotes["ts"].dt.date.astype(str))
        assert days == {"2026-11-24", "2026-11-25"}, "both (pair, day) partitions must be read"
        assert len(snap.quotes) == 1800 and snap.quotes["ts"].is_monotonic_increasing
        assert len(snap.trends) == 30 and set(snap.trends["window_len"]) == {"1m"}
        assert (
            snap.trends["window_end"] - snap.trends["window_start"] == timedelta(minutes=1)
        ).all()
        assert set(snap.alerts["detector"]) == {"zscore", "spread"}
        assert snap.trends["ema"].notna().all()  # computed from the closes, not stored
        (inc,) = snap.incidents.itertuples()
        assert (inc.key, inc.n_alerts, inc.kinds) == ("GBP/USD", 2, ("spread", "zscore"))
        chosen = load_snapshot(
            source, "GBP/USD", "1h", "latest", now=end + timedelta(days=2), incident=inc.incident_id
        )
        assert sorted(chosen.evidence["detector"]) == ["spread", "zscore"]
        assert set(snap.bands["metric"]) == {"mid", "spread"} and (snap.bands["k"] == 4.0).all()
        from fxwatch.store.session import _PREPARED

        assert _PREPARED.get(source.session()), "queries go through prepared statements"
        board = create_app(settings, data_source=source).fxwatch_board
        out = board.refresh(1, "GBP/USD", "1h", "latest", None, None, now=end + timedelta(days=2))
        names = [t.name for t in out[(IDS.price, "figure")].data]
        assert "mid" in names and "avg 1m (window end)" in names
    finally:
        source.close()


def test_cli_serves_layout_on_a_port(dash_settings, tmp_path):
    settings, _ = dash_settings
    port = free_port()
    env = dict(os.environ, FXWATCH_KEYSPACE=KEYSPACE)
    log = open(tmp_path / "dashboard.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "fxwatch"), "dashboard", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}/_dash-layout"

        def fetch():
            assert proc.poll() is None, (
                f"dashboard exited: {(tmp_path / 'dashboard.log').read_text()}"
            )
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())

        layout = wait_for(fetch, 120, f"{url} to answer")
        text = json.dumps(layout)
        assert '"type": "Graph"' in text and '"type": "Interval"' in text
        # Bound to localhost only by default: the machine's other address does not answer.
        other = _non_loopback_address()
        if other:
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((other, port)) != 0, f"the dashboard answers on {other}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_cli_says_what_to_do_when_the_port_is_taken():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = subprocess.run(
            [str(Path(sys.executable).parent / "fxwatch"), "dashboard", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert res.returncode == 1
    assert f"port {port}" in res.stderr and "--port" in res.stderr and "Traceback" not in res.stderr
