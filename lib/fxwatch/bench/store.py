"""The Cassandra write ceiling of this machine, rows vs chunks: ticks/s from 1..P client processes.

Measured in the same run, on the same ticks, from P plain Python processes (no Spark) that build
their ticks before the clock starts:

* rows: one Cassandra row per tick (`fxwatch.store.quotes.write_quote_rows`: prepared INSERTs in
  UNLOGGED single-partition batches, bounded concurrency) — the old store, the naive baseline's;
* chunks: the tick store (`fxwatch.store.ticks.write_ticks`), fed micro-batch by micro-batch of
  `chunk_batch` ticks as the stream feeds it: per batch, one read of the chunks it touches, merge,
  encode (timed) and one write per pair-minute chunk.

Each path counts back what it stored (rows, and the chunks' tick counts) and checks itself.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from fxwatch.bench.ticks import BASE_MID, BENCH_PAIRS
from fxwatch.store.connection import connect
from fxwatch.store.names import qualified
from fxwatch.store.quotes import QUOTES_COLUMNS, count_quotes, write_quote_rows
from fxwatch.store.schema import init_schema
from fxwatch.store.session import close_sessions, process_session
from fxwatch.store.ticks import TICK_COLUMNS, count_ticks, decode_chunk, encode_chunk, write_ticks

__all__ = [
    "bench_store",
    "store_rows",
    "store_ticks",
    "chunk_worker",
    "stored_counts",
    "timed_processes",
    "codec_sample",
    "chunk_codec_figures",
]

_GOLDEN = 0x9E3779B97F4A7C15  # an odd 64-bit multiplier: consecutive integers -> spread ids
_ROW_TO_TICK = [
    QUOTES_COLUMNS.index(c)
    for c in ("pair", "ts", "seq", "bid", "ask", "source", "low", "high", "open")
]


def store_rows(n: int, day: date, worker: int, pairs: tuple[str, ...]) -> list[tuple]:
    """`n` quote rows of one UTC day in QUOTES_COLUMNS order (ts/ingested_at as epoch ms, day as a
    date, low/high/open None = not written); unique per worker."""
    start_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    rows = []
    for i in range(n):
        pair = pairs[i % len(pairs)]
        # a 5-decimal price that moves (prices that never change would compress to nothing)
        mid = round(BASE_MID.get(pair, 1.0) * (1 + ((i * 7919) % 201 - 100) * 1e-5), 5)
        ts = start_ms + worker * 10_000_000 + i  # 10 000 s apart per worker: no collisions
        seq = (i * _GOLDEN + worker) % 2**64 - 2**63  # spread like a hash, as tick ids are
        rows.append(
            (
                pair,
                day,
                ts,
                seq,
                mid - 1e-5,
                mid + 1e-5,
                mid,
                2e-5,
                "bench-store",
                None,
                None,
                None,
                ts,
            )
        )
    return rows


def store_ticks(rows: list[tuple]) -> pa.Table:
    """The same ticks as `store_rows` gives, as the tick store's writer takes them (TICK_COLUMNS;
    the row's `seq` is the tick id)."""
    columns = list(zip(*rows))
    return pa.table(
        {
            name: pa.array(columns[i], pa.float64() if name in ("low", "high", "open") else None)
            for name, i in zip(TICK_COLUMNS, _ROW_TO_TICK)
        }
    )


def _row_worker(args) -> tuple[float, float, int]:
    settings, n, day, worker, pairs, batch_rows, concurrency, barrier = args
    rows = store_rows(n, day, worker, pairs)
    session = process_session(settings)
    # prepare + warm the connection
    write_quote_rows(session, settings.keyspace, rows[:batch_rows], batch_rows, concurrency)
    barrier.wait()
    t0 = time.time()
    written = write_quote_rows(session, settings.keyspace, rows, batch_rows, concurrency)
    t1 = time.time()
    close_sessions()
    return t0, t1, written


def chunk_worker(args) -> tuple[float, float, int]:
    settings, n, day, worker, pairs, chunk_batch, concurrency, barrier = args
    ticks = store_ticks(store_rows(n, day, worker, pairs))
    session = process_session(settings)
    write_ticks(session, settings.keyspace, ticks.slice(0, 100), concurrency)  # prepare + warm
    barrier.wait()
    t0 = time.time()
    for lo in range(0, ticks.num_rows, chunk_batch):  # micro-batch by micro-batch, as the stream
        write_ticks(session, settings.keyspace, ticks.slice(lo, chunk_batch), concurrency)
    t1 = time.time()
    close_sessions()
    return t0, t1, ticks.num_rows


def stored_counts(settings, pairs, day: date) -> tuple[int, int]:
    """(rows in quotes, ticks in the tick store) of these pairs on `day`."""
    cluster, session = connect(settings)
    try:
        return (
            count_quotes(session, settings.keyspace, pairs, [day]),
            count_ticks(session, settings.keyspace, pairs, [day]),
        )
    finally:
        cluster.shutdown()


def clear_day(settings, pairs, day: date) -> None:
    """Empty the (pair, day) partitions of quotes and quote_chunks: the day is drawn at random
    from ten years, and earlier runs (of this and the other benchmarks) may have drawn it too."""
    cluster, session = connect(settings)
    try:
        for table in ("quotes", "quote_chunks"):
            delete = session.prepare(
                f"DELETE FROM {qualified(settings.keyspace, table)} WHERE pair = ? AND day = ?"
            )
            for pair in pairs:
                session.execute(delete, (pair, day))
    finally:
        cluster.shutdown()


def timed_processes(worker, jobs: list[tuple], ctx) -> tuple[float, int]:
    """Run `worker` over `jobs` in as many processes, released together; (elapsed s, written)."""
    with ctx.Manager() as manager:
        barrier = manager.Barrier(len(jobs))
        with ctx.Pool(len(jobs)) as pool:
            spans = pool.map(worker, [(*job, barrier) for job in jobs])
    elapsed = max(t1 for _, t1, _ in spans) - min(t0 for t0, _, _ in spans)
    return elapsed, sum(n for _, _, n in spans)


def codec_sample(n: int, seed: int = 7) -> pa.Table:
    """`n` ticks of one pair shaped like live ones: ms timestamps 0-200 ms apart, a 5-decimal
    random-walk bid, a varying spread, random 64-bit tick ids (hashes), one source, no
    low/high/open (TrueFX-style ticks carry them: they compress to almost nothing)."""
    rng = np.random.default_rng(seed)
    bid = np.round(1.09 + np.cumsum(rng.normal(0, 2e-5, n)), 5)
    return pa.table(
        {
            "ts_ms": 1_700_000_000_000 + np.cumsum(rng.integers(0, 200, n)),
            "tick_id": rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64),
            "bid": bid,
            "ask": np.round(bid + 1e-5 + np.abs(rng.normal(2e-5, 1e-5, n)), 5),
            "source": pa.array(["truefx"] * n),
            **{c: pa.nulls(n, pa.float64()) for c in ("low", "high", "open")},
        }
    )


def chunk_codec_figures(sizes=(60, 600, 7_500), repeat: int = 20) -> dict:
    """Bytes per tick and encode/decode ticks/s of one chunk of each size (`codec_sample` ticks,
    best of `repeat`), in this process."""
    out = {}
    for n in sizes:
        one = codec_sample(n)
        blob = encode_chunk(one)
        enc = dec = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            encode_chunk(one)
            t1 = time.perf_counter()
            decode_chunk(blob)
            t2 = time.perf_counter()
            enc, dec = min(enc, t1 - t0), min(dec, t2 - t1)
        out[f"chunk_{n}_bytes_per_tick"] = round(len(blob) / n, 2)
        out[f"chunk_{n}_encode_ticks_per_s"] = round(n / enc)
        out[f"chunk_{n}_decode_ticks_per_s"] = round(n / dec)
    return out


def bench_store(
    settings,
    rows: int = 300_000,
    processes=(1, 2, 4),
    batch_rows: int = 200,
    concurrency: int = 8,
    pairs: tuple[str, ...] | None = None,
    chunk_batch: int = 20_000,
    echo=print,
) -> dict:
    """Ticks/s into the old row table and into the tick store, for each process count (the ticks
    split evenly among the processes), in the same run; their ratio."""
    # lazy: bench.pipeline imports pyspark, and `fxwatch` loads this module for every command
    from fxwatch.bench.pipeline import BENCH_KEYSPACE

    s = settings.with_(keyspace=BENCH_KEYSPACE)
    init_schema(s)
    pairs = tuple(pairs or BENCH_PAIRS)
    ctx = mp.get_context("spawn")
    out: dict[str, object] = {
        "store_rows": rows,
        "store_batch_rows": batch_rows,
        "store_concurrency": concurrency,
        "store_chunk_batch": chunk_batch,
    }
    best_rows = best_chunks = 0.0
    for p in processes:
        day = date(2001, 1, 1) + timedelta(days=random.randrange(0, 3650))
        clear_day(s, pairs, day)  # fresh partitions, so the stored counts are this run's
        per = rows // p
        elapsed, written = timed_processes(
            _row_worker, [(s, per, day, w, pairs, batch_rows, concurrency) for w in range(p)], ctx
        )
        r = round(written / elapsed, 1) if elapsed > 0 else None
        echo(f"store rows: {p} process(es), {written} rows in {elapsed:.2f} s = {r} rows/s")
        elapsed, written = timed_processes(
            chunk_worker,
            [(s, per, day, w, pairs, chunk_batch, concurrency) for w in range(p)],
            ctx,
        )
        c = round(written / elapsed, 1) if elapsed > 0 else None
        echo(f"store chunks: {p} process(es), {written} ticks in {elapsed:.2f} s = {c} ticks/s")
        stored_rows, stored_ticks = stored_counts(s, pairs, day)  # the benchmark checks itself
        out[f"store_{p}p_rows_per_s"] = r
        out[f"store_{p}p_rows_stored"] = stored_rows
        out[f"store_chunks_{p}p_ticks_per_s"] = c
        out[f"store_chunks_{p}p_ticks_stored"] = stored_ticks
        out[f"store_chunks_vs_rows_{p}p"] = round(c / r, 2) if r and c else None
        best_rows, best_chunks = max(best_rows, r or 0.0), max(best_chunks, c or 0.0)
    out["store_ceiling_rows_per_s"] = best_rows
    out["store_chunks_ceiling_ticks_per_s"] = best_chunks
    out["store_chunks_vs_rows"] = round(best_chunks / best_rows, 2) if best_rows else None
    out.update(chunk_codec_figures())
    return out
