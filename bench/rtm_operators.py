"""Which of the pipeline's operators does this Spark's real-time mode accept?

Real-time mode (`trigger(realTime=...)`, Spark 4.1+) is the one Structured Streaming mode whose
latency is milliseconds (the stateless detector alone: 3.7 ms p50, `fxwatch bench latency`). The
live target (p99 tick-to-alert <= 1 s with every output on) would need the stateful detectors
there too. This starts, on a fresh topic, one query per kind of operator the pipeline uses —
stateless (the crossed-quote check), a plain aggregation, an event-time window aggregation (trends,
the classic rule), applyInPandasWithState (the confirmation detectors) — each with a real-time
trigger, and reports whether Spark runs it or stops it, with Spark's reason.

    .venv/bin/python bench/rtm_operators.py      # needs `fxwatch stack up` (Kafka)
    .venv/bin/python bench/rtm_operators.py --no-allowlist-check   # Spark's "at your own risk"

Last line on stdout: one JSON object {operator: "runs" | "<Spark's error class>"} plus `pyspark`.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import uuid

import pandas as pd
import pyspark
from kafka.admin import KafkaAdminClient, NewTopic
from pyspark.sql import functions as F
from pyspark.sql.streaming.state import GroupStateTimeout

from fxwatch.bench.realtime import latest_quotes
from fxwatch.config import Settings
from fxwatch.stack.manager import wait_until
from fxwatch.stream.session import get_spark


def _count_state(key, frames, state):
    for frame in frames:
        yield pd.DataFrame({"pair": [key[0]], "n": [len(frame)]})


def _drop(row) -> None:
    """The sink: a row-at-a-time `foreach` (a sink real-time mode allows), keeping nothing."""


def _reason(error: Exception | str) -> str:
    found = re.search(r"\[([A-Z_.]+)\]", str(error))
    return found.group(1) if found else str(error)[:200]


def _try(df, checkpoint: str) -> str:
    """Start `df` with a real-time trigger: "runs" once its first batch is under way, or why
    Spark refused it (at start or in its first batch)."""
    try:
        q = (
            df.writeStream.foreach(_drop)
            .outputMode("update")
            .option("checkpointLocation", checkpoint)
            .trigger(realTime="10 seconds")
            .start()
        )
    except Exception as exc:  # refused when the query is planned
        return _reason(exc)
    # running once its first real-time batch has reported, or stopped with a reason
    wait_until(lambda: not q.isActive or bool(q.recentProgress), 60, 0.2)
    if not q.isActive:
        return _reason(q.exception())
    q.stop()
    return "runs"


def main() -> int:
    unchecked = "--no-allowlist-check" in sys.argv[1:]
    s = Settings.from_env()
    # real-time mode holds a task slot per source partition for each query: slots to spare
    spark = get_spark(
        s,
        "fxwatch-bench-rtm-operators",
        **{
            "spark.master": "local[8]",
            "spark.sql.streaming.realTimeMode.minBatchDuration": "1000",
            "spark.sql.streaming.realTimeMode.allowlistCheck": str(not unchecked).lower(),
        },
    )
    topic = f"fx-rtm-operators-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    quotes = latest_quotes(spark, s.with_(quotes_topic=topic)).withColumn(
        "ts", F.timestamp_millis("ts")
    )
    queries = {
        "stateless": quotes.where("bid > ask"),
        "aggregation": quotes.groupBy("pair").count(),
        "window_aggregation": quotes.withWatermark("ts", "30 seconds")
        .groupBy("pair", F.window("ts", "1 minute"))
        .count(),
        "applyInPandasWithState": quotes.groupBy("pair").applyInPandasWithState(
            _count_state, "pair string, n long", "n long", "update", GroupStateTimeout.NoTimeout
        ),
    }
    out: dict[str, object] = {"pyspark": pyspark.__version__, "allowlist_check": not unchecked}
    with tempfile.TemporaryDirectory() as tmp:
        for name, df in queries.items():
            out[name] = _try(df, f"{tmp}/{name}")
            print(f"{name}: {out[name]}", file=sys.stderr)
    spark.stop()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
