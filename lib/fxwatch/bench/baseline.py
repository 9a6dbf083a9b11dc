"""The seed's naive design, as a yardstick: consume one record, insert one row, wait, repeat."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from kafka import KafkaConsumer

from fxwatch.store.connection import connect
from fxwatch.store.quotes import insert_quote

__all__ = ["naive_ingest"]


def naive_ingest(
    settings, topic: str, max_ticks: int = 20_000, max_s: float = 60.0
) -> dict[str, object]:
    """kafka-python consumer + one synchronous `session.execute` per tick, capped by count or time.

    Returns {"baseline_ticks", "baseline_seconds", "baseline_ticks_per_s", "baseline_capped_by"}.
    The clock starts at the first record received (consumer group join is not counted).
    """
    cluster, session = connect(settings)
    consumer = KafkaConsumer(
        topic,
        **settings.kafka_client_config(),
        group_id=f"bench-naive-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        consumer_timeout_ms=10_000,
    )
    done, t0, capped_by = 0, None, "end of topic"
    try:
        for msg in consumer:
            if t0 is None:
                t0 = time.perf_counter()
            d = json.loads(msg.value)
            ts = datetime.fromtimestamp(d["ts"] / 1000, tz=UTC)
            bid, ask = float(d["bid"]), float(d["ask"])
            # QUOTES_COLUMNS order; low/high/open not written
            row = (
                d["pair"],
                ts.date(),
                ts,
                msg.offset,
                bid,
                ask,
                (bid + ask) / 2,
                ask - bid,
                d["src"],
                None,
                None,
                None,
                datetime.now(UTC),
            )
            insert_quote(session, settings.keyspace, row)
            done += 1
            if done >= max_ticks:
                capped_by = f"{max_ticks} ticks"
                break
            if time.perf_counter() - t0 >= max_s:
                capped_by = f"{max_s:g} s"
                break
        elapsed = time.perf_counter() - t0 if t0 is not None else 0.0
    finally:
        consumer.close()
        cluster.shutdown()
    return {
        "baseline_ticks": done,
        "baseline_seconds": round(elapsed, 2),
        "baseline_ticks_per_s": round(done / elapsed, 1) if elapsed > 0 else None,
        "baseline_capped_by": capped_by,
    }
