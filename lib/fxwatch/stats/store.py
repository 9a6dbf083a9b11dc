"""Stats in Cassandra: read quote history into Spark, write a stats version, read the latest bounds."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

from fxwatch.config import Settings

__all__ = ["QUOTE_HISTORY_SCHEMA", "known_pairs", "load_quotes", "new_version", "write_stats",
           "latest_version", "read_stats"]

QUOTE_HISTORY_SCHEMA = "pair string, ts_ms long, seq long, bid double, ask double"
_DAY_MS = 86_400_000


def known_pairs(settings: Settings) -> list[str]:
    """Pairs the stream has seen (fxwatch.pair_status)."""
    from fxwatch.stream.cassandra_io import prepared, process_session

    session = process_session(settings)
    return sorted(r.pair for r in session.execute(prepared(session, f"SELECT pair FROM {settings.keyspace}.pair_status")))


def load_quotes(spark, settings: Settings, start_ms: int, end_ms: int, pairs=None, slices: int = 4):
    """Quotes of [start_ms, end_ms) from fxwatch.quotes, read partition by partition (pair, day) on
    the executors with the driver (bounded: one partition per query, paged) -> DataFrame."""
    from pyspark.sql import functions as F

    pairs = list(pairs) if pairs else known_pairs(settings)
    days = range(start_ms // _DAY_MS, (end_ms - 1) // _DAY_MS + 1)
    tasks = [(p, d) for p in pairs for d in days]
    if not tasks:
        return spark.createDataFrame([], QUOTE_HISTORY_SCHEMA)
    ks = settings.keyspace
    one_ms = timedelta(milliseconds=1)

    def read(batches):
        import pyarrow as pa

        from fxwatch.stream.cassandra_io import prepared, process_session

        session = process_session(settings)
        stmt = prepared(session, f"SELECT ts, seq, bid, ask FROM {ks}.quotes WHERE pair=? AND day=? "
                                 "AND ts >= ? AND ts < ?")
        stmt.fetch_size = 10_000
        epoch = datetime(1970, 1, 1)
        for rb in batches:
            for pair, day in zip(rb.column("pair").to_pylist(), rb.column("day").to_pylist()):
                cols = {"pair": [], "ts_ms": [], "seq": [], "bid": [], "ask": []}
                d = date.fromordinal(date(1970, 1, 1).toordinal() + day)
                for r in session.execute(stmt, (pair, d, start_ms, end_ms)):
                    cols["pair"].append(pair)
                    cols["ts_ms"].append((r.ts - epoch) // one_ms)
                    cols["seq"].append(r.seq)
                    cols["bid"].append(r.bid)
                    cols["ask"].append(r.ask)
                if cols["pair"]:
                    yield pa.RecordBatch.from_pydict(cols)

    return (spark.createDataFrame(tasks, "pair string, day long").repartition(min(slices, len(tasks)))
            .mapInArrow(read, QUOTE_HISTORY_SCHEMA))


def new_version(as_of: str) -> str:
    """'<as_of>@<UTC compute time>': sorts by as-of date, then by when it was computed."""
    return f"{as_of}@{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%f}Z"


def write_stats(stats_df, settings: Settings, as_of: str, lookback_days: int, k: float,
                version: str | None = None) -> str:
    """Write a stats DataFrame (STATS_COLUMNS) as a new version, then announce it in stats_versions.

    The version row is written last, so a reader that sees it finds all its stats rows.
    """
    from fxwatch.stream.cassandra_io import process_session, with_retry, write_rows

    version = version or new_version(as_of)
    rows = stats_df.collect()
    now = int(time.time() * 1000)
    d = date.fromisoformat(as_of)
    session = process_session(settings)
    ks = settings.keyspace
    cql = (f"INSERT INTO {ks}.stats (pair, version, hour_of_week, metric, n, mean, std, median, mad, p01, p99, "
           "as_of, lookback_days, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    values = [(r["pair"], version, r["hour_of_week"], r["metric"], r["n"], r["mean"], r["std"], r["median"],
               r["mad"], r["p01"], r["p99"], d, lookback_days, now) for r in rows]
    with_retry(lambda: write_rows(session, cql, values, partition_width=2), "writing stats")
    pairs = sorted({r["pair"] for r in rows})
    vcql = (f"INSERT INTO {ks}.stats_versions (bucket, version, as_of, lookback_days, k, pairs, computed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)")
    with_retry(lambda: write_rows(session, vcql, [(0, version, d, lookback_days, float(k), set(pairs), now)]),
               "writing stats_versions")
    return version


def latest_version(settings: Settings, session=None):
    """The newest stats_versions row (version, pairs, k, ...) or None."""
    from fxwatch.stream.cassandra_io import prepared, process_session

    session = session or process_session(settings)
    stmt = prepared(session, f"SELECT * FROM {settings.keyspace}.stats_versions WHERE bucket=0 LIMIT 1")
    return session.execute(stmt).one()


def read_stats(settings: Settings, version: str, pairs, session=None) -> list[dict]:
    """Rows of one stats version for the given pairs."""
    from fxwatch.stream.cassandra_io import prepared, process_session

    session = session or process_session(settings)
    stmt = prepared(session, f"SELECT pair, hour_of_week, metric, n, mean, std, median, mad "
                             f"FROM {settings.keyspace}.stats WHERE pair=? AND version=?")
    out = []
    for p in sorted(pairs or ()):
        out.extend(r._asdict() for r in session.execute(stmt, (p, version)))
    return out
