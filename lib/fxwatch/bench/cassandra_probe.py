"""Read-side probes of a benchmark: count quote rows of a run, poll alert rows as they appear."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone

__all__ = ["count_quotes", "AlertPoller"]


def count_quotes(session, pairs, days) -> int:
    """Rows in quotes over every (pair, day) partition given (a bounded, per-partition count)."""
    stmt = session.prepare("SELECT COUNT(*) FROM quotes WHERE pair = ? AND day = ?")
    total = 0
    for p in pairs:
        for d in days:
            total += session.execute(stmt, (p, d), timeout=120).one()[0]
    return total


class AlertPoller(threading.Thread):
    """Poll alerts of one UTC day every `interval_s`; remember when each (pair, ts_ms) was first seen."""

    def __init__(self, session, day: date, since_ms: int, interval_s: float = 0.05) -> None:
        super().__init__(name="alert-poller", daemon=True)
        self.session, self.day, self.interval_s = session, day, interval_s
        self.since = datetime.fromtimestamp(since_ms / 1000, tz=timezone.utc)
        self.stmt = session.prepare("SELECT ts, pair FROM alerts WHERE day = ? AND ts >= ?")
        self.first_seen: dict[tuple[str, int], float] = {}
        self.polls = 0
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                rows = self.session.execute(self.stmt, (self.day, self.since), timeout=10)
                now = time.time() * 1000
                for r in rows:
                    ts = r.ts.replace(tzinfo=timezone.utc) if r.ts.tzinfo is None else r.ts
                    self.first_seen.setdefault((r.pair, int(round(ts.timestamp() * 1000))), now)
                self.polls += 1
            except Exception as exc:  # keep polling; report the last error
                self.error = exc
            self.stop_event.wait(self.interval_s)
