"""Fault tests with real processes: SIGKILL of the streaming job, Cassandra and Kafka restarts,
fuzzed records on the quotes topic, a flaky TrueFX server. Each test has its own topics (hence
its own checkpoints: <checkpoint_dir>/<keyspace>/<topic>/) and its own UTC day of quotes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fxwatch.stack.manager import wait_until
from support.times import epoch_ms

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def _job_cmd(until_idle: bool, max_offsets: int, queries: str = "quotes") -> list[str]:
    """`fxwatch stream run`, by default the quotes query only (the exactly-once sink under test),
    small batches."""
    cmd = [
        sys.executable,
        "-m",
        "fxwatch.cli",
        "stream",
        "run",
        "--queries",
        queries,
        "--max-offsets-per-trigger",
        str(max_offsets),
        "--trigger-seconds",
        "0.5",
    ]
    return cmd + (["--until-idle"] if until_idle else [])


def _env(s) -> dict[str, str]:
    return {
        **os.environ,
        "FXWATCH_KEYSPACE": s.keyspace,
        "FXWATCH_QUOTES_TOPIC": s.quotes_topic,
        "FXWATCH_DLQ_TOPIC": s.dlq_topic,
        "FXWATCH_ALERTS_TOPIC": s.alerts_topic,
        "FXWATCH_INCIDENTS_TOPIC": s.incidents_topic,
    }


class Job:
    """The streaming job as a subprocess in its own process group, output to a log file."""

    def __init__(
        self,
        s,
        log: Path,
        until_idle: bool = False,
        max_offsets: int = 5000,
        queries: str = "quotes",
    ) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                _job_cmd(until_idle, max_offsets, queries),
                env=_env(s),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)


def _own_day_ms(settings=None) -> int:
    """Midnight of a random past UTC day. With `settings`, the tick partitions (pair, day) of the
    benchmark ticks' pairs on it are emptied first: earlier runs (of this or another test here)
    may have drawn the same day, and a count of the test's ticks must see only its own."""
    from fxwatch.bench.store import clear_day
    from fxwatch.bench.ticks import BENCH_PAIRS

    base = int(datetime(2005, 1, 1, tzinfo=UTC).timestamp() * 1000)
    day_ms = base + random.randrange(5000) * 86_400_000
    if settings is not None:
        day = datetime.fromtimestamp(day_ms / 1000, tz=UTC).date()
        clear_day(settings, BENCH_PAIRS, day)
    return day_ms


def _count(session, data) -> int:
    from fxwatch.bench.cassandra_probe import count_quotes

    days = {
        datetime.fromtimestamp(int(t) / 1000, tz=UTC).date()
        for t in (data.ts_ms[0], data.ts_ms[-1])
    }
    return count_quotes(session, data.pairs, sorted(days))


@pytest.fixture()
def topics(stack):
    from fxwatch.bench.kafka_io import fresh_topics

    return fresh_topics(stack, "fault")


def test_sigkill_mid_run_then_restart_stores_every_quote_once(topics, cassandra_session, tmp_path):
    from fxwatch.bench.kafka_io import produce_raw
    from fxwatch.bench.ticks import make_ticks

    n = 24_000
    data = make_ticks(n, _own_day_ms(topics) + 3_600_000)
    produce_raw(topics, topics.quotes_topic, data.keys, data.values)
    job = Job(
        topics, tmp_path / "job1.log", until_idle=False, max_offsets=1000
    )  # many small batches
    try:
        assert wait_until(
            lambda: _count(cassandra_session, data) > 0,
            180,
            0.5,
            abort=lambda: None if job.alive() else f"job exited: {job.output()[-1500:]}",
        )
        before = _count(cassandra_session, data)
        assert before < n, "the job finished before it could be killed mid-run: produce more ticks"
    finally:
        job.kill()  # SIGKILL: no shutdown hook, no checkpoint commit for the batch in flight
    again = Job(topics, tmp_path / "job2.log", until_idle=True, max_offsets=20_000)
    try:
        assert again.wait(300) == 0, again.output()[-2000:]
    finally:
        again.kill()
    assert (
        _count(cassandra_session, data) == n
    )  # every tick once: replayed batches overwrite by key


def test_sigkill_of_the_tick_alerts_then_restart_gives_the_offline_alerts(
    stack, cassandra_session, tmp_path
):
    """The detectors keep state in Spark's state store, checkpointed per batch: a SIGKILL mid-run,
    then a restart from the checkpoint, raises exactly the alerts of one uninterrupted offline
    run."""
    from fxwatch.bench.kafka_io import fresh_topics
    from fxwatch.bus.producer import produce
    from fxwatch.detect.bank import default_cross, default_detectors, run_detectors
    from fxwatch.sources.synthetic import SyntheticConfig, generate
    from fxwatch.store.alerts import read_alerts

    s = fresh_topics(stack, "fault", partitions=1)  # one partition: offsets follow the input order
    start = _own_day_ms() + 8 * 3_600_000
    quotes = list(
        generate(
            SyntheticConfig(start_ms=start, duration_s=1800, rate=3.0, seed=23, events_per_hour=12)
        ).quotes()
    )
    produce(quotes, s)
    ordered = [q for _, q in sorted(enumerate(quotes), key=lambda iq: (iq[1].ts_ms, iq[0]))]
    expected = {
        (v.pair, v.ts_ms, v.detector)
        for v in run_detectors(ordered, default_detectors, cross=default_cross())
    }
    lo = datetime.fromtimestamp(start / 1000, UTC)
    hi = datetime.fromtimestamp((quotes[-1].ts_ms + 1) / 1000, UTC)

    def stored():
        return {
            (a["pair"], epoch_ms(a["ts"]), a["detector"])
            for a in read_alerts(cassandra_session, s.keyspace, lo, hi)
        }

    job = Job(s, tmp_path / "det1.log", until_idle=False, max_offsets=300, queries="tick_alerts")
    try:
        assert wait_until(
            lambda: len(stored()) > 0,
            180,
            0.3,
            abort=lambda: None if job.alive() else f"job exited: {job.output()[-1500:]}",
        )
        assert len(stored()) < len(expected), "the job finished before it could be killed mid-run"
    finally:
        # SIGKILL: the batch in flight is not committed: it is replayed from the state before it
        job.kill()
    again = Job(s, tmp_path / "det2.log", until_idle=True, max_offsets=5000, queries="tick_alerts")
    try:
        assert again.wait(300) == 0, again.output()[-2000:]
    finally:
        again.kill()
    assert len(expected) > 5 and stored() == expected


def _dlq_records(s, expect: int, timeout_s: float = 60) -> list[dict]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        s.dlq_topic,
        **s.kafka_client_config(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=2000,
    )
    out: list[dict] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and len(out) < expect:
            for records in consumer.poll(timeout_ms=500).values():
                out += [json.loads(r.value) for r in records]
    finally:
        consumer.close()
    return out


def _fuzz_records(rng: random.Random, ts: int) -> list[bytes | None]:
    good = {"v": 1, "pair": "EUR/USD", "ts": ts, "bid": 1.1, "ask": 1.1001, "src": "fuzz"}

    def variant(**kw) -> bytes:
        d = {**good, **kw}
        return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()

    records: list[bytes | None] = [
        None,  # tombstone: no value at all
        b"",
        b"null",
        b"42",
        b"[]",
        b"{}",
        b'"a string"',
        b"{" * 3000,
        b'{"v":1,"pair":"EUR/USD"',
        variant(v=2),
        variant(v="one"),
        variant(pair=123),
        variant(pair=["EUR/USD"]),
        variant(pair="EURUSD"),
        variant(pair="EUR/EUR"),
        variant(pair="ABC/XYZ"),
        variant(pair="X" * 500_000),
        variant(bid={"x": 1}),
        variant(bid="abc"),
        variant(bid=-1.0),
        variant(bid=0),
        variant(ask=None),
        variant(ts=10**15),
        variant(ts=1_400_000_000),
        variant(ts="yesterday"),
        variant(ts=-5),
        variant(src=...),
        variant(bid=...),
        b'{"v":1,"pair":"EUR/USD","ts":%d,"bid":1e400,"ask":1.2,"src":"f"}' % ts,
        b'{"v":1,"pair":"EUR/USD","ts":%d,"bid":NaN,"ask":1.2,"src":"f"}' % ts,
        json.dumps(good).encode("utf-16"),
        json.dumps({**good, "pair": "EUR/US\u00c4"}).encode("latin-1"),
        b"\xff\xfe\x00garbage\x00",
        b"\x00" * 64,
    ]
    records += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 400))) for _ in range(40)]
    return records


def test_fuzzed_records_are_dead_lettered_and_the_job_keeps_running(
    topics, cassandra_session, tmp_path
):
    from kafka import KafkaProducer

    from fxwatch.bench.ticks import make_ticks

    rng = random.Random(1234)
    day = _own_day_ms(topics)
    data = make_ticks(3000, day + 3_600_000)
    bad = _fuzz_records(rng, day + 7_200_000)
    producer = KafkaProducer(
        **topics.kafka_client_config(), max_request_size=2 * 1024 * 1024, linger_ms=5
    )
    job = Job(topics, tmp_path / "job.log", until_idle=False)
    try:
        bad_offsets: set[tuple[int, int]] = set()
        good_half = len(data) // 2
        # good ticks, the fuzz interleaved with them, then more good ticks after the fuzz
        for i in range(good_half):
            producer.send(topics.quotes_topic, key=data.keys[i], value=data.values[i])
        for value in bad:
            md = producer.send(topics.quotes_topic, key=b"fuzz", value=value).get(timeout=30)
            bad_offsets.add((md.partition, md.offset))
        producer.flush(30)
        assert wait_until(
            lambda: _count(cassandra_session, data) >= good_half,
            240,
            0.5,
            abort=lambda: None if job.alive() else f"job died on the fuzz: {job.output()[-2000:]}",
        )
        for i in range(good_half, len(data)):
            producer.send(topics.quotes_topic, key=data.keys[i], value=data.values[i])
        producer.flush(30)
        assert wait_until(
            lambda: _count(cassandra_session, data) == len(data),
            120,
            0.5,
            abort=lambda: None if job.alive() else f"job died: {job.output()[-2000:]}",
        )
        dlq = _dlq_records(topics, len(bad))
        assert job.alive(), "the job must survive malformed input"
    finally:
        producer.close(10)
        job.stop()
    origins = {tuple(int(x) for x in r["origin"].split(":")[1:]) for r in dlq}
    assert origins == bad_offsets  # every malformed record dead-lettered, no good one
    assert all(r["reason"] and ":" in r["reason"] for r in dlq)
    codes = {r["reason"].split(":", 1)[0] for r in dlq}
    assert {"unparseable", "bad_pair", "bad_price"} <= codes


@pytest.mark.spark
def test_out_of_range_timestamp_is_rejected_not_fatal(spark):
    from fxwatch.stream.read import parse_records

    good = {"v": 1, "pair": "EUR/USD", "bid": 1.1, "ask": 1.1001, "src": "fuzz"}
    rows = [
        (json.dumps({**good, "ts": ts}).encode(), 0, i, None)
        for i, ts in enumerate((1_500_000_000_000, 9_000_000_000_000_000_000))
    ]
    raw = spark.createDataFrame(
        rows, "value binary, partition int, offset long, timestamp timestamp"
    )
    parse_records(raw).write.format("noop").mode(
        "overwrite"
    ).save()  # every column, as the sink's persist does
    reasons = [
        r.reason for r in parse_records(raw).select("offset", "reason").orderBy("offset").collect()
    ]
    assert reasons[0] is None and reasons[1].startswith("future_timestamp")


def test_truefx_client_backs_off_and_recovers_without_spinning(monkeypatch):
    from fxwatch.config import Settings
    from fxwatch.sources.truefx import TrueFXClient
    from support.flaky_http import FlakyTrueFX

    script = [
        None,
        "timeout",
        "timeout",
        "500",
        "503",
        "garbage",
        "garbage",
        "500",
        "expire",
        None,
        "timeout",
    ]
    with FlakyTrueFX("u1", "pw-flaky", script, timeout_sleep_s=0.8) as server:
        monkeypatch.setenv("TRUEFX_USER", "u1")
        monkeypatch.setenv("TRUEFX_PASSWORD", "pw-flaky")
        monkeypatch.setenv("FXWATCH_TRUEFX_URL", server.url)
        client = TrueFXClient.from_settings(
            Settings.from_env(),
            interval_s=0.25,
            timeout_s=0.4,
            backoff_base_s=0.2,
            backoff_cap_s=1.0,
            max_failures=30,
        )
        t0 = time.monotonic()
        got: list[float] = []
        for item in client.stream(duration_s=12.0):
            if type(item).__name__ == "Quote":
                got.append(time.monotonic() - t0)
    assert server.max_rate(1.0) <= 6, (
        f"{server.max_rate(1.0)} requests in one second: the client spins"
    )
    assert len(server.times) >= 12, "too few requests: the client gave up or slept far too long"
    assert client.reconnects >= 1  # the expired session was re-opened
    assert server.script == [], "the scripted failures were not all served"
    last_failure = (
        server.times[len(script)] - server.times[0]
    )  # arrival of the first healthy request
    assert got and got[-1] > last_failure, (
        "no quotes after the failures: the client did not recover"
    )
    assert len(got) >= 8, f"only {len(got)} quotes after recovery: polling did not resume"
    gaps = [b - a for a, b in zip(server.times, server.times[1:])]
    assert max(gaps) >= 0.6, "no back-off visible between failing requests"


@pytest.fixture()
def restore_stack(stack):
    """Whatever a test stops, this starts again (others use the same stack)."""
    from fxwatch.stack.manager import stack_up

    yield stack
    stack_up(stack, echo=lambda m: None, init_schema=False)


def test_cassandra_restart_while_the_job_runs_loses_nothing(topics, restore_stack, tmp_path):
    from fxwatch.bench.kafka_io import produce_raw
    from fxwatch.bench.ticks import make_ticks
    from fxwatch.stack.manager import stack_down, stack_up
    from fxwatch.store.connection import connect

    n = 30_000
    data = make_ticks(n, _own_day_ms(topics) + 3_600_000)
    half = n // 2
    produce_raw(topics, topics.quotes_topic, data.keys[:half], data.values[:half])
    job = Job(topics, tmp_path / "job1.log", until_idle=False, max_offsets=2000)
    cluster, session = connect(topics)
    try:
        assert wait_until(
            lambda: _count(session, data) > 0,
            180,
            0.5,
            abort=lambda: None if job.alive() else f"job exited: {job.output()[-1500:]}",
        )
    finally:
        cluster.shutdown()
    t_down = time.monotonic()
    try:
        stack_down(topics, echo=lambda m: None, only="cassandra")
        produce_raw(
            topics, topics.quotes_topic, data.keys[half:], data.values[half:]
        )  # arrive during the outage
    finally:
        stack_up(topics, echo=lambda m: None, init_schema=False)
    outage = time.monotonic() - t_down
    cluster, session = connect(topics)
    try:
        # the job either rides out the outage (the writer retries) or stops with a clear error
        wait_until(lambda: _count(session, data) == n or not job.alive(), 180, 1.0)
        if not job.alive():
            out = job.output()
            assert "fxwatch: error:" in out and "Cassandra" in out, (
                f"unclear failure: {out[-1500:]}"
            )
            again = Job(topics, tmp_path / "job2.log", until_idle=True, max_offsets=20_000)
            try:
                assert again.wait(300) == 0, again.output()[-2000:]
            finally:
                again.kill()
        assert _count(session, data) == n, f"lost quotes after a {outage:.0f} s Cassandra outage"
    finally:
        cluster.shutdown()
        job.stop()


def test_kafka_restart_while_producing_loses_and_doubles_nothing(topics, restore_stack):
    from kafka import KafkaConsumer

    from fxwatch.bench.ticks import make_ticks
    from fxwatch.bus.producer import QuoteProducer
    from fxwatch.schema import Quote, now_ms
    from fxwatch.stack.manager import stack_down, stack_up

    n = 30_000
    data = make_ticks(n, now_ms() - 3_000_000, step_us=50_000)
    quotes = [Quote.from_json(v) for v in data.values]
    sent = threading.Event()
    errors: list[BaseException] = []
    summary = {}
    progress = {"i": 0}

    def produce():
        try:
            with QuoteProducer(topics, timeout_s=150) as qp:  # a loaded machine restarts slowly
                for i, q in enumerate(quotes):
                    qp.send(q)
                    progress["i"] = i + 1
                    if i == n // 10:
                        sent.set()
                    if i % 200 == 0:
                        time.sleep(0.05)  # ~4k/s: the restart happens mid-stream
            summary["s"] = qp.summary
        except BaseException as exc:
            errors.append(exc)
        finally:
            sent.set()

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    assert sent.wait(60)
    try:
        stack_down(topics, echo=lambda m: None, only="kafka")
        at_stop = progress["i"]
    finally:
        stack_up(topics, echo=lambda m: None, init_schema=False)
    worker.join(300)
    assert at_stop < n, (
        "the producer had finished before the broker stopped: the test proved nothing"
    )
    assert not worker.is_alive(), "the producer hung after the broker came back"
    assert not errors, f"the producer failed across the restart: {errors[0]}"
    consumer = KafkaConsumer(
        topics.quotes_topic,
        **topics.kafka_client_config(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=5000,
    )
    seen: list[tuple[str, int]] = []
    try:
        deadline = time.monotonic() + 90
        while len(seen) < n and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                seen += [(r.key.decode(), json.loads(r.value)["ts"]) for r in records]
        # a little longer: duplicates would arrive after the n-th record
        for records in consumer.poll(timeout_ms=2000).values():
            seen += [(r.key.decode(), json.loads(r.value)["ts"]) for r in records]
    finally:
        consumer.close()
    assert len(set(seen)) == n, f"{n - len(set(seen))} quotes lost"
    assert len(seen) == n, f"{len(seen) - n} duplicates"
