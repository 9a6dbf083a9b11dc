"""Evaluation of detectors: the NAB benchmark scorer and its command line."""

from fxwatch.eval.nab import load_corpus, load_profiles, load_windows, score_corpus

__all__ = ["load_corpus", "load_profiles", "load_windows", "score_corpus"]
