"""The streaming job's view of fxwatch.stats: latest version's bounds, re-checked at most every N seconds."""

from __future__ import annotations

import time

from fxwatch.config import Settings

__all__ = ["StatsBounds"]

_STATS_SCHEMA = ("pair string, hour_of_week int, metric string, n long, mean double, std double, "
                 "median double, mad double")


class StatsBounds:
    """Driver-side cache of the newest stats version as a small Spark DataFrame of bounds.

    `current(spark)` checks stats_versions when `refresh_seconds` have passed since the last check
    and reloads when a newer version landed; None until any stats exist (cold start: the classic
    rule stays silent; the tick-level `bounds` detector learns its bounds online meanwhile).
    """

    def __init__(self, settings: Settings, k: float | None = None, method: str = "both", min_n: int = 5,
                 refresh_seconds: float = 30.0):
        self.settings, self.k, self.method, self.min_n = settings, k, method, min_n
        self.refresh_seconds = refresh_seconds
        self.version: str | None = None
        self.bounds = None
        self.checked_at = float("-inf")
        self.loads = 0

    def current(self, spark):
        """(version, bounds DataFrame) or (None, None)."""
        from fxwatch.stats.store import latest_version, read_stats
        from fxwatch.stream.anomalies import bounds_table
        from fxwatch.stream.cassandra_io import with_retry

        now = time.monotonic()
        if now - self.checked_at < self.refresh_seconds:
            return self.version, self.bounds
        self.checked_at = now
        row = with_retry(lambda: latest_version(self.settings), "reading stats_versions")
        if row is None or row.version == self.version:
            return self.version, self.bounds
        rows = with_retry(lambda: read_stats(self.settings, row.version, row.pairs), "reading stats")
        k = self.k if self.k is not None else (row.k or 4.0)
        stats = spark.createDataFrame([tuple(r[c] for c in ("pair", "hour_of_week", "metric", "n", "mean", "std",
                                                            "median", "mad")) for r in rows], _STATS_SCHEMA)
        bounds = bounds_table(stats, k=k, method=self.method, min_n=self.min_n).cache()
        bounds.count()
        if self.bounds is not None:
            self.bounds.unpersist()
        self.version, self.bounds = row.version, bounds
        self.loads += 1
        return self.version, self.bounds
