"""The alerts table (partition: UTC day): write alerts, read them back, export them as CSV."""

from __future__ import annotations

import csv
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fxwatch.errors import FxwatchError
from fxwatch.schema import alert_id, iso_ms  # alert_id: re-exported, its home is schema
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
    "ALERTS_COLUMNS",
    "alert_id",
    "CSV_COLUMNS",
    "insert_alerts",
    "read_alerts",
    "read_alerts_of_day",
    "alert_keys_since",
    "delete_alerts_of_day",
    "parse_since",
    "export_alerts_csv",
    "alert_span",
    "empty_window_note",
]

# Insert order of an alert row; the key is ((day), ts, pair, detector).
ALERTS_COLUMNS = [
    "day",
    "ts",
    "pair",
    "detector",
    "score",
    "reason",
    "window_start",
    "window_end",
    "value",
    "created_at",
]
CSV_COLUMNS = ["pair", "ts", "detector", "score", "reason", "window_start", "window_end", "value"]
_DAY_MS = 86_400_000
_READ_COLUMNS = "pair, ts, detector, score, reason, window_start, window_end, value"


def insert_alerts(target, rows: list[dict], keyspace: str | None = None) -> int:
    """Upsert alert dicts {pair, ts (epoch ms), detector, score, reason, window_start, window_end
    (epoch ms or None), value} into the day partition of their ts; created_at = now. Retries
    transient errors; returns the row count."""
    if not rows:
        return 0
    session, ks = resolve(target, keyspace)
    cql = insert_cql(ks, "alerts", ALERTS_COLUMNS)
    now = int(time.time() * 1000)
    values = [
        (
            EPOCH_DATE_OFFSET + r["ts"] // _DAY_MS,
            r["ts"],
            r["pair"],
            r["detector"],
            float(r["score"]),
            r["reason"],
            r["window_start"],
            r["window_end"],
            r["value"],
            now,
        )
        for r in rows
    ]
    return with_retry(lambda: write_rows(session, cql, values), "writing alerts to Cassandra")


def parse_since(text: str | None, now: datetime | None = None) -> datetime:
    """'2014-05-08', '2014-05-08T12:00:00Z' or a span back from now ('90m', '24h', '7d');
    default 24h."""
    now = now or datetime.now(UTC)
    if not text:
        return now - timedelta(hours=24)
    s = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if s[-1:].lower() in units and s[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(seconds=float(s[:-1]) * units[s[-1].lower()])
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise FxwatchError(
            f"--since {text!r}: use a date (2014-05-08), a UTC time (2014-05-08T12:00:00Z) "
            "or a span back from now (90m, 24h, 7d)"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _csv_time(t: datetime | None) -> str:
    """A CSV cell: the time as schema.iso_ms, '' for None."""
    return "" if t is None else iso_ms(t)


def read_alerts(
    target,
    keyspace: str | None,
    since: datetime,
    until: datetime | None = None,
    pair: str | None = None,
) -> list[dict]:
    """Alerts with since <= ts < until (default now), oldest first; one query per UTC day
    partition."""
    session, ks = resolve(target, keyspace)
    until = until or datetime.now(UTC) + timedelta(minutes=1)
    out: list[dict] = []
    day: date = since.date()
    stmt = prepared(
        session,
        f"SELECT {_READ_COLUMNS} FROM {qualified(ks, 'alerts')} WHERE day=? AND ts>=? AND ts<?",
    )
    while day <= until.date():
        for r in session.execute(stmt, (day, since, until)):
            if pair and r.pair != pair:
                continue
            out.append(r._asdict())
        day += timedelta(days=1)
    out.sort(key=lambda a: (a["ts"], a["pair"], a["detector"]))
    return out


def read_alerts_of_day(
    target, keyspace: str | None, day: date, start: datetime, end: datetime
) -> list:
    """Rows (pair, ts, detector, score, reason, window_start, window_end, value) of one day
    partition with start <= ts <= end, newest first."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        f"SELECT {_READ_COLUMNS} FROM {qualified(ks, 'alerts')} "
        "WHERE day = ? AND ts >= ? AND ts <= ?",
    )
    return list(session.execute(stmt, (day, start, end)))


def alert_keys_since(
    target, keyspace: str | None, day: date, since: datetime, timeout: float = 10
) -> list:
    """(ts, pair, detector, window_end) of the alerts of one day partition with ts >= since (a
    light poll)."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        f"SELECT ts, pair, detector, window_end FROM {qualified(ks, 'alerts')} "
        "WHERE day = ? AND ts >= ?",
    )
    return list(session.execute(stmt, (day, since), timeout=timeout))


def delete_alerts_of_day(target, day: date, keyspace: str | None = None) -> None:
    """Delete one UTC day partition of alerts."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(session, f"DELETE FROM {qualified(ks, 'alerts')} WHERE day = ?")
    session.execute(stmt, (day,))


def export_alerts_csv(alerts: list[dict], path: str | Path) -> int:
    """Write alerts as CSV (CSV_COLUMNS; times ISO-8601 UTC with ms); returns the row count."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for a in alerts:
            w.writerow(
                [
                    a["pair"],
                    _csv_time(a["ts"]),
                    a["detector"],
                    f"{a['score']:.4f}",
                    a["reason"],
                    _csv_time(a.get("window_start")),
                    _csv_time(a.get("window_end")),
                    "" if a.get("value") is None else repr(a["value"]),
                ]
            )
    return len(alerts)


def alert_span(target, keyspace: str | None = None) -> tuple[int, datetime | None, datetime | None]:
    """(count, first ts, last ts) of all alerts in the keyspace — what an empty window is
    missing; (0, None, None) when there are none."""
    return day_partitioned_span(target, keyspace, "alerts", "ts")


def empty_window_note(
    noun: str,
    span: tuple[int, datetime | None, datetime | None],
    keyspace: str,
    since: datetime,
    until: datetime | None = None,
) -> str:
    """What to say when a time window holds no `noun` (alerts, incidents): how many the keyspace
    holds and between which times, with the `--since`/`--until` that would show them."""
    count, first, last = span
    window = f"between {iso_ms(since)} and {iso_ms(until) if until else 'now'}"
    if not count or first is None or last is None:
        return f"No {noun} {window}, and none at all in keyspace {keyspace!r}."
    hint = f"--since {first:%Y-%m-%d} --until {last.date() + timedelta(days=1):%Y-%m-%d}"
    return (
        f"No {noun} {window}; keyspace {keyspace!r} holds {count} {noun} from {iso_ms(first)} "
        f"to {iso_ms(last)}: add {hint} to see them."
    )
