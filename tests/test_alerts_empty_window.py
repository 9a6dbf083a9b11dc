"""`fxwatch alerts` on an empty window says how many alerts exist and when (real Cassandra)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest

from fxwatch.cli import main
from fxwatch.store.alerts import alert_span, empty_window_note, insert_alerts
from fxwatch.store.schema import init_schema, truncate_tables

pytestmark = pytest.mark.integration

KEYSPACE = "fxwatch_test_alerts"
T0 = 1_705_330_800_000  # 2024-01-15T15:00:00Z: replayed past data, far outside "the last 24 h"
_DAY_MS = 86_400_000


def _alert(ts_ms: int, pair: str = "EUR/USD", detector: str = "zscore") -> dict:
    return {
        "pair": pair,
        "ts": ts_ms,
        "detector": detector,
        "score": 5.0,
        "reason": "test",
        "window_start": None,
        "window_end": None,
        "value": 1.1,
    }


@pytest.fixture()
def alerts_keyspace(stack, cassandra_session, monkeypatch):
    """An emptied keyspace of this module's own; `fxwatch` commands read it."""
    settings = stack.with_(keyspace=KEYSPACE)
    init_schema(settings)
    truncate_tables(cassandra_session, KEYSPACE, ["alerts"])
    monkeypatch.setenv("FXWATCH_KEYSPACE", KEYSPACE)
    yield cassandra_session
    truncate_tables(cassandra_session, KEYSPACE, ["alerts"])


def _csv_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_span_counts_alerts_across_day_partitions(alerts_keyspace):
    assert alert_span(alerts_keyspace, KEYSPACE) == (0, None, None)
    rows = [_alert(T0), _alert(T0 + 60_000, "USD/JPY"), _alert(T0 + _DAY_MS + 5, detector="spread")]
    insert_alerts(alerts_keyspace, rows, KEYSPACE)
    count, first, last = alert_span(alerts_keyspace, KEYSPACE)
    assert count == 3
    assert first == datetime(2024, 1, 15, 15, 0)
    assert last == datetime(2024, 1, 16, 15, 0, 0, 5000)


def test_empty_default_window_names_the_count_the_times_and_the_fix(
    alerts_keyspace, tmp_path, capsys
):
    insert_alerts(alerts_keyspace, [_alert(T0), _alert(T0 + 90_000, "GBP/USD")], KEYSPACE)
    out = tmp_path / "alerts.csv"
    assert main(["alerts", "--output", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == f"0 alerts -> {out}"
    assert _csv_rows(out) == []
    note = printed.err.strip()
    assert note.startswith("No alerts between "), note
    assert note.endswith(
        f" and now; keyspace '{KEYSPACE}' holds 2 alerts from 2024-01-15T15:00:00.000Z to "
        "2024-01-15T15:01:30.000Z: add --since 2024-01-15 --until 2024-01-16 to see them."
    ), note
    # The suggested options do show them.
    assert (
        main(["alerts", "--since", "2024-01-15", "--until", "2024-01-16", "--output", str(out)])
        == 0
    )
    printed = capsys.readouterr()
    assert printed.out.strip() == f"2 alerts -> {out}" and printed.err == ""
    assert [r["pair"] for r in _csv_rows(out)] == ["EUR/USD", "GBP/USD"]


def test_empty_keyspace_says_there_are_none_at_all(alerts_keyspace, tmp_path, capsys):
    out = tmp_path / "alerts.csv"
    assert main(["alerts", "--pair", "EUR/USD", "--output", str(out)]) == 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("No alerts of EUR/USD between ")
    assert err.endswith(f"and none at all in keyspace '{KEYSPACE}'.")


def test_note_is_reusable_for_other_records():
    since = datetime(2024, 3, 1, tzinfo=UTC)
    until = since + timedelta(days=1)
    span = (4, datetime(2024, 1, 15, 15, 0), datetime(2024, 5, 2, 9, 30))
    note = empty_window_note("incidents", span, "fxwatch", since, until)
    assert note == (
        "No incidents between 2024-03-01T00:00:00.000Z and 2024-03-02T00:00:00.000Z; "
        "keyspace 'fxwatch' holds 4 incidents from 2024-01-15T15:00:00.000Z to "
        "2024-05-02T09:30:00.000Z: add --since 2024-01-15 --until 2024-05-03 to see "
        "them."
    )
