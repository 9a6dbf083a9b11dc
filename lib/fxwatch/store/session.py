"""Driver sessions: one per process, prepared statements, retries and bounded concurrent writes."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.store.connection import connect
from fxwatch.store.names import InvalidName, cql_identifier, qualified

__all__ = [
    "EPOCH_DATE_OFFSET",
    "process_session",
    "close_sessions",
    "resolve",
    "prepared",
    "with_retry",
    "write_rows",
    "insert_cql",
    "day_partitioned_span",
]

_SESSIONS: dict[tuple, tuple] = {}  # (hosts, port, keyspace) -> (cluster, session): one per process
# session -> {cql: prepared statement}; weak keys: a closed, dropped session takes its statements
# with it, so a new session can never be handed a statement prepared on an old one.
_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

EPOCH_DATE_OFFSET = 2**31  # the driver binds an int `date` as Cassandra's unsigned day offset


def process_session(settings: Settings):
    """This process's cached driver session on settings.keyspace (created on first use)."""
    key = (settings.cassandra_hosts, settings.cassandra_port, settings.keyspace)
    entry = _SESSIONS.get(key)
    if entry is None or entry[0].is_shutdown:
        entry = _SESSIONS[key] = connect(settings)
    return entry[1]


def close_sessions() -> None:
    """Shut down every cached session of this process (tests, end of a job)."""
    for cluster, _ in list(_SESSIONS.values()):
        cluster.shutdown()
    _SESSIONS.clear()
    _PREPARED.clear()


def resolve(target, keyspace: str | None = None) -> tuple[object, str]:
    """(session, keyspace) from Settings (this process's session, its keyspace) or a driver
    session (`keyspace`, else the session's own keyspace); the keyspace is checked."""
    if isinstance(target, Settings):
        return process_session(target), cql_identifier(keyspace or target.keyspace, "keyspace")
    keyspace = keyspace or getattr(target, "keyspace", None)
    if not keyspace:
        raise FxwatchError("no keyspace: pass one, or connect the session to a keyspace")
    return target, cql_identifier(keyspace, "keyspace")


def insert_cql(keyspace: str, table: str, columns: Sequence[str]) -> str:
    """INSERT INTO ks.table (cols) VALUES (?, ...), every name checked."""
    names = ", ".join(cql_identifier(c, "column") for c in columns)
    markers = ", ".join("?" * len(columns))
    return f"INSERT INTO {qualified(keyspace, table)} ({names}) VALUES ({markers})"


def prepared(session, cql: str):
    """The session's prepared statement for `cql` (prepared once per process and session)."""
    statements = _PREPARED.get(session)
    if statements is None:
        statements = _PREPARED.setdefault(session, {})
    stmt = statements.get(cql)
    if stmt is None:
        stmt = statements[cql] = session.prepare(cql)
    return stmt


def with_retry(fn: Callable[[], object], what: str, attempts: int = 5, first_delay: float = 0.5):
    """Call fn, retrying transient driver errors with exponential back-off; then a clear
    FxwatchError. A bad name (InvalidName) is raised at once."""
    # lazy: importing the driver costs start-up time that commands without Cassandra should not pay
    from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
    from cassandra.cluster import NoHostAvailable

    transient = (
        NoHostAvailable,
        OperationTimedOut,
        WriteTimeout,
        ReadTimeout,
        Unavailable,
        FxwatchError,
        ConnectionError,
    )
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except InvalidName:
            raise  # a bad name stays bad: say so at once
        except transient as exc:
            if attempt == attempts:
                raise FxwatchError(
                    f"{what} failed after {attempts} attempts ({type(exc).__name__}): "
                    "is Cassandra up? check `fxwatch stack status`, then rerun; "
                    "the stream resumes from its checkpoint"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


def write_rows(
    session,
    cql: str,
    rows: Iterable[tuple],
    partition_width: int = 0,
    batch_rows: int = 500,
    concurrency: int = 4,
    batch_bytes: int = 0,
) -> int:
    """Insert tuples with a prepared statement; rows sharing their first `partition_width` values go
    together in UNLOGGED single-partition batches of `batch_rows` (0 = one statement per row) and,
    when `batch_bytes` is set, of at most that many bytes of bytes values (a row bigger than that
    goes alone).

    Raises the first failure after all in-flight requests settled. Returns the row count.
    """
    # lazy: see with_retry
    from cassandra.concurrent import execute_concurrent
    from cassandra.query import UNSET_VALUE, BatchStatement, BatchType

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
            for part in _batches(members, batch_rows, batch_bytes):
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
                for r in part:
                    batch.add(stmt, r)
                statements.append((batch, ()))
    else:
        statements = [(stmt, r) for r in rows]
    results = execute_concurrent(
        session, statements, concurrency=concurrency, raise_on_first_error=False
    )
    for ok, result in results:
        if not ok:
            raise result
    return len(rows)


def _batches(rows: list[tuple], most: int, most_bytes: int = 0) -> Iterator[list[tuple]]:
    """Consecutive runs of `rows`, each at most `most` rows and (when set) `most_bytes` bytes of
    bytes values; a single row over `most_bytes` is a run of its own."""
    if not most_bytes:
        for i in range(0, len(rows), most):
            yield rows[i : i + most]
        return
    part, size = [], 0
    for r in rows:
        n = sum(len(v) for v in r if isinstance(v, bytes))
        if part and (len(part) == most or size + n > most_bytes):
            yield part
            part, size = [], 0
        part.append(r)
        size += n
    if part:
        yield part


def day_partitioned_span(target, keyspace: str | None, table: str, ts_column: str) -> tuple:
    """(count, min, max of `ts_column`) over every UTC `day` partition of `table`; (0, None, None)
    when it is empty. One aggregate per partition (no full-table aggregate in Cassandra)."""
    session, ks = resolve(target, keyspace)
    name = qualified(ks, table)
    days = [r.day for r in session.execute(prepared(session, f"SELECT DISTINCT day FROM {name}"))]
    column = cql_identifier(ts_column)
    stmt = prepared(
        session,
        f"SELECT count(*) AS n, min({column}) AS first, max({column}) AS last FROM {name} "
        "WHERE day = ?",
    )
    count, first, last = 0, None, None
    for day in days:
        row = session.execute(stmt, (day,)).one()
        if row is None or not row.n:
            continue
        count += row.n
        first = row.first if first is None else min(first, row.first)
        last = row.last if last is None else max(last, row.last)
    return count, first, last
