"""Evaluation of detectors: the NAB scorer and its scalar detectors, the scenario scorer."""

from fxwatch.eval.contextual import ContextualNovelty, RecentMaxGate
from fxwatch.eval.nab import load_corpus, load_profiles, load_windows, score_corpus
from fxwatch.eval.nab_detectors import SCALAR_DETECTORS, ScalarDetector, score_series
from fxwatch.eval.scenarios import ScenarioScore, merge_scores, run_scenario, score_scenarios

__all__ = [
    "SCALAR_DETECTORS",
    "ContextualNovelty",
    "RecentMaxGate",
    "ScalarDetector",
    "ScenarioScore",
    "load_corpus",
    "load_profiles",
    "load_windows",
    "merge_scores",
    "run_scenario",
    "score_corpus",
    "score_scenarios",
    "score_series",
]
