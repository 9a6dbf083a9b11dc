"""A stateful tick detector in real-time mode vs micro-batch: does the one millisecond-latency
mode of Structured Streaming carry the detectors that need state?

The detector: per pair, the mid of the previous tick in state (`applyInPandasWithState`); a tick
whose mid moved more than 1 % from it is an alert — the smallest stateful detector (the
confirmation detectors of the pipeline keep more state, in the same operator). Spark 4.2's
real-time mode refuses the operator unless `spark.sql.streaming.realTimeMode.allowlistCheck` is
off ("at your own risk", `bench/rtm_operators.py`): this switches it off for the real-time run.
Feed, topics, alert timing and the summary are `fxwatch.bench.realtime`'s (steady feeder, one
spike in `--spike-every` ticks, latency = alert received from the alerts topic − the tick's Kafka
timestamp); the detector runs alone, on its own JVM.

    .venv/bin/python bench/rtm_stateful.py --mode realtime   [--rate 2000 --duration 30]
    .venv/bin/python bench/rtm_stateful.py --mode microbatch

Last line on stdout: one JSON object (mode, rate, p50/p99 latency, alerts seen / expected).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql.streaming.state import GroupStateTimeout

from fxwatch.bench.kafka_io import fresh_topics
from fxwatch.bench.realtime import JUMP_THRESHOLD, _AlertCollector
from fxwatch.bench.report import emit, latency_summary
from fxwatch.bench.steady import SteadyFeeder
from fxwatch.config import Settings
from fxwatch.schema import spark_schema
from fxwatch.stack.manager import wait_until
from fxwatch.stream.session import get_spark

OUT = "pair string, ts long, detector string, jump double, tick_kafka_ms long"


def _jumps(key, frames, state):
    """Ticks of one pair, in order -> those whose mid moved > 1 % from the previous tick's."""
    prev = state.get[0] if state.exists else None
    out = []
    for f in frames:
        f = f.sort_values(["kafka_ms", "ts"])
        mid = (f["bid"] + f["ask"]) / 2
        before = mid.shift(1)
        if prev is not None and len(before):
            before.iloc[0] = prev
        jump = (mid / before - 1).abs()
        hit = f[jump > JUMP_THRESHOLD]
        out.append(
            pd.DataFrame(
                {
                    "pair": hit["pair"],
                    "ts": hit["ts"],
                    "detector": "jump",
                    "jump": jump[jump > JUMP_THRESHOLD],
                    "tick_kafka_ms": hit["kafka_ms"],
                }
            )
        )
        if len(mid):
            prev = float(mid.iloc[-1])
    if prev is not None:
        state.update((prev,))
    yield pd.concat(out) if out else pd.DataFrame(columns=OUT_COLUMNS)


OUT_COLUMNS = ["pair", "ts", "detector", "jump", "tick_kafka_ms"]


def start(spark, settings, mode: str, checkpoint: str):
    quotes = (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", settings.quotes_topic)
        .option("startingOffsets", "latest")
        .load()
        .select(
            F.from_json(F.col("value").cast("string"), spark_schema()).alias("q"),
            F.unix_millis("timestamp").alias("kafka_ms"),
        )
        .select("q.pair", "q.ts", "q.bid", "q.ask", "kafka_ms")
        .where(F.col("pair").isNotNull())
    )
    alerts = quotes.groupBy("pair").applyInPandasWithState(
        _jumps, OUT, "prev_mid double", "update", GroupStateTimeout.NoTimeout
    )
    writer = (
        alerts.select(F.col("pair").alias("key"), F.to_json(F.struct(*OUT_COLUMNS)).alias("value"))
        .writeStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("topic", settings.alerts_topic)
        .option("checkpointLocation", checkpoint)
        .outputMode("update")
    )
    if mode == "realtime":
        return writer.trigger(realTime="30 seconds").start()
    return writer.trigger(processingTime="100 milliseconds").start()


def main() -> int:
    p = argparse.ArgumentParser(prog="rtm_stateful")
    p.add_argument("--mode", choices=("realtime", "microbatch"), required=True)
    p.add_argument("--rate", type=float, default=2000.0)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--spike-every", type=int, default=100)
    a = p.parse_args()
    settings = fresh_topics(Settings.from_env(), f"rtm-state-{a.mode}", partitions=2)
    spark = get_spark(
        settings,
        f"fxwatch-bench-rtm-stateful-{a.mode}",
        **{
            "spark.master": "local[4]",  # real-time mode holds a slot per partition and stage
            "spark.sql.streaming.realTimeMode.minBatchDuration": "1000",
            "spark.sql.streaming.realTimeMode.allowlistCheck": "false",
        },
    )
    checkpoint = settings.checkpoint_dir / f"bench-rtm-stateful-{uuid.uuid4().hex[:8]}"
    collector = _AlertCollector(settings, settings.alerts_topic)
    collector.start()
    feeder = SteadyFeeder(settings, settings.quotes_topic, rate=a.rate, spike_every=a.spike_every)
    out: dict[str, object] = {"mode": a.mode, "rate": a.rate, "detector": "stateful jump"}
    query = start(spark, settings, a.mode, str(checkpoint))
    try:
        feeder.start()
        t0 = time.monotonic()
        if not wait_until(
            lambda: collector.latency,
            120,
            0.2,
            abort=lambda: f"query failed: {query.exception()}" if not query.isActive else None,
        ):
            raise RuntimeError("no alert within 120 s of feeding spikes")
        print(f"first alert after {time.monotonic() - t0:.1f} s", file=sys.stderr)
        measured_from = int(time.time() * 1000) + 1000
        time.sleep(a.duration)  # the measurement window itself (not a wait for a condition)
        feeder.stop()
        expected = {k for k, sent in feeder.spikes.items() if sent >= measured_from}
        wait_until(lambda: expected <= collector.latency.keys(), 15, 0.2)
        lat = [collector.latency[k] for k in expected if k in collector.latency]
        out.update(latency_summary(lat, len(expected)))
        out["ticks_sent"] = feeder.sent
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:400]}"
    finally:
        feeder.stop_event.set()
        query.stop()
        collector.stop_event.set()
        collector.join(10)
        shutil.rmtree(checkpoint, ignore_errors=True)
        spark.stop()
    emit(out)
    return 0 if "error" not in out else 1


if __name__ == "__main__":
    sys.exit(main())
