"""Streaming detectors for FX quotes (one protocol: update a quote, get a Verdict) and the bank."""

from fxwatch.detect.bank import PairDetectorBank, default_cross, default_detectors, run_detectors
from fxwatch.detect.bounds import HistoricalBounds
from fxwatch.detect.crossed import CrossedQuote
from fxwatch.detect.cusum import Cusum
from fxwatch.detect.ensemble import AlertDeduper, Ensemble
from fxwatch.detect.io import detect_columns, write_alerts
from fxwatch.detect.pagehinkley import PageHinkley
from fxwatch.detect.ramp import RampRevert
from fxwatch.detect.silent import FrozenPair
from fxwatch.detect.spread import SpreadBlowout
from fxwatch.detect.stale import StaleQuote
from fxwatch.detect.tickrate import TickRate
from fxwatch.detect.triangle import CrossRate
from fxwatch.detect.venue import BaseRate, DecayedQuantile, scheduled_release
from fxwatch.detect.verdict import Detector, QuoteView, Verdict
from fxwatch.detect.zscore import RobustZScore

__all__ = [
    "AlertDeduper",
    "BaseRate",
    "CrossRate",
    "CrossedQuote",
    "Cusum",
    "DecayedQuantile",
    "Detector",
    "Ensemble",
    "FrozenPair",
    "HistoricalBounds",
    "PageHinkley",
    "PairDetectorBank",
    "QuoteView",
    "RampRevert",
    "RobustZScore",
    "SpreadBlowout",
    "StaleQuote",
    "TickRate",
    "Verdict",
    "default_cross",
    "default_detectors",
    "detect_columns",
    "run_detectors",
    "scheduled_release",
    "write_alerts",
]
