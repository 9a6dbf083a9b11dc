"""river's online detectors as NAB scalar detectors: HalfSpaceTrees on scaled values, and the
ADWIN / Page-Hinkley drift detectors turned into anomaly scores (1 at a detected drift, else 0).

Scaling is online and the same for all three: the first `probation` values fix [min, max]; every
value is then mapped by (x − min) / span into [0, 1] and, for HalfSpaceTrees, whose trees split a
fixed range, values beyond it land in the widened limits [−margin, 1 + margin] (default 0.5).
Output is 0 during probation (NAB never scores those rows); no look-ahead.
"""

from __future__ import annotations

from river import anomaly, drift

__all__ = ["RIVER_DETECTORS", "RiverDrift", "RiverHalfSpaceTrees"]


class _Probation:
    """Collect the first `probation` values, then expose the scale they fix."""

    def __init__(self, probation: int):
        self.probation = max(int(probation), 1)
        self.buf: list[float] | None = []
        self.lo, self.span = 0.0, 1.0

    def scaled(self, value: float) -> float:
        return (value - self.lo) / self.span

    def learn(self, value: float) -> list[float] | None:
        """Add a probation value; return all of them (scaled) when probation just ended."""
        buf = self.buf
        buf.append(value)
        if len(buf) < self.probation:
            return None
        lo, hi = min(buf), max(buf)
        self.lo, self.span = lo, (hi - lo) or (abs(hi) * 0.01 or 1.0)
        self.buf = None
        return [self.scaled(x) for x in buf]


class RiverHalfSpaceTrees:
    """`river.anomaly.HalfSpaceTrees` scoring each scaled value before learning it.

    Defaults: n_trees=10, height=8, window_size=250, seed=42 (river's defaults are 10, 8, 250).
    """

    name = "river-hst"

    def __init__(self, probation, n_trees=10, height=8, window_size=250, seed=42, margin=0.5):
        self.scale = _Probation(probation)
        self.model = anomaly.HalfSpaceTrees(
            n_trees=n_trees,
            height=height,
            window_size=window_size,
            seed=seed,
            limits={"x": (-margin, 1.0 + margin)},
        )

    def update(self, ts_ms: int, value: float) -> float:
        if self.scale.buf is not None:
            warm = self.scale.learn(value)
            for x in warm or ():
                self.model.learn_one({"x": x})
            return 0.0
        x = {"x": self.scale.scaled(value)}
        score = self.model.score_one(x)
        self.model.learn_one(x)
        return float(score)


class RiverDrift:
    """A river drift detector on the scaled values: score 1.0 where it signals a drift, else 0."""

    def __init__(self, name: str, factory, probation: int):
        self.name = name
        self.scale = _Probation(probation)
        self.model = factory()

    def update(self, ts_ms: int, value: float) -> float:
        if self.scale.buf is not None:
            for x in self.scale.learn(value) or ():
                self.model.update(x)
            return 0.0
        self.model.update(self.scale.scaled(value))
        return 1.0 if self.model.drift_detected else 0.0


RIVER_DETECTORS = {
    "river-hst": lambda probation: RiverHalfSpaceTrees(probation),
    "river-adwin": lambda probation: RiverDrift("river-adwin", drift.ADWIN, probation),
    "river-pagehinkley": lambda probation: RiverDrift(
        "river-pagehinkley", drift.PageHinkley, probation
    ),
}
"""Name -> factory(probation_rows), river defaults otherwise (ADWIN delta=0.002; Page-Hinkley
min_instances=30, delta=0.005, threshold=50, alpha=0.9999, both directions)."""
