"""Trends as plain aggregations vs with the ordered per-window array the trends query held before.

Usage: .venv/bin/python bench/trends_plain.py [--ticks 300000] [--passes 3]

One topic of benchmark ticks (fxwatch.bench.ticks, our own generator) is read by the trends
query in update mode into the `noop` sink, Trigger.AvailableNow, in one JVM, the two variants
alternating pass by pass (so machine load hits both alike), after one warm-up pass:

* plain  — `fxwatch.stream.trends.build_trends` as it is now (counts, sums, sums of squares,
  min/max, min_by/max_by);
* arrays — the same plus, on the tumbling windows, the event-time ordered (ts_ms, offset, mid)
  array per window that `ret_std` and the EMA were computed from before.

Prints one line per pass and a JSON summary (median seconds, ticks/s, ratio) as the last line.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

from fxwatch.bench.kafka_io import fresh_topics, produce_raw
from fxwatch.bench.report import emit
from fxwatch.bench.ticks import make_ticks
from fxwatch.config import Settings
from fxwatch.stream.read import read_quotes
from fxwatch.stream.session import get_spark
from fxwatch.stream.trends import build_trends, window_stats


def with_arrays(quotes, watermark: str = "30 seconds"):
    """The trends query's windows with the ordered array on the tumbling ones (the old shape)."""
    marked = quotes.withWatermark("ts", watermark)
    tumbling = window_stats(marked, "1 minute", None, "1m", with_returns=True)
    sliding = window_stats(marked, "5 minutes", "1 minute", "5m/1m")
    return tumbling.drop("ret_std").unionByName(sliding)


def one_pass(spark, settings, variant: str) -> float:
    quotes = read_quotes(spark, settings)
    trends = build_trends(quotes) if variant == "plain" else with_arrays(quotes)
    with tempfile.TemporaryDirectory(prefix="fxwatch-trends-") as cp:
        t0 = time.perf_counter()
        q = (
            trends.writeStream.format("noop")
            .outputMode("update")
            .option("checkpointLocation", cp)
            .trigger(availableNow=True)
            .start()
        )
        q.awaitTermination()
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=300_000)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args(argv)
    settings = fresh_topics(Settings.from_env(), "trends-ab")
    day0 = datetime(2001, 1, 1, tzinfo=UTC).timestamp() * 1000 + random.randrange(7000) * 86_400_000
    data = make_ticks(args.ticks, int(day0), step_us=20 * 3_600_000_000 // args.ticks)
    produce_raw(settings, settings.quotes_topic, data.keys, data.values)
    spark = get_spark(settings, app_name="fxwatch-bench-trends")
    one_pass(spark, settings, "plain")  # warm-up: class loading, JIT, Kafka client
    seconds: dict[str, list[float]] = {"plain": [], "arrays": []}
    for i in range(args.passes):
        for variant in ("plain", "arrays") if i % 2 == 0 else ("arrays", "plain"):
            s = one_pass(spark, settings, variant)
            seconds[variant].append(s)
            print(f"pass {i + 1} {variant}: {s:.1f} s", file=sys.stderr)
    med = {v: statistics.median(s) for v, s in seconds.items()}
    emit(
        {
            "ticks": args.ticks,
            "passes": args.passes,
            "plain_s": round(med["plain"], 2),
            "arrays_s": round(med["arrays"], 2),
            "plain_ticks_per_s": round(args.ticks / med["plain"], 1),
            "arrays_ticks_per_s": round(args.ticks / med["arrays"], 1),
            "plain_speedup": round(med["arrays"] / med["plain"], 2),
            "all_seconds": {v: [round(x, 2) for x in s] for v, s in seconds.items()},
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
