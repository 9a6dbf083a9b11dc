"""`fxwatch bench producer`: the project's QuoteProducer against a naive
send-and-flush-per-tick one."""

from __future__ import annotations

import time

from kafka import KafkaProducer

from fxwatch.bench.kafka_io import count_records, fresh_topics, produce_raw
from fxwatch.bench.report import ratio
from fxwatch.bench.ticks import make_ticks
from fxwatch.bus.producer import QuoteProducer, compression_type
from fxwatch.schema import Quote, now_ms

__all__ = ["bench_producer", "naive_send_flush"]


def naive_send_flush(
    settings, topic: str, values, keys, max_ticks: int = 5000, max_s: float = 30.0
) -> dict:
    """kafka-python with default settings, `send(...)` then `flush()` for every tick (capped)."""
    producer = KafkaProducer(**settings.kafka_client_config(), client_id="fxwatch-bench-naive")
    done, t0 = 0, time.perf_counter()
    try:
        for k, v in zip(keys, values):
            producer.send(topic, key=k, value=v)
            producer.flush()
            done += 1
            if done >= max_ticks or time.perf_counter() - t0 >= max_s:
                break
        elapsed = time.perf_counter() - t0
    finally:
        producer.close(timeout=10)
    return {
        "naive_ticks": done,
        "naive_seconds": round(elapsed, 2),
        "naive_ticks_per_s": round(done / elapsed, 1) if elapsed > 0 else None,
        "naive_capped_by": f"{max_ticks} ticks or {max_s:g} s",
    }


def bench_producer(settings, ticks: int = 200_000, naive_cap: int = 5000, echo=print) -> dict:
    """Producer ticks/s: QuoteProducer (idempotent, acks=all, validated) vs naive, plus raw
    bytes ceiling."""
    start = now_ms() - 3_600_000  # within the last hour: valid event times
    data = make_ticks(ticks, start, step_us=max(1, 3_600_000_000 // max(ticks, 1)))
    quotes = [Quote.from_json(v) for v in data.values]  # parsing is not what is measured
    out: dict[str, object] = {"producer_ticks": ticks, "producer_compression": compression_type()}

    s = fresh_topics(settings, "prod")
    echo(f"QuoteProducer: {ticks} quotes to {s.quotes_topic}")
    t0 = time.perf_counter()
    with QuoteProducer(s, timeout_s=30) as qp:
        for q in quotes:
            qp.send(q)
    elapsed = time.perf_counter() - t0
    landed = count_records(s, s.quotes_topic)
    if landed != ticks:
        raise RuntimeError(f"QuoteProducer: {landed} records in Kafka, {ticks} sent")
    out["producer_ticks_per_s"] = round(ticks / elapsed, 1)

    s = fresh_topics(settings, "praw")
    echo(f"raw tuned kafka-python (acks=1, bytes prepared): {ticks} records")
    seconds = produce_raw(s, s.quotes_topic, data.keys, data.values)
    out["raw_bytes_ticks_per_s"] = round(ticks / seconds, 1)

    s = fresh_topics(settings, "pnaive")
    echo(f"naive send+flush per tick: up to {naive_cap} records")
    out.update(naive_send_flush(s, s.quotes_topic, data.values, data.keys, max_ticks=naive_cap))
    out["producer_vs_naive"] = ratio(out["producer_ticks_per_s"], out["naive_ticks_per_s"])
    return out
