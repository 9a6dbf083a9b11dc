"""The driver engine of the tick detectors: same alerts as offline, batch by batch, across restarts and replays."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

from fxwatch.detect.bank import default_cross, default_detectors, run_detectors
from fxwatch.stream.driver_detect import DETECT_COLUMNS, SNAPSHOT_DIR, DriverDetectors


@pytest.fixture(scope="module")
def quotes():
    from fxwatch.sources.synthetic import SyntheticConfig, generate

    return list(generate(SyntheticConfig(duration_s=1200, rate=2.0, seed=7, events_per_hour=6)).quotes())


def table(quotes, first_offset: int = 0) -> pa.Table:
    """Quotes as the detectors query hands them over (Kafka offset = position in the stream)."""
    return pa.table({
        "pair": [q.pair for q in quotes], "ts_ms": [q.ts_ms for q in quotes],
        "offset": list(range(first_offset, first_offset + len(quotes))),
        "bid": [q.bid for q in quotes], "ask": [q.ask for q in quotes], "source": [q.source for q in quotes],
        "low": [q.low for q in quotes], "high": [q.high for q in quotes], "open": [q.open for q in quotes],
    }).select(DETECT_COLUMNS)


def key(v):
    return (v.pair, v.ts_ms, v.detector, round(v.score, 9), v.reason)


def batches(quotes, size):
    return [(b, quotes[i:i + size], i) for b, i in enumerate(range(0, len(quotes), size))]


def offline(quotes):
    return sorted(map(key, run_detectors(quotes, default_detectors, cross=default_cross())))


def test_batches_give_the_offline_alerts(quotes, tmp_path):
    engine = DriverDetectors(tmp_path, cross=default_cross)
    got = []
    for b, part, first in batches(quotes, 700):
        got += engine.process(table(part, first), b)
    assert len(got) > 5 and {v.detector for v in got} >= {"crossrate"}
    assert sorted(map(key, got)) == offline(quotes)


def test_a_restart_resumes_from_the_snapshot(quotes, tmp_path):
    parts = batches(quotes, 500)
    got = []
    engine = DriverDetectors(tmp_path, cross=default_cross)
    for b, part, first in parts[:3]:
        got += engine.process(table(part, first), b)
    engine = DriverDetectors(tmp_path, cross=default_cross)  # a new driver process: state from disk
    for b, part, first in parts[3:]:
        got += engine.process(table(part, first), b)
    assert sorted(map(key, got)) == offline(quotes)


def test_a_replayed_batch_starts_from_the_batch_before_it(quotes, tmp_path):
    parts = batches(quotes, 500)
    engine = DriverDetectors(tmp_path, cross=default_cross)
    got = []
    for b, part, first in parts[:-1]:
        got += engine.process(table(part, first), b)
    b, part, first = parts[-1]
    last = engine.process(table(part, first), b)
    # the job died after the batch ran but before Spark committed it: a new driver replays it
    again = DriverDetectors(tmp_path, cross=default_cross).process(table(part, first), b)
    assert sorted(map(key, again)) == sorted(map(key, last))
    assert sorted(map(key, got + last)) == offline(quotes)


def test_empty_batches_and_snapshot_pruning(quotes, tmp_path):
    engine = DriverDetectors(tmp_path, cross=default_cross, keep=3)
    parts = batches(quotes, 400)
    got, b = [], 0
    for _, part, first in parts:
        got += engine.process(table(part, first), b)
        got += engine.process(table([], 0), b + 1)  # an empty batch writes no snapshot
        b += 2
    files = sorted((tmp_path / SNAPSHOT_DIR).glob("state-*.pkl"))
    assert len(files) == 3
    assert sorted(map(key, got)) == offline(quotes)
    # the newest snapshot is the state after the last batch with quotes
    newest = max(int(f.stem.split("-")[1]) for f in files)
    assert newest == b - 2
    state = pickle.loads((tmp_path / SNAPSHOT_DIR / f"state-{newest}.pkl").read_bytes())
    assert set(state["pairs"]) == {q.pair for q in quotes}


def test_stale_later_snapshots_are_dropped_on_replay(quotes, tmp_path):
    parts = batches(quotes, 600)
    engine = DriverDetectors(tmp_path, cross=default_cross)
    for b, part, first in parts[:3]:
        engine.process(table(part, first), b)
    # a fresh checkpoint of Spark (batch ids restart at 0) over the same folder is not what happens,
    # but a replay of batch 1 must leave no snapshot of batch 2 behind to be picked up later
    DriverDetectors(tmp_path, cross=default_cross).process(table(parts[1][1], parts[1][2]), 1)
    ids = sorted(int(f.stem.split("-")[1]) for f in (tmp_path / SNAPSHOT_DIR).glob("state-*.pkl"))
    assert ids == [0, 1]


@pytest.mark.integration
@pytest.mark.spark
def test_pipeline_driver_engine_on_real_kafka_gives_the_offline_alerts(spark, stack, unique_topics, tmp_path):
    """Kafka -> Spark (small batches, a restart half-way) -> driver detectors: the offline alerts, exactly."""
    from fxwatch.bus.producer import produce
    from fxwatch.bus.topics import ensure_topics
    from fxwatch.sources.synthetic import SyntheticConfig, generate
    from fxwatch.stream.jobs import run_pipeline

    # one partition: Kafka offsets follow the input order, so (ts_ms, offset) order is the offline order
    s = unique_topics.with_(quotes_partitions=1)
    ensure_topics(s)
    quotes = list(generate(SyntheticConfig(duration_s=600, rate=2.0, seed=5, events_per_hour=12)).quotes())
    half = len(quotes) // 2
    opts = dict(queries=("detectors",), checkpoints=tmp_path / "cp", timeout=300, kafka_alerts=False,
                max_offsets_per_trigger=700, detector_engine="driver")
    produce(quotes[:half], s)
    r1 = run_pipeline(spark, s, until_idle=True, **opts)
    produce(quotes[half:], s)
    r2 = run_pipeline(spark, s, until_idle=True, **opts)  # a new writer: state from the snapshots
    ordered = [q for _, q in sorted(enumerate(quotes), key=lambda iq: (iq[1].ts_ms, iq[0]))]
    expected = run_detectors(ordered, default_detectors, cross=default_cross())
    assert r1["queries"]["detectors"]["batches"] >= 2 and r2["queries"]["detectors"]["batches"] >= 2
    assert r1["alerts"] + r2["alerts"] == len(expected) > 5
