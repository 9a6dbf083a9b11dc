"""Cassandra writes from Spark: one driver session per process, prepared inserts, bounded concurrency."""

from __future__ import annotations

import time
from typing import Callable, Iterable, Sequence

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError

__all__ = ["process_session", "close_sessions", "insert_cql", "prepared", "write_rows", "with_retry", "write_table"]

_SESSIONS: dict[tuple, tuple] = {}  # (hosts, port, keyspace) -> (cluster, session): one per process
_PREPARED: dict[tuple, object] = {}

EPOCH_DATE_OFFSET = 2 ** 31  # the driver binds an int `date` as Cassandra's unsigned day offset


def process_session(settings: Settings):
    """This process's cached driver session on settings.keyspace (created on first use)."""
    key = (settings.cassandra_hosts, settings.cassandra_port, settings.keyspace)
    entry = _SESSIONS.get(key)
    if entry is None or entry[0].is_shutdown:
        from fxwatch.store.connection import connect

        entry = _SESSIONS[key] = connect(settings)
    return entry[1]


def close_sessions() -> None:
    """Shut down every cached session of this process (tests, end of a job)."""
    for cluster, _ in list(_SESSIONS.values()):
        cluster.shutdown()
    _SESSIONS.clear()
    _PREPARED.clear()


def insert_cql(keyspace: str, table: str, columns: Sequence[str]) -> str:
    """INSERT INTO ks.table (cols) VALUES (?, ...)."""
    return f"INSERT INTO {keyspace}.{table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def prepared(session, cql: str):
    """The session's prepared statement for `cql` (prepared once per process and session)."""
    key = (id(session), cql)
    stmt = _PREPARED.get(key)
    if stmt is None:
        stmt = _PREPARED[key] = session.prepare(cql)
    return stmt


def with_retry(fn: Callable[[], object], what: str, attempts: int = 5, first_delay: float = 0.5):
    """Call fn, retrying transient driver errors with exponential back-off; then a clear FxwatchError."""
    from cassandra import OperationTimedOut, Unavailable, WriteTimeout
    from cassandra.cluster import NoHostAvailable

    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (NoHostAvailable, OperationTimedOut, WriteTimeout, Unavailable, FxwatchError, ConnectionError) as exc:
            if attempt == attempts:
                raise FxwatchError(
                    f"{what} failed after {attempts} attempts ({type(exc).__name__}): is Cassandra up? "
                    "check `fxwatch stack status`, then rerun; the stream resumes from its checkpoint"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


def write_rows(session, cql: str, rows: Iterable[tuple], partition_width: int = 0,
               batch_rows: int = 500, concurrency: int = 4) -> int:
    """Insert tuples with a prepared statement; rows sharing their first `partition_width` values go
    together in UNLOGGED single-partition batches of `batch_rows` (0 = one statement per row).

    Raises the first failure after all in-flight requests settled. Returns the row count.
    """
    from cassandra.concurrent import execute_concurrent
    from cassandra.query import BatchStatement, BatchType, UNSET_VALUE

    stmt = prepared(session, cql)
    # NULL -> unset: no tombstone for an absent optional column
    rows = [tuple(UNSET_VALUE if v is None else v for v in r) for r in rows]
    if not rows:
        return 0
    if partition_width and batch_rows > 1:
        groups: dict[tuple, list] = {}
        for r in rows:
            groups.setdefault(r[:partition_width], []).append(r)
        statements = []
        for members in groups.values():
            for i in range(0, len(members), batch_rows):
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
                for r in members[i:i + batch_rows]:
                    batch.add(stmt, r)
                statements.append((batch, ()))
    else:
        statements = [(stmt, r) for r in rows]
    results = execute_concurrent(session, statements, concurrency=concurrency, raise_on_first_error=False)
    for ok, result in results:
        if not ok:
            raise result
    return len(rows)


def _to_bindable(df):
    """Timestamps -> epoch ms (long), dates -> Cassandra day offsets (long): cheap to bind."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    cols = []
    for f in df.schema.fields:
        if isinstance(f.dataType, (TimestampType, TimestampNTZType)):
            cols.append(F.unix_millis(F.col(f.name)).alias(f.name))
        elif isinstance(f.dataType, DateType):
            cols.append((F.unix_date(F.col(f.name)).cast("long") + EPOCH_DATE_OFFSET).alias(f.name))
        else:
            cols.append(F.col(f.name))
    return df.select(*cols)


def write_table(df, settings: Settings, table: str, partition_key: Sequence[str] = (),
                batch_rows: int = 500, concurrency: int = 4) -> int:
    """Write a (batch) DataFrame to keyspace.table from the executors; returns rows written.

    Columns are the table's column names; partition-key columns first lets rows of one partition
    share a batch. The write is an upsert by primary key, so a replayed batch overwrites itself.
    """
    from pyspark.sql import functions as F

    key = list(partition_key)
    ordered = key + [c for c in df.columns if c not in key]
    data = _to_bindable(df.select(*ordered))
    cql = insert_cql(settings.keyspace, table, ordered)
    width = len(key)

    def write_partition(batches):
        import pyarrow as pa

        session = process_session(settings)
        n = 0
        for rb in batches:
            cols = [c.to_pylist() for c in rb.columns]
            rows = list(zip(*cols))
            n += with_retry(lambda: write_rows(session, cql, rows, width, batch_rows, concurrency),
                            f"writing {table} to Cassandra")
        yield pa.RecordBatch.from_pydict({"n": pa.array([n], pa.int64())})

    total = data.mapInArrow(write_partition, "n long").agg(F.sum("n")).collect()[0][0]
    return int(total or 0)
