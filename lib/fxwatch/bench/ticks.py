"""Fast benchmark ticks: the Quote JSON wire form for N ticks, with optional injected spikes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["BenchTicks", "make_ticks", "backlog_ticks", "BENCH_PAIRS", "BASE_MID"]

BENCH_PAIRS = (
    "EUR/USD",
    "USD/JPY",
    "GBP/USD",
    "EUR/GBP",
    "USD/CHF",
    "AUD/USD",
    "EUR/JPY",
    "USD/CAD",
)
BASE_MID = {
    "EUR/USD": 1.09,
    "USD/JPY": 148.0,
    "GBP/USD": 1.27,
    "EUR/GBP": 0.858,
    "USD/CHF": 0.88,
    "AUD/USD": 0.66,
    "EUR/JPY": 161.3,
    "USD/CAD": 1.35,
}
SPIKE_JUMP = 0.03  # a 3 % jump of the mid: every price detector fires on it


@dataclass
class BenchTicks:
    """N ticks as Kafka keys/values plus what the benchmark needs to check and time them."""

    keys: list[bytes]
    values: list[bytes]
    pair_idx: np.ndarray
    ts_ms: np.ndarray
    spikes: np.ndarray  # indices of injected spikes (crossed and jumped quotes)
    pairs: tuple[str, ...]
    bid: np.ndarray | None = None
    ask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def tick_table(self, shift_ms: int = 0) -> pa.Table:
        """The ticks as the tick store's writer takes them (TICK_COLUMNS), `shift_ms` later, the
        tick id their index (unique: not the stream's content hash), no low/high/open."""
        from fxwatch.store.ticks import TICK_COLUMNS

        n = len(self.ts_ms)
        return pa.table(
            {
                "pair": pa.DictionaryArray.from_arrays(
                    pa.array(self.pair_idx, pa.int32()), list(self.pairs)
                ).cast(pa.string()),
                "ts_ms": pa.array(self.ts_ms + shift_ms, pa.int64()),
                "tick_id": pa.array(np.arange(n, dtype=np.int64)),
                "bid": pa.array(self.bid, pa.float64()),
                "ask": pa.array(self.ask, pa.float64()),
                "source": pa.array(["bench"] * n, pa.string()),
                **{c: pa.nulls(n, pa.float64()) for c in ("low", "high", "open")},
            }
        ).select(TICK_COLUMNS)

    def spike_keys(self) -> set[tuple[str, int]]:
        """(pair, ts_ms) of every injected spike, as an alert row would name it."""
        return {(self.pairs[int(self.pair_idx[i])], int(self.ts_ms[i])) for i in self.spikes}


def make_ticks(
    n: int,
    start_ms: int,
    step_us: int = 1000,
    pairs: tuple[str, ...] = BENCH_PAIRS,
    spike_every: int = 0,
    seed: int = 7,
    source: str = "bench",
    base_mid: dict[str, float] | None = None,
) -> BenchTicks:
    """`n` valid ticks from `start_ms`, `step_us` apart; every `spike_every`-th tick a crossed
    3 % jump.

    Timestamps are unique per pair (whole ms, strictly increasing), so each tick is one
    Cassandra row and a replay overwrites instead of adding.
    """
    rng = np.random.default_rng(seed)
    pair_idx = np.arange(n) % len(pairs)
    rng.shuffle(pair_idx[: n - n % len(pairs)].reshape(-1, len(pairs)), axis=1)
    # one tick per ms per pair at most: ts grows by at least 1 ms per tick of the same pair
    ts = start_ms + (np.arange(n, dtype=np.int64) * step_us) // 1000
    ts = np.maximum(ts, start_ms + np.arange(n, dtype=np.int64) // len(pairs))
    base = np.array([(base_mid or BASE_MID).get(p, 1.0) for p in pairs])
    walk = np.cumsum(rng.normal(0.0, 2e-5, n))  # shared small random walk in relative terms
    mid = base[pair_idx] * (1.0 + walk - walk.mean())
    half = base[pair_idx] * 4e-5
    bid, ask = mid - half, mid + half
    spikes = (
        np.arange(spike_every - 1, n, spike_every)
        if spike_every > 0
        else np.array([], dtype=np.int64)
    )
    if spikes.size:
        jumped = mid[spikes] * (1.0 + SPIKE_JUMP)
        bid[spikes], ask[spikes] = (
            jumped + half[spikes],
            jumped - half[spikes],
        )  # crossed: bid > ask
    keys_by_pair = [p.encode() for p in pairs]
    keys = [keys_by_pair[i] for i in pair_idx.tolist()]
    values = [
        b'{"v":1,"pair":"%s","ts":%d,"bid":%.6f,"ask":%.6f,"src":"%s"}'
        % (k, t, b, a, source.encode())
        for k, t, b, a in zip(keys, ts.tolist(), bid.tolist(), ask.tolist())
    ]
    return BenchTicks(keys, values, pair_idx, ts, spikes, tuple(pairs), bid, ask)


def backlog_ticks(n: int, start_ms: int) -> BenchTicks:
    """`fxwatch bench pipeline`'s backlog: `n` ticks spread over 20 hours from `start_ms` (at
    300 000, ~31 ticks per pair and minute, as live quotes spread), so its chunks are many and
    small as the stream's are."""
    return make_ticks(n, start_ms, step_us=max(1, 20 * 3_600_000_000 // max(n, 1)))
