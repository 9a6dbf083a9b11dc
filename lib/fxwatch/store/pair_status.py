"""The pair_status table: latest tick and tick count per pair, counted once per micro-batch."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC

from fxwatch.config import Settings
from fxwatch.store.names import qualified
from fxwatch.store.session import (
    insert_cql,
    prepared,
    process_session,
    resolve,
    with_retry,
    write_rows,
)

__all__ = [
    "PAIR_STATUS_COLUMNS",
    "update_pair_status",
    "write_pair_status_rows",
    "read_pair_status",
    "known_pairs",
]

# Insert order of a pair_status row (primary key: pair). writer/last_batch: the stream (its
# checkpoint) and micro-batch that last counted ticks, so a replayed batch does not count twice.
PAIR_STATUS_COLUMNS = [
    "pair",
    "last_ts",
    "bid",
    "ask",
    "ticks_seen",
    "updated_at",
    "writer",
    "last_batch",
]


def update_pair_status(settings: Settings, latest: list[dict], writer: str, batch_id: int) -> int:
    """pair_status from per-pair summaries {pair, n, ts_ms, bid, ask} of one micro-batch.

    `writer` names the stream (its checkpoint) and `batch_id` its micro-batch: the count grows only
    for a batch id beyond the last one this writer recorded; last_ts only moves forward (an older
    tick keeps the newer bid/ask). Retries transient errors; returns the rows written.
    """
    if not latest:
        return 0
    session, ks = resolve(settings)
    table = qualified(ks, "pair_status")
    select = f"SELECT pair, last_ts, ticks_seen, writer, last_batch FROM {table} WHERE pair IN ?"
    cql = insert_cql(ks, "pair_status", PAIR_STATUS_COLUMNS)
    now = int(time.time() * 1000)
    pairs = [r["pair"] for r in latest]
    before = {
        p.pair: p
        for p in with_retry(
            lambda: list(session.execute(prepared(session, select), (pairs,))),  # prepare: retried
            "reading pair_status",
        )
    }
    rows = []
    for r in latest:
        prev = before.get(r["pair"])
        seen = (prev.ticks_seen or 0) if prev else 0
        replay = (
            prev is not None
            and prev.writer == writer
            and prev.last_batch is not None
            and prev.last_batch >= batch_id
        )
        prev_ts = (
            int(prev.last_ts.replace(tzinfo=UTC).timestamp() * 1000)
            if prev and prev.last_ts
            else None
        )
        newer = prev_ts is None or r["ts_ms"] >= prev_ts
        ts, bid, ask = (r["ts_ms"], r["bid"], r["ask"]) if newer else (prev_ts, None, None)
        rows.append(
            (
                r["pair"],
                ts,
                bid,
                ask,
                seen if replay else seen + r["n"],
                now,
                writer,
                batch_id if not replay else prev.last_batch,
            )
        )
    return with_retry(lambda: write_rows(session, cql, rows), "updating pair_status")


def write_pair_status_rows(target, keyspace: str | None, rows: Iterable[tuple]) -> int:
    """Upsert pair_status tuples (PAIR_STATUS_COLUMNS order, None = not written) as they are."""
    session, ks = resolve(target, keyspace)
    cql = insert_cql(ks, "pair_status", PAIR_STATUS_COLUMNS)
    rows = list(rows)
    return with_retry(lambda: write_rows(session, cql, rows), "writing pair_status")


def read_pair_status(target, keyspace: str | None = None) -> list:
    """Rows (pair, last_ts, bid, ask, ticks_seen, updated_at) of every pair."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        "SELECT pair, last_ts, bid, ask, ticks_seen, updated_at "
        f"FROM {qualified(ks, 'pair_status')}",
    )
    return list(session.execute(stmt))


def known_pairs(settings: Settings) -> list[str]:
    """Pairs the stream has seen (pair_status), sorted."""
    session = process_session(settings)
    stmt = prepared(session, f"SELECT pair FROM {qualified(settings.keyspace, 'pair_status')}")
    return sorted(r.pair for r in session.execute(stmt))
