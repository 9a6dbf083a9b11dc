"""Spark Structured Streaming: one module per output query, the session, the PipelineConfig.

    read.py           Kafka -> parsed, validated records (shared first stage of every query)
    quotes.py         -> fxwatch.quote_chunks (the tick store), pair_status, dead letters
    trends.py         -> fxwatch.trends (tumbling and sliding windows)
    tick_alerts.py    -> fxwatch.alerts (stateful detectors keyed by pair and currency triangle)
    window_alerts.py  -> fxwatch.alerts (the classic rule: closed windows vs historical bounds)
    pipeline.py       start / run the queries of a PipelineConfig (config.py)

Importing this package does not import pyspark; import the modules you need.
"""

__all__ = []
