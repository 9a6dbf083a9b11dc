"""A steady-rate tick feeder with injected spikes, for latency runs
(send time = Kafka timestamp)."""

from __future__ import annotations

import threading
import time

import numpy as np

from fxwatch.bench.kafka_io import raw_producer
from fxwatch.bench.ticks import BASE_MID, BENCH_PAIRS, SPIKE_JUMP
from fxwatch.schema import CURRENCIES

__all__ = ["SteadyFeeder", "many_pairs"]


def many_pairs(n: int = 48, seed: int = 5) -> dict[str, float]:
    """`n` pairs of known currencies with mids from one USD value per currency
    (triangles consistent)."""
    rng = np.random.default_rng(seed)
    ccys = sorted(CURRENCIES - {"XAU", "XAG", "XPT", "XPD"})
    value = {c: float(np.exp(rng.normal(0, 1.5))) for c in ccys}
    out: dict[str, float] = {}
    for i, a in enumerate(ccys):
        for b in ccys[i + 1 :]:
            if len(out) >= n:
                return out
            if rng.random() < 0.3:
                out[f"{a}/{b}"] = value[a] / value[b]
    return out


class SteadyFeeder(threading.Thread):
    """Send `rate` ticks/s to a topic (one in `spike_every` an injected event) until stopped.

    Every record carries an explicit Kafka timestamp (its send time, epoch ms); `spikes` maps
    (pair, ts_ms) of each event sent to that Kafka timestamp, `kinds` to its kind. Event kinds,
    taken in turn per pair: "spike" (a crossed 3 % jump: every price detector fires on it),
    "crossed" (bid and ask swapped at the same mid: only the stateless crossed-quote check fires),
    "jump" (an uncrossed 3 % jump: detectors that confirm a move on the next tick fire).
    `set_rate` changes the rate while running.
    """

    def __init__(
        self,
        settings,
        topic: str,
        rate: float = 2000.0,
        spike_every: int = 200,
        pairs: tuple[str, ...] = BENCH_PAIRS,
        tick_ms: float = 10.0,
        seed: int = 3,
        mids: dict[str, float] | None = None,
        pair_gap_s: float | None = None,
        kinds: tuple[str, ...] = ("spike",),
    ) -> None:
        super().__init__(name="steady-feeder", daemon=True)
        self.topic, self.rate, self.spike_every, self.pairs = topic, rate, spike_every, pairs
        self.tick_s = tick_ms / 1000.0
        self.rng = np.random.default_rng(seed)
        self.producer = raw_producer(settings, linger_ms=0, batch_size=64 * 1024)
        self.spikes: dict[tuple[str, int], int] = {}
        self.kinds: dict[tuple[str, int], str] = {}
        self.kind_cycle = kinds
        self._events_of_pair = {p: 0 for p in pairs}
        self.sent = 0
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self._last_ts = {p: 0 for p in pairs}
        self.mids = mids or {p: BASE_MID.get(p, 1.0) for p in pairs}
        # pair_gap_s: spike each pair once per gap (detectors de-duplicate alerts of a pair for
        # a while), staggered so that spikes arrive evenly; otherwise every `spike_every`-th
        # tick is a spike
        self.pair_gap_s = pair_gap_s
        self._next_spike: dict[str, float] = {}

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by the caller, not lost in the thread
            self.error = exc
        finally:
            self.producer.flush(timeout=30)
            self.producer.close(timeout=10)

    def set_rate(self, rate: float) -> None:
        """Send `rate` ticks/s from now on."""
        self._rate_from = (time.perf_counter(), self.sent)
        self.rate = rate

    def _loop(self) -> None:
        t0 = time.perf_counter()
        self._rate_from = (t0, 0)
        if self.pair_gap_s:
            self._next_spike = {
                p: t0 + 5.0 + i * self.pair_gap_s / len(self.pairs)
                for i, p in enumerate(self.pairs)
            }
        while not self.stop_event.is_set():
            since, base = self._rate_from
            due = base + int((time.perf_counter() - since) * self.rate)
            while self.sent < due:
                self._send_one()
            self.stop_event.wait(self.tick_s)

    def _send_one(self) -> None:
        pair = self.pairs[self.sent % len(self.pairs)]
        now = int(time.time() * 1000)
        ts = max(
            now, self._last_ts[pair] + 1
        )  # unique event time per pair (one Cassandra row each)
        self._last_ts[pair] = ts
        mid = self.mids[pair] * (1.0 + self.rng.normal(0.0, 5e-5))
        half = self.mids[pair] * 4e-5
        bid, ask = mid - half, mid + half
        self.sent += 1
        if self.pair_gap_s:
            spike = time.perf_counter() >= self._next_spike[pair]
            if spike:
                self._next_spike[pair] += self.pair_gap_s
        else:
            spike = bool(self.spike_every) and self.sent % self.spike_every == 0
        if spike:
            kind = self.kind_cycle[self._events_of_pair[pair] % len(self.kind_cycle)]
            self._events_of_pair[pair] += 1
            jumped = mid * (1.0 + SPIKE_JUMP)
            if kind == "crossed":
                bid, ask = mid + half, mid - half
            elif kind == "jump":
                bid, ask = jumped - half, jumped + half
            else:
                bid, ask = jumped + half, jumped - half
            self.spikes[(pair, ts)] = now
            self.kinds[(pair, ts)] = kind
        value = b'{"v":1,"pair":"%s","ts":%d,"bid":%.6f,"ask":%.6f,"src":"bench"}' % (
            pair.encode(),
            ts,
            bid,
            ask,
        )
        self.producer.send(self.topic, key=pair.encode(), value=value, timestamp_ms=now)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop sending and wait for the thread (and its final flush)."""
        self.stop_event.set()
        self.join(timeout_s)
        if self.error is not None:
            raise self.error
