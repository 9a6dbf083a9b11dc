"""Detection curves: recall against event magnitude (in the pair's own noise units) per event kind,
at the default detectors' operating point, and the smallest magnitude detected with 90 % recall."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fxwatch.eval.scenarios import ScenarioScore, merge_scores
from fxwatch.eval.variants import UNITS, Variant, run_variant

__all__ = [
    "CURVE_GRIDS",
    "CURVE_RATES",
    "recall_curve",
    "smallest_at_recall",
    "run_curve",
    "wilson",
]

CURVE_GRIDS: dict[str, tuple[float, ...]] = {
    "spike": (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48),
    "spread_blowout": (1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 12),
    "cross_break": (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
    "burst": (1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32),
    "frozen": (5, 10, 20, 30, 50, 75, 100, 150, 200, 300),
    "crossed": (1, 2, 3, 4, 6, 8),
    "fix_ramp": (1, 2, 3, 4, 5, 6, 8, 10, 12, 16),
}
"""Magnitudes swept per kind, in `fxwatch.eval.variants.UNITS`."""

CURVE_RATES: dict[str, float] = {
    "spike": 60.0,
    "crossed": 60.0,
    "spread_blowout": 40.0,
    "burst": 40.0,
    "cross_break": 25.0,
    "frozen": 25.0,
    "fix_ramp": 15.0,
}
"""Events of the swept kind injected per hour of a curve run (spaced by the generator)."""


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (95 % by default); (nan, nan) when n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def recall_curve(
    score: ScenarioScore, labels: Sequence, grids: dict[str, Sequence[float]] = CURVE_GRIDS
) -> pd.DataFrame:
    """One row per (kind, magnitude level): events, detected, recall and its 95 % interval.

    Each event's `magnitude` label parameter is floored to its kind's grid (the level it was
    injected at; a frozen run cut short by the data counts at the level it reached)."""
    mag = {e.event_id: float(e.params["magnitude"]) for e in labels}
    rows: dict[tuple[str, float], list[int]] = {}
    for ev in score.events:
        if ev.event_id not in mag:
            continue
        grid = np.asarray(grids.get(ev.kind, ()), dtype=float)
        m = mag[ev.event_id]
        if grid.size:
            i = int(np.searchsorted(grid, m + 1e-9, side="right")) - 1
            if i < 0:
                continue
            m = float(grid[i])
        cell = rows.setdefault((ev.kind, m), [0, 0])
        cell[0] += 1
        cell[1] += int(ev.detected)
    out = []
    for (kind, m), (n, k) in sorted(rows.items()):
        lo, hi = wilson(k, n)
        out.append(
            {
                "kind": kind,
                "magnitude": m,
                "events": n,
                "detected": k,
                "recall": k / n,
                "lo95": lo,
                "hi95": hi,
            }
        )
    return pd.DataFrame(
        out, columns=["kind", "magnitude", "events", "detected", "recall", "lo95", "hi95"]
    )


def smallest_at_recall(curve: pd.DataFrame, level: float = 0.9) -> pd.DataFrame:
    """Per kind: the smallest magnitude from which recall stays ≥ `level` at every larger level
    measured (NaN when the largest level is already below it), with the unit."""
    rows = []
    for kind, g in curve.groupby("kind", sort=True):
        g = g.sort_values("magnitude")
        ok = (g["recall"] >= level).to_numpy()
        # the start of the trailing run of levels that all reach `level`
        first = None
        for i in range(len(ok) - 1, -1, -1):
            if not ok[i]:
                break
            first = i
        m = float(g["magnitude"].iloc[first]) if first is not None else float("nan")
        rows.append(
            {
                "kind": kind,
                f"magnitude_at_{round(level * 100)}pct": m,
                "unit": UNITS.get(kind, ""),
                "events": int(g["events"].sum()),
            }
        )
    return pd.DataFrame(rows)


def run_curve(
    kind: str,
    variant: Variant | str,
    seeds: Sequence[int],
    hours: float = 2.0,
    grid: Sequence[float] | None = None,
    events_per_hour: float | None = None,
) -> tuple[ScenarioScore, list]:
    """Runs of `variant` with only `kind` injected, its magnitudes cycling through the grid;
    returns the pooled score and all labels."""
    grid = tuple(CURVE_GRIDS[kind] if grid is None else grid)
    rate = CURVE_RATES.get(kind, 10.0) if events_per_hour is None else events_per_hour
    scores, labels = [], []
    for seed in seeds:
        sc, _, res = run_variant(
            variant, seed, hours, kinds=(kind,), grid=grid, events_per_hour=rate
        )
        scores.append(sc)
        labels.extend(res.labels)
    return merge_scores(scores), labels
