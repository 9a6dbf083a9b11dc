"""Historical statistics: per pair and hour-of-week bounds material for the streaming rule."""

from fxwatch.stats.compute import STATS_COLUMNS, as_of_range, compute_stats, minute_features
from fxwatch.stats.job import run_stats_job
from fxwatch.stats.spark_io import load_quotes, write_stats
from fxwatch.store.stats import latest_version, read_stats
from fxwatch.stream.features import METRICS, hour_of_week

__all__ = [
    "METRICS",
    "STATS_COLUMNS",
    "as_of_range",
    "compute_stats",
    "hour_of_week",
    "latest_version",
    "load_quotes",
    "minute_features",
    "read_stats",
    "run_stats_job",
    "write_stats",
]
