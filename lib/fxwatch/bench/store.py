"""The Cassandra write ceiling of this machine: quote rows/s from 1..P client processes, no Spark.

Every tick the pipeline stores is one Cassandra row, so no end-to-end figure can exceed what the
local Cassandra accepts. This measures that ceiling with the pipeline's own write path
(`fxwatch.stream.cassandra_io.write_rows`: prepared INSERTs in UNLOGGED single-partition batches,
bounded concurrency) from P plain Python processes that build their rows before the clock starts.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from datetime import date, datetime, timedelta, timezone

__all__ = ["bench_store", "store_rows"]

_COLUMNS = ("pair", "day", "ts", "seq", "bid", "ask", "mid", "spread", "source", "ingested_at")


def store_rows(n: int, day: date, worker: int, pairs: tuple[str, ...]) -> list[tuple]:
    """`n` quote rows of one UTC day (bindable: ts/ingested_at as epoch ms, day as a date); unique per worker."""
    from fxwatch.bench.ticks import BASE_MID

    start_ms = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
    rows = []
    for i in range(n):
        pair = pairs[i % len(pairs)]
        mid = BASE_MID.get(pair, 1.0)
        ts = start_ms + worker * 10_000_000 + i  # 10 000 s apart per worker: no collisions
        rows.append((pair, day, ts, i, mid - 1e-5, mid + 1e-5, mid, 2e-5, "bench-store", ts))
    return rows


def _worker(args) -> tuple[float, float, int]:
    settings, n, day, worker, pairs, batch_rows, concurrency, barrier = args
    from fxwatch.stream.cassandra_io import close_sessions, insert_cql, process_session, write_rows

    rows = store_rows(n, day, worker, pairs)
    session = process_session(settings)
    cql = insert_cql(settings.keyspace, "quotes", _COLUMNS)
    write_rows(session, cql, rows[:batch_rows], 2, batch_rows, concurrency)  # prepare + warm the connection
    barrier.wait()
    t0 = time.time()
    written = write_rows(session, cql, rows, 2, batch_rows, concurrency)
    t1 = time.time()
    close_sessions()
    return t0, t1, written


def _count(settings, pairs, day: date) -> int:
    from fxwatch.store.connection import connect

    cluster, session = connect(settings)
    try:
        stmt = session.prepare("SELECT count(*) FROM quotes WHERE pair = ? AND day = ?")
        return sum(session.execute(stmt, (p, day)).one()[0] for p in pairs)
    finally:
        cluster.shutdown()


def bench_store(settings, rows: int = 300_000, processes=(1, 2, 4), batch_rows: int = 200,
                concurrency: int = 8, pairs: tuple[str, ...] | None = None, echo=print) -> dict:
    """rows/s into fxwatch.quotes for each process count (the rows split evenly among the processes)."""
    from fxwatch.bench.pipeline import BENCH_KEYSPACE
    from fxwatch.bench.ticks import BENCH_PAIRS
    from fxwatch.store.schema import init_schema

    s = settings.with_(keyspace=BENCH_KEYSPACE)
    init_schema(s)
    pairs = tuple(pairs or BENCH_PAIRS)
    ctx = mp.get_context("spawn")
    out: dict[str, object] = {"store_rows": rows, "store_batch_rows": batch_rows, "store_concurrency": concurrency}
    best = 0.0
    for p in processes:
        day = date(2001, 1, 1) + timedelta(days=random.randrange(0, 3650))  # a fresh partition set per run
        per = rows // p
        with ctx.Manager() as manager:
            barrier = manager.Barrier(p)
            with ctx.Pool(p) as pool:
                spans = pool.map(_worker, [(s, per, day, w, pairs, batch_rows, concurrency, barrier) for w in range(p)])
        elapsed = max(t1 for _, t1, _ in spans) - min(t0 for t0, _, _ in spans)
        written = sum(n for _, _, n in spans)
        r = round(written / elapsed, 1) if elapsed > 0 else None
        out[f"store_{p}p_rows_per_s"] = r
        out[f"store_{p}p_rows_stored"] = _count(s, pairs, day)  # the benchmark checks itself
        best = max(best, r or 0.0)
        echo(f"store: {p} process(es), {written} rows in {elapsed:.2f} s = {r} rows/s")
    out["store_ceiling_rows_per_s"] = best
    return out
