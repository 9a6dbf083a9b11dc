"""`fxwatch bench pipeline`: streaming job ticks/s vs the naive design, tick-to-alert latency
(micro-batch, real-time)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime

from fxwatch.bench.baseline import naive_ingest
from fxwatch.bench.cassandra_probe import AlertPoller, count_quotes
from fxwatch.bench.kafka_io import count_records, fresh_topics, produce_raw
from fxwatch.bench.machine import machine_info
from fxwatch.bench.progress import ProgressLog, batch_profile, sustained_rate
from fxwatch.bench.report import latency_summary, ratio
from fxwatch.bench.steady import SteadyFeeder, many_pairs
from fxwatch.bench.ticks import make_ticks
from fxwatch.stack.manager import wait_until
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.pipeline import run_pipeline, start_pipeline
from fxwatch.stream.session import get_spark

__all__ = [
    "bench_pipeline",
    "throughput_run",
    "pipeline_latency_run",
    "detector_latency_subprocess",
    "BENCH_KEYSPACE",
]

BENCH_KEYSPACE = "fxwatch_bench"


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result line in output: {text[-500:]}")


def detector_latency_subprocess(
    mode: str, seconds: float, rate: float, echo=print, sink: str = "kafka"
) -> dict:
    """Run `python -m fxwatch.bench.realtime` in its own JVM (real-time mode holds its task
    slots)."""
    cmd = [
        sys.executable,
        "-m",
        "fxwatch.bench.realtime",
        "--mode",
        mode,
        "--duration",
        str(seconds),
        "--rate",
        str(rate),
        "--sink",
        sink,
    ]
    echo(f"latency of the stateless detector, {mode}: {' '.join(cmd[1:])}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
    try:
        return _last_json(proc.stdout)
    except RuntimeError:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("\tat ")][
            -5:
        ]
        return {"mode": mode, "error": f"exit {proc.returncode}: {' | '.join(tail)[:800]}"}


def _bench_settings(settings, tag: str, partitions: int | None = None):
    s = settings.with_(keyspace=BENCH_KEYSPACE)
    init_schema(s)
    return fresh_topics(s, tag, partitions)


def throughput_run(settings, ticks: int, echo=print, config=None) -> tuple[dict, object]:
    """Produce `ticks` to fresh topics, run the pipeline until idle, check every tick landed
    once."""
    config = (config or PipelineConfig()).with_(until_idle=True)
    s = _bench_settings(settings, "thr")
    # a random past day of its own: the run's quote partitions (pair, day) start empty
    day0 = datetime(2001, 1, 1, tzinfo=UTC).timestamp() * 1000 + random.randrange(7000) * 86_400_000
    data = make_ticks(
        ticks, int(day0) + 3_600_000, step_us=max(1, 20 * 3_600_000_000 // max(ticks, 1))
    )
    echo(f"producing {ticks} ticks to {s.quotes_topic}")
    produce_s = produce_raw(s, s.quotes_topic, data.keys, data.values)
    if count_records(s, s.quotes_topic) != ticks:
        raise RuntimeError("Kafka holds fewer records than produced")
    spark = get_spark(s, app_name="fxwatch-bench-pipeline")
    progress = ProgressLog().attach(spark)
    echo("running the pipeline until idle")
    t0 = time.perf_counter()
    summary = run_pipeline(spark, s, config)
    wall = time.perf_counter() - t0
    # progress events reach Python listeners asynchronously: wait (bounded) for the last batches'
    busy = lambda: sum(e["rows"] for e in progress.snapshot() if e["name"].startswith("quotes"))
    names = list(summary.get("queries", {}))
    wait_until(
        lambda: (
            {e["name"].split("-fx-")[0] for e in progress.snapshot() if e["rows"]} >= set(names)
            and (busy() >= ticks or "quotes" not in names)
        ),
        15,
        0.2,
    )
    progress.detach(spark)
    stored = None
    if "quotes" in summary.get("queries", {}):
        cluster, session = connect(s)
        try:
            days = sorted(
                {
                    datetime.fromtimestamp(t / 1000, tz=UTC).date()
                    for t in (data.ts_ms[0], data.ts_ms[-1])
                }
            )
            stored = count_quotes(session, data.pairs, days)
        finally:
            cluster.shutdown()
    out = {
        "ticks": ticks,
        "produce_s": round(produce_s, 2),
        "pipeline_wall_s": round(wall, 2),
        "wall_ticks_per_s": round(ticks / wall, 1),
        "quotes_stored": stored,
        "exactly_once": None if stored is None else stored == ticks,
        "pipeline_quotes": summary.get("quotes"),
        "pipeline_alerts": summary.get("alerts"),
        "pipeline_config": repr(config),
        "pipeline_queries": {
            n: {
                "batches": q.get("batches"),
                "rows": q.get("rows"),
                "busy_s": round(sum(q.get("batch_seconds") or []), 1),
            }
            for n, q in summary.get("queries", {}).items()
        },
    }
    out.update(sustained_rate(progress.snapshot(), ticks))
    out["ticks_per_s"] = out.get("sustained_ticks_per_s") or out["wall_ticks_per_s"]
    return out, s


def pipeline_latency_run(
    settings, seconds: float, rate: float, trigger_seconds: float, echo=print, config=None
) -> dict:
    """The streaming job running continuously (processing-time trigger), fed steadily with spikes;
    latency = first time the spike's alert row is readable in Cassandra - the tick's Kafka
    timestamp.
    """
    s = _bench_settings(settings, "lat")
    spark = get_spark(s, app_name="fxwatch-bench-pipeline")
    cluster, session = connect(s)
    # the detectors alert once per pair and detector until 60 s of quiet: many pairs, each spiked
    # every 70 s, give a spike every 70/48 s overall
    mids = many_pairs(48)
    feeder = SteadyFeeder(
        s, s.quotes_topic, rate=rate, pairs=tuple(mids), mids=mids, pair_gap_s=70.0
    )
    poller = AlertPoller(session, datetime.now(UTC).date(), int(time.time() * 1000) - 1000)
    progress = ProgressLog().attach(spark)
    config = (config or PipelineConfig()).with_(
        until_idle=False,
        starting_offsets="latest",
        alerts_trigger_s=trigger_seconds,
        quotes_trigger_s=max(trigger_seconds, 1.0),
        windows_trigger_s=max(trigger_seconds, 5.0),
    )
    echo(f"starting the pipeline continuously (trigger {trigger_seconds:g} s) on {s.quotes_topic}")
    started = start_pipeline(spark, s, config)

    def died() -> str | None:
        for name, (q, _) in started.items():
            if not q.isActive:
                return f"query {name} stopped: {q.exception()}"
        return None

    measured_from = 0
    try:
        poller.start()
        feeder.start()
        t0 = time.monotonic()
        if not wait_until(
            lambda: poller.first_seen.keys() & feeder.spikes.keys(), 180, 0.25, abort=died
        ):
            raise RuntimeError("no spike alert readable in Cassandra within 180 s of feeding")
        echo(f"first alert after {time.monotonic() - t0:.1f} s; measuring {seconds:.0f} s")
        measured_from = int(time.time() * 1000) + 2000
        time.sleep(seconds)  # the measurement window itself
        feeder.stop()
        expected = {k for k, sent in feeder.spikes.items() if sent >= measured_from}
        wait_until(lambda: expected <= poller.first_seen.keys(), 60, 0.25, abort=died)
        lat = [poller.first_seen[k] - feeder.spikes[k] for k in expected if k in poller.first_seen]
    finally:
        feeder.stop_event.set()
        poller.stop_event.set()
        for q, _ in started.values():
            q.stop()
        progress.detach(spark)
        cluster.shutdown()
    out = {
        "latency_batches": batch_profile(progress.snapshot(), since_ms=measured_from),
        "latency_rate": rate,
        "latency_trigger_s": trigger_seconds,
        "latency_measured_s": seconds,
        "latency_poll_ms": poller.interval_s * 1000,
        "latency_ticks_sent": feeder.sent,
    }
    out.update(latency_summary(lat, len(expected)))
    return out


def bench_pipeline(
    settings,
    ticks: int = 300_000,
    baseline_ticks: int = 20_000,
    baseline_s: float = 60.0,
    latency_s: float = 60.0,
    rate: float = 500.0,
    trigger_seconds: float = 0.2,
    config=None,
    skip: set[str] | frozenset = frozenset(),
    echo=print,
) -> dict:
    """All parts of the pipeline benchmark, in one run, as one flat dict."""
    result: dict[str, object] = {
        "machine": machine_info(settings),
        "started": datetime.now(UTC).isoformat(),
    }
    thr_settings = None
    if "throughput" not in skip:
        thr, thr_settings = throughput_run(settings, ticks, echo, config)
        result.update(thr)
        echo(f"pipeline: {thr}")
    if "baseline" not in skip:
        if thr_settings is None:
            thr_settings = _bench_settings(settings, "base")
            data = make_ticks(baseline_ticks, 978_307_200_000 + random.randrange(7000) * 86_400_000)
            produce_raw(thr_settings, thr_settings.quotes_topic, data.keys, data.values)
        echo(
            f"naive baseline on the same topic, capped at {baseline_ticks} ticks "
            f"or {baseline_s:g} s"
        )
        base = naive_ingest(thr_settings, thr_settings.quotes_topic, baseline_ticks, baseline_s)
        result.update(base)
        echo(f"baseline: {base}")
    result["ratio_vs_baseline"] = ratio(
        result.get("ticks_per_s"), result.get("baseline_ticks_per_s")
    )
    if "latency" not in skip:
        try:
            result.update(
                pipeline_latency_run(settings, latency_s, rate, trigger_seconds, echo, config)
            )
        except Exception as exc:
            result["latency_error"] = f"{type(exc).__name__}: {exc}"
    if "realtime" not in skip:
        for mode, sink in (
            ("microbatch", "kafka"),
            ("realtime", "kafka"),
            ("realtime", "cassandra"),
        ):
            r = detector_latency_subprocess(mode, latency_s, rate, echo, sink)
            tag = mode if sink == "kafka" else f"{mode}_{sink}"
            result.update(
                {f"detector_{tag}_{k}": v for k, v in r.items() if k not in ("mode", "sink")}
            )
    for key in ("ticks_per_s", "baseline_ticks_per_s", "p50_latency_ms", "p99_latency_ms"):
        result.setdefault(key, None)
    return result
