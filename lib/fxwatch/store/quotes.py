"""The old quotes table, one row per tick (partition (pair, UTC day), key (ts, seq)): written only
by the benchmarks' row-path yardsticks, read by `fxwatch store migrate`; ticks live in
fxwatch.store.ticks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from fxwatch.store.names import qualified
from fxwatch.store.session import insert_cql, prepared, resolve, with_retry, write_rows

__all__ = [
    "QUOTES_COLUMNS",
    "QUOTES_KEY",
    "write_quote_rows",
    "insert_quote",
    "read_quotes",
    "read_quote_history",
    "count_quotes",
]

# Insert order of a quote row: the partition key (pair, day) first, so a partition's rows batch
# together. Values: day a date or an int day offset (EPOCH_DATE_OFFSET + days), ts/ingested_at a
# datetime or epoch ms; None = not written.
QUOTES_COLUMNS = [
    "pair",
    "day",
    "ts",
    "seq",
    "bid",
    "ask",
    "mid",
    "spread",
    "source",
    "low",
    "high",
    "open",
    "ingested_at",
]
QUOTES_KEY = ("pair", "day")


def write_quote_rows(
    target, keyspace: str | None, rows: Iterable[tuple], batch_rows: int = 500, concurrency: int = 4
) -> int:
    """Upsert quote tuples (QUOTES_COLUMNS order) from Settings or a session; the rows of one
    (pair, day) partition go in UNLOGGED batches of `batch_rows`. Retries transient errors."""
    session, ks = resolve(target, keyspace)
    cql = insert_cql(ks, "quotes", QUOTES_COLUMNS)
    rows = list(rows)
    return with_retry(
        lambda: write_rows(session, cql, rows, len(QUOTES_KEY), batch_rows, concurrency),
        "writing quotes to Cassandra",
    )


def insert_quote(target, keyspace: str | None, row: tuple) -> None:
    """One synchronous INSERT of one quote tuple (QUOTES_COLUMNS order): the naive baseline's
    write (bench), kept as a yardstick."""
    from cassandra.query import UNSET_VALUE  # lazy: the driver is slow to import

    session, ks = resolve(target, keyspace)
    stmt = prepared(session, insert_cql(ks, "quotes", QUOTES_COLUMNS))
    session.execute(stmt, tuple(UNSET_VALUE if v is None else v for v in row))


def read_quotes(
    target, keyspace: str | None, pair: str, day: date, start: datetime, end: datetime, limit: int
) -> list:
    """Rows (pair, ts, seq, bid, ask, mid, spread, source) of one (pair, day) partition with
    start <= ts <= end: the newest `limit` of them (the table clusters by ts DESC)."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        "SELECT pair, ts, seq, bid, ask, mid, spread, source "
        f"FROM {qualified(ks, 'quotes')} "
        "WHERE pair = ? AND day = ? AND ts >= ? AND ts <= ? LIMIT ?",
    )
    return list(session.execute(stmt, (pair, day, start, end, limit)))


def read_quote_history(
    target, keyspace: str | None, pair: str, day: date, start_ms: int, end_ms: int
) -> Iterator[tuple[int, int, float, float]]:
    """(ts_ms, seq, bid, ask) of one (pair, day) partition with start_ms <= ts < end_ms, newest
    first, paged 10 000 rows at a time (bounded memory for any partition size)."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        f"SELECT ts, seq, bid, ask FROM {qualified(ks, 'quotes')} "
        "WHERE pair=? AND day=? AND ts >= ? AND ts < ?",
    )
    stmt.fetch_size = 10_000
    epoch, one_ms = datetime(1970, 1, 1), timedelta(milliseconds=1)
    for r in session.execute(stmt, (pair, day, start_ms, end_ms)):
        yield (r.ts - epoch) // one_ms, r.seq, r.bid, r.ask


def count_quotes(
    target, keyspace: str | None, pairs: Iterable[str], days: Iterable[date], timeout: float = 120
) -> int:
    """Rows in quotes over every (pair, day) partition given (a bounded, per-partition count)."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session, f"SELECT COUNT(*) FROM {qualified(ks, 'quotes')} WHERE pair = ? AND day = ?"
    )
    days = list(days)
    return sum(session.execute(stmt, (p, d), timeout=timeout).one()[0] for p in pairs for d in days)
