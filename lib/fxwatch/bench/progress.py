"""Collect streaming progress events of every query of a session (rows, batch times)."""

from __future__ import annotations

import threading
from datetime import datetime
from statistics import median

from pyspark.sql.streaming import StreamingQueryListener

__all__ = ["ProgressLog", "batch_profile", "query_of"]


def query_of(name: str | None) -> str:
    """The fxwatch query a streaming query name belongs to ('trends-fx-quotes-…' -> 'trends')."""
    return name.split("-fx-")[0] if name else "?"


def _ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


class ProgressLog:
    """A StreamingQueryListener that keeps (query name, batch id, start ms, duration ms,
    input rows)."""

    def __init__(self) -> None:
        log = self
        self.events: list[dict] = []
        self._lock = threading.Lock()

        class _Listener(StreamingQueryListener):
            def onQueryStarted(self, event):
                pass

            def onQueryProgress(self, event):
                p = event.progress
                with log._lock:
                    log.events.append(
                        {
                            "name": p.name,
                            "batch": p.batchId,
                            "start_ms": _ms(p.timestamp),
                            "duration_ms": float(p.batchDuration),
                            "rows": int(p.numInputRows),
                            # where the batch's time went: addBatch (the query's own work and
                            # its sink) vs planning, offsets, commit logs (fixed per batch)
                            "add_batch_ms": float((p.durationMs or {}).get("addBatch", 0.0)),
                        }
                    )

            def onQueryIdle(self, event):
                pass

            def onQueryTerminated(self, event):
                pass

        self.listener = _Listener()

    def attach(self, spark) -> ProgressLog:
        spark.streams.addListener(self.listener)
        return self

    def detach(self, spark) -> None:
        spark.streams.removeListener(self.listener)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.events)

    def rows_by_query(self) -> dict[str, int]:
        """Input rows each fxwatch query has read so far."""
        out: dict[str, int] = {}
        for e in self.snapshot():
            name = query_of(e["name"])
            out[name] = out.get(name, 0) + e["rows"]
        return out


def batch_profile(events: list[dict], since_ms: float = 0.0) -> dict[str, dict]:
    """Per query (name prefix before the topic): batches, rows, median and max batch
    duration (ms), and the median of the batch's own work (addBatch: the query's operators and
    its sink) and of the rest (planning, offsets, commit logs: paid by every batch, whatever its
    size)."""
    out: dict[str, dict] = {}
    for e in events:
        if e["start_ms"] < since_ms:
            continue
        name = query_of(e["name"])
        d = out.setdefault(name, {"batches": 0, "rows": 0, "durations": [], "work": []})
        d["batches"] += 1
        d["rows"] += e["rows"]
        d["durations"].append(e["duration_ms"])
        d["work"].append(e.get("add_batch_ms", 0.0))
    for d in out.values():
        durs, work = d.pop("durations"), d.pop("work")
        d["median_batch_ms"] = round(median(durs), 1) if durs else None
        d["max_batch_ms"] = round(max(durs), 1) if durs else None
        d["median_add_batch_ms"] = round(median(work), 1) if work else None
        d["median_overhead_ms"] = (
            round(median(t - w for t, w in zip(durs, work)), 1) if durs else None
        )
    return out
