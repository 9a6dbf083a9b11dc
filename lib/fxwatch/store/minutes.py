"""Per-minute summaries of ticks: what the daily stats job needs, kept beside each tick chunk.

Each chunk row of the tick store (`fxwatch.store.ticks`) also holds, in its `minutes` column, one
row per non-empty minute of its ticks: the tick count, the average mid and spread, and the
population std of the log returns between consecutive ticks of the minute (`minute_rows`). A
minute never straddles two chunks (a chunk is a minute or a whole hour), so a chunk's summary is
exact, and it is written in the same row as the ticks it summarises: a merge, a late tick or a
compaction that rewrites the chunk rewrites its summary with it — one Cassandra write, no second
copy to keep in step.

Why: a reader of history that wants per-minute features (the stats job: 4.8M ticks, 30 days)
then reads ~2 kB per hour chunk instead of decoding every tick (~17 B each). This is a rollup at
write time, as time-series stores do it; its cost is a few numpy calls per chunk written.

Format 'minutes-v1' (little-endian, uncompressed: 30 B a minute):
  u8 version (1), u16 k,
  u16[k] minute offset from the chunk's bucket (in minutes), i32[k] ticks,
  f64[k] mid_avg, f64[k] spread_avg, f64[k] ret_std (NaN where the minute has one tick: NULL)
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa

__all__ = [
    "MINUTE_ARROW_SCHEMA",
    "minute_rows",
    "encode_minutes",
    "decode_minutes",
    "minutes_batch",
    "summarise",
    "minute_summaries",
]

MINUTE_MS = 60_000
# One row per pair and non-empty minute (m = the minute's start, epoch ms).
MINUTE_ARROW_SCHEMA = pa.schema(
    [
        ("pair", pa.string()),
        ("m", pa.int64()),
        ("ticks", pa.int32()),
        ("mid_avg", pa.float64()),
        ("spread_avg", pa.float64()),
        ("ret_std", pa.float64()),
    ]
)
_VERSION = 1


def minute_rows(pair: str, ticks: pa.Table) -> pa.RecordBatch:
    """Sorted ticks of one pair -> one row per non-empty minute (MINUTE_ARROW_SCHEMA), in numpy.

    ticks, mid_avg, spread_avg, and ret_std = the population std of the log returns between
    consecutive ticks of the minute, NULL for a 1-tick minute — the same values as the stats
    job's Spark computation on ticks (`fxwatch.stats.compute._tick_minutes`, a lag window), to
    floating-point summation order.

    The tick store keeps ticks sorted by (ts_ms, tick_id) — the order that lag window sorts them
    into — so each minute is one run of consecutive rows: a single pass, no sort.

    `ticks` needs ts_ms, bid, ask, sorted by ts_ms (ties in the order their returns are taken:
    the store's tick_id order); a table out of order raises ValueError.
    """
    ts = np.asarray(ticks.column("ts_ms").to_numpy(), dtype=np.int64)
    if ts.size == 0:
        return pa.RecordBatch.from_pylist([], schema=MINUTE_ARROW_SCHEMA)
    bid = np.asarray(ticks.column("bid").to_numpy(), dtype=np.float64)
    ask = np.asarray(ticks.column("ask").to_numpy(), dtype=np.float64)
    m, count, mid_avg, spread_avg, ret_std = _minute_arrays(pair, ts, bid, ask)
    minutes = dict(m=m, ticks=count, mid_avg=mid_avg, spread_avg=spread_avg, ret_std=ret_std)
    return minutes_batch(pair, [minutes])


def _run_starts(ts: np.ndarray, breaks: np.ndarray | None = None) -> np.ndarray:
    """Sorted ticks -> True where a run starts: a new minute, or (`breaks`) another pair."""
    minute = ts - ts % MINUTE_MS  # numpy's % is a floor modulo, like Spark's pmod
    starts = np.ones(ts.size, dtype=bool)
    starts[1:] = minute[1:] != minute[:-1]
    return starts if breaks is None else starts | breaks


def _minute_arrays(
    pair: str,
    ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    starts_run: np.ndarray | None = None,
):
    """`minute_rows` in numpy (ts sorted, not empty) -> (minute starts, ticks, mid_avg,
    spread_avg, ret_std: NaN where NULL). `starts_run` (`_run_starts`; by default, each new
    minute) says where a run of ticks summarised together starts."""
    if starts_run is None:
        starts_run = _run_starts(ts)
    if (np.diff(ts)[~starts_run[1:]] < 0).any():
        raise ValueError(f"minute_rows: the ticks of {pair} are not sorted by ts_ms")
    mid = (bid + ask) / 2  # the same arithmetic as the stream and the stats job on ticks
    spread = ask - bid

    # Sorted ticks: each minute is one run of consecutive rows. `run` numbers the runs 0..k-1.
    run = np.cumsum(starts_run) - 1
    k = int(run[-1]) + 1
    count = np.bincount(run, minlength=k)
    mid_avg = np.bincount(run, weights=mid, minlength=k) / count
    spread_avg = np.bincount(run, weights=spread, minlength=k) / count

    # Log returns between a tick and the previous one of the same minute (the first tick of a
    # minute has none), then their population std per minute: mean first, then the mean squared
    # deviation (two passes, as stable as Spark's stddev_pop).
    same_minute = ~starts_run[1:]
    ret = np.log(mid[1:][same_minute] / mid[:-1][same_minute])
    ret_run = run[1:][same_minute]
    n_ret = count - 1
    has_ret = n_ret > 0
    divisor = np.where(has_ret, n_ret, 1)
    ret_mean = np.bincount(ret_run, weights=ret, minlength=k) / divisor
    squares = np.bincount(ret_run, weights=(ret - ret_mean[ret_run]) ** 2, minlength=k)
    ret_std = np.where(has_ret, np.sqrt(squares / divisor), np.nan)
    return ts[starts_run] - ts[starts_run] % MINUTE_MS, count, mid_avg, spread_avg, ret_std


def summarise(ts: np.ndarray, bid: np.ndarray, ask: np.ndarray, bucket: int) -> bytes:
    """The 'minutes-v1' blob of a chunk's sorted ticks (numpy columns, not empty) whose first
    minute is `bucket`: what the tick store writes beside every chunk (numpy only, no Arrow
    object: it runs for every chunk written)."""
    m, count, mid_avg, spread_avg, ret_std = _minute_arrays("the chunk", ts, bid, ask)
    return _pack(m, count, mid_avg, spread_avg, ret_std, bucket)


def minute_summaries(
    ts: np.ndarray, bid: np.ndarray, ask: np.ndarray, breaks: np.ndarray
) -> tuple[np.ndarray, list[bytes]]:
    """`summarise` of many one-minute chunks at once: sorted ticks of several pairs (`breaks`
    marks the first tick of each pair) -> (True where a run starts, the 'minutes-v1' blob of each
    run), a run being one pair's ticks of one minute: a writer of many fresh minute chunks pays
    one numpy pass, not one per chunk."""
    starts = _run_starts(ts, breaks)
    m, count, mid_avg, spread_avg, ret_std = _minute_arrays("a batch", ts, bid, ask, starts)
    blobs = [
        _pack(
            m[i : i + 1],
            count[i : i + 1],
            mid_avg[i : i + 1],
            spread_avg[i : i + 1],
            ret_std[i : i + 1],
            int(m[i]),
        )
        for i in range(m.size)
    ]
    return starts, blobs


def _pack(m, count, mid_avg, spread_avg, ret_std, bucket: int) -> bytes:
    offsets = (m - bucket) // MINUTE_MS
    if len(m) and (offsets.min() < 0 or offsets.max() > 0xFFFF):
        raise ValueError(f"encode_minutes: a minute lies outside the chunk at {bucket}")
    return b"".join(
        [
            struct.pack("<BH", _VERSION, len(m)),
            offsets.astype("<u2").tobytes(),
            np.asarray(count, dtype="<i4").tobytes(),
            np.asarray(mid_avg, dtype="<f8").tobytes(),
            np.asarray(spread_avg, dtype="<f8").tobytes(),
            np.asarray(ret_std, dtype="<f8").tobytes(),
        ]
    )


def encode_minutes(rows: pa.RecordBatch, bucket: int) -> bytes:
    """`minute_rows` of one chunk -> its 'minutes-v1' blob; `bucket` is the chunk's first minute
    (epoch ms), every row's minute at or after it and within 65 535 minutes."""
    return _pack(
        np.asarray(rows.column("m").to_numpy(), dtype=np.int64),
        rows.column("ticks").to_numpy(),
        rows.column("mid_avg").to_numpy(),
        rows.column("spread_avg").to_numpy(),
        rows.column("ret_std").fill_null(np.nan).to_numpy(),
        bucket,
    )


def decode_minutes(blob: bytes, bucket: int) -> dict[str, np.ndarray]:
    """A 'minutes-v1' blob of the chunk at `bucket` -> numpy columns m, ticks, mid_avg,
    spread_avg, ret_std (NaN where NULL: a 1-tick minute)."""
    version, k = struct.unpack_from("<BH", blob)
    if version != _VERSION:
        raise ValueError(f"a minute summary is version {version}, this fxwatch reads {_VERSION}")
    pos = 3
    out = {}
    for name, dtype in (
        ("m", "<u2"),
        ("ticks", "<i4"),
        ("mid_avg", "<f8"),
        ("spread_avg", "<f8"),
        ("ret_std", "<f8"),
    ):
        out[name] = np.frombuffer(blob, dtype, k, pos)
        pos += out[name].nbytes
    out["m"] = bucket + out["m"].astype(np.int64) * MINUTE_MS
    return out


def minutes_batch(pair: str, parts: list[dict[str, np.ndarray]]) -> pa.RecordBatch:
    """Numpy minute columns (m, ticks, mid_avg, spread_avg, ret_std with NaN where NULL) of one
    pair, in order — decoded summaries of its chunks, or `minute_rows`' own — -> one
    MINUTE_ARROW_SCHEMA batch, ret_std NULL where a minute has one tick."""
    if not parts:
        return pa.RecordBatch.from_pylist([], schema=MINUTE_ARROW_SCHEMA)
    cols = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    k = len(cols["m"])
    return pa.RecordBatch.from_arrays(
        [
            pa.array([pair] * k, pa.string()),
            pa.array(cols["m"]),
            pa.array(cols["ticks"].astype(np.int32)),
            pa.array(cols["mid_avg"].astype(np.float64)),
            pa.array(cols["spread_avg"].astype(np.float64)),
            pa.array(cols["ret_std"].astype(np.float64), mask=cols["ticks"] < 2),
        ],
        schema=MINUTE_ARROW_SCHEMA,
    )
