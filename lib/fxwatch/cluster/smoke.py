"""A Kafka -> Cassandra streaming query run on whatever SPARK_MASTER says (the cluster smoke job)."""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["run_smoke", "main"]

_INSERT = ("INSERT INTO quotes (pair, day, ts, seq, bid, ask, mid, spread, source, ingested_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _partition_writer(settings):
    """A foreachPartition function: one driver session per partition, prepared inserts, concurrent."""

    def write(rows):
        import os
        from datetime import datetime, timezone

        from cassandra.concurrent import execute_concurrent_with_args

        from fxwatch.store.connection import connect

        cluster, session = connect(settings)
        try:
            stmt = session.prepare(_INSERT)
            now = datetime.now(timezone.utc)
            args = []
            for r in rows:
                ts = datetime.fromtimestamp(r.ts / 1000, tz=timezone.utc)
                args.append((r.pair, ts.date(), ts, r.offset, r.bid, r.ask, (r.bid + r.ask) / 2, r.ask - r.bid,
                             f"cluster-smoke:{os.getpid()}", now))
            for ok, res in execute_concurrent_with_args(session, stmt, args, concurrency=32,
                                                        raise_on_first_error=False):
                if not ok:
                    raise res
        finally:
            cluster.shutdown()

    return write


def run_smoke(settings, checkpoint: str, timeout_s: float = 240.0) -> dict:
    """Read the quotes topic until idle, write every quote to Cassandra from the executors."""
    from pyspark.sql import functions as F

    from fxwatch.schema import spark_schema
    from fxwatch.stream.session import get_spark

    spark = get_spark(settings, app_name="fxwatch-cluster-smoke",
                      **{"spark.executor.memory": "1g", "spark.cores.max": "2"})
    raw = (spark.readStream.format("kafka").options(**settings.spark_kafka_options())
           .option("subscribe", settings.quotes_topic).option("startingOffsets", "earliest").load())
    quotes = (raw.select(F.from_json(F.col("value").cast("string"), spark_schema()).alias("q"), "offset")
              .select("q.pair", "q.ts", "q.bid", "q.ask", "offset").where(F.col("pair").isNotNull()))
    writer = _partition_writer(settings)
    t0 = time.monotonic()
    query = (quotes.writeStream.queryName("cluster-smoke")
             .foreachBatch(lambda df, _id: df.foreachPartition(writer))
             .option("checkpointLocation", checkpoint).trigger(availableNow=True).start())
    try:
        if not query.awaitTermination(timeout_s):
            raise TimeoutError(f"the smoke query did not finish within {timeout_s:.0f} s")
        if query.exception() is not None:
            raise RuntimeError(str(query.exception()))
    finally:
        query.stop()
    executors = [e.host() for e in spark.sparkContext._jsc.sc().statusTracker().getExecutorInfos()]
    return {"master": spark.sparkContext.master, "app_id": spark.sparkContext.applicationId,
            "executor_infos": len(executors), "seconds": round(time.monotonic() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    """`python -m fxwatch.cluster.smoke --checkpoint DIR`: settings from the environment; JSON line out."""
    from fxwatch.config import Settings

    p = argparse.ArgumentParser(prog="fxwatch-cluster-smoke")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--timeout", type=float, default=240.0)
    a = p.parse_args(argv)
    result = run_smoke(Settings.from_env(), a.checkpoint, a.timeout)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
