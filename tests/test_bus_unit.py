"""Producer and topic logic without a broker: routing, keys, DLQ, delivery checks, clear errors."""

import socket
import time
from pathlib import Path

import pytest

from fxwatch.bus.producer import (
    ProduceSummary,
    QuoteProducer,
    check_item,
    compression_type,
    produce,
    producer_config,
)
from fxwatch.bus.topics import ensure_topics, topic_specs
from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.schema import BadLine, Quote, Reason
from fxwatch.sources.replay import read_file

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


class FakeFuture:
    def __init__(self, error=None):
        self.error = error
        self.callbacks, self.errbacks = [], []

    def add_callback(self, f):
        self.callbacks.append(f)

    def add_errback(self, f):
        self.errbacks.append(f)

    def resolve(self):
        for f in self.errbacks if self.error else self.callbacks:
            f(self.error if self.error else "meta")


class FakeProducer:
    """Records sends; resolves futures on flush, failing those whose topic is in `fail_topics`."""

    def __init__(self, fail_topics=(), lose=0):
        self.sent, self.futures = [], []
        self.fail_topics, self.lose, self.closed = set(fail_topics), lose, False

    def send(self, topic, key=None, value=None):
        self.sent.append((topic, key, value))
        fut = FakeFuture(RuntimeError("broker said no") if topic in self.fail_topics else None)
        self.futures.append(fut)
        return fut

    def flush(self, timeout=None):
        for fut in self.futures[: len(self.futures) - self.lose]:
            fut.resolve()

    def close(self, timeout=None):
        self.closed = True


@pytest.fixture
def settings():
    return Settings.from_env({}, dotenv=None).with_(quotes_topic="q", dlq_topic="dlq")


def test_quotes_keyed_by_pair_bad_lines_to_dlq_with_reason(settings):
    fake = FakeProducer()
    items = list(read_file(SAMPLES / "bad_lines.csv"))
    summary = produce(items, settings, producer=fake)
    assert (summary.sent, summary.dead_lettered, summary.delivered, summary.failed) == (4, 7, 11, 0)
    quotes = [(k.decode(), Quote.from_json(v)) for t, k, v in fake.sent if t == "q"]
    assert all(k == q.pair for k, q in quotes) and {k for k, _ in quotes} == {"EUR/USD", "USD/JPY"}
    dlq = [BadLine.from_json(v) for t, k, v in fake.sent if t == "dlq"]
    assert len(dlq) == 7 and all(b.raw and b.reason and b.source == "csv" for b in dlq)
    assert "this is not a quote" in {b.raw for b in dlq}
    assert summary.reasons[Reason.BAD_PRICE] == 2 and sum(summary.reasons.values()) == 7
    assert fake.closed and "sent 4 quotes, dead-lettered 7" in str(summary)


def test_invalid_quote_objects_are_dead_lettered_not_sent():
    future = Quote("EUR/USD", int(time.time() * 1000) + 3_600_000, 1.1, 1.2, "synthetic")
    item = check_item(future)
    assert isinstance(item, BadLine) and item.code == Reason.FUTURE_TS
    assert Quote.from_json(item.raw) == future  # the raw form keeps the whole record
    ok = Quote("EUR/USD", int(time.time() * 1000), 1.2, 1.1, "synthetic")  # crossed: fine
    assert check_item(ok) is ok


def test_failed_deliveries_raise(settings):
    fake = FakeProducer(fail_topics={"dlq"})
    with pytest.raises(FxwatchError, match="1 of 2 records failed.*broker said no"):
        produce(
            [
                Quote("EUR/USD", int(time.time() * 1000), 1.1, 1.2, "t"),
                BadLine("x", "unparseable: x", "t", 0),
            ],
            settings,
            producer=fake,
        )


def test_unconfirmed_records_raise(settings):
    fake = FakeProducer(lose=1)
    qp = QuoteProducer(settings, producer=fake)
    qp.send(Quote("EUR/USD", int(time.time() * 1000), 1.1, 1.2, "t"))
    qp.send(Quote("EUR/USD", int(time.time() * 1000), 1.1, 1.2, "t"))
    with pytest.raises(FxwatchError, match="1 were not confirmed"):
        qp.close()


def test_producer_config_is_safe_and_batched(settings):
    cfg = producer_config(settings, timeout_s=7)
    assert cfg["acks"] == "all" and cfg["enable_idempotence"] is True
    assert cfg["linger_ms"] > 0 and cfg["batch_size"] >= 16384
    assert (
        cfg["compression_type"] in ("lz4", "gzip") and cfg["compression_type"] == compression_type()
    )
    assert cfg["bootstrap_timeout_ms"] == 7000 and cfg["max_block_ms"] == 7000
    from kafka import KafkaProducer

    assert set(cfg) <= set(KafkaProducer.DEFAULT_CONFIG)  # every key is a real kafka-python option


def test_topic_specs(settings):
    specs = {s.name: s for s in topic_specs(settings.with_(quotes_partitions=6))}
    assert list(specs) == ["q", "dlq", "fx-alerts", "fx-incidents"]
    assert specs["q"].partitions == 6 and specs["q"].key == "pair"
    assert int(specs["q"].configs["retention.ms"]) == 7 * 86_400_000
    assert int(specs["dlq"].configs["retention.ms"]) > int(specs["q"].configs["retention.ms"])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_broker_down_is_a_clear_error_after_a_bounded_wait(settings):
    down = settings.with_(kafka_bootstrap=f"127.0.0.1:{_free_port()}")
    t0 = time.monotonic()
    with pytest.raises(
        FxwatchError, match=r"not reachable after 2 s — start it with `fxwatch stack up`"
    ):
        produce([], down, timeout_s=2)
    with pytest.raises(FxwatchError, match="not reachable"):
        ensure_topics(down, timeout_s=2)
    assert time.monotonic() - t0 < 15


def test_summary_rate():
    s = ProduceSummary(sent=900, dead_lettered=100, elapsed_s=2.0)
    assert s.rate == 500.0
    assert ProduceSummary().rate == 0.0


def _args(*argv):
    import argparse

    from fxwatch.cli import bus as cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(list(argv))


def test_cli_builds_each_source(settings):
    from fxwatch.cli.bus import build_source

    items, total = build_source(
        _args(
            "produce",
            "--source",
            "synthetic",
            "--duration",
            "2m",
            "--seed",
            "5",
            "--pairs",
            "EUR/USD,USD/JPY",
            "--limit",
            "50",
        ),
        settings,
    )
    got = list(items)
    assert len(got) == 50 == total and {q.pair for q in got} <= {"EUR/USD", "USD/JPY"}
    files = [str(p) for p in sorted(SAMPLES.glob("lean/*/tick/eurusd/*.csv"))]
    items, total = build_source(
        _args("produce", "--source", "replay", "--files", *files, "--limit", "10"), settings
    )
    assert total == 10 and len(list(items)) == 10
    with pytest.raises(FxwatchError, match="--files"):
        build_source(_args("produce", "--source", "replay"), settings)


def test_cli_synth_writes_ticks_labels_and_legit_moves(tmp_path, capsys):
    from fxwatch.sources.synthetic import read_labels

    args = _args("synth", "--duration", "20m", "--seed", "2", "--out", str(tmp_path), "--name", "s")
    assert args.func(args) == 0
    assert (tmp_path / "s_ticks.csv").stat().st_size > 10_000
    assert read_labels(tmp_path / "s_labels.csv")
    assert "labelled events" in capsys.readouterr().out


def test_kafka_admin_debug_log_does_not_show_the_sasl_password(caplog):
    """kafka-python logs the admin client's configuration at DEBUG; the password is masked."""
    import logging

    from kafka import KafkaAdminClient

    import fxwatch.bus.topics  # noqa: F401  (installs the filter)

    secret = "pw-" + str(time.time_ns())
    with caplog.at_level(logging.DEBUG, logger="kafka"):
        try:
            KafkaAdminClient(
                bootstrap_servers="127.0.0.1:1",  # nothing listens: the client gives up
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN",
                sasl_plain_username="fxwatch",
                sasl_plain_password=secret,
                request_timeout_ms=1000,
                api_version_auto_timeout_ms=1000,
            ).close()
        except Exception:
            pass
    assert "Starting KafkaAdminClient with configuration" in caplog.text
    assert "sasl_plain_password" in caplog.text and secret not in caplog.text
