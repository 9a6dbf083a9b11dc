"""A steady-rate tick feeder with injected spikes, for latency runs (send time = Kafka timestamp)."""

from __future__ import annotations

import threading
import time

import numpy as np

from fxwatch.bench.ticks import BASE_MID, BENCH_PAIRS, SPIKE_JUMP

__all__ = ["SteadyFeeder"]


class SteadyFeeder(threading.Thread):
    """Send `rate` ticks/s to a topic (one in `spike_every` a crossed 3 % jump) until stopped.

    Every record carries an explicit Kafka timestamp (its send time, epoch ms); `spikes` maps
    (pair, ts_ms) of each spike sent to that Kafka timestamp.
    """

    def __init__(self, settings, topic: str, rate: float = 2000.0, spike_every: int = 200,
                 pairs: tuple[str, ...] = BENCH_PAIRS, tick_ms: float = 10.0, seed: int = 3) -> None:
        super().__init__(name="steady-feeder", daemon=True)
        from fxwatch.bench.kafka_io import raw_producer

        self.topic, self.rate, self.spike_every, self.pairs = topic, rate, spike_every, pairs
        self.tick_s = tick_ms / 1000.0
        self.rng = np.random.default_rng(seed)
        self.producer = raw_producer(settings, linger_ms=0, batch_size=64 * 1024)
        self.spikes: dict[tuple[str, int], int] = {}
        self.sent = 0
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self._last_ts = {p: 0 for p in pairs}

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by the caller, not lost in the thread
            self.error = exc
        finally:
            self.producer.flush(timeout=30)
            self.producer.close(timeout=10)

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while not self.stop_event.is_set():
            due = int((time.perf_counter() - t0) * self.rate)
            while self.sent < due:
                self._send_one()
            self.stop_event.wait(self.tick_s)

    def _send_one(self) -> None:
        pair = self.pairs[self.sent % len(self.pairs)]
        now = int(time.time() * 1000)
        ts = max(now, self._last_ts[pair] + 1)  # unique event time per pair (one Cassandra row each)
        self._last_ts[pair] = ts
        mid = BASE_MID.get(pair, 1.0) * (1.0 + self.rng.normal(0.0, 1e-4))
        half = BASE_MID.get(pair, 1.0) * 4e-5
        bid, ask = mid - half, mid + half
        self.sent += 1
        if self.spike_every and self.sent % self.spike_every == 0:
            jumped = mid * (1.0 + SPIKE_JUMP)
            bid, ask = jumped + half, jumped - half
            self.spikes[(pair, ts)] = now
        value = b'{"v":1,"pair":"%s","ts":%d,"bid":%.6f,"ask":%.6f,"src":"bench"}' % (pair.encode(), ts, bid, ask)
        self.producer.send(self.topic, key=pair.encode(), value=value, timestamp_ms=now)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop sending and wait for the thread (and its final flush)."""
        self.stop_event.set()
        self.join(timeout_s)
        if self.error is not None:
            raise self.error
