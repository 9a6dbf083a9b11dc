"""Alerts export: CSV columns and ISO-8601 UTC millisecond timestamps; `fxwatch alerts` on the
stack."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta

import pytest


def test_csv_format_has_pair_ts_detector_score_reason(tmp_path):
    from fxwatch.store.alerts import export_alerts_csv

    alerts = [
        {
            "pair": "EUR/USD",
            "ts": datetime(2014, 5, 8, 12, 45, 0, 123000),
            "detector": "spread",
            "score": 0.91234,
            "reason": "spread 3.1x, median",
            "window_start": None,
            "window_end": None,
            "value": None,
        }
    ]
    assert export_alerts_csv(alerts, tmp_path / "a.csv") == 1
    rows = list(csv.DictReader(open(tmp_path / "a.csv", newline="")))
    assert list(rows[0])[:5] == ["pair", "ts", "detector", "score", "reason"]
    assert rows[0]["ts"] == "2014-05-08T12:45:00.123Z" and rows[0]["score"] == "0.9123"
    assert rows[0]["reason"] == "spread 3.1x, median"


def test_parse_since_accepts_dates_times_and_spans():
    from fxwatch.errors import FxwatchError
    from fxwatch.store.alerts import parse_since

    now = datetime(2026, 1, 2, 12, tzinfo=UTC)
    assert parse_since("2014-05-08", now) == datetime(2014, 5, 8, tzinfo=UTC)
    assert parse_since("2014-05-08T12:00:00Z", now) == datetime(2014, 5, 8, 12, tzinfo=UTC)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    with pytest.raises(FxwatchError, match="--since"):
        parse_since("yesterday-ish", now)


@pytest.mark.integration
def test_cli_exports_alerts_of_a_pair_since_a_time(stack, cassandra_session, tmp_path, monkeypatch):
    from fxwatch.cli import main

    day = datetime(2004, 1, 5, tzinfo=UTC) + timedelta(days=random.randrange(5000))
    ins = cassandra_session.prepare(
        "INSERT INTO alerts (day, ts, pair, detector, score, reason) VALUES (?,?,?,?,?,?)"
    )
    for i, pair in enumerate(["EUR/USD", "USD/JPY", "EUR/USD"]):
        cassandra_session.execute(
            ins,
            (
                day.date(),
                day + timedelta(hours=1, milliseconds=7 + i),
                pair,
                "zscore",
                0.8,
                f"test {i}",
            ),
        )
    monkeypatch.setenv("FXWATCH_KEYSPACE", stack.keyspace)
    out = tmp_path / "alerts.csv"
    assert (
        main(
            [
                "alerts",
                "--since",
                day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "--until",
                (day + timedelta(days=1)).strftime("%Y-%m-%d"),
                "--pair",
                "EUR/USD",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(out, newline="")))
    assert [r["reason"] for r in rows] == ["test 0", "test 2"]
    assert rows[0]["ts"] == (day + timedelta(hours=1, milliseconds=7)).strftime(
        "%Y-%m-%dT%H:%M:%S.007Z"
    )
