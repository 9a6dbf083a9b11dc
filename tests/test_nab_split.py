"""NAB out of sample: halves, scoring at a fixed threshold, choosing on one half and scoring the
other both ways."""

import numpy as np
import pandas as pd
import pytest

from fxwatch.eval.nab import NabFile
from fxwatch.eval.nab_split import halves, normalised_at, out_of_sample

COST = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}
N, WIN = 1000, (600, 699)


def _file(name):
    ts = pd.date_range("2020-01-01", periods=N, freq="5min").to_numpy(dtype="datetime64[ns]")
    return NabFile(name, ts, np.zeros(N))


@pytest.fixture
def corpus():
    files = {f"cat/f{i}.csv": _file(f"cat/f{i}.csv") for i in range(4)}
    windows = {n: [(f.timestamps[WIN[0]], f.timestamps[WIN[1]])] for n, f in files.items()}
    return files, windows


def _scores(anomaly, background):
    s = np.full(N, background)
    s[WIN[0]] = anomaly
    return s


def test_halves_alternate_sorted_names():
    assert halves(["c", "a", "d", "b"]) == (["a", "c"], ["b", "d"])


def test_fixed_threshold_perfect_and_null(corpus):
    files, windows = corpus
    hit = {n: _scores(1.0, 0.0) for n in files}
    assert normalised_at(files, windows, COST, hit, list(files), 0.5) == pytest.approx(100.0)
    assert normalised_at(files, windows, COST, hit, list(files), 1.5) == pytest.approx(0.0)


def test_threshold_from_one_half_is_applied_to_the_other_both_ways(corpus):
    files, windows = corpus
    # odd half (f0, f2): anomaly 0.9 over background 0.5; even half (f1, f3): 0.6 over 0.3
    s = {n: _scores(0.9, 0.5) if n[-5] in "02" else _scores(0.6, 0.3) for n in files}
    r = out_of_sample(files, windows, {"standard": COST}, {"det": s})["standard"]
    assert r.in_sample == pytest.approx(100.0)  # one threshold (0.6) separates both halves
    held = {d["direction"]: d["other_half"] for d in r.directions}
    assert held["odd->even"] == pytest.approx(0.0)  # 0.9 from the odd half misses 0.6
    assert held["even->odd"] == pytest.approx(100.0)
    assert r.out_of_sample == pytest.approx(50.0)


def test_configuration_is_chosen_on_the_tuning_half(corpus):
    files, windows = corpus
    good = {n: _scores(1.0, 0.0) for n in files}
    bad = {n: np.zeros(N) for n in files}
    r = out_of_sample(files, windows, {"standard": COST}, {"bad": bad, "good": good})["standard"]
    assert [d["chosen"] for d in r.directions] == ["good", "good"]
    assert r.in_sample_choice == "good" and r.out_of_sample == pytest.approx(100.0)
