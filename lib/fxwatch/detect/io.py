"""Offline detection: ticks in columns through the bank, and the alerts CSV writer.

Tick files are read by `fxwatch.sources.replay` (the one reader); `fxwatch detect` combines the two.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence

from fxwatch.detect.bank import WATCHED_PAIRS, PairDetectorBank, default_detectors
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import iso_ms

__all__ = ["ALERTS_CSV_COLUMNS", "detect_columns", "write_alerts"]

ALERTS_CSV_COLUMNS = ("pair", "ts", "detector", "score", "reason")


def detect_columns(
    cols,
    detectors_factory: Callable[[], list] = default_detectors,
    cross=None,
    cooldown_ms: int = 60_000,
    pairs: Sequence[str] = WATCHED_PAIRS,
) -> list[Verdict]:
    """`run_detectors`' alerts for ticks held in columns, without a Quote per tick.

    `cols` has parallel lists pair, ts_ms, bid, ask, source in event-time order (a
    `fxwatch.sources.replay.TickColumns`); a fresh PairDetectorBank takes them through
    `update_columns`. The cross-pair detectors compare pairs with each other, so they are not run
    when the ticks hold a single pair.
    """
    if len(set(cols.pair)) < 2:
        cross = None
    bank = PairDetectorBank(detectors_factory, cross=cross, cooldown_ms=cooldown_ms, pairs=pairs)
    return bank.update_columns(cols.pair, cols.ts_ms, cols.bid, cols.ask, cols.source)


def write_alerts(path, verdicts: Iterable[Verdict]) -> int:
    """Write alerts CSV `pair,ts,detector,score,reason` (ts ISO-8601 UTC); return the row count."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(ALERTS_CSV_COLUMNS)
        for v in verdicts:
            w.writerow([v.pair, iso_ms(v.ts_ms), v.detector, f"{v.score:.4f}", v.reason])
            n += 1
    return n
