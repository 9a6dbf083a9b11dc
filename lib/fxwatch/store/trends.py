"""The trends table: windowed rows per pair and window length, partition (pair, window_len, day)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from fxwatch.store.names import qualified
from fxwatch.store.session import insert_cql, prepared, resolve, with_retry, write_rows

__all__ = [
    "TREND_STATS",
    "TRENDS_COLUMNS",
    "TRENDS_KEY",
    "write_trend_rows",
    "window_lens",
    "read_trends",
]

# Insert order of a trend row: the partition key (pair, window_len, day) first. `day` is the UTC
# day of window_start (a date or an int day offset); times are datetimes or epoch ms. The table
# also has `ret_std` and `ema` columns, written by versions before the trends query became plain
# aggregations; they are not written now (NULL in new rows; writing NULL would leave tombstones).
# TREND_STATS: the statistics of a trend window, in the order of its row after the window's key.
TREND_STATS = (
    "ticks",
    "mid_avg",
    "bid_avg",
    "ask_avg",
    "open",
    "high",
    "low",
    "close",
    "spread_avg",
    "spread_min",
    "spread_max",
    "spread_std",
)
TRENDS_COLUMNS = [
    "pair",
    "window_len",
    "day",
    "window_end",
    "window_start",
    *TREND_STATS,
    "updated_at",
]
TRENDS_KEY = ("pair", "window_len", "day")


def write_trend_rows(
    target, keyspace: str | None, rows: Iterable[tuple], batch_rows: int = 500, concurrency: int = 4
) -> int:
    """Upsert trend tuples (TRENDS_COLUMNS order) from Settings or a session; the rows of one
    partition go in UNLOGGED batches of `batch_rows`. Retries transient errors."""
    session, ks = resolve(target, keyspace)
    cql = insert_cql(ks, "trends", TRENDS_COLUMNS)
    rows = list(rows)
    return with_retry(
        lambda: write_rows(session, cql, rows, len(TRENDS_KEY), batch_rows, concurrency),
        "writing trend rows to Cassandra",
    )


def window_lens(target, keyspace: str | None = None) -> dict[str, set[str]]:
    """pair -> the window lengths the trends table holds for it (one scan of the partition keys)."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session, f"SELECT DISTINCT pair, window_len, day FROM {qualified(ks, 'trends')}"
    )
    out: dict[str, set[str]] = {}
    for r in session.execute(stmt):
        out.setdefault(r.pair, set()).add(r.window_len)
    return out


def read_trends(
    target,
    keyspace: str | None,
    pair: str,
    window_len: str,
    day: date,
    start: datetime,
    end: datetime,
) -> list:
    """Every column of the trend rows of one partition with start <= window_end <= end."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        f"SELECT * FROM {qualified(ks, 'trends')} "
        "WHERE pair = ? AND window_len = ? AND day = ? "
        "AND window_end >= ? AND window_end <= ?",
    )
    return list(session.execute(stmt, (pair, window_len, day, start, end)))
