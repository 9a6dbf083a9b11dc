"""`fxwatch bench pipeline`: in one run, the machine's ceilings, the pipeline on a backlog (every
query concurrently), each query alone on the same backlog (what a design reading the topic once
could reach at best), the naive per-row consumer, and the live steps (sustained rate, tick-to-alert
latency per detector family); see bench/README.md for how to read it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

from fxwatch.bench.baseline import naive_ingest
from fxwatch.bench.cassandra_probe import count_quotes
from fxwatch.bench.ceiling import spark_parse_ceiling, store_ceiling
from fxwatch.bench.history import load_bench_stats
from fxwatch.bench.kafka_io import count_records, fresh_topics, produce_raw
from fxwatch.bench.live import QUOTE_READERS, live_run
from fxwatch.bench.machine import machine_info
from fxwatch.bench.progress import ProgressLog, batch_profile
from fxwatch.bench.report import ratio
from fxwatch.bench.store import clear_day
from fxwatch.bench.ticks import backlog_ticks
from fxwatch.errors import FxwatchError
from fxwatch.stack.manager import wait_until
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.pipeline import start_pipeline, summarize
from fxwatch.stream.session import get_spark

__all__ = ["bench_pipeline", "backlog_run", "detector_latency_subprocess", "BENCH_KEYSPACE"]

BENCH_KEYSPACE = "fxwatch_bench"
# the parts of `bench_pipeline`, in the order they run (`skip` names some of them)
PARTS = ("ceilings", "backlog", "alone", "baseline", "live", "realtime")


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


def _days(data) -> set:
    """The UTC days a run's ticks fall on (from its first and last tick)."""
    return {
        datetime.fromtimestamp(t / 1000, tz=UTC).date() for t in (data.ts_ms[0], data.ts_ms[-1])
    }


def _bench_settings(settings, tag: str, partitions: int | None = None):
    s = settings.with_(keyspace=BENCH_KEYSPACE)
    init_schema(s)
    return fresh_topics(s, tag, partitions)


def backlog_run(spark, s, data, echo=print, config=None) -> dict:
    """The pipeline on a backlog, every query running concurrently with its production trigger
    (as `fxwatch stream run` runs them), until each has read every tick; checks every tick
    landed once.

    Ticks/s = ticks / (start of the queries -> end of the last batch with rows).
    """
    ticks = len(data)
    config = (config or PipelineConfig()).with_(until_idle=False, starting_offsets="earliest")
    progress = ProgressLog().attach(spark)
    together = "every query concurrently" if len(config.queries) > 1 else "one query alone"
    echo(f"backlog: {together} on {ticks} ticks ({', '.join(config.queries)})")
    t0 = time.time() * 1000
    started = start_pipeline(spark, s, config)

    def died() -> str | None:
        for name, (q, _) in started.items():
            if not q.isActive:
                return f"query {name} stopped: {q.exception()}"
        return None

    def caught_up() -> bool:
        done = progress.rows_by_query()
        return all(done.get(n, 0) >= ticks for n in started if n in QUOTE_READERS)

    try:
        if not wait_until(caught_up, 3600, 0.2, abort=died):
            raise RuntimeError("backlog: the queries did not read every tick within an hour")
    finally:
        for q, _ in started.values():
            q.stop()
        progress.detach(spark)
    events = [e for e in progress.snapshot() if e["rows"]]
    end = max(e["start_ms"] + e["duration_ms"] for e in events)
    wall = (end - t0) / 1000
    summary = summarize(started, wall)
    cluster, session = connect(s)
    try:
        days = sorted(_days(data))
        stored = count_quotes(session, data.pairs, days) if "quotes" in started else None
    finally:
        cluster.shutdown()
    profile = batch_profile(progress.snapshot())
    return {
        "ticks": ticks,
        "pipeline_wall_s": round(wall, 2),
        "ticks_per_s": round(ticks / wall, 1),
        "quotes_stored": stored,
        "exactly_once": None if stored is None else stored == ticks,
        "pipeline_alerts": summary.get("alerts"),
        "pipeline_trend_rows": summary.get("trend_rows"),
        "pipeline_config": repr(config),
        "pipeline_queries": {
            n: {
                **profile.get(n, {}),
                "rows": q.get("rows"),
                "busy_s": round(sum(q.get("batch_seconds") or []), 1),
            }
            for n, q in summary.get("queries", {}).items()
        },
    }


def alone_runs(spark, s, data, echo=print, config=None) -> dict:
    """Each query that reads the topic, alone on the same backlog (its tick partitions emptied
    first, a fresh checkpoint): its wall time. With the parse ceiling measured in the run, the
    sum says what any design that reads and parses the topic once could reach at best — one parse,
    then every query's own work (its wall time alone minus one parse), nothing overlapping:
    `one_read_bound_ticks_per_s`."""
    config = config or PipelineConfig()
    names = [n for n in config.queries if n in QUOTE_READERS]
    days = _days(data)
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="fxwatch-alone-") as tmp:
        for name in names:
            for day in days:
                clear_day(s, data.pairs, day)  # the quotes query writes its ticks anew
            echo(f"alone: {name}")
            r = backlog_run(
                spark, s, data, echo, config.with_(queries=(name,), checkpoints=f"{tmp}/{name}")
            )
            out[f"alone_{name}_wall_s"] = r["pipeline_wall_s"]
            out[f"alone_{name}_ticks_per_s"] = r["ticks_per_s"]
    return out


def one_read_bound(result: dict, ticks: int) -> dict:
    """The best a one-read design could do, from the ceiling and the alone runs of one result:
    one parse (ticks / the warm parse ceiling) + the sum of each query's own work (its wall time
    alone minus one parse, at least 0). None when either part was not measured."""
    ceiling = result.get("spark_ceiling_ticks_per_s")
    walls = [v for k, v in result.items() if k.startswith("alone_") and k.endswith("_wall_s")]
    if not ceiling or not walls:
        return {}
    parse_s = ticks / ceiling
    bound_s = parse_s + sum(max(0.0, w - parse_s) for w in walls)
    return {
        "one_read_bound_s": round(bound_s, 2),
        "one_read_bound_ticks_per_s": round(ticks / bound_s, 1),
        "one_read_bound_vs_spark_ceiling": ratio(ticks / bound_s, ceiling),
    }


def bench_pipeline(
    settings,
    ticks: int = 300_000,
    baseline_ticks: int = 20_000,
    baseline_s: float = 60.0,
    latency_s: float = 40.0,
    rates: tuple[float, ...] = (1000, 2500, 5000, 7500, 10000),
    trigger_seconds: float = 0.2,
    config=None,
    skip: set[str] | frozenset = frozenset({"realtime"}),
    echo=print,
) -> dict:
    """Every part of the pipeline benchmark, in one run and one JVM, as one flat dict:
    ceilings (Spark parse, tick store), backlog (all queries concurrently), each query alone,
    naive consumer, live steps (sustained rate, latency per detector family), optionally
    real-time mode."""
    unknown = set(skip) - set(PARTS)
    if unknown:
        raise FxwatchError(
            f"unknown benchmark part(s) {', '.join(sorted(unknown))}: "
            f"skip any of {', '.join(PARTS)}"
        )
    result: dict[str, object] = {
        "machine": machine_info(settings),
        "started": datetime.now(UTC).isoformat(),
    }
    if not {"ceilings", "backlog", "alone", "baseline", "live"} - set(skip):
        return _with_contract_keys(result)
    s = _bench_settings(settings, "thr")
    # a random past day of its own, emptied first: the run's tick partitions (pair, day) hold only
    # its ticks
    day0 = datetime(2001, 1, 1, tzinfo=UTC).timestamp() * 1000 + random.randrange(7000) * 86_400_000
    data = backlog_ticks(ticks, int(day0) + 3_600_000)
    for day in _days(data):
        clear_day(s, data.pairs, day)  # earlier runs may have drawn the same day
    echo(f"producing {ticks} ticks to {s.quotes_topic}")
    result["produce_s"] = round(produce_raw(s, s.quotes_topic, data.keys, data.values), 2)
    if count_records(s, s.quotes_topic) != ticks:
        raise RuntimeError("Kafka holds fewer records than produced")
    spark = get_spark(s, app_name="fxwatch-bench-pipeline")
    if "ceilings" not in skip:
        result.update(spark_parse_ceiling(spark, s, ticks, reads=1, echo=echo))
        # as many concurrent reads as the pipeline has queries: the cost of each reading Kafka
        n_reads = len(set((config or PipelineConfig()).queries) & set(QUOTE_READERS))
        result.update(spark_parse_ceiling(spark, s, ticks, reads=n_reads, echo=echo))
        result.update(store_ceiling(s, data, echo=echo))
    pipeline_config = config or PipelineConfig()
    if {"backlog", "alone"} - set(skip):
        if "window_alerts" in pipeline_config.queries:
            first, last = int(data.ts_ms[0]), int(data.ts_ms[-1]) + 1
            result.update(
                load_bench_stats(
                    spark, s, data.pairs, first, last, ticks / ((last - first) / 1000), echo=echo
                )
            )
    if "backlog" not in skip:
        result.update(backlog_run(spark, s, data, echo, config))
    if "alone" not in skip:
        result.update(alone_runs(spark, s, data, echo, config))
        result.update(one_read_bound(result, ticks))
    if "baseline" not in skip:
        echo(
            f"naive consumer on the same topic, capped at {baseline_ticks} ticks "
            f"or {baseline_s:g} s"
        )
        result.update(naive_ingest(s, s.quotes_topic, baseline_ticks, baseline_s))
    if "live" not in skip:
        try:
            live = _bench_settings(settings, "live")
            result.update(
                live_run(
                    live,
                    spark,
                    rates,
                    latency_s,
                    alerts_trigger_s=trigger_seconds,
                    config=config,
                    echo=echo,
                )
            )
        except Exception as exc:  # the other figures stand; say why this one is missing
            result["live_error"] = f"{type(exc).__name__}: {exc}"
            echo(f"live run failed: {result['live_error']}")
    if "realtime" not in skip:
        for mode, sink in (("microbatch", "kafka"), ("realtime", "kafka")):
            r = detector_latency_subprocess(mode, latency_s, 500.0, echo, sink)
            result.update(
                {f"detector_{mode}_{k}": v for k, v in r.items() if k not in ("mode", "sink")}
            )
    # the headline tick-to-alert figures: the stateless family at the live run's first step
    result["p50_latency_ms"] = result.get("stateless_p50_latency_ms")
    result["p99_latency_ms"] = result.get("stateless_p99_latency_ms")
    result["ratio_vs_baseline"] = ratio(
        result.get("ticks_per_s"), result.get("baseline_ticks_per_s")
    )
    result["ratio_vs_spark_ceiling"] = ratio(
        result.get("ticks_per_s"), result.get("spark_ceiling_ticks_per_s")
    )
    return _with_contract_keys(result)


def _with_contract_keys(result: dict) -> dict:
    """The keys every result line has (None: not measured in this run)."""
    for key in (
        "ticks_per_s",
        "baseline_ticks_per_s",
        "p50_latency_ms",
        "p99_latency_ms",
        "spark_ceiling_ticks_per_s",
        "store_ceiling_ticks_per_s",
        "sustained_live_ticks_per_s",
    ):
        result.setdefault(key, None)
    return result
