"""Benchmarks of fxwatch on the local stack: pipeline ticks/s and latency, producer,
stats vs DuckDB."""

from fxwatch.bench.report import emit, latency_summary, percentile, rate, ratio
from fxwatch.bench.ticks import BENCH_PAIRS, BenchTicks, make_ticks

__all__ = [
    "BENCH_PAIRS",
    "BenchTicks",
    "emit",
    "latency_summary",
    "make_ticks",
    "percentile",
    "rate",
    "ratio",
]
