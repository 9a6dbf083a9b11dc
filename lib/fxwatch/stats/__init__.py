"""Historical statistics: per pair and hour-of-week bounds material for the streaming rule."""

from fxwatch.stats.compute import (
    STATS_COLUMNS,
    as_of_range,
    compute_stats,
    compute_stats_from_minutes,
    minute_features,
    minute_rows,
)
from fxwatch.stats.job import run_stats_job, stats_from_store
from fxwatch.stats.spark_io import load_minutes, load_quotes, write_stats
from fxwatch.store.stats import latest_version, read_stats
from fxwatch.stream.features import METRICS, hour_of_week

__all__ = [
    "METRICS",
    "STATS_COLUMNS",
    "as_of_range",
    "compute_stats",
    "compute_stats_from_minutes",
    "hour_of_week",
    "latest_version",
    "load_minutes",
    "load_quotes",
    "minute_features",
    "minute_rows",
    "read_stats",
    "run_stats_job",
    "stats_from_store",
    "write_stats",
]
