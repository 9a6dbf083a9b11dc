"""Evaluation of detectors: the NAB benchmark scorer, the labelled-scenario scorer and their command lines."""

from fxwatch.eval.nab import load_corpus, load_profiles, load_windows, score_corpus
from fxwatch.eval.scenarios import ScenarioScore, merge_scores, run_scenario, score_scenarios

__all__ = ["ScenarioScore", "load_corpus", "load_profiles", "load_windows", "merge_scores", "run_scenario",
           "score_corpus", "score_scenarios"]
