"""Where the quotes query's own work goes, step by step, on the pipeline benchmark's ticks.

`fxwatch bench pipeline` times the quotes query alone (`alone_quotes_wall_s`); this splits that
time. On a fresh topic holding N of the benchmark's ticks (our own generator, 8 pairs over 20
hours: ~31 ticks per pair-minute chunk, as `bench pipeline` makes them), with a batch read of the
topic in one JVM, each step twice (the first in a cold JVM):

* parse -> noop: Kafka read, the production parse and validation (`stream.read.parse_records`);
* to Python: the same plus the quotes task's columns sent to a Python function that does nothing;
* the quotes task: `stream.quotes.write_records_once` (tick store writes, per-pair summaries,
  rejects), the run's tick partitions emptied first;
* the tick store alone: `store.ticks.write_ticks` of the same ticks from this process (no Spark),
  into empty partitions, then the same batch again (a replay: read, merge, nothing written).

    .venv/bin/python bench/quotes_task.py [--ticks 300000]    # needs `fxwatch stack up`

Last line on stdout: one JSON object of the seconds of each step.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pyarrow as pa

from fxwatch.bench.kafka_io import fresh_topics, produce_raw
from fxwatch.bench.pipeline import _days
from fxwatch.bench.store import clear_day
from fxwatch.bench.ticks import backlog_ticks
from fxwatch.config import Settings
from fxwatch.store.schema import init_schema
from fxwatch.store.session import process_session
from fxwatch.store.ticks import write_ticks
from fxwatch.stream.features import tick_id
from fxwatch.stream.quotes import write_records_once
from fxwatch.stream.read import parse_records
from fxwatch.stream.session import get_spark


def _timed(out: dict, label: str, step, runs: int = 2, before=None) -> None:
    """Time `step` `runs` times (after `before`, untimed), into out[f"{label}_{i}_s"]."""
    for i in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        step()
        out[f"{label}_{i}_s"] = round(time.perf_counter() - t0, 2)
        print(
            f"{label} [{'cold' if i == 0 else 'warm'}]: {out[f'{label}_{i}_s']:.2f} s", flush=True
        )


def _noop(batches):
    n = sum(b.num_rows for b in batches)
    yield pa.RecordBatch.from_pydict({"n": pa.array([n], pa.int64())})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=300_000)
    args = ap.parse_args()
    n = args.ticks
    settings = Settings.from_env().with_(keyspace="fxwatch_bench")
    init_schema(settings)
    s = fresh_topics(settings, "quotes-task")
    # a random past day, as bench pipeline draws one; its partitions are emptied before each write
    day0 = 1_000_000_000_000 + int(np.random.default_rng().integers(0, 3000)) * 86_400_000
    day0 -= day0 % 86_400_000
    data = backlog_ticks(n, day0 + 3_600_000)
    produce_raw(s, s.quotes_topic, data.keys, data.values)

    def empty():
        for day in _days(data):
            clear_day(s, data.pairs, day)

    spark = get_spark(s, app_name="fxwatch-bench-quotes-task")
    raw = (
        spark.read.format("kafka")
        .options(**s.spark_kafka_options())
        .option("subscribe", s.quotes_topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    records = parse_records(raw)
    out: dict[str, object] = {"ticks": n}
    _timed(out, "parse_noop", lambda: records.write.format("noop").mode("overwrite").save())
    columns = records.select(
        "reason", "partition", "offset", "pair", "ts_ms", tick_id().alias("tick_id"),
        "bid", "ask", "source", "low", "high", "open",
    )  # fmt: skip
    _timed(out, "to_python", lambda: columns.mapInArrow(_noop, "n long").collect())
    _timed(out, "quotes_task", lambda: write_records_once(records, s), before=empty)

    ticks = data.tick_table()
    session = process_session(s)
    _timed(out, "store_fresh", lambda: write_ticks(session, s.keyspace, ticks, 8), 1, empty)
    _timed(out, "store_replay", lambda: write_ticks(session, s.keyspace, ticks, 8), runs=1)
    spark.stop()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
