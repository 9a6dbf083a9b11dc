"""The stats and stats_versions tables: versioned historical statistics, the versions that exist."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

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
    "STATS_TABLE_COLUMNS",
    "VERSION_COLUMNS",
    "new_version",
    "write_stats_rows",
    "write_version_row",
    "write_stats_version",
    "latest_version",
    "read_stats",
    "newest_version_of_pair",
    "read_stats_hours",
]

# Insert order of a stats row (partition: pair) and of a stats_versions row (partition: bucket 0).
STATS_TABLE_COLUMNS = [
    "pair",
    "version",
    "hour_of_week",
    "metric",
    "n",
    "mean",
    "std",
    "median",
    "mad",
    "p01",
    "p99",
    "as_of",
    "lookback_days",
    "computed_at",
]
VERSION_COLUMNS = ["bucket", "version", "as_of", "lookback_days", "k", "pairs", "computed_at"]


def new_version(as_of: str) -> str:
    """'<as_of>@<UTC compute time>': sorts by as-of date, then by when it was computed."""
    return f"{as_of}@{datetime.now(UTC):%Y%m%dT%H%M%S.%f}Z"


def write_stats_rows(target, keyspace: str | None, rows: Iterable[tuple]) -> int:
    """Upsert stats tuples (STATS_TABLE_COLUMNS order, None = not written); rows of one
    (pair, version) go in UNLOGGED batches. Retries transient errors."""
    session, ks = resolve(target, keyspace)
    cql = insert_cql(ks, "stats", STATS_TABLE_COLUMNS)
    rows = list(rows)
    return with_retry(lambda: write_rows(session, cql, rows, partition_width=2), "writing stats")


def write_version_row(
    target,
    keyspace: str | None,
    version: str,
    k: float | None,
    as_of: date | None = None,
    lookback_days: int | None = None,
    pairs: Iterable[str] | None = None,
    computed_at: int | None = None,
) -> int:
    """Announce a stats version in stats_versions (bucket 0; None = not written)."""
    session, ks = resolve(target, keyspace)
    cql = insert_cql(ks, "stats_versions", VERSION_COLUMNS)
    row = (
        0,
        version,
        as_of,
        lookback_days,
        None if k is None else float(k),
        None if pairs is None else set(pairs),
        computed_at,
    )
    return with_retry(lambda: write_rows(session, cql, [row]), "writing stats_versions")


def write_stats_version(
    settings: Settings,
    rows: Iterable[Mapping],
    as_of: str,
    lookback_days: int,
    k: float,
    version: str | None = None,
) -> str:
    """Write stats rows (mappings with pair, hour_of_week, metric, n, mean, std, median, mad, p01,
    p99) as a new version, then announce it in stats_versions; returns the version.

    The version row is written last, so a reader that sees it finds all its stats rows.
    """
    version = version or new_version(as_of)
    rows = list(rows)
    now = int(time.time() * 1000)
    d = date.fromisoformat(as_of)
    write_stats_rows(
        settings,
        None,
        [
            (
                r["pair"],
                version,
                r["hour_of_week"],
                r["metric"],
                r["n"],
                r["mean"],
                r["std"],
                r["median"],
                r["mad"],
                r["p01"],
                r["p99"],
                d,
                lookback_days,
                now,
            )
            for r in rows
        ],
    )
    write_version_row(
        settings, None, version, k, d, lookback_days, sorted({r["pair"] for r in rows}), now
    )
    return version


def latest_version(settings: Settings, session=None):
    """The newest stats_versions row (version, pairs, k, ...) or None."""
    session = session or process_session(settings)
    stmt = prepared(
        session,
        f"SELECT * FROM {qualified(settings.keyspace, 'stats_versions')} WHERE bucket=0 LIMIT 1",
    )
    return session.execute(stmt).one()


def read_stats(settings: Settings, version: str, pairs, session=None) -> list[dict]:
    """Rows of one stats version for the given pairs."""
    session = session or process_session(settings)
    stmt = prepared(
        session,
        "SELECT pair, hour_of_week, metric, n, mean, std, median, mad "
        f"FROM {qualified(settings.keyspace, 'stats')} WHERE pair=? AND version=?",
    )
    out = []
    for p in sorted(pairs or ()):
        out.extend(r._asdict() for r in session.execute(stmt, (p, version)))
    return out


def newest_version_of_pair(target, keyspace: str | None, pair: str) -> str | None:
    """The newest stats version holding rows of `pair`, or None."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(session, f"SELECT version FROM {qualified(ks, 'stats')} WHERE pair = ? LIMIT 1")
    row = session.execute(stmt, (pair,)).one()
    return row.version if row else None


def read_stats_hours(
    target, keyspace: str | None, pair: str, version: str, hours: Iterable[int]
) -> list:
    """Rows (pair, version, hour_of_week, metric, n, mean, std, median, mad) of one version of a
    pair for these hours of the week."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        "SELECT pair, version, hour_of_week, metric, n, mean, std, median, mad "
        f"FROM {qualified(ks, 'stats')} "
        "WHERE pair = ? AND version = ? AND hour_of_week IN ?",
    )
    return list(session.execute(stmt, (pair, version, list(hours))))
