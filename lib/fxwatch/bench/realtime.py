"""A tick detector (Kafka -> alerts) in real-time or micro-batch mode, and its latency.

Two detectors: `stateless` (crossed quote or a jump from a reference mid: a broadcast join, no
shuffle) and `stateful` (a jump from the previous tick's mid, kept per pair in
`applyInPandasWithState` state: the smallest detector that needs state). Spark 4.2's real-time
mode refuses the stateful one unless `spark.sql.streaming.realTimeMode.allowlistCheck` is off
("at your own risk", `bench/rtm_operators.py`): the stateful run switches it off."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pandas as pd
from kafka import KafkaConsumer
from pyspark.sql import functions as F
from pyspark.sql.streaming.state import GroupStateTimeout

from fxwatch.bench.cassandra_probe import AlertPoller
from fxwatch.bench.kafka_io import fresh_topics
from fxwatch.bench.report import emit, latency_summary
from fxwatch.bench.steady import SteadyFeeder
from fxwatch.bench.ticks import BASE_MID
from fxwatch.config import Settings
from fxwatch.schema import spark_schema
from fxwatch.stack.manager import wait_until
from fxwatch.store.alerts import insert_alerts
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema
from fxwatch.stream.session import get_spark

__all__ = [
    "latest_quotes",
    "build_detector",
    "build_stateful_detector",
    "start_detector",
    "measure_detector_latency",
    "main",
]

JUMP_THRESHOLD = 0.01  # |mid / reference - 1| above 1 % is an alert


def latest_quotes(spark, settings):
    """The quotes topic from its latest offsets, parsed: the quote's fields, its Kafka timestamp
    as `kafka_ms`, valid prices only."""
    return (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", settings.quotes_topic)
        .option("startingOffsets", "latest")
        .load()
        .select(
            F.from_json(F.col("value").cast("string"), spark_schema()).alias("q"),
            F.unix_millis("timestamp").alias("kafka_ms"),
        )
        .select("q.*", "kafka_ms")
        .where(F.col("pair").isNotNull() & (F.col("bid") > 0) & (F.col("ask") > 0))
    )


_ALERT_FIELDS = ["pair", "ts", "detector", "jump", "tick_kafka_ms"]


def _for_kafka(alerts):
    """Alert rows (_ALERT_FIELDS) -> (key, value) for the Kafka sink."""
    return alerts.select(
        F.col("pair").alias("key"), F.to_json(F.struct(*_ALERT_FIELDS)).alias("value")
    )


def build_detector(spark, settings, reference: dict[str, float], threshold: float = JUMP_THRESHOLD):
    """Kafka quotes -> alerts DataFrame (key, value) for the Kafka sink: stateless, no shuffle."""
    ref = spark.createDataFrame(sorted(reference.items()), "pair STRING, ref_mid DOUBLE")
    quotes = latest_quotes(spark, settings)
    mid = (F.col("bid") + F.col("ask")) / 2
    alerts = (
        quotes.join(
            F.broadcast(ref), "pair"
        )  # stream-static broadcast join: allowed in real-time mode
        .withColumn("jump", F.abs(mid / F.col("ref_mid") - 1))
        .where((F.col("bid") > F.col("ask")) | (F.col("jump") > threshold))
        .withColumn("detector", F.when(F.col("bid") > F.col("ask"), "crossed").otherwise("jump"))
    )
    return _for_kafka(alerts.withColumnRenamed("kafka_ms", "tick_kafka_ms"))


def build_stateful_detector(spark, settings):
    """Kafka quotes -> alerts DataFrame (key, value) for the Kafka sink: per pair, the previous
    tick's mid in state; a tick whose mid moved more than JUMP_THRESHOLD from it is an alert."""
    quotes = latest_quotes(spark, settings).select("pair", "ts", "bid", "ask", "kafka_ms")
    alerts = quotes.groupBy("pair").applyInPandasWithState(
        _jumps,
        "pair string, ts long, detector string, jump double, tick_kafka_ms long",
        "prev_mid double",
        "update",
        GroupStateTimeout.NoTimeout,
    )
    return _for_kafka(alerts)


def _jumps(key, frames, state):
    """Ticks of one pair, in Kafka order -> those whose mid moved > JUMP_THRESHOLD from the
    previous tick's (the last mid carried in state from one batch to the next)."""
    prev = state.get[0] if state.exists else None
    out = []
    for f in frames:
        f = f.sort_values(["kafka_ms", "ts"])
        mid = (f["bid"] + f["ask"]) / 2
        before = mid.shift(1)
        if prev is not None and len(before):
            before.iloc[0] = prev
        jump = (mid / before - 1).abs()
        hit = jump > JUMP_THRESHOLD
        out.append(
            pd.DataFrame(
                {
                    "pair": f["pair"][hit],
                    "ts": f["ts"][hit],
                    "detector": "jump",
                    "jump": jump[hit],
                    "tick_kafka_ms": f["kafka_ms"][hit],
                }
            )
        )
        if len(mid):
            prev = float(mid.iloc[-1])
    if prev is not None:
        state.update((prev,))
    yield pd.concat(out) if out else pd.DataFrame(columns=_ALERT_FIELDS)


class CassandraAlertWriter:
    """A row-at-a-time ForeachWriter: each alert row -> one INSERT into the alerts table."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def open(self, partition_id, epoch_id) -> bool:
        return True

    def process(self, row) -> None:
        d = json.loads(row.value)
        insert_alerts(
            self.settings,
            [
                {
                    "pair": d["pair"],
                    "ts": int(d["ts"]),
                    "detector": f"rt-{d['detector']}",
                    "score": 1.0,
                    "reason": f"{d['detector']}: |mid/ref - 1| = {d['jump']:.4f}",
                    "window_start": None,
                    "window_end": None,
                    "value": d["jump"],
                }
            ],
        )

    def close(self, error) -> None:
        pass


def start_detector(
    spark,
    settings,
    mode: str,
    checkpoint: str,
    interval: str | None = None,
    sink: str = "kafka",
    detector: str = "stateless",
):
    """Start the detector ('stateless' or 'stateful'); mode 'realtime' or 'microbatch'; sink
    'kafka' (alerts topic) or 'cassandra' (a foreach writer into the alerts table)."""
    if detector == "stateless":
        df = build_detector(spark, settings, BASE_MID)
    elif detector == "stateful":
        df = build_stateful_detector(spark, settings)
    else:
        raise ValueError(f"detector must be stateless or stateful, not {detector!r}")
    writer = df.writeStream.option("checkpointLocation", checkpoint).queryName(
        f"bench-detector-{mode}-{sink}"
    )
    if sink == "kafka":
        writer = (
            writer.format("kafka")
            .options(**settings.spark_kafka_options())
            .option("topic", settings.alerts_topic)
        )
    elif sink == "cassandra":
        writer = writer.foreach(CassandraAlertWriter(settings))
    else:
        raise ValueError(f"sink must be kafka or cassandra, not {sink!r}")
    if mode == "realtime":
        writer = writer.outputMode("update").trigger(realTime=interval or "30 seconds")
    elif mode == "microbatch":
        # the stateful operator emits in update mode (its function's mode); the stateless in append
        writer = writer.outputMode("update" if detector == "stateful" else "append").trigger(
            processingTime=interval or "100 milliseconds"
        )
    else:
        raise ValueError(f"mode must be realtime or microbatch, not {mode!r}")
    return writer.start()


class _AlertCollector(threading.Thread):
    """Consume the alerts topic; record (pair, ts) -> receive time minus the tick's Kafka time."""

    def __init__(self, settings, topic: str) -> None:
        super().__init__(name="alert-collector", daemon=True)
        self.consumer = KafkaConsumer(
            topic,
            **settings.kafka_client_config(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=10,
        )
        self.latency: dict[tuple[str, int], float] = {}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            for records in self.consumer.poll(timeout_ms=20).values():
                now = time.time() * 1000
                for r in records:
                    d = json.loads(r.value)
                    self.latency.setdefault((d["pair"], int(d["ts"])), now - d["tick_kafka_ms"])
        self.consumer.close()


class _CassandraSeen:
    """Adapter: AlertPoller first-seen times as {(pair, ts): latency} against the feeder's
    send times."""

    def __init__(self, settings) -> None:
        self.cluster, session = connect(settings)
        self.poller = AlertPoller(session, datetime.now(UTC).date(), int(time.time() * 1000) - 1000)
        self.feeder = None

    @property
    def latency(self) -> dict:
        sent = self.feeder.spikes if self.feeder else {}
        return {k: t - sent[k] for k, t in list(self.poller.first_seen.items()) if k in sent}

    def start(self) -> None:
        self.poller.start()

    @property
    def stop_event(self):
        return self.poller.stop_event

    def join(self, timeout) -> None:
        self.poller.join(timeout)
        self.cluster.shutdown()


def measure_detector_latency(
    settings,
    mode: str,
    rate: float = 2000.0,
    duration_s: float = 30.0,
    spike_every: int = 100,
    warmup_s: float = 90.0,
    interval: str | None = None,
    echo=print,
    sink: str = "kafka",
    detector: str = "stateless",
) -> dict[str, object]:
    """Run the detector in `mode` on fresh topics, feed steady ticks with spikes, and time each
    alert (sink kafka: alert received from the alerts topic; sink cassandra: alert row
    readable)."""
    if sink == "cassandra":
        settings = settings.with_(keyspace="fxwatch_bench")
        init_schema(settings)
    settings = fresh_topics(settings, f"lat-{mode}", partitions=2)
    conf = {"spark.sql.streaming.realTimeMode.minBatchDuration": "1000"}
    if detector == "stateful":
        # refused by real-time mode's allowlist otherwise; a task slot per partition and stage
        conf["spark.sql.streaming.realTimeMode.allowlistCheck"] = "false"
        conf["spark.master"] = "local[4]"
    if sink == "cassandra":
        # rows reach a Python foreach writer through a buffered pipe (spark.buffer.size, 64 KiB):
        # sparse alerts would wait for it to fill; a small buffer sends each one on
        conf["spark.buffer.size"] = os.environ.get("FXWATCH_BENCH_PY_BUFFER", "256")
    spark = get_spark(settings, app_name=f"fxwatch-bench-{mode}", **conf)
    checkpoint = settings.checkpoint_dir / f"bench-{mode}-{uuid.uuid4().hex[:8]}"
    collector = (
        _AlertCollector(settings, settings.alerts_topic)
        if sink == "kafka"
        else _CassandraSeen(settings)
    )
    collector.start()
    feeder = SteadyFeeder(settings, settings.quotes_topic, rate=rate, spike_every=spike_every)
    if sink == "cassandra":
        collector.feeder = feeder
    query = start_detector(spark, settings, mode, str(checkpoint), interval, sink, detector)
    try:
        feeder.start()
        t0 = time.monotonic()
        if not wait_until(
            lambda: collector.latency,
            warmup_s,
            0.2,
            abort=lambda: f"query failed: {query.exception()}" if not query.isActive else None,
        ):
            raise RuntimeError(f"no alert within {warmup_s:.0f} s of feeding spikes ({mode})")
        echo(
            f"{mode}: first alert after {time.monotonic() - t0:.1f} s; measuring {duration_s:.0f} s"
        )
        measured_from = int(time.time() * 1000) + 1000
        time.sleep(duration_s)  # the measurement window itself (not a wait for a condition)
        feeder.stop()
        expected = {k for k, sent in feeder.spikes.items() if sent >= measured_from}
        wait_until(lambda: expected <= collector.latency.keys(), 15, 0.2)
        lat = [collector.latency[k] for k in expected if k in collector.latency]
    finally:
        feeder.stop_event.set()
        query.stop()
        collector.stop_event.set()
        collector.join(10)
        shutil.rmtree(checkpoint, ignore_errors=True)
    out = {
        "mode": mode,
        "sink": sink,
        "detector": detector,
        "rate": rate,
        "spike_every": spike_every,
        "measured_s": duration_s,
        "ticks_sent": feeder.sent,
        "trigger": interval or ("30 seconds" if mode == "realtime" else "100 milliseconds"),
    }
    out.update(latency_summary(lat, len(expected)))
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m fxwatch.bench.realtime --mode realtime|microbatch`: one JSON line at the end."""
    p = argparse.ArgumentParser(prog="fxwatch-bench-detector")
    p.add_argument("--mode", choices=("realtime", "microbatch"), required=True)
    p.add_argument("--rate", type=float, default=2000.0)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--spike-every", type=int, default=100)
    p.add_argument("--interval", help="trigger interval (real-time: checkpoint interval)")
    p.add_argument("--sink", choices=("kafka", "cassandra"), default="kafka")
    p.add_argument("--detector", choices=("stateless", "stateful"), default="stateless")
    a = p.parse_args(argv)
    settings = Settings.from_env()
    try:
        result = measure_detector_latency(
            settings,
            a.mode,
            a.rate,
            a.duration,
            a.spike_every,
            interval=a.interval,
            echo=lambda m: print(m, file=sys.stderr),
            sink=a.sink,
            detector=a.detector,
        )
    except Exception as exc:  # the error is the result: real-time mode may not run in this build
        result = {
            "mode": a.mode,
            "sink": a.sink,
            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}",
        }
    emit(result)
    return 0 if "error" not in result else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
