"""The incidents table (partition: UTC day of the incident's start): write, read back, export CSV.

Rows are dicts with the fields of `fxwatch.detect.incidents.Incident` (incident_id, key, start_ms,
end_ms, pairs, kinds, alert_ids, n_alerts, max_score, severity, root_cause). The key
(day, start_ts, incident_id) is deterministic, so writing an incident again overwrites it.
"""

from __future__ import annotations

import csv
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fxwatch.schema import iso_ms
from fxwatch.store.names import qualified
from fxwatch.store.session import (
    EPOCH_DATE_OFFSET,
    day_partitioned_span,
    insert_cql,
    prepared,
    resolve,
    with_retry,
    write_rows,
)

__all__ = [
    "INCIDENT_COLUMNS",
    "INCIDENT_CSV_COLUMNS",
    "insert_incidents",
    "read_incidents",
    "incident_span",
    "export_incidents_csv",
]

# Insert order of an incident row; the key is ((day), start_ts, incident_id).
INCIDENT_COLUMNS = [
    "day",
    "start_ts",
    "incident_id",
    "incident_key",
    "end_ts",
    "pairs",
    "kinds",
    "alert_ids",
    "n_alerts",
    "max_score",
    "severity",
    "root_cause",
    "created_at",
]
INCIDENT_CSV_COLUMNS = [
    "incident_id",
    "key",
    "start",
    "end",
    "severity",
    "pairs",
    "kinds",
    "n_alerts",
    "max_score",
    "root_cause",
    "alert_ids",
]
_DAY_MS = 86_400_000
# read back as Incident fields (times as exact epoch ms, computed by Cassandra)
_READ_COLUMNS = (
    "incident_id, incident_key AS key, toUnixTimestamp(start_ts) AS start_ms, "
    "toUnixTimestamp(end_ts) AS end_ms, pairs, kinds, alert_ids, n_alerts, max_score, severity, "
    "root_cause"
)


def insert_incidents(target, rows: list[dict], keyspace: str | None = None) -> int:
    """Upsert incident dicts (Incident fields) into the day partition of their start; created_at =
    now. Retries transient errors; returns the row count."""
    if not rows:
        return 0
    session, ks = resolve(target, keyspace)
    cql = insert_cql(ks, "incidents", INCIDENT_COLUMNS)
    now = int(time.time() * 1000)
    values = [
        (
            EPOCH_DATE_OFFSET + r["start_ms"] // _DAY_MS,
            r["start_ms"],
            r["incident_id"],
            r["key"],
            r["end_ms"],
            list(r["pairs"]),
            list(r["kinds"]),
            list(r["alert_ids"]),
            int(r["n_alerts"]),
            float(r["max_score"]),
            r["severity"],
            r["root_cause"],
            now,
        )
        for r in rows
    ]
    return with_retry(lambda: write_rows(session, cql, values), "writing incidents to Cassandra")


def _as_incident(row) -> dict:
    d = row._asdict()
    for name in ("pairs", "kinds", "alert_ids"):
        d[name] = tuple(d[name] or ())
    return d


def read_incidents(
    target,
    keyspace: str | None,
    since: datetime,
    until: datetime | None = None,
    pair: str | None = None,
) -> list[dict]:
    """Incidents that started at since <= start < until (default now), oldest first, as dicts of
    Incident fields; `pair`: only those whose key is it or covers it (a triangle's leg). One
    query per UTC day partition."""
    session, ks = resolve(target, keyspace)
    until = until or datetime.now(UTC) + timedelta(minutes=1)
    stmt = prepared(
        session,
        f"SELECT {_READ_COLUMNS} FROM {qualified(ks, 'incidents')} "
        "WHERE day=? AND start_ts>=? AND start_ts<?",
    )
    out: list[dict] = []
    day: date = since.date()
    while day <= until.date():
        for r in session.execute(stmt, (day, since, until)):
            d = _as_incident(r)
            if pair and pair != d["key"] and pair not in d["pairs"]:
                continue
            out.append(d)
        day += timedelta(days=1)
    out.sort(key=lambda d: (d["start_ms"], d["key"]))
    return out


def incident_span(
    target, keyspace: str | None = None
) -> tuple[int, datetime | None, datetime | None]:
    """(count, first start, last start) of all incidents in the keyspace; (0, None, None) when
    there are none (the `empty_window_note` of fxwatch.store.alerts says what to do)."""
    return day_partitioned_span(target, keyspace, "incidents", "start_ts")


def export_incidents_csv(incidents: list[dict], path: str | Path) -> int:
    """Write incident dicts (Incident fields) as CSV (INCIDENT_CSV_COLUMNS; times ISO-8601 UTC with
    ms; pairs, kinds and alert ids space-separated); returns the row count."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(INCIDENT_CSV_COLUMNS)
        for i in incidents:
            w.writerow(
                [
                    i["incident_id"],
                    i["key"],
                    iso_ms(i["start_ms"]),
                    iso_ms(i["end_ms"]),
                    i["severity"],
                    " ".join(i["pairs"]),
                    " ".join(i["kinds"]),
                    i["n_alerts"],
                    f"{i['max_score']:.4f}",
                    i["root_cause"],
                    " ".join(i["alert_ids"]),
                ]
            )
    return len(incidents)
