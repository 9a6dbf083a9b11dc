"""Trends in one scan of Kafka (the library's nested groupBy) vs one groupBy per window spec.

Usage: .venv/bin/python bench/trends_scan.py [--ticks 300000] [--passes 3]

One topic of benchmark ticks (fxwatch.bench.ticks, our own generator) is read by the trends
query in update mode into the `noop` sink, Trigger.AvailableNow, in one JVM, the two variants
alternating pass by pass (so machine load hits both alike), after one warm-up pass:

* one scan — `fxwatch.stream.trends.build_trends` as it is now: one groupBy over the sliding
  5-minute windows computes the 1-minute rows too (the last minute of each window);
* per spec — one groupBy per window spec and a union (the form notebook 03 teaches): each branch
  of the union reads and parses the Kafka topic again.

Both give the same rows (tests/test_stream_trends.py). Prints one line per pass and a JSON summary
(median seconds, ticks/s, ratio) as the last line.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

from pyspark.sql import functions as F

from fxwatch.bench.kafka_io import fresh_topics, produce_raw
from fxwatch.bench.report import emit
from fxwatch.bench.ticks import make_ticks
from fxwatch.config import Settings
from fxwatch.stream.config import DEFAULT_WINDOWS
from fxwatch.stream.read import read_quotes
from fxwatch.stream.session import get_spark
from fxwatch.stream.trends import build_trends, window_stats


def per_spec(quotes, watermark: str = "30 seconds"):
    """One groupBy per window spec, then a union: each branch scans the source."""
    marked = quotes.withWatermark("ts", watermark)
    parts = [window_stats(marked, w, s, label) for label, w, s in DEFAULT_WINDOWS]
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.withColumn("updated_at", F.current_timestamp())


def one_pass(spark, settings, variant: str) -> tuple[float, int]:
    quotes = read_quotes(spark, settings)
    trends = build_trends(quotes) if variant == "one_scan" else per_spec(quotes)
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
        seconds = time.perf_counter() - t0
        rows = sum(p["sink"].get("numOutputRows", 0) or 0 for p in q.recentProgress)
        return seconds, rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=300_000)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args(argv)
    settings = fresh_topics(Settings.from_env(), "trends-scan")
    day0 = datetime(2001, 1, 1, tzinfo=UTC).timestamp() * 1000 + random.randrange(7000) * 86_400_000
    data = make_ticks(args.ticks, int(day0), step_us=20 * 3_600_000_000 // args.ticks)
    produce_raw(settings, settings.quotes_topic, data.keys, data.values)
    spark = get_spark(settings, app_name="fxwatch-bench-trends-scan")
    one_pass(spark, settings, "one_scan")  # warm-up: class loading, JIT, Kafka client
    seconds: dict[str, list[float]] = {"one_scan": [], "per_spec": []}
    rows: dict[str, int] = {}
    for i in range(args.passes):
        for variant in ("one_scan", "per_spec") if i % 2 == 0 else ("per_spec", "one_scan"):
            s, rows[variant] = one_pass(spark, settings, variant)
            seconds[variant].append(s)
            print(f"pass {i + 1} {variant}: {s:.1f} s, {rows[variant]} rows", file=sys.stderr)
    med = {v: statistics.median(s) for v, s in seconds.items()}
    emit(
        {
            "ticks": args.ticks,
            "passes": args.passes,
            "one_scan_s": round(med["one_scan"], 2),
            "per_spec_s": round(med["per_spec"], 2),
            "one_scan_ticks_per_s": round(args.ticks / med["one_scan"], 1),
            "per_spec_ticks_per_s": round(args.ticks / med["per_spec"], 1),
            "one_scan_speedup": round(med["per_spec"] / med["one_scan"], 2),
            "rows_emitted": rows,
            "all_seconds": {v: [round(x, 2) for x in s] for v, s in seconds.items()},
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
