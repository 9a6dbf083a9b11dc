"""Spark Structured Streaming: session factory, trend and anomaly transforms, Cassandra sinks, jobs."""

from fxwatch.stream.anomalies import bounds_table, classic_alerts, detect_ticks, tick_alerts, window_features
from fxwatch.stream.jobs import QUERIES, run_pipeline, start_pipeline
from fxwatch.stream.read import accepted, parse_records, read_quotes, read_records, rejected
from fxwatch.stream.session import get_spark, kafka_connector_jars, stop_spark
from fxwatch.stream.sinks import (
    QuotesBatchWriter, update_pair_status, write_alerts, write_dead_letters, write_quotes, write_trends,
)
from fxwatch.stream.stats_bounds import StatsBounds
from fxwatch.stream.trends import DEFAULT_WINDOWS, build_trends, window_stats

__all__ = [
    "DEFAULT_WINDOWS",
    "QUERIES",
    "QuotesBatchWriter",
    "StatsBounds",
    "accepted",
    "bounds_table",
    "build_trends",
    "classic_alerts",
    "detect_ticks",
    "get_spark",
    "kafka_connector_jars",
    "parse_records",
    "read_quotes",
    "read_records",
    "rejected",
    "run_pipeline",
    "start_pipeline",
    "stop_spark",
    "tick_alerts",
    "update_pair_status",
    "window_features",
    "window_stats",
    "write_alerts",
    "write_dead_letters",
    "write_quotes",
    "write_trends",
]
