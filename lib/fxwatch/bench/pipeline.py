"""`fxwatch bench pipeline`: streaming job ticks/s vs the naive design, tick-to-alert latency (micro-batch, real-time)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import datetime, timezone

__all__ = ["bench_pipeline", "throughput_run", "pipeline_latency_run", "detector_latency_subprocess",
           "BENCH_KEYSPACE"]

BENCH_KEYSPACE = "fxwatch_bench"


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result line in output: {text[-500:]}")


def detector_latency_subprocess(mode: str, seconds: float, rate: float, echo=print, sink: str = "kafka") -> dict:
    """Run `python -m fxwatch.bench.realtime` in its own JVM (real-time mode holds its task slots)."""
    cmd = [sys.executable, "-m", "fxwatch.bench.realtime", "--mode", mode, "--duration", str(seconds),
           "--rate", str(rate), "--sink", sink]
    echo(f"latency of the stateless detector, {mode}: {' '.join(cmd[1:])}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
    try:
        return _last_json(proc.stdout)
    except RuntimeError:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("\tat ")][-5:]
        return {"mode": mode, "error": f"exit {proc.returncode}: {' | '.join(tail)[:800]}"}


def _bench_settings(settings, tag: str, partitions: int | None = None):
    from fxwatch.bench.kafka_io import fresh_topics
    from fxwatch.store.schema import init_schema

    s = settings.with_(keyspace=BENCH_KEYSPACE)
    init_schema(s)
    return fresh_topics(s, tag, partitions)


def throughput_run(settings, ticks: int, echo=print, pipeline_options: dict | None = None) -> tuple[dict, object]:
    """Produce `ticks` to fresh topics, run the pipeline until idle, check every tick landed once."""
    from fxwatch.bench.cassandra_probe import count_quotes
    from fxwatch.bench.kafka_io import count_records, produce_raw
    from fxwatch.bench.progress import ProgressLog, sustained_rate
    from fxwatch.bench.ticks import make_ticks
    from fxwatch.store.connection import connect
    from fxwatch.stream.jobs import run_pipeline
    from fxwatch.stream.session import get_spark

    s = _bench_settings(settings, "thr")
    # a random past day of its own: the run's quote partitions (pair, day) start empty
    day0 = datetime(2001, 1, 1, tzinfo=timezone.utc).timestamp() * 1000 + random.randrange(7000) * 86_400_000
    data = make_ticks(ticks, int(day0) + 3_600_000, step_us=max(1, 20 * 3_600_000_000 // max(ticks, 1)))
    echo(f"producing {ticks} ticks to {s.quotes_topic}")
    produce_s = produce_raw(s, s.quotes_topic, data.keys, data.values)
    if count_records(s, s.quotes_topic) != ticks:
        raise RuntimeError("Kafka holds fewer records than produced")
    spark = get_spark(s, app_name="fxwatch-bench-pipeline")
    progress = ProgressLog().attach(spark)
    echo("running the pipeline until idle")
    t0 = time.perf_counter()
    summary = run_pipeline(spark, s, until_idle=True, **(pipeline_options or {}))
    wall = time.perf_counter() - t0
    from fxwatch.stack.manager import wait_until

    # progress events reach Python listeners asynchronously: wait (bounded) for the last batches'
    busy = lambda: sum(e["rows"] for e in progress.snapshot() if e["name"].startswith("quotes"))
    names = list(summary.get("queries", {}))
    wait_until(lambda: {e["name"].split("-fx-")[0] for e in progress.snapshot() if e["rows"]} >= set(names)
               and (busy() >= ticks or "quotes" not in names), 15, 0.2)
    progress.detach(spark)
    stored = None
    if "quotes" in summary.get("queries", {}):
        cluster, session = connect(s)
        try:
            days = sorted({datetime.fromtimestamp(t / 1000, tz=timezone.utc).date()
                           for t in (data.ts_ms[0], data.ts_ms[-1])})
            stored = count_quotes(session, data.pairs, days)
        finally:
            cluster.shutdown()
    out = {"ticks": ticks, "produce_s": round(produce_s, 2), "pipeline_wall_s": round(wall, 2),
           "wall_ticks_per_s": round(ticks / wall, 1), "quotes_stored": stored, "exactly_once": None if stored is None else stored == ticks,
           "pipeline_quotes": summary.get("quotes"), "pipeline_alerts": summary.get("alerts"),
           "pipeline_options": pipeline_options or {},
           "pipeline_queries": {n: {"batches": q.get("batches"), "rows": q.get("rows"),
                                    "busy_s": round(sum(q.get("batch_seconds") or []), 1)}
                                for n, q in summary.get("queries", {}).items()}}
    out.update(sustained_rate(progress.snapshot(), ticks))
    out["ticks_per_s"] = out.get("sustained_ticks_per_s") or out["wall_ticks_per_s"]
    return out, s


ALERT_PATH = ("detectors",)  # with --split-apps, the only query of the benchmark's own application


def _analytics_app(s, queries: list[str], trigger_seconds: float, niceness: int) -> subprocess.Popen:
    """`fxwatch stream run --queries <queries>` as its own Spark application, at a lower CPU
    priority, on the benchmark's topics (settings through the environment, like any deployment)."""
    import os

    env = dict(os.environ, FXWATCH_KEYSPACE=s.keyspace, FXWATCH_QUOTES_TOPIC=s.quotes_topic,
               FXWATCH_DLQ_TOPIC=s.dlq_topic, FXWATCH_ALERTS_TOPIC=s.alerts_topic)
    cmd = ["nice", "-n", str(niceness), sys.executable, "-m", "fxwatch.cli", "stream", "run",
           "--queries", ",".join(queries), "--starting-offsets", "latest", "--trigger-seconds", str(trigger_seconds)]
    log = s.stack_dir / "logs" / "bench-analytics.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:  # the child keeps its own handle
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _commits(s, queries: list[str]) -> dict[str, int]:
    """Micro-batches committed per query under the settings' checkpoint root."""
    from fxwatch.stream.jobs import checkpoint_root

    root = checkpoint_root(s)
    return {q: sum(1 for f in (root / q / "commits").glob("[0-9]*")) if (root / q / "commits").is_dir() else 0
            for q in queries}


def pipeline_latency_run(settings, seconds: float, rate: float, trigger_seconds: float, echo=print,
                         pipeline_options: dict | None = None, split_niceness: int | None = None) -> dict:
    """The streaming job running continuously (processing-time trigger), fed steadily with spikes;
    latency = first time the spike's alert row is readable in Cassandra - the tick's Kafka timestamp.

    With `split_niceness`, the storage and minute-window queries (quotes, trends, classic) run as a
    second Spark application under `nice -n <split_niceness>`, and this one runs the alert path (the
    tick detectors) alone.
    """
    from fxwatch.bench.cassandra_probe import AlertPoller
    from fxwatch.bench.report import latency_summary
    from fxwatch.bench.steady import SteadyFeeder, many_pairs
    from fxwatch.stack.manager import wait_until
    from fxwatch.store.connection import connect
    from fxwatch.stream.jobs import start_pipeline
    from fxwatch.stream.session import get_spark

    s = _bench_settings(settings, "lat")
    spark = get_spark(s, app_name="fxwatch-bench-pipeline")
    cluster, session = connect(s)
    # the detectors alert once per pair and detector until 60 s of quiet: many pairs, each spiked
    # every 70 s, give a spike every 70/48 s overall
    mids = many_pairs(48)
    feeder = SteadyFeeder(s, s.quotes_topic, rate=rate, pairs=tuple(mids), mids=mids, pair_gap_s=70.0)
    poller = AlertPoller(session, datetime.now(timezone.utc).date(), int(time.time() * 1000) - 1000)
    from fxwatch.bench.progress import ProgressLog, batch_profile

    progress = ProgressLog().attach(spark)
    opts = dict(pipeline_options or {})
    other, rest = None, []
    if split_niceness is not None:
        from fxwatch.stream.jobs import expand_queries

        names = expand_queries(opts.get("queries", ("quotes", "trends", "anomalies")))
        opts["queries"] = [q for q in names if q in ALERT_PATH]
        rest = [q for q in names if q not in ALERT_PATH]
        if rest:
            echo(f"starting {','.join(rest)} as a second Spark application under nice -n {split_niceness}")
            other = _analytics_app(s, rest, trigger_seconds, split_niceness)
    echo(f"starting the pipeline continuously (trigger {trigger_seconds:g} s) on {s.quotes_topic}")
    started = start_pipeline(spark, s, until_idle=False, starting_offsets="latest", trigger_seconds=trigger_seconds,
                             **opts)

    def died() -> str | None:
        for name, (q, _) in started.items():
            if not q.isActive:
                return f"query {name} stopped: {q.exception()}"
        if other is not None and other.poll() is not None:
            return f"the analytics application exited with {other.returncode}"
        return None

    measured_from = 0
    try:
        poller.start()
        feeder.start()
        t0 = time.monotonic()
        if not wait_until(lambda: poller.first_seen.keys() & feeder.spikes.keys(), 180, 0.25, abort=died):
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
        if other is not None:
            other.terminate()
            try:
                other.wait(60)
            except subprocess.TimeoutExpired:
                other.kill()
        progress.detach(spark)
        cluster.shutdown()
    out = {"latency_batches": batch_profile(progress.snapshot(), since_ms=measured_from),
           "latency_split_niceness": split_niceness,
           # proof that the second application kept working: micro-batches each of its queries committed
           "latency_analytics_commits": _commits(s, rest) if other is not None else None,
           "latency_rate": rate, "latency_trigger_s": trigger_seconds, "latency_measured_s": seconds,
           "latency_poll_ms": poller.interval_s * 1000, "latency_ticks_sent": feeder.sent}
    out.update(latency_summary(lat, len(expected)))
    return out


def bench_pipeline(settings, ticks: int = 300_000, baseline_ticks: int = 20_000, baseline_s: float = 60.0,
                   latency_s: float = 60.0, rate: float = 500.0, trigger_seconds: float = 0.2,
                   pipeline_options: dict | None = None,
                   skip: set[str] | frozenset = frozenset(), echo=print, split_niceness: int | None = None) -> dict:
    """All parts of the pipeline benchmark, in one run, as one flat dict."""
    from fxwatch.bench.baseline import naive_ingest
    from fxwatch.bench.machine import machine_info
    from fxwatch.bench.report import ratio

    result: dict[str, object] = {"machine": machine_info(settings), "started": datetime.now(timezone.utc).isoformat()}
    thr_settings = None
    if "throughput" not in skip:
        thr, thr_settings = throughput_run(settings, ticks, echo, pipeline_options)
        result.update(thr)
        echo(f"pipeline: {thr}")
    if "baseline" not in skip:
        if thr_settings is None:
            from fxwatch.bench.kafka_io import produce_raw
            from fxwatch.bench.ticks import make_ticks

            thr_settings = _bench_settings(settings, "base")
            data = make_ticks(baseline_ticks, 978_307_200_000 + random.randrange(7000) * 86_400_000)
            produce_raw(thr_settings, thr_settings.quotes_topic, data.keys, data.values)
        echo(f"naive baseline on the same topic, capped at {baseline_ticks} ticks or {baseline_s:g} s")
        base = naive_ingest(thr_settings, thr_settings.quotes_topic, baseline_ticks, baseline_s)
        result.update(base)
        echo(f"baseline: {base}")
    result["ratio_vs_baseline"] = ratio(result.get("ticks_per_s"), result.get("baseline_ticks_per_s"))
    if "latency" not in skip:
        try:
            result.update(pipeline_latency_run(settings, latency_s, rate, trigger_seconds, echo, pipeline_options,
                                               split_niceness))
        except Exception as exc:
            result["latency_error"] = f"{type(exc).__name__}: {exc}"
    if "realtime" not in skip:
        for mode, sink in (("microbatch", "kafka"), ("realtime", "kafka"), ("realtime", "cassandra")):
            r = detector_latency_subprocess(mode, latency_s, rate, echo, sink)
            tag = mode if sink == "kafka" else f"{mode}_{sink}"
            result.update({f"detector_{tag}_{k}": v for k, v in r.items() if k not in ("mode", "sink")})
    for key in ("ticks_per_s", "baseline_ticks_per_s", "p50_latency_ms", "p99_latency_ms"):
        result.setdefault(key, None)
    return result
