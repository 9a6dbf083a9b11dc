"""Streaming detectors for FX quotes (one protocol: update a quote, return a Verdict) and NAB scalars."""

from fxwatch.detect.bank import PairDetectorBank, default_cross, default_detectors, run_detectors
from fxwatch.detect.bounds import HistoricalBounds
from fxwatch.detect.contextual import ContextualNovelty
from fxwatch.detect.crossed import CrossedQuote
from fxwatch.detect.cusum import Cusum
from fxwatch.detect.ensemble import AlertDeduper, Ensemble
from fxwatch.detect.keyed import ALERT_COLUMNS, detect_all_pairs_batch, detect_pair_batch
from fxwatch.detect.pagehinkley import PageHinkley
from fxwatch.detect.ramp import RampRevert
from fxwatch.detect.silent import FrozenPair
from fxwatch.detect.spread import SpreadBlowout
from fxwatch.detect.stale import StaleQuote
from fxwatch.detect.tickrate import TickRate
from fxwatch.detect.triangle import CrossRate
from fxwatch.detect.verdict import Detector, ScalarDetector, Verdict
from fxwatch.detect.zscore import RobustZScore

__all__ = [
    "ALERT_COLUMNS",
    "AlertDeduper",
    "ContextualNovelty",
    "CrossRate",
    "CrossedQuote",
    "Cusum",
    "Detector",
    "Ensemble",
    "FrozenPair",
    "HistoricalBounds",
    "PageHinkley",
    "PairDetectorBank",
    "RampRevert",
    "RobustZScore",
    "ScalarDetector",
    "SpreadBlowout",
    "StaleQuote",
    "TickRate",
    "Verdict",
    "default_cross",
    "default_detectors",
    "detect_all_pairs_batch",
    "detect_pair_batch",
    "run_detectors",
]
