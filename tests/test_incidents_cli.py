"""`fxwatch incidents` (Cassandra -> CSV) and `fxwatch detect --incidents` (tick files -> CSV)."""

from __future__ import annotations

import csv
import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from fxwatch.cli import main
from fxwatch.detect.incidents import group_alerts
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import iso_ms

DAY_MS = 86_400_000


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_detect_writes_the_incidents_of_its_alerts(tmp_path, capsys):
    ticks = tmp_path / "ticks.csv"
    lines = []
    for i in range(600):
        bid = 1.146 + (i % 7) * 1e-5
        ask = bid - 1e-5 if i in (300, 310, 500) else bid + 4e-5  # crossed: 10 s apart, then later
        lines.append(f"EUR/USD,{1_462_147_200_000 + i * 1000},{bid:.5f},{ask:.5f}")
    ticks.write_text("pair,ts,bid,ask\n" + "\n".join(lines) + "\n")
    alerts, incidents = tmp_path / "a.csv", tmp_path / "i.csv"
    args = ["detect", "--files", str(ticks), "--output", str(alerts), "--incidents", str(incidents)]
    assert main(args) == 0
    got = _rows(incidents)
    assert [r["key"] for r in got] == ["EUR/USD"] * len(got) and len(got) >= 2
    assert sum(int(r["n_alerts"]) for r in got) == len(_rows(alerts))  # every alert in one
    first = got[0]
    assert first["start"] == "2016-05-02T00:05:00.000Z" and "crossed" in first["kinds"].split()
    assert first["root_cause"].startswith("EUR/USD: crossed/locked quotes")
    assert f"{len(got)} incidents" in capsys.readouterr().out


def test_detect_incidents_needs_the_python_engine(tmp_path, capsys):
    ticks = tmp_path / "t.csv"
    ticks.write_text("pair,ts,bid,ask\nEUR/USD,1462147200000,1.1,1.2\n")
    args = ["detect", "--files", str(ticks), "--output", str(tmp_path / "a.csv")]
    assert main([*args, "--engine", "spark", "--incidents", str(tmp_path / "i.csv")]) == 1
    assert "drop --engine spark" in capsys.readouterr().err


@pytest.mark.integration
def test_incidents_export_filters_by_time_and_pair_and_says_where_they_are(
    stack, tmp_path, capsys, monkeypatch
):
    from fxwatch.store.incidents import insert_incidents

    monkeypatch.setenv("FXWATCH_KEYSPACE", stack.keyspace)
    day0 = 1_000_000_000_000 // DAY_MS * DAY_MS + random.randrange(0, 900) * 7 * DAY_MS
    t0 = day0 + 20 * 3_600_000
    alerts = [
        Verdict("USD/JPY", t0, "zscore", 0.97, True, "bad tick: +9 sigma spike reverted"),
        Verdict("USD/JPY", t0 + 5_000, "spread", 0.6, True, "spread 5x"),
        Verdict("EUR-JPY-USD", t0 + 3 * 3_600_000, "crossrate", 0.7, True, "residual +8 bp"),
        Verdict("EUR/GBP", t0 + 5 * 3_600_000, "crossed", 1.0, True, "crossed"),  # the next day
    ]
    incidents = group_alerts(alerts)
    rows = [asdict(i) for i in incidents]
    assert insert_incidents(stack, rows) == insert_incidents(stack, rows) == 3  # an upsert
    day = datetime.fromtimestamp(day0 / 1000, UTC)

    out = tmp_path / "all.csv"
    since, until = f"{day:%Y-%m-%d}", f"{day + timedelta(days=2):%Y-%m-%d}"
    assert main(["incidents", "--since", since, "--until", until, "--output", str(out)]) == 0
    got = _rows(out)
    assert [r["incident_id"] for r in got] == [i.incident_id for i in incidents]
    assert got[0]["start"] == iso_ms(t0) and got[0]["kinds"] == "spread zscore"
    assert got[0]["severity"] == "high" and got[1]["pairs"] == "EUR/JPY EUR/USD USD/JPY"
    printed = capsys.readouterr().out
    assert "3 incidents (1 high, 1 medium, 1 low)" in printed
    assert printed.index("USD/JPY") < printed.index("EUR/GBP") < printed.index("EUR-JPY-USD")

    # --pair: the pair's own incidents and those of the triangles it is a leg of
    out = tmp_path / "jpy.csv"
    args = ["incidents", "--since", since, "--until", until, "--pair", "USD/JPY"]
    assert main([*args, "--output", str(out)]) == 0
    assert [r["key"] for r in _rows(out)] == ["USD/JPY", "EUR-JPY-USD"]

    # an empty window: a header-only CSV and where the incidents are
    capsys.readouterr()
    out = tmp_path / "none.csv"
    empty = f"{day - timedelta(days=30):%Y-%m-%d}"
    assert main(["incidents", "--since", empty, "--until", since, "--output", str(out)]) == 0
    assert _rows(out) == []
    captured = capsys.readouterr()
    assert captured.out.startswith("0 incidents ->")
    assert "No incidents between" in captured.err and "--since" in captured.err
