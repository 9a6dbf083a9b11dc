"""Read-side probes of a benchmark: count the ticks a run stored, poll alert rows as they appear."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

from fxwatch.store import alerts as store_alerts
from fxwatch.store import ticks as store_ticks

__all__ = ["count_quotes", "AlertPoller"]


def count_quotes(session, pairs, days) -> int:
    """Ticks in the tick store (of the session's keyspace) over every (pair, day) given."""
    return store_ticks.count_ticks(session, None, pairs, days)


class AlertPoller(threading.Thread):
    """Poll alerts of one UTC day every `interval_s`; remember when each (pair, ts_ms) was
    first seen, and each alert's detector and window end (epoch ms) in `alerts`."""

    def __init__(self, session, day: date, since_ms: int, interval_s: float = 0.05) -> None:
        super().__init__(name="alert-poller", daemon=True)
        self.session, self.day, self.interval_s = session, day, interval_s
        self.since = datetime.fromtimestamp(since_ms / 1000, tz=UTC)
        self.first_seen: dict[tuple[str, int], float] = {}
        # (pair, ts_ms, detector) -> (first seen, window_end ms or None)
        self.alerts: dict[tuple[str, int, str], tuple[float, int | None]] = {}
        self.polls = 0
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                rows = store_alerts.alert_keys_since(self.session, None, self.day, self.since)
                now = time.time() * 1000
                for r in rows:
                    ts_ms = _ms(r.ts)
                    self.first_seen.setdefault((r.pair, ts_ms), now)
                    end = None if r.window_end is None else _ms(r.window_end)
                    self.alerts.setdefault((r.pair, ts_ms, r.detector), (now, end))
                self.polls += 1
            except Exception as exc:  # keep polling; report the last error
                self.error = exc
            self.stop_event.wait(self.interval_s)


def _ms(t: datetime) -> int:
    """A driver datetime (naive = UTC) -> epoch ms."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return int(round(t.timestamp() * 1000))
