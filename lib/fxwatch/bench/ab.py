"""A/B of two forms of one streaming query on the same topic, in one JVM (bench/trends_*.py).

    topic = ab_topic(settings, "trends-ab", ticks)       # fresh topic of benchmark ticks
    result = alternate(spark, topic, {"a": build_a, "b": build_b}, passes=3)
    ab_main(argv, __doc__, "trends-ab", {"a": build_a, "b": build_b})  # a script's whole main

Each variant is a function quotes -> streaming DataFrame; each pass runs it over the whole topic
(Trigger.AvailableNow) into the `noop` sink in update mode. One warm-up pass of the first variant,
then the variants alternate pass by pass (a, b, then b, a, ...) so machine load hits both alike.
`alternate` returns the median seconds, ticks/s, every pass's seconds and the rows each emitted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pyspark.sql import functions as F

from fxwatch.bench.kafka_io import fresh_topics, produce_raw
from fxwatch.bench.report import emit
from fxwatch.bench.ticks import make_ticks
from fxwatch.config import Settings
from fxwatch.stream.config import DEFAULT_WINDOWS
from fxwatch.stream.read import read_quotes
from fxwatch.stream.session import get_spark
from fxwatch.stream.trends import window_stats

__all__ = ["ab_main", "ab_topic", "noop_pass", "alternate", "trends_per_spec"]


def trends_per_spec(quotes, windows=DEFAULT_WINDOWS, watermark: str = "30 seconds"):
    """The trend rows as one groupBy per window spec and a union (the form notebook 03 teaches;
    each branch of the union scans the source again), for comparison with `build_trends`."""
    marked = quotes.withWatermark("ts", watermark)
    parts = [window_stats(marked, w, s, label) for label, w, s in windows]
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.withColumn("updated_at", F.current_timestamp())


def ab_topic(settings, label: str, ticks: int):
    """Settings of a fresh topic holding `ticks` benchmark ticks (our own generator) of 20 hours
    of a random past day."""
    topic = fresh_topics(settings, label)
    day0 = datetime(2001, 1, 1, tzinfo=UTC).timestamp() * 1000 + random.randrange(7000) * 86_400_000
    data = make_ticks(ticks, int(day0), step_us=20 * 3_600_000_000 // ticks)
    produce_raw(topic, topic.quotes_topic, data.keys, data.values)
    return topic


def noop_pass(df) -> tuple[float, int]:
    """(seconds, rows emitted) of one AvailableNow run of a streaming DataFrame into `noop`."""
    with tempfile.TemporaryDirectory(prefix="fxwatch-ab-") as cp:
        t0 = time.perf_counter()
        q = (
            df.writeStream.format("noop")
            .outputMode("update")
            .option("checkpointLocation", cp)
            .trigger(availableNow=True)
            .start()
        )
        q.awaitTermination()
        seconds = time.perf_counter() - t0
        rows = sum(p["sink"].get("numOutputRows", 0) or 0 for p in q.recentProgress)
        return seconds, rows


def alternate(
    spark, topic, variants: dict[str, Callable], passes: int = 3, ticks: int | None = None
) -> dict:
    """Warm up, then run the two variants alternately `passes` times each (see the module)."""
    names = list(variants)
    first, second = names

    def run(name: str) -> tuple[float, int]:
        return noop_pass(variants[name](read_quotes(spark, topic)))

    run(first)  # warm-up: class loading, JIT, Kafka client
    seconds: dict[str, list[float]] = {n: [] for n in names}
    rows: dict[str, int] = {}
    for i in range(passes):
        for name in (first, second) if i % 2 == 0 else (second, first):
            s, rows[name] = run(name)
            seconds[name].append(s)
            print(f"pass {i + 1} {name}: {s:.1f} s, {rows[name]} rows", file=sys.stderr)
    med = {n: statistics.median(s) for n, s in seconds.items()}
    out: dict = {"passes": passes}
    if ticks:
        out["ticks"] = ticks
    for n in names:
        out[f"{n}_s"] = round(med[n], 2)
        if ticks:
            out[f"{n}_ticks_per_s"] = round(ticks / med[n], 1)
    out["rows_emitted"] = rows
    out["all_seconds"] = {n: [round(x, 2) for x in s] for n, s in seconds.items()}
    return out


def ab_main(argv: list[str] | None, doc: str, label: str, variants: dict[str, Callable]) -> int:
    """A bench/trends_*.py script: --ticks and --passes, a fresh topic, `alternate`, then
    `<first>_speedup` (the second variant's median seconds over the first's) and the JSON summary
    as the last line."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=300_000)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args(argv)
    topic = ab_topic(Settings.from_env(), label, args.ticks)
    spark = get_spark(topic, app_name=f"fxwatch-bench-{label}")
    result = alternate(spark, topic, variants, args.passes, args.ticks)
    first, second = variants
    result[f"{first}_speedup"] = round(result[f"{second}_s"] / result[f"{first}_s"], 2)
    emit(result)
    return 0
