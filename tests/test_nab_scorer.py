"""The NAB scorer reproduces NAB's published windowedGaussian results and its scoring rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fxwatch.datasets import nab_dir
from fxwatch.eval.nab import (
    load_corpus,
    load_profiles,
    load_published_scores,
    load_windows,
    optimise_threshold,
    probation_length,
    scaled_sigmoid,
    score_at_threshold,
    score_corpus,
    sweep_file,
)
from support.datasets import needs_dataset

NAB = nab_dir(must_exist=False)
needs_nab = needs_dataset("nab", "data", "labels", "config", "results")
COST = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}


def test_scaled_sigmoid_landmarks():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0


def test_probation_is_fifteen_percent_capped_at_750():
    assert probation_length(1000) == 150
    assert probation_length(100000) == 750


def _toy(n=1000, window=(600, 699)):
    ts = np.arange(n).astype("datetime64[m]").astype("datetime64[ns]")
    return ts, [(ts[window[0]], ts[window[1]])]


def test_early_detection_beats_late_and_fp_costs():
    ts, win = _toy()
    sw = sweep_file(ts, win, COST)
    early, late, fp_only = np.zeros(1000), np.zeros(1000), np.zeros(1000)
    early[600] = 1.0
    late[690] = 1.0
    fp_only[300] = 1.0
    s_early = score_at_threshold(early, sw, COST, 0.5)["score"]
    s_late = score_at_threshold(late, sw, COST, 0.5)["score"]
    s_fp = score_at_threshold(fp_only, sw, COST, 0.5)["score"]
    assert s_early == pytest.approx(1.0)  # earliest TP is worth tpWeight exactly
    assert 0 < s_late < s_early
    assert s_fp == pytest.approx(-1.0 - 0.11)  # missed window plus one far FP


def test_detection_in_probation_is_ignored():
    ts, win = _toy()
    sw = sweep_file(ts, win, COST)
    s = np.zeros(1000)
    s[10] = 1.0  # inside the first 150 rows
    assert score_at_threshold(s, sw, COST, 0.5)["fp"] == 0


def test_optimiser_picks_threshold_separating_hit_from_noise():
    ts, win = _toy()
    sw = sweep_file(ts, win, COST)
    s = np.full(1000, 0.1)
    s[610] = 0.9
    s[200] = 0.5
    thr, raw = optimise_threshold({"f": s}, {"f": sw}, COST)
    assert thr == pytest.approx(0.9)
    assert raw == pytest.approx(score_at_threshold(s, sw, COST, thr)["score"])


@needs_nab
def test_reproduces_published_windowed_gaussian():
    corpus = load_corpus(NAB)
    windows = load_windows(NAB / "labels/combined_windows.json")
    profiles = load_profiles(NAB / "config/profiles.json")
    scores = load_published_scores(NAB / "results/windowedGaussian", list(corpus))
    res = score_corpus(corpus, windows, profiles, scores)
    assert res["standard"].normalised == pytest.approx(39.6, abs=0.1)
    assert res["reward_low_FP_rate"].normalised == pytest.approx(20.9, abs=0.1)
    assert res["reward_low_FN_rate"].normalised == pytest.approx(47.4, abs=0.1)
    pub = pd.read_csv(NAB / "results/windowedGaussian/windowedGaussian_standard_scores.csv")
    pub = pub[pub.Detector != "Totals"].set_index("File")
    rows = {r["file"]: r for r in res["standard"].files}
    assert set(rows) == set(pub.index)
    for name, q in pub.iterrows():
        r = rows[name]
        assert (r["tp"], r["tn"], r["fp"], r["fn"]) == (q.TP, q.TN, q.FP, q.FN), name
        assert r["score"] == pytest.approx(float(q.Score), abs=1e-6), name


@needs_nab
def test_nab_cli_scores_published_folder_and_runs_a_detector(capsys):
    from fxwatch.cli import main

    assert (
        main(["nab", "--data", str(NAB), "--scores-from", str(NAB / "results/windowedGaussian")])
        == 0
    )
    assert (
        capsys.readouterr().out.splitlines()[0]
        == "standard=39.6 reward_low_FP_rate=20.9 reward_low_FN_rate=47.4"
    )
    assert (
        main(["nab", "--data", str(NAB / "data"), "--detector", "classic", "--profile", "standard"])
        == 0
    )
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("standard=") and "reward_low" not in line
    assert main(["nab", "--data", str(NAB), "--profile", "nope"]) == 1
    assert "unknown profile" in capsys.readouterr().err
