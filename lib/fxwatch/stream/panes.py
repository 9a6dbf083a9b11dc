"""Sliding trend windows from 1-minute panes: the trends query aggregates each tick once.

A sliding window of 5 minutes every minute is the union of five 1-minute tumbling windows ("panes").
Spark's own sliding aggregation copies every tick into each of the 5 windows that hold it; here the
trends query aggregates the 1-minute panes only, and the driver combines them: counts add up, means
are tick-weighted, highs/lows are max/min, open is the first pane's, close the last's, and the spread
std pools the panes' (count, mean, M2) exactly (Chan et al.). The result equals Spark's sliding rows
(tested); like them it has no return std or EMA.

The driver keeps the recent panes of each pair (snapshotted per micro-batch beside the checkpoint,
as the detector state is), so a pane updated in a later batch re-derives the windows that hold it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from fxwatch.stream.snapshots import BatchSnapshots

__all__ = ["PANE_COLUMNS", "SlidingFromPanes", "minute_rows", "write_windows", "split_windows"]

# columns of a 1-minute trend row the combination needs (trends.window_stats output)
PANE_COLUMNS = ("pair", "start_ms", "ticks", "mid_avg", "bid_avg", "ask_avg", "open", "high", "low", "close",
                "spread_avg", "spread_min", "spread_max", "spread_std")
_KEEP_PANES = 30  # panes kept per pair behind its newest: late updates only touch the last one or two


class SlidingFromPanes:
    """`windows(pane_rows, batch_id)` -> trend rows (dicts, trends table columns) of every sliding
    window holding a pane of this batch."""

    def __init__(self, checkpoint: str | Path, label: str = "5m/1m", panes: int = 5, pane_ms: int = 60_000):
        self.label, self.panes, self.pane_ms = label, panes, pane_ms
        self.snapshots = BatchSnapshots(Path(checkpoint) / f"fxwatch-panes-{label.replace('/', '-')}")

    def windows(self, pane_rows: list[dict], batch_id: int) -> list[dict]:
        # {(pair, start_ms): pane row}; a copy: the snapshot stays as it was
        panes = dict(self.snapshots.before(batch_id, dict))
        touched: set[tuple[str, int]] = set()
        for r in pane_rows:
            panes[(r["pair"], r["start_ms"])] = r
            for k in range(self.panes):
                touched.add((r["pair"], r["start_ms"] - k * self.pane_ms))
        out = [w for key in sorted(touched) if (w := self._combine(panes, *key)) is not None]
        if pane_rows:
            newest: dict[str, int] = {}
            for pair, start in panes:
                newest[pair] = max(newest.get(pair, start), start)
            panes = {k: v for k, v in panes.items() if k[1] > newest[k[0]] - _KEEP_PANES * self.pane_ms}
        self.snapshots.after(panes, batch_id, changed=bool(pane_rows))
        return out

    def _combine(self, panes: dict, pair: str, start: int) -> dict | None:
        parts = [p for i in range(self.panes) if (p := panes.get((pair, start + i * self.pane_ms))) is not None]
        if not parts:
            return None
        n = sum(p["ticks"] for p in parts)

        def weighted(col: str) -> float:
            return sum(p["ticks"] * p[col] for p in parts) / n

        spread_mean = weighted("spread_avg")
        # pooled population variance: sum of the panes' M2 plus their means' spread around the total mean
        m2 = sum(p["ticks"] * (p["spread_std"] or 0.0) ** 2 + p["ticks"] * (p["spread_avg"] - spread_mean) ** 2
                 for p in parts)
        return {
            "pair": pair, "window_len": self.label, "start_ms": start, "end_ms": start + self.panes * self.pane_ms,
            "ticks": n, "mid_avg": weighted("mid_avg"), "bid_avg": weighted("bid_avg"), "ask_avg": weighted("ask_avg"),
            "open": parts[0]["open"], "high": max(p["high"] for p in parts), "low": min(p["low"] for p in parts),
            "close": parts[-1]["close"], "spread_avg": spread_mean,
            "spread_min": min(p["spread_min"] for p in parts), "spread_max": max(p["spread_max"] for p in parts),
            "spread_std": math.sqrt(max(m2 / n, 0.0)), "ret_std": None, "ema": None,
        }


def minute_rows(trends, label: str = "1m") -> list[dict]:
    """The batch's trend rows of one tumbling spec as dicts: PANE_COLUMNS plus end_ms and ret_std
    (what the panes and the classic rule's judge need; collected once: a few per pair and batch)."""
    from pyspark.sql import functions as F

    cols = ([F.col("pair"), F.unix_millis("window_start").alias("start_ms"), F.unix_millis("window_end").alias("end_ms")]
            + [F.col(c) for c in PANE_COLUMNS[2:]] + [F.col("ret_std")])
    return [r.asDict() for r in trends.where(F.col("window_len") == label).select(*cols).collect()]


def write_windows(rows: list[dict], settings) -> int:
    """Derived sliding rows -> fxwatch.trends (prepared upserts from the driver)."""
    from fxwatch.stream.cassandra_io import EPOCH_DATE_OFFSET, insert_cql, process_session, with_retry, write_rows
    from fxwatch.stream.sinks import TRENDS_COLUMNS

    if not rows:
        return 0
    now = int(time.time() * 1000)
    values = []
    for r in rows:
        r = dict(r, day=EPOCH_DATE_OFFSET + r["start_ms"] // 86_400_000, window_start=r["start_ms"],
                 window_end=r["end_ms"], updated_at=now)
        values.append(tuple(r[c] for c in TRENDS_COLUMNS))
    session = process_session(settings)
    cql = insert_cql(settings.keyspace, "trends", TRENDS_COLUMNS)
    return with_retry(lambda: write_rows(session, cql, values, 3, 200, 8), "writing sliding trend rows to Cassandra")


def split_windows(windows):
    """Window specs -> (specs Spark aggregates, [(pane label, label, panes, pane_ms)] derived from panes).

    A sliding spec is derived when its slide is the duration of a tumbling spec of the list and its
    duration a whole number of slides; any other spec stays with Spark.
    """
    from fxwatch.stream.jobs import interval_ms

    tumbling = {interval_ms(w): label for label, w, slide in windows if slide is None}
    spark_specs, derived = [], []
    for label, w, slide in windows:
        if slide is not None:
            pane, total = interval_ms(slide), interval_ms(w)
            if pane in tumbling and total % pane == 0:
                derived.append((tumbling[pane], label, total // pane, pane))
                continue
        spark_specs.append((label, w, slide))
    return spark_specs, derived
