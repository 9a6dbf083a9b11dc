"""applyInPandasWithState vs transformWithStateInPandas for the streaming tick detectors.

Usage: .venv/bin/python bench/state_api.py [--ticks 24000] [--batch 2000] [--rounds 2]
       [--pairs EUR/USD,USD/JPY,...] [--lib-wait 1200]

Needs the local stack (`fxwatch stack up`) and the `protobuf` package in the venv (the Python
runner of transformWithStateInPandas imports pyspark's generated StateMessage_pb2).

What it measures, in ONE run and ONE Spark JVM (local[2]):
  * N labelled synthetic ticks (fxwatch.sources.synthetic, 5 pairs by default) are produced once to
    a fresh Kafka topic; every query below reads that same topic from `earliest` with
    maxOffsetsPerTrigger = --batch, Trigger.AvailableNow, its own fresh checkpoint, and a
    foreachBatch sink that collects the alert rows on the driver.
  * (A) `fxwatch.stream.tick_alerts.detect_ticks` (groupBy(key).applyInPandasWithState) with the
    default detectors, cross-pair detectors and WATCHED_PAIRS;
    (B) the same operator written with groupBy(key).transformWithStateInPandas and a
    StatefulProcessor: same keys (the pair and its watched triangles), same per-key state
    (`fxwatch.detect.bank.new_state` pickled into a one-binary-column ValueState), same
    (ts_ms, offset) order inside a batch, same output schema (ALERT_SCHEMA).
  * A warm-up pass of each API first (not counted), then A/B alternated --rounds times.
  * Per batch: `durationMs.triggerExecution` of the StreamingQueryProgress (batches with input
    rows) and the wall time of the foreachBatch call; per API: median and p90 batch ms, total
    processing seconds, ticks/s (= ticks / summed triggerExecution), wall seconds per pass.
  * Whether A and B (and every pass) produce the same set of alerts, and, as information, how the
    streamed alerts compare with the offline `run_detectors` over the same ticks.
Progress goes to stderr; the last stdout line is one JSON object (exit 1 if the alerts differ).
Six passes of 24 000 ticks took 8 min on 2 shared cores at load average ~10.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from fxwatch.config import Settings

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["ts_ms", "offset"]
INPUT = ["pair", "ts_ms", "bid", "ask", "source", "low", "high", "open"]
ALERT_COLUMNS = ["pair", "ts_ms", "detector", "score", "reason"]
STATE_SCHEMA = "blob binary"  # the key's detectors, pickled (as in tick_alerts)

# What must import and run before the benchmark starts (lib/ is being refactored meanwhile).
_LIB_PROBE = """
from fxwatch.stream.tick_alerts import ALERT_SCHEMA, detect_ticks
from fxwatch.stream.read import read_quotes
from fxwatch.detect.bank import WATCHED_PAIRS, default_cross, default_detectors, run_detectors
from fxwatch.bench.kafka_io import fresh_topics, produce_raw
from fxwatch.sources.synthetic import SyntheticConfig, generate
from itertools import islice
qs = list(islice(generate(SyntheticConfig(duration_s=120)).quotes(), 500))
run_detectors(qs, default_detectors, default_cross, 60_000, WATCHED_PAIRS)
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def wait_for_lib(deadline_s: float) -> None:
    """Import and smoke-run the library in a child process until it works or the deadline passes
    (a child, because a failed import in this process would leave stale modules behind)."""
    t_end = time.monotonic() + deadline_s
    while True:
        proc = subprocess.run(
            [sys.executable, "-c", _LIB_PROBE],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
            check=False,
        )
        if proc.returncode == 0:
            return
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        if time.monotonic() > t_end:
            raise SystemExit(f"lib/ still broken after {deadline_s:.0f} s: {last}")
        log(f"lib/ not usable right now ({last}); retrying in 60 s")
        time.sleep(60)


# ---- (B) the transformWithStateInPandas operator ------------------------------------------------


def _opt(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def run_batch(detectors, frames, order: list[str]) -> pd.DataFrame:
    """One key's micro-batch through its detectors, as tick_alerts._run_key does it."""
    from fxwatch.schema import Quote

    batch = pd.concat(list(frames), ignore_index=True).sort_values(order, kind="stable")
    alerts = []
    for pair, ts_ms, bid, ask, source, low, high, open_ in zip(*(batch[c] for c in INPUT)):
        q = Quote(
            pair, int(ts_ms), float(bid), float(ask), source, _opt(low), _opt(high), _opt(open_)
        )
        alerts.extend(detectors.update_many(q))
    # explicit dtypes: with none, a batch without alerts gives float64 columns, and pyspark 4.2.0's
    # transformWithStateInPandas output path (the frame nested as a struct; pyarrow 26) then fails
    # with "TypeError: Cannot convert pyarrow.lib.ChunkedArray to pyarrow.lib.Array"
    return pd.DataFrame(
        {
            "pair": pd.Series([v.pair for v in alerts], dtype=object),
            "ts_ms": pd.Series([int(v.ts_ms) for v in alerts], dtype="int64"),
            "detector": pd.Series([v.detector for v in alerts], dtype=object),
            "score": pd.Series([float(v.score) for v in alerts], dtype="float64"),
            "reason": pd.Series([v.reason for v in alerts], dtype=object),
        },
        columns=ALERT_COLUMNS,
    )


def detector_processor(factory, cross, cooldown_ms: int, order: list[str]):
    """A StatefulProcessor instance: per key, one ValueState holding the pickled detectors."""
    from pyspark.sql.streaming import StatefulProcessor

    class DetectorProcessor(StatefulProcessor):
        def init(self, handle) -> None:
            self.detectors = handle.getValueState("detectors", STATE_SCHEMA)

        def handleInputRows(self, key, rows, timerValues):
            from fxwatch.detect.bank import new_state

            k = key[0] if isinstance(key, (tuple, list)) else key
            if self.detectors.exists():
                state = pickle.loads(self.detectors.get()[0])
            else:
                state = new_state(k, factory, cross, cooldown_ms)
            out = run_batch(state, rows, order)
            self.detectors.update((pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL),))
            yield out

        def close(self) -> None:
            pass

    return DetectorProcessor()


def detect_ticks_tws(quotes, factory, cross, pairs, cooldown_ms: int = 60_000, order=ORDER):
    """detect_ticks with transformWithStateInPandas: same keys, state, order and output."""
    from pyspark.sql import functions as F

    from fxwatch.detect.bank import cross_factory
    from fxwatch.stream.tick_alerts import ALERT_SCHEMA, state_keys

    cross = cross_factory(cross)
    key_list = state_keys(pairs if cross else ())  # the keys of tick_alerts.detect_ticks
    extra = [c for c in order if c not in INPUT]
    return (
        quotes.select(F.explode(key_list).alias("key"), *INPUT, *extra)
        .groupBy("key")
        .transformWithStateInPandas(
            statefulProcessor=detector_processor(factory, cross, cooldown_ms, list(order)),
            outputStructType=ALERT_SCHEMA,
            outputMode="Append",
            timeMode="None",
        )
    )


# ---- running one pass ------------------------------------------------------------------------


def _get(obj, name):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def run_pass(spark, settings, api: str, batch: int, checkpoint: Path) -> dict:
    """One AvailableNow query of `api` ('A' or 'B') over the whole topic: timings and alerts."""
    from fxwatch.detect.bank import WATCHED_PAIRS, default_cross, default_detectors
    from fxwatch.stream.read import read_quotes
    from fxwatch.stream.tick_alerts import detect_ticks

    quotes = read_quotes(spark, settings, "earliest", max_offsets_per_trigger=batch)
    build = detect_ticks if api == "A" else detect_ticks_tws
    alerts_df = build(quotes, default_detectors, default_cross, WATCHED_PAIRS)
    rows: list[tuple] = []
    sink_ms: list[float] = []

    def sink(df, batch_id: int) -> None:
        t0 = time.perf_counter()
        for r in df.collect():
            rows.append((r["pair"], int(r["ts_ms"]), r["detector"], float(r["score"]), r["reason"]))
        sink_ms.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    query = (
        alerts_df.writeStream.outputMode("append")
        .foreachBatch(sink)
        .option("checkpointLocation", str(checkpoint))
        .queryName(f"state_api_{api}_{checkpoint.name}")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    wall = time.perf_counter() - t0
    if query.exception() is not None:
        raise RuntimeError(f"query {api} failed: {query.exception()}")
    progress = [p for p in query.recentProgress if _get(p, "numInputRows") > 0]
    trig = [float(_get(p, "durationMs")["triggerExecution"]) for p in progress]
    ticks = int(sum(_get(p, "numInputRows") for p in progress))
    return {
        "api": api,
        "wall_s": wall,
        "trigger_ms": trig,
        "sink_ms": sink_ms,
        "ticks": ticks,
        "alerts": rows,
    }


def summary(passes: list[dict], ticks: int) -> dict:
    """Median/p90 batch ms over every counted batch of the passes; per-pass totals."""
    trig = np.array([t for p in passes for t in p["trigger_ms"]])
    steady = np.array([t for p in passes for t in p["trigger_ms"][1:]])
    sink = np.array([t for p in passes for t in p["sink_ms"]])
    totals = [sum(p["trigger_ms"]) / 1000 for p in passes]
    return {
        "batches_per_pass": [len(p["trigger_ms"]) for p in passes],
        "batch_ms_median": round(float(np.median(trig)), 1),
        "batch_ms_p90": round(float(np.percentile(trig, 90)), 1),
        "steady_batch_ms_median": round(float(np.median(steady)), 1),
        "steady_batch_ms_p90": round(float(np.percentile(steady, 90)), 1),
        "first_batch_ms": [round(p["trigger_ms"][0], 1) for p in passes],
        "foreachbatch_ms_median": round(float(np.median(sink)), 1),
        "total_s_per_pass": [round(t, 2) for t in totals],
        "wall_s_per_pass": [round(p["wall_s"], 2) for p in passes],
        "ticks_per_s": round(ticks / float(np.mean(totals)), 1),
        "ticks_per_s_per_pass": [round(ticks / t, 1) for t in totals],
        "alerts": len(passes[0]["alerts"]),
    }


# ---- main -----------------------------------------------------------------------------------


def make_ticks(n: int, pairs: tuple[str, ...], seed: int):
    """The first n ticks of a synthetic hour-ish run (labelled events injected) and its labels."""
    from fxwatch.sources.synthetic import SyntheticConfig, generate

    duration = max(300.0, 1.5 * n / (4.0 * len(pairs)))
    while True:
        cfg = SyntheticConfig(pairs=pairs, duration_s=duration, seed=seed, events_per_hour=4.0)
        res = generate(cfg)
        if len(res) >= n:
            quotes = [q for _, q in zip(range(n), res.quotes())]
            end = quotes[-1].ts_ms
            return quotes, [lb for lb in res.labels if lb.start_ts <= end]
        duration *= 2


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ticks", type=int, default=24_000)
    p.add_argument("--batch", type=int, default=2_000, help="maxOffsetsPerTrigger")
    p.add_argument("--rounds", type=int, default=2, help="A/B alternations after the warm-up")
    p.add_argument("--pairs", default="EUR/USD,USD/JPY,EUR/JPY,GBP/USD,EUR/GBP")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--lib-wait",
        type=float,
        default=1200.0,
        help="seconds to wait for a working lib/ (it may be mid-refactor)",
    )
    args = p.parse_args()
    pairs = tuple(x.strip() for x in args.pairs.split(",") if x.strip())

    wait_for_lib(args.lib_wait)
    from fxwatch.bench.kafka_io import count_records, fresh_topics, produce_raw
    from fxwatch.detect.bank import WATCHED_PAIRS, default_cross, default_detectors, run_detectors
    from fxwatch.stream.session import get_spark

    settings = fresh_topics(Settings.from_env().with_(keyspace="fxwatch_bench"), "stateapi")
    quotes, labels = make_ticks(args.ticks, pairs, args.seed)
    secs = produce_raw(
        settings,
        settings.quotes_topic,
        [q.pair.encode() for q in quotes],
        [q.to_json().encode() for q in quotes],
    )
    stored = count_records(settings, settings.quotes_topic)
    log(
        f"{len(quotes)} ticks ({len(labels)} labelled events) -> {settings.quotes_topic} "
        f"in {secs:.1f} s; topic holds {stored}"
    )
    offline = {
        (v.pair, int(v.ts_ms), v.detector, float(v.score), v.reason)
        for v in run_detectors(quotes, default_detectors, default_cross, 60_000, WATCHED_PAIRS)
    }

    t_spark = time.perf_counter()
    spark = get_spark(settings, app_name="fxwatch-bench-state-api")
    log(f"Spark session in {time.perf_counter() - t_spark:.1f} s")
    base = settings.stack_dir / "bench" / f"state_api-{uuid.uuid4().hex[:8]}"
    plan = ["A", "B"] + ["A", "B"] * args.rounds  # the first A and B: warm-up, not counted
    passes: list[dict] = []
    try:
        for i, api in enumerate(plan):
            res = run_pass(spark, settings, api, args.batch, base / f"{i}-{api}")
            res["warmup"] = i < 2
            passes.append(res)
            tr = res["trigger_ms"]
            log(
                f"pass {i} {api}{' (warm-up)' if i < 2 else ''}: {len(tr)} batches, "
                f"{res['ticks']} ticks, median {np.median(tr):.0f} ms, "
                f"sum {sum(tr) / 1000:.1f} s, wall {res['wall_s']:.1f} s, "
                f"{len(res['alerts'])} alerts"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)

    alert_sets = [set(p["alerts"]) for p in passes]
    dup = [len(p["alerts"]) - len(set(p["alerts"])) for p in passes]
    ref = alert_sets[0]
    a_set = {x for p, s in zip(passes, alert_sets) if p["api"] == "A" for x in s}
    b_set = {x for p, s in zip(passes, alert_sets) if p["api"] == "B" for x in s}
    same = all(s == ref for s in alert_sets) and not any(dup)
    if not same:
        for x in sorted(a_set ^ b_set)[:20]:
            log(f"differs: {'A only' if x in a_set else 'B only'} {x}")
    a = summary([p for p in passes if p["api"] == "A" and not p["warmup"]], len(quotes))
    b = summary([p for p in passes if p["api"] == "B" and not p["warmup"]], len(quotes))
    faster = (
        "applyInPandasWithState"
        if a["ticks_per_s"] >= b["ticks_per_s"]
        else "transformWithStateInPandas"
    )
    import google.protobuf
    import pyspark

    result = {
        "bench": "state_api",
        "ticks": len(quotes),
        "ticks_in_stream": passes[-1]["ticks"],
        "batch": args.batch,
        "pairs": list(pairs),
        "labelled_events": len(labels),
        "rounds": args.rounds,
        "topic": settings.quotes_topic,
        "shuffle_partitions": settings.spark_shuffle_partitions,
        "applyInPandasWithState": a,
        "transformWithStateInPandas": b,
        "same_alerts": same,
        "alerts_only_A": len(a_set - b_set),
        "alerts_only_B": len(b_set - a_set),
        "duplicate_alert_rows": dup,
        "offline_alerts": len(offline),
        "offline_same_as_stream": offline == ref,
        "offline_only": len(offline - ref),
        "stream_only": len(ref - offline),
        "faster": faster,
        "speedup_ticks_per_s": round(
            max(a["ticks_per_s"], b["ticks_per_s"]) / min(a["ticks_per_s"], b["ticks_per_s"]), 3
        ),
        "median_batch_ratio_B_over_A": round(b["batch_ms_median"] / a["batch_ms_median"], 3),
        "pyspark": pyspark.__version__,
        "protobuf": google.protobuf.__version__,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    spark.stop()
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
