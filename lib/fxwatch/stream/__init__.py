"""Spark Structured Streaming: session factory, trend and anomaly transforms, Cassandra sinks, jobs."""

from fxwatch.stream.session import get_spark, kafka_connector_jars, stop_spark

__all__ = ["get_spark", "kafka_connector_jars", "stop_spark"]
