"""The Cassandra schema of fxwatch, created idempotently by `fxwatch store init`."""

from __future__ import annotations

from collections.abc import Iterable

from fxwatch.config import Settings
from fxwatch.store.connection import connect
from fxwatch.store.names import cql_identifier, qualified

__all__ = ["TABLES", "ADDED_COLUMNS", "init_schema", "keyspace_cql", "truncate_tables"]

# DDL per table; `{table}` is the checked `keyspace.table` (fxwatch.store.names.qualified).
# Partition keys bound partition size (pair x UTC day); clustering keys make every write
# deterministic, so a replayed micro-batch overwrites its own rows instead of adding new ones.
TABLES: dict[str, str] = {
    # The tick store: every accepted tick, in one compressed columnar chunk per pair and minute of
    # event time (`bucket`, its start), sorted and de-duplicated by the tick's identity (ts, tick
    # id); `data` is in `encoding` (fxwatch.store.ticks, the only home of the format). Writers
    # merge into a chunk, so a replayed micro-batch or a re-sent tick changes nothing. `ticks`,
    # first_ts, last_ts and `sources` let the CQL shell and counts skip decoding.
    "quote_chunks": """
        CREATE TABLE IF NOT EXISTS {table} (
            pair text, day date, bucket timestamp,
            ticks int, first_ts timestamp, last_ts timestamp, sources set<text>,
            encoding text, data blob, written_at timestamp, span_ms int, minutes blob,
            PRIMARY KEY ((pair, day), bucket)
        ) WITH CLUSTERING ORDER BY (bucket ASC)""",
    # The old tick store, one row per accepted tick: nothing but the naive baseline of `fxwatch
    # bench` writes it now; kept so that `fxwatch store migrate` can convert an existing one into
    # quote_chunks. `seq` is the tick's identity from its content (a 64-bit hash of
    # source and prices, fxwatch.stream.features.tick_id), not its Kafka offset: the same tick sent
    # twice (a file produced again, a producer retry, a re-sent snapshot) writes the same key once,
    # two different ticks in the same millisecond stay two rows, and a replayed batch overwrites.
    "quotes": """
        CREATE TABLE IF NOT EXISTS {table} (
            pair text, day date, ts timestamp, seq bigint,
            bid double, ask double, mid double, spread double, source text,
            low double, high double, open double, ingested_at timestamp,
            PRIMARY KEY ((pair, day), ts, seq)
        ) WITH CLUSTERING ORDER BY (ts DESC, seq DESC)""",
    # Windowed trends per pair and window length ('1m', '5m/1m' for sliding), keyed by window end.
    "trends": """
        CREATE TABLE IF NOT EXISTS {table} (
            pair text, window_len text, day date, window_end timestamp, window_start timestamp,
            ticks int, mid_avg double, bid_avg double, ask_avg double,
            open double, high double, low double, close double,
            spread_avg double, spread_min double, spread_max double, spread_std double,
            ret_std double, ema double, updated_at timestamp,
            PRIMARY KEY ((pair, window_len, day), window_end)
        ) WITH CLUSTERING ORDER BY (window_end DESC)""",
    # Alerts of every detector; one partition per UTC day keeps `--since` exports simple.
    "alerts": """
        CREATE TABLE IF NOT EXISTS {table} (
            day date, ts timestamp, pair text, detector text,
            score double, reason text, window_start timestamp, window_end timestamp,
            value double, created_at timestamp,
            PRIMARY KEY ((day), ts, pair, detector)
        ) WITH CLUSTERING ORDER BY (ts DESC, pair ASC, detector ASC)""",
    # Incidents: alerts of one pair or triangle close in time, grouped and explained
    # (fxwatch.detect.incidents); one partition per UTC day of the start, newest first. The id is a
    # hash of key and start, so a replayed batch or a rerun overwrites its own rows.
    "incidents": """
        CREATE TABLE IF NOT EXISTS {table} (
            day date, start_ts timestamp, incident_id text, incident_key text,
            end_ts timestamp, pairs list<text>, kinds list<text>, alert_ids list<text>,
            n_alerts int, max_score double, severity text, root_cause text,
            created_at timestamp,
            PRIMARY KEY ((day), start_ts, incident_id)
        ) WITH CLUSTERING ORDER BY (start_ts DESC, incident_id ASC)""",
    # Historical statistics per pair, hour-of-week and metric, versioned by the job's as-of date.
    "stats": """
        CREATE TABLE IF NOT EXISTS {table} (
            pair text, version text, hour_of_week int, metric text,
            n bigint, mean double, std double, median double, mad double, p01 double, p99 double,
            as_of date, lookback_days int, computed_at timestamp,
            PRIMARY KEY ((pair), version, hour_of_week, metric)
        ) WITH CLUSTERING ORDER BY (version DESC, hour_of_week ASC, metric ASC)""",
    # The stats versions that exist, newest first, so the streaming job can tell when to refresh.
    "stats_versions": """
        CREATE TABLE IF NOT EXISTS {table} (
            bucket int, version text, as_of date, lookback_days int, k double,
            pairs set<text>, computed_at timestamp,
            PRIMARY KEY ((bucket), version)
        ) WITH CLUSTERING ORDER BY (version DESC)""",
    # Latest tick and tick count per pair: the dashboard's health panel and the CQL shell's view.
    "pair_status": """
        CREATE TABLE IF NOT EXISTS {table} (
            pair text PRIMARY KEY, last_ts timestamp, bid double, ask double,
            ticks_seen bigint, updated_at timestamp, writer text, last_batch bigint
        )""",
}

# Columns added after a table was first created: `init_schema` adds them to older keyspaces.
# pair_status.writer/last_batch: the stream (checkpoint) and micro-batch that last counted ticks,
# so a replayed batch does not count twice.
# quote_chunks.span_ms: the event time a chunk covers from its bucket (NULL or 60 000: a minute;
# 3 600 000: an hour, written by `fxwatch store compact`); quote_chunks.minutes: the chunk's
# per-minute summary (fxwatch.store.minutes; NULL in rows written before it existed).
ADDED_COLUMNS: dict[str, list[str]] = {
    "pair_status": ["writer text", "last_batch bigint"],
    "quote_chunks": ["span_ms int", "minutes blob"],
}


def keyspace_cql(settings: Settings) -> str:
    """CREATE KEYSPACE IF NOT EXISTS for settings.keyspace (the name checked first)."""
    keyspace = cql_identifier(settings.keyspace, "keyspace")
    return (
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {settings.cassandra_replication}}}"
    )


def init_schema(settings: Settings, session=None) -> list[str]:
    """Create the keyspace and every table if missing; returns the table names."""
    ks_cql = keyspace_cql(settings)  # checks the keyspace name before anything connects
    tables = [cql.format(table=qualified(settings.keyspace, name)) for name, cql in TABLES.items()]
    cluster = None
    if session is None:
        cluster, session = connect(settings, keyspace=None)
    try:
        session.execute(ks_cql, timeout=60)
        for cql in tables:
            session.execute(cql, timeout=60)
        _add_missing_columns(settings, session)
        return list(TABLES)
    finally:
        if cluster is not None:
            cluster.shutdown()


def _add_missing_columns(settings: Settings, session) -> None:
    """ALTER TABLE ... ADD for every ADDED_COLUMNS entry the table lacks."""
    for table, columns in ADDED_COLUMNS.items():
        rows = session.execute(
            "SELECT column_name FROM system_schema.columns "
            "WHERE keyspace_name=%s AND table_name=%s",
            (settings.keyspace, table),
        )
        have = {r.column_name for r in rows}
        for spec in columns:
            if spec.split()[0] not in have:
                session.execute(
                    f"ALTER TABLE {qualified(settings.keyspace, table)} ADD {spec}", timeout=60
                )


def truncate_tables(session, keyspace: str, tables: Iterable[str] = tuple(TABLES)) -> list[str]:
    """Empty these tables of the keyspace (a clean slate for a notebook or a test); returns them."""
    tables = list(tables)
    statements = [f"TRUNCATE {qualified(keyspace, t)}" for t in tables]  # every name checked first
    for cql in statements:
        session.execute(cql, timeout=60)
    return tables
