"""`fxwatch scenarios` end to end on one short scenario (real generator, real detectors)."""

import json

from fxwatch.cli import main


def test_scenarios_cli_prints_table_and_summary(capsys):
    assert main(["scenarios", "--seed", "3", "--hours", "0.5"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["seeds"] == [3] and summary["pair_hours"] == 2.5
    assert summary["events"] >= 6 and 0.0 <= summary["recall"] <= 1.0
    assert any(line.split()[:1] == ["spike"] for line in out)  # the per-event-type table


def test_scenarios_cli_rejects_bad_hours(capsys):
    assert main(["scenarios", "--hours", "0"]) == 1
    assert "--hours" in capsys.readouterr().err


def test_run_scenario_builds_fresh_detectors_per_run():
    """Two runs of one seed agree exactly: no detector state leaks from one scenario into the
    next."""
    from fxwatch.eval.scenarios import run_scenario

    a = run_scenario(4, 0.25)
    b = run_scenario(4, 0.25)
    assert a[1] == b[1] and a[0].summary() == b[0].summary()
    assert a[0].events and all(e.event_id.startswith("syn4-") for e in a[0].events)
