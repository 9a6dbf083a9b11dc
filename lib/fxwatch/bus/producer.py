"""Keyed, batched, idempotent quote producer: good quotes to fx-quotes, bad lines to the DLQ."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kafka import KafkaProducer
from kafka.codec import has_lz4
from kafka.errors import KafkaError, KafkaTimeoutError

from fxwatch.bus.topics import broker_unreachable_message
from fxwatch.errors import FxwatchError
from fxwatch.schema import BadLine, Quote, SourceItem, now_ms, validate_quote

__all__ = [
    "QuoteProducer",
    "ProduceSummary",
    "produce",
    "check_item",
    "compression_type",
    "producer_config",
]

log = logging.getLogger(__name__)


def compression_type() -> str:
    """lz4 when the lz4 package is importable, else gzip (always available)."""
    return "lz4" if has_lz4() else "gzip"


def producer_config(settings, timeout_s: float = 10.0) -> dict[str, object]:
    """kafka-python KafkaProducer kwargs: acks=all, idempotent, batched, compressed,
    bounded waits."""
    return {
        **settings.kafka_client_config(),
        "client_id": "fxwatch-producer",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 20,
        "batch_size": 64 * 1024,
        "compression_type": compression_type(),
        "bootstrap_timeout_ms": int(timeout_s * 1000),
        "max_block_ms": int(timeout_s * 1000),
        "request_timeout_ms": 15_000,
        # a record waits for the broker as long as the producer is told to (a restart takes ~30 s)
        "delivery_timeout_ms": max(30_000, int(timeout_s * 1000)),
    }


def check_item(item: SourceItem, now: int | None = None) -> SourceItem:
    """A Quote that fails validation becomes a BadLine (its JSON as the raw line); others pass."""
    if isinstance(item, Quote):
        problem = validate_quote(item, now)
        if problem:
            return BadLine(item.to_json(), problem, item.source, now_ms())
    return item


@dataclass
class ProduceSummary:
    """What a produce run did: counts, failures and throughput."""

    sent: int = 0
    dead_lettered: int = 0
    delivered: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    reasons: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Records (quotes + DLQ) per second of wall time."""
        return (self.sent + self.dead_lettered) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def __str__(self) -> str:
        top = ", ".join(f"{k}={v}" for k, v in self.reasons.most_common(5))
        return (
            f"sent {self.sent} quotes, dead-lettered {self.dead_lettered}"
            f"{f' ({top})' if top else ''}, delivered {self.delivered}, failed {self.failed}, "
            f"{self.elapsed_s:.1f} s, {self.rate:,.0f} records/s"
        )


class QuoteProducer:
    """Send Quotes keyed by pair to the quotes topic and BadLines keyed by source to the DLQ."""

    def __init__(
        self,
        settings,
        *,
        producer=None,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.clock = clock
        self.summary = ProduceSummary()
        self._lock = threading.Condition()
        self._t0 = clock()
        if producer is None:
            producer = self._connect()
        self._producer = producer

    def _connect(self):
        try:
            return KafkaProducer(**producer_config(self.settings, self.timeout_s))
        except (KafkaError, OSError) as exc:
            log.debug("producer bootstrap failed: %r", exc)
            raise FxwatchError(broker_unreachable_message(self.settings, self.timeout_s)) from None

    def __enter__(self) -> QuoteProducer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.close(check=False)

    # ---- delivery accounting (runs in the producer's I/O thread) ----------------------------
    def _ok(self, _metadata) -> None:
        with self._lock:
            self.summary.delivered += 1
            self._lock.notify_all()

    def _fail(self, exc) -> None:
        with self._lock:
            self.summary.failed += 1
            if len(self.summary.errors) < 5:
                self.summary.errors.append(f"{type(exc).__name__}: {exc}")
            self._lock.notify_all()

    def _send(self, topic: str, key: str, value: str) -> None:
        try:
            future = self._producer.send(topic, key=key.encode(), value=value.encode())
        except KafkaTimeoutError:
            raise FxwatchError(
                f"topic {topic!r} has no leader after {self.timeout_s:g} s "
                f"at {self.settings.kafka_bootstrap} — "
                "run `fxwatch topics ensure` (and `fxwatch stack status`)"
            ) from None
        future.add_callback(self._ok)
        future.add_errback(self._fail)

    def send(self, item: SourceItem, now: int | None = None) -> bool:
        """Validate and send one item; True if it went to the quotes topic, False if
        dead-lettered."""
        item = check_item(item, now)
        if isinstance(item, Quote):
            self._send(self.settings.quotes_topic, item.pair, item.to_json())
            self.summary.sent += 1
            return True
        self._send(self.settings.dlq_topic, item.source, item.to_json())
        self.summary.dead_lettered += 1
        self.summary.reasons[item.code] += 1
        return False

    def flush(self) -> None:
        try:
            self._producer.flush(timeout=max(self.timeout_s, 30.0))
        except KafkaError as exc:
            raise FxwatchError(
                f"Kafka did not confirm the records ({exc}) — check `fxwatch stack status`"
            ) from None

    def close(self, check: bool = True) -> ProduceSummary:
        """Flush, close, and (check=True) raise FxwatchError unless every record was
        acknowledged."""
        try:
            self.flush()
            total = self.summary.sent + self.summary.dead_lettered
            with self._lock:  # callbacks may trail flush() by a moment: wait on the count, bounded
                self._lock.wait_for(
                    lambda: self.summary.delivered + self.summary.failed >= total, timeout=5.0
                )
        finally:
            self.summary.elapsed_s = self.clock() - self._t0
            self._producer.close(timeout=5)
        s = self.summary
        if check:
            total = s.sent + s.dead_lettered
            if s.failed or s.delivered != total:
                raise FxwatchError(
                    f"{s.failed} of {total} records failed and "
                    f"{total - s.delivered - s.failed} were not "
                    f"confirmed by Kafka at {self.settings.kafka_bootstrap} "
                    f"({'; '.join(s.errors) or 'no error'}) "
                    "— check `fxwatch stack status` and produce again"
                )
        return s


def produce(
    items: Iterable[SourceItem],
    settings,
    *,
    producer=None,
    timeout_s: float = 10.0,
    progress: Callable[[int], None] | None = None,
) -> ProduceSummary:
    """Send every item (Quote -> quotes topic, BadLine -> DLQ), flush, verify delivery,
    summarise."""
    qp = QuoteProducer(settings, producer=producer, timeout_s=timeout_s)
    try:
        for item in items:
            qp.send(item)
            if progress is not None:
                progress(1)
    except BaseException:
        qp.close(check=False)
        raise
    summary = qp.close()
    log.info("%s", summary)
    return summary
