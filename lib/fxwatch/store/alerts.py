"""Read alerts back from Cassandra and export them as CSV (pair,ts,detector,score,reason,...)."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

__all__ = ["CSV_COLUMNS", "parse_since", "iso_ms", "read_alerts", "export_alerts_csv"]

CSV_COLUMNS = ["pair", "ts", "detector", "score", "reason", "window_start", "window_end", "value"]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_since(text: str | None, now: datetime | None = None) -> datetime:
    """'2014-05-08', '2014-05-08T12:00:00Z' or a span back from now ('90m', '24h', '7d'); default 24h."""
    from fxwatch.errors import FxwatchError

    now = now or datetime.now(timezone.utc)
    if not text:
        return now - timedelta(hours=24)
    s = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if s[-1:].lower() in units and s[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(seconds=float(s[:-1]) * units[s[-1].lower()])
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise FxwatchError(f"--since {text!r}: use a date (2014-05-08), a UTC time (2014-05-08T12:00:00Z) "
                           "or a span back from now (90m, 24h, 7d)") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def iso_ms(t: datetime | None) -> str:
    """A driver datetime (naive UTC) -> '2014-05-08T12:45:00.123Z'; '' for None."""
    if t is None:
        return ""
    t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def read_alerts(session, keyspace: str, since: datetime, until: datetime | None = None,
                pair: str | None = None) -> list[dict]:
    """Alerts with since <= ts < until (default now), oldest first; one query per UTC day partition."""
    until = until or datetime.now(timezone.utc) + timedelta(minutes=1)
    out: list[dict] = []
    day: date = since.date()
    stmt = session.prepare(f"SELECT pair, ts, detector, score, reason, window_start, window_end, value "
                           f"FROM {keyspace}.alerts WHERE day=? AND ts>=? AND ts<?")
    while day <= until.date():
        for r in session.execute(stmt, (day, since, until)):
            if pair and r.pair != pair:
                continue
            out.append(r._asdict())
        day += timedelta(days=1)
    out.sort(key=lambda a: (a["ts"], a["pair"], a["detector"]))
    return out


def export_alerts_csv(alerts: list[dict], path: str | Path) -> int:
    """Write alerts as CSV (CSV_COLUMNS; times ISO-8601 UTC with ms); returns the row count."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for a in alerts:
            w.writerow([a["pair"], iso_ms(a["ts"]), a["detector"], f"{a['score']:.4f}", a["reason"],
                        iso_ms(a.get("window_start")), iso_ms(a.get("window_end")),
                        "" if a.get("value") is None else repr(a["value"])])
    return len(alerts)
