"""Statistics for the classic rule in a benchmark: so that the window-alerts query does its real
work (every closed window joined with bounds and judged), not the cold-start no-op.

The history is the benchmark generator's ticks exactly one week before the measured span (so the
same hours of week get bounds), with another seed; the production computation
(`fxwatch.stats.compute.compute_stats`) turns it into a stats version in the bench keyspace.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from fxwatch.bench.ticks import make_ticks
from fxwatch.stats.compute import compute_stats
from fxwatch.stats.spark_io import write_stats

__all__ = ["WEEK_MS", "load_bench_stats"]

WEEK_MS = 7 * 86_400_000


def load_bench_stats(
    spark,
    settings,
    pairs: tuple[str, ...],
    start_ms: int,
    end_ms: int,
    rate: float,
    base_mid: dict[str, float] | None = None,
    seed: int = 11,
    echo=print,
) -> dict:
    """Write a stats version computed from `rate` ticks/s over [start_ms, end_ms) minus one week."""
    n = max(len(pairs) * 10, int(rate * (end_ms - start_ms) / 1000))
    data = make_ticks(
        n,
        start_ms - WEEK_MS,
        step_us=max(1, int(1e6 / rate)),
        pairs=pairs,
        seed=seed,
        base_mid=base_mid,
    )
    history = pd.DataFrame(
        {
            "pair": np.asarray(pairs, dtype=object)[data.pair_idx],
            "ts_ms": data.ts_ms,
            "seq": np.arange(n, dtype=np.int64),
            "bid": data.bid,
            "ask": data.ask,
        }
    )
    first = datetime.fromtimestamp(int(data.ts_ms[0]) / 1000, tz=UTC).date()
    last = datetime.fromtimestamp(int(data.ts_ms[-1]) / 1000, tz=UTC).date()
    as_of = last + timedelta(days=1)
    lookback = (as_of - first).days
    echo(f"classic rule: statistics from {n} history ticks ({first} .. {last})")
    stats = compute_stats(spark, spark.createDataFrame(history), as_of, lookback, list(pairs))
    version = write_stats(stats.cache(), settings, as_of.isoformat(), lookback, k=4.0)
    return {"classic_stats_version": version, "classic_history_ticks": n}
