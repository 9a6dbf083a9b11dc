"""`fxwatch bench pipeline|latency|producer|stats|store`: benchmarks on the local stack."""

from __future__ import annotations

import sys

from fxwatch.bench.machine import machine_info
from fxwatch.bench.report import emit
from fxwatch.bench.store import bench_store
from fxwatch.config import Settings
from fxwatch.stream.config import PipelineConfig

__all__ = ["register"]


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def register(subparsers) -> None:
    """Add the benchmark subcommands."""
    bench = subparsers.add_parser(
        "bench", help="benchmarks on the local stack (figures, not tests)"
    )
    sub = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)

    p = sub.add_parser(
        "pipeline",
        help="ceilings, backlog ticks/s (all queries at once) vs a naive consumer, sustained live "
        "rate and tick-to-alert latency per detector family",
    )
    p.add_argument("--ticks", type=int, default=300_000, help="ticks for the throughput run")
    p.add_argument(
        "--baseline-ticks", type=int, default=20_000, help="cap of the naive baseline (ticks)"
    )
    p.add_argument(
        "--baseline-seconds", type=float, default=60.0, help="cap of the naive baseline (seconds)"
    )
    p.add_argument(
        "--latency-seconds", type=float, default=40.0, help="measured length of each live step"
    )
    p.add_argument(
        "--rates",
        default="1000,2500,5000,7500,10000",
        help="ticks/s of the live steps, in order (the run stops at the first failing step)",
    )
    p.add_argument(
        "--trigger-seconds",
        type=float,
        default=0.2,
        help="micro-batch trigger of the tick-alerts query in the live run",
    )
    p.add_argument(
        "--queries", default="", help="pipeline queries to run (default: those `stream run` runs)"
    )
    p.add_argument(
        "--max-offsets",
        type=int,
        default=0,
        help="maxOffsetsPerTrigger of the pipeline's Kafka reads (0: none, as `stream run`)",
    )
    p.add_argument(
        "--skip",
        default="realtime",
        help="comma list of parts to skip: ceilings,backlog,alone,baseline,live,realtime",
    )
    p.set_defaults(func=_cmd_pipeline)

    lat = sub.add_parser(
        "latency", help="stateless detector latency: real-time mode vs micro-batch"
    )
    lat.add_argument("--mode", choices=("realtime", "microbatch", "both"), default="both")
    lat.add_argument("--seconds", type=float, default=60.0)
    lat.add_argument("--rate", type=float, default=2000.0)
    lat.add_argument(
        "--sink",
        choices=("kafka", "cassandra"),
        default="kafka",
        help="alerts to a Kafka topic, or a foreach writer into the alerts table",
    )
    lat.set_defaults(func=_cmd_latency)

    pr = sub.add_parser("producer", help="QuoteProducer ticks/s vs a naive send-and-flush producer")
    pr.add_argument("--ticks", type=int, default=200_000)
    pr.add_argument("--naive-ticks", type=int, default=5_000)
    pr.set_defaults(func=_cmd_producer)

    st = sub.add_parser(
        "stats", help="the historical stats job on Spark (Parquet, tick store) vs DuckDB"
    )
    st.add_argument("--ticks", type=int, default=20_000_000, help="rows of generated history")
    st.add_argument("--days", type=int, default=30, help="days of history")
    st.add_argument(
        "--skip-chunk-job",
        action="store_true",
        help="skip the stats job's path on the tick store (Cassandra not needed then)",
    )
    st.set_defaults(func=_cmd_stats)

    so = sub.add_parser(
        "store", help="the Cassandra write ceiling: quote rows/s from 1..P plain client processes"
    )
    so.add_argument("--rows", type=int, default=300_000)
    so.add_argument("--processes", default="1,2,4", help="comma list of client process counts")
    so.add_argument(
        "--batch-rows", type=int, default=200, help="rows per UNLOGGED single-partition batch"
    )
    so.add_argument("--concurrency", type=int, default=8, help="requests in flight per process")
    so.set_defaults(func=_cmd_store)


def _settings():
    return Settings.from_env()


def _pipeline_config(args):
    queries = tuple(q for q in args.queries.split(",") if q)
    config = PipelineConfig(max_offsets_per_trigger=args.max_offsets or None)
    return config.with_(queries=queries) if queries else config


def _cmd_pipeline(args) -> int:
    # lazy: bench.pipeline imports pyspark; `fxwatch --help` and other commands must not
    from fxwatch.bench.pipeline import bench_pipeline

    result = bench_pipeline(
        _settings(),
        ticks=args.ticks,
        baseline_ticks=args.baseline_ticks,
        baseline_s=args.baseline_seconds,
        latency_s=args.latency_seconds,
        rates=tuple(float(r) for r in args.rates.split(",") if r),
        trigger_seconds=args.trigger_seconds,
        config=_pipeline_config(args),
        skip={s for s in args.skip.split(",") if s},
        echo=_err,
    )
    emit(result)
    return 0


def _cmd_latency(args) -> int:
    # lazy: bench.pipeline imports pyspark; `fxwatch --help` and other commands must not
    from fxwatch.bench.pipeline import detector_latency_subprocess

    result: dict[str, object] = {}
    modes = ("realtime", "microbatch") if args.mode == "both" else (args.mode,)
    for mode in modes:
        r = detector_latency_subprocess(mode, args.seconds, args.rate, echo=_err, sink=args.sink)
        result.update({f"{mode}_{k}": v for k, v in r.items() if k != "mode"})
    emit(result)
    return 0


def _cmd_producer(args) -> int:
    # lazy: bench.producer imports kafka; `fxwatch --help` and other commands must not
    from fxwatch.bench.producer import bench_producer

    settings = _settings()
    result = bench_producer(settings, ticks=args.ticks, naive_cap=args.naive_ticks, echo=_err)
    result["machine"] = machine_info(settings)
    emit(result)
    return 0


def _cmd_stats(args) -> int:
    # lazy: bench.stats imports pyspark and duckdb; `fxwatch --help` and other commands must not
    from fxwatch.bench.stats import bench_stats

    settings = _settings()
    result = bench_stats(
        settings,
        ticks=args.ticks,
        days=args.days,
        chunk_job=not args.skip_chunk_job,
        echo=_err,
    )
    result["machine"] = machine_info(settings)
    emit(result)
    return 0


def _cmd_store(args) -> int:
    settings = _settings()
    procs = tuple(int(p) for p in args.processes.split(",") if p.strip())
    result = bench_store(
        settings,
        rows=args.rows,
        processes=procs,
        batch_rows=args.batch_rows,
        concurrency=args.concurrency,
        echo=_err,
    )
    result["machine"] = machine_info(settings)
    emit(result)
    return 0
