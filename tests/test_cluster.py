"""Scale-out: the streaming job on a real Spark standalone cluster (master + worker from
spark-class)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from support.times import epoch_ms

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(stack):
    """A standalone master and one worker; stopped afterwards unless they were already running."""
    from fxwatch.cluster.manager import ClusterConfig, cluster_down, cluster_status, cluster_up

    cfg = ClusterConfig.from_env()
    was_up = cluster_status(stack, cfg)["alive_workers"] >= 1
    url = cluster_up(stack, cfg, echo=lambda m: None, timeout_s=90)
    try:
        yield url
    finally:
        if not was_up:
            cluster_down(stack, echo=lambda m: None)


def _ticks_on_own_day(settings, n):
    from fxwatch.bench.kafka_io import fresh_topics, produce_raw
    from fxwatch.bench.store import clear_day
    from fxwatch.bench.ticks import make_ticks

    s = fresh_topics(settings, "cluster")
    day_ms = (
        int(datetime(2003, 1, 1, tzinfo=UTC).timestamp() * 1000)
        + random.randrange(5000) * 86_400_000
    )
    data = make_ticks(n, day_ms + 3_600_000)
    # the test keyspace outlives runs, and other tests draw their days from the same years
    clear_day(s, data.pairs, datetime.fromtimestamp(day_ms / 1000, tz=UTC).date())
    produce_raw(s, s.quotes_topic, data.keys, data.values)
    return s, data


def _stored(cassandra_session, data):
    from fxwatch.bench.cassandra_probe import count_quotes

    day = datetime.fromtimestamp(int(data.ts_ms[0]) / 1000, tz=UTC).date()
    return count_quotes(cassandra_session, data.pairs, [day])


def _env(s, master):
    return {
        **os.environ,
        "SPARK_MASTER": master,
        "FXWATCH_KEYSPACE": s.keyspace,
        "FXWATCH_QUOTES_TOPIC": s.quotes_topic,
        "FXWATCH_DLQ_TOPIC": s.dlq_topic,
        "FXWATCH_ALERTS_TOPIC": s.alerts_topic,
        "FXWATCH_INCIDENTS_TOPIC": s.incidents_topic,
    }


def test_cluster_runs_kafka_to_cassandra_stream_on_executors(
    cluster, stack, cassandra_session, tmp_path
):
    from fxwatch.cluster.manager import ClusterConfig, master_state

    s, data = _ticks_on_own_day(stack, 3000)
    proc = subprocess.run(
        [sys.executable, "-m", "fxwatch.cluster.smoke", "--checkpoint", str(tmp_path / "ck")],
        env=_env(s, cluster),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["master"] == cluster
    assert result["executor_infos"] >= 2  # the driver plus at least one executor of the worker
    assert _stored(cassandra_session, data) == 3000
    apps = master_state(ClusterConfig.from_env())["completedapps"]
    assert any(a["id"] == result["app_id"] for a in apps)


def test_streaming_job_until_idle_on_cluster(cluster, stack, cassandra_session, tmp_path):
    s, data = _ticks_on_own_day(stack, 3000)
    # checkpoints live under <checkpoint_dir>/<keyspace>/<topic>: the fresh topic makes them new
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fxwatch.cli",
            "stream",
            "run",
            "--until-idle",
            "--queries",
            "quotes,trends",
        ],
        env=_env(s, cluster),
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _stored(cassandra_session, data) == 3000


def test_tick_alerts_on_cluster_equal_the_offline_engine(
    cluster, stack, cassandra_session, tmp_path
):
    """The default alert path scales out: detector state keyed by pair and triangle in Spark's state
    store, on the cluster's executors, raises exactly the offline engine's alerts."""
    from fxwatch.bench.kafka_io import fresh_topics
    from fxwatch.bus.producer import produce
    from fxwatch.detect.bank import default_cross, run_detectors
    from fxwatch.sources.synthetic import SyntheticConfig, generate
    from fxwatch.store.alerts import read_alerts

    s = fresh_topics(
        stack, "cluster", partitions=1
    )  # one partition: offsets follow the input order
    start = int(datetime(2004, 1, 1, tzinfo=UTC).timestamp() * 1000)
    start += random.randrange(5000) * 86_400_000 + 8 * 3_600_000
    quotes = list(
        generate(
            SyntheticConfig(start_ms=start, duration_s=900, rate=3.0, seed=29, events_per_hour=16)
        ).quotes()
    )
    produce(quotes, s)
    ordered = [q for _, q in sorted(enumerate(quotes), key=lambda iq: (iq[1].ts_ms, iq[0]))]
    expected = {(v.pair, v.ts_ms, v.detector) for v in run_detectors(ordered, cross=default_cross)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fxwatch.cli",
            "stream",
            "run",
            "--until-idle",
            "--queries",
            "tick_alerts",
            "--json",
        ],
        env=_env(s, cluster),
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lo = datetime.fromtimestamp(start / 1000, UTC)
    hi = datetime.fromtimestamp((quotes[-1].ts_ms + 1) / 1000, UTC)
    stored = {
        (a["pair"], epoch_ms(a["ts"]), a["detector"])
        for a in read_alerts(cassandra_session, s.keyspace, lo, hi)
    }
    assert {d for _, _, d in expected} >= {"crossrate"}  # the triangle keys are exercised
    assert len(expected) > 5 and stored == expected
