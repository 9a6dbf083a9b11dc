"""Detection curves: recall per magnitude level, the 90 % magnitude, and a small real run."""

import pandas as pd
import pytest

from fxwatch.eval.curves import recall_curve, run_curve, smallest_at_recall, wilson
from fxwatch.eval.scenarios import EventResult, ScenarioScore
from fxwatch.sources.synthetic import EventLabel


def _score(outcomes):
    """outcomes: (event_id, kind, detected)."""
    evs = [
        EventResult(i, k, "EUR/USD", 0, 1, d, 0 if d else None, "x" if d else None, int(d))
        for i, k, d in outcomes
    ]
    return ScenarioScore(evs, [], 1.0)


def _labels(mags):
    return [EventLabel(i, k, "EUR/USD", 0, 1, {"magnitude": m}) for i, k, m in mags]


def test_recall_per_level_floors_magnitudes_to_the_grid():
    sc = _score([("a", "spike", False), ("b", "spike", True), ("c", "spike", True)])
    lb = _labels([("a", "spike", 2.0), ("b", "spike", 4.0), ("c", "spike", 5.5)])
    c = recall_curve(sc, lb, {"spike": (2, 4, 8)})
    assert c[["magnitude", "events", "detected"]].values.tolist() == [[2, 1, 0], [4, 2, 2]]
    assert c["recall"].tolist() == [0.0, 1.0]
    assert (c["lo95"] <= c["recall"]).all() and (c["recall"] <= c["hi95"]).all()


def test_smallest_magnitude_needs_every_larger_level_at_the_recall():
    curve = pd.DataFrame(
        {
            "kind": ["spike"] * 5 + ["burst"] * 2,
            "magnitude": [1, 2, 4, 8, 16, 2, 4],
            "events": [10] * 7,
            "recall": [0.0, 0.95, 0.5, 0.9, 1.0, 0.8, 0.7],
        }
    )
    got = smallest_at_recall(curve, 0.9).set_index("kind")["magnitude_at_90pct"]
    assert got["spike"] == 8  # 2 reaches 0.95 but 4 falls back to 0.5
    assert pd.isna(got["burst"])


def test_wilson_interval():
    lo, hi = wilson(9, 10)
    assert 0.55 < lo < 0.6 and 0.98 < hi <= 1.0
    assert wilson(0, 0) != wilson(0, 0)  # nan


def test_run_curve_scores_every_injected_event_at_a_grid_level():
    score, labels = run_curve("crossed", "garch", seeds=[1], hours=0.5, grid=(1, 3))
    assert labels and {e.kind for e in labels} == {"crossed"}
    assert {e.event_id for e in score.events} == {e.event_id for e in labels}
    c = recall_curve(score, labels, {"crossed": (1, 3)})
    assert set(c["magnitude"]) <= {1, 3} and c["events"].sum() == len(labels)


@pytest.mark.parametrize("k,n", [(0, 5), (5, 5)])
def test_wilson_bounds_stay_in_unit_interval(k, n):
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
