"""`fxwatch store migrate`: the old one-row-per-tick quotes table converted into the tick store."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa

from fxwatch.errors import FxwatchError
from fxwatch.progress import progress
from fxwatch.store.names import qualified
from fxwatch.store.schema import truncate_tables
from fxwatch.store.session import prepared, resolve, with_retry
from fxwatch.store.ticks import count_ticks, merge_ticks, read_ticks_arrow, write_ticks

__all__ = ["row_partitions", "has_quote_rows", "read_row_partition", "migrate_quotes"]

_DAY_MS = 86_400_000
_EPOCH, _ONE_MS = datetime(1970, 1, 1), timedelta(milliseconds=1)


def _has_table(session, keyspace: str, table: str) -> bool:
    stmt = prepared(
        session,
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
    )
    rows = session.execute(stmt, (keyspace, table))
    return rows.one() is not None


def has_quote_rows(target, keyspace: str | None = None) -> bool:
    """Whether the keyspace has an old quotes table holding at least one row."""
    session, ks = resolve(target, keyspace)
    if not _has_table(session, ks, "quotes"):
        return False
    stmt = prepared(session, f"SELECT pair FROM {qualified(ks, 'quotes')} LIMIT 1")
    return session.execute(stmt).one() is not None


def row_partitions(target, keyspace: str | None = None) -> list[tuple[str, date]]:
    """Every (pair, UTC day) partition of the quotes table, sorted (scans the partition keys)."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(session, f"SELECT DISTINCT pair, day FROM {qualified(ks, 'quotes')}")
    rows = session.execute(stmt, timeout=120)
    return sorted((r.pair, r.day.date() if hasattr(r.day, "date") else r.day) for r in rows)


def read_row_partition(target, keyspace: str | None, pair: str, day: date) -> pa.Table:
    """The rows of one quotes partition as ticks (TICK_COLUMNS; `seq` is the tick id), paged."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        "SELECT ts, seq, bid, ask, source, low, high, open "
        f"FROM {qualified(ks, 'quotes')} WHERE pair = ? AND day = ?",
    )
    stmt.fetch_size = 10_000
    cols: dict[str, list] = {
        c: [] for c in ("ts_ms", "tick_id", "bid", "ask", "source", "low", "high", "open")
    }
    for r in session.execute(stmt, (pair, day), timeout=120):
        cols["ts_ms"].append((r.ts - _EPOCH) // _ONE_MS)
        cols["tick_id"].append(r.seq)
        for c in ("bid", "ask", "source", "low", "high", "open"):
            cols[c].append(getattr(r, c))
    types = {"ts_ms": pa.int64(), "tick_id": pa.int64(), "source": pa.string()}
    n = len(cols["ts_ms"])
    return pa.table(
        {
            "pair": pa.array([pair] * n, pa.string()),
            **{c: pa.array(v, types.get(c, pa.float64())) for c, v in cols.items()},
        }
    )


def migrate_quotes(
    target, keyspace: str | None = None, delete_rows: bool = False, show_progress: bool = True
) -> dict:
    """Merge every (pair, day) partition of the quotes table into the tick store, checking after
    each one that the tick store holds exactly the union of its rows and what it held before;
    then, with `delete_rows`, empty the quotes table. Idempotent: a rerun changes nothing.

    Returns {"partitions", "rows", "ticks_before", "ticks_after", "rows_deleted"}.
    """
    session, ks = resolve(target, keyspace)
    if not _has_table(session, ks, "quotes"):
        raise FxwatchError(f"keyspace {ks!r} has no quotes table: nothing to migrate")
    parts = with_retry(lambda: row_partitions(session, ks), "listing quotes partitions")
    out = {
        "partitions": len(parts),
        "rows": 0,
        "ticks_before": 0,
        "ticks_after": 0,
        "rows_deleted": False,
    }
    with progress(
        "migrating quotes", total=len(parts), unit="partition", disable=not show_progress
    ) as bar:
        for pair, day in parts:
            rows = with_retry(
                lambda p=pair, d=day: read_row_partition(session, ks, p, d),
                f"reading quotes of {pair} {day}",
            )
            start = (datetime(day.year, day.month, day.day) - _EPOCH) // _ONE_MS
            before = read_ticks_arrow(session, ks, pair, start, start + _DAY_MS)
            expected = merge_ticks(before, rows).num_rows
            write_ticks(session, ks, rows)
            after = count_ticks(session, ks, [pair], [day])
            if after != expected:
                raise FxwatchError(
                    f"{pair} {day}: {len(rows)} rows and {before.num_rows} stored ticks should "
                    f"make {expected} ticks, quote_chunks holds {after}: rerun `fxwatch store "
                    "migrate` (it is idempotent); the quotes table is left as it is"
                )
            out["rows"] += rows.num_rows
            out["ticks_before"] += before.num_rows
            out["ticks_after"] += after
            bar.update(1)
    if delete_rows:
        truncate_tables(session, ks, ["quotes"])
        out["rows_deleted"] = True
    return out
