"""Keyed-state entry points for Spark's applyInPandasWithState / transformWithStateInPandas."""

from __future__ import annotations

import pickle
from typing import Callable, Iterable

from fxwatch.detect.bank import default_detectors
from fxwatch.detect.ensemble import Ensemble
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["ALERT_COLUMNS", "detect_pair_batch", "detect_all_pairs_batch"]

ALERT_COLUMNS = ("pair", "ts_ms", "detector", "score", "reason")
"""Column order of the alert tuples returned below (ts in epoch ms)."""


def _rows(verdicts: Iterable[Verdict]) -> list[tuple]:
    return [(v.pair, v.ts_ms, v.detector, v.score, v.reason) for v in verdicts]


def detect_pair_batch(pair: str, quotes: Iterable[Quote], state: bytes | None,
                      factory: Callable[[], list] = default_detectors,
                      cooldown_ms: int = 60_000) -> tuple[list[tuple], bytes]:
    """Run one pair's detectors over a micro-batch (sorted by ts_ms); return (alert rows, new state bytes).

    `state` is what the previous call returned for this pair (None/b'' on first sight); store it in
    Spark's per-key state as a single binary column.
    """
    ens = pickle.loads(state) if state else Ensemble(factory(), cooldown_ms)
    out: list[Verdict] = []
    upd = ens.update_many
    for q in quotes:
        if q.pair != pair:
            raise ValueError(f"quote for {q.pair} in the batch of {pair}")
        v = upd(q)
        if v:
            out.extend(v)
    return _rows(out), pickle.dumps(ens, protocol=pickle.HIGHEST_PROTOCOL)


def detect_all_pairs_batch(quotes: Iterable[Quote], state: bytes | None,
                           factory: Callable[[], list] | None = None,
                           cooldown_ms: int = 60_000) -> tuple[list[tuple], bytes]:
    """All-pairs detectors (default: CrossRate) over a batch of every pair, sorted by ts_ms; one global key."""
    from fxwatch.detect.bank import default_cross

    ens = pickle.loads(state) if state else Ensemble((factory or default_cross)(), cooldown_ms)
    out: list[Verdict] = []
    for q in quotes:
        v = ens.update_many(q)
        if v:
            out.extend(v)
    return _rows(out), pickle.dumps(ens, protocol=pickle.HIGHEST_PROTOCOL)
