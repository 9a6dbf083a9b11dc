"""A Kafka -> Cassandra streaming query run on whatever SPARK_MASTER says (the cluster
smoke job)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pyspark.sql import functions as F

from fxwatch.config import Settings
from fxwatch.schema import spark_schema
from fxwatch.store.ticks import TICK_COLUMNS, write_tick_rows
from fxwatch.stream.features import tick_id
from fxwatch.stream.session import get_spark

__all__ = ["run_smoke", "main"]


def _partition_writer(settings):
    """A foreachPartition function: its ticks (TICK_COLUMNS rows) merged into the tick store
    through fxwatch.store with the process's session (one Kafka partition holds whole pairs)."""

    def write(rows):
        write_tick_rows(settings, None, [tuple(r) for r in rows])

    return write


def run_smoke(settings, checkpoint: str, timeout_s: float = 240.0) -> dict:
    """Read the quotes topic until idle, write every quote to Cassandra from the executors."""
    spark = get_spark(
        settings,
        app_name="fxwatch-cluster-smoke",
        **{"spark.executor.memory": "1g", "spark.cores.max": "2"},
    )
    raw = (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", settings.quotes_topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    quotes = (
        raw.select(F.from_json(F.col("value").cast("string"), spark_schema()).alias("q"))
        .select(
            "q.pair",
            F.col("q.ts").alias("ts_ms"),
            "q.bid",
            "q.ask",
            F.col("q.src").alias("source"),
            "q.low",
            "q.high",
            "q.open",
        )
        .where(F.col("pair").isNotNull())
        .select("pair", "ts_ms", tick_id().alias("tick_id"), *TICK_COLUMNS[3:])
    )
    writer = _partition_writer(settings)
    t0 = time.monotonic()
    query = (
        quotes.writeStream.queryName("cluster-smoke")
        .foreachBatch(lambda df, _id: df.foreachPartition(writer))
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    try:
        if not query.awaitTermination(timeout_s):
            raise TimeoutError(f"the smoke query did not finish within {timeout_s:.0f} s")
        if query.exception() is not None:
            raise RuntimeError(str(query.exception()))
    finally:
        query.stop()
    executors = [e.host() for e in spark.sparkContext._jsc.sc().statusTracker().getExecutorInfos()]
    return {
        "master": spark.sparkContext.master,
        "app_id": spark.sparkContext.applicationId,
        "executor_infos": len(executors),
        "seconds": round(time.monotonic() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m fxwatch.cluster.smoke --checkpoint DIR`: settings from the environment;
    JSON line out."""
    p = argparse.ArgumentParser(prog="fxwatch-cluster-smoke")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--timeout", type=float, default=240.0)
    a = p.parse_args(argv)
    result = run_smoke(Settings.from_env(), a.checkpoint, a.timeout)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
