"""Replay tick files (TrueFX history, Lean tick, plain CSV) merged in event-time order."""

from __future__ import annotations

import gzip
import heapq
import io
import itertools
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from fxwatch.errors import FxwatchError
from fxwatch.schema import (
    BadLine, Quote, Reason, SourceItem, make_quote, normalize_pair, now_ms, parse_price, parse_ts,
)

__all__ = [
    "FORMATS",
    "LEAN_VENUE_UTC_OFFSET_HOURS",
    "detect_format",
    "read_file",
    "read_files",
    "parse_plain_line",
    "parse_truefx_history_line",
    "parse_lean_line",
    "lean_file_info",
    "event_ts",
    "pace",
    "limited",
]

FORMATS = ("truefx", "lean", "csv")
# Lean's market-hours database: OANDA data are UTC, FXCM data are UTC-05:00 fixed (no DST).
LEAN_VENUE_UTC_OFFSET_HOURS = {"oanda": 0, "fxcm": -5}
_LEAN_NAME = re.compile(r"^(\d{8})_([a-z]{6})_tick_quote\.csv(\.gz)?$", re.IGNORECASE)
_TRUEFX_TS = re.compile(r"^\d{8} \d{2}:\d{2}:\d{2}")


def _fields(line: str, expected: int) -> list[str]:
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != expected:
        raise ValueError(f"{Reason.FIELD_COUNT}: expected {expected} fields, got {len(parts)}")
    return parts


def parse_plain_line(line: str, source: str, now: int | None = None) -> Quote:
    """`pair,ts,bid,ask` (ts epoch ms or ISO-8601) -> Quote; ValueError(reason) if bad."""
    pair, ts, bid, ask = _fields(line, 4)
    return make_quote(pair, parse_ts(ts), parse_price("bid", bid), parse_price("ask", ask), source, now=now)


def parse_truefx_history_line(line: str, source: str, now: int | None = None) -> Quote:
    """`EUR/USD,20160502 00:00:00.959,1.14601,1.14605` (UTC) -> Quote; ValueError(reason) if bad."""
    pair, ts, bid, ask = _fields(line, 4)
    if not _TRUEFX_TS.match(ts):
        raise ValueError(f"{Reason.BAD_TS}: {ts!r} is not 'YYYYMMDD HH:MM:SS.fff'")
    return make_quote(pair, parse_ts(ts), parse_price("bid", bid), parse_price("ask", ask), source, now=now)


def parse_lean_line(line: str, pair: str, midnight_utc_ms: int, source: str, now: int | None = None) -> Quote:
    """`ms_since_midnight,bid,ask` -> Quote, given the file's pair and its local midnight in UTC ms."""
    ms, bid, ask = _fields(line, 3)
    if not re.fullmatch(r"\d+", ms):
        raise ValueError(f"{Reason.BAD_TS}: {ms!r} is not milliseconds since midnight")
    offset = int(ms)
    if offset >= 86_400_000:
        raise ValueError(f"{Reason.BAD_TS}: {offset} ms is past the end of the day")
    return make_quote(pair, midnight_utc_ms + offset, parse_price("bid", bid), parse_price("ask", ask),
                      source, now=now)


def lean_file_info(path: Path, utc_offset_hours: float | None = None) -> tuple[str, int, str]:
    """(pair, local midnight as UTC ms, source name) from `.../<venue>/tick/<pair>/YYYYMMDD_<pair>_tick_quote.csv`."""
    m = _LEAN_NAME.match(path.name)
    if not m:
        raise FxwatchError(f"{path}: not a Lean tick file name (want YYYYMMDD_<pair>_tick_quote.csv)")
    day, raw_pair = m.group(1), m.group(2)
    pair = normalize_pair(raw_pair)
    if pair is None:
        raise FxwatchError(f"{path}: {raw_pair!r} in the file name is not a currency pair")
    venue = next((p.lower() for p in path.parts if p.lower() in LEAN_VENUE_UTC_OFFSET_HOURS), None)
    if utc_offset_hours is None:
        if venue is None:
            raise FxwatchError(
                f"{path}: unknown venue (no oanda/fxcm in the path) — pass the UTC offset "
                "(--utc-offset HOURS) so the ticks get the right time")
        utc_offset_hours = LEAN_VENUE_UTC_OFFSET_HOURS[venue]
    midnight = datetime.strptime(day, "%Y%m%d").replace(tzinfo=timezone.utc)
    midnight_ms = int(midnight.timestamp() * 1000) - int(utc_offset_hours * 3_600_000)
    return pair, midnight_ms, f"lean-{venue or 'file'}"


def detect_format(path: str | Path) -> str:
    """'lean' by file name, else 'truefx' if the 2nd field is 'YYYYMMDD HH:MM:SS', else 'csv'."""
    p = Path(path)
    if _LEAN_NAME.match(p.name):
        return "lean"
    with _open_text(p) as fh:
        for line in fh:
            line = line.strip()
            if not line or line.lower().startswith("pair,"):
                continue
            parts = line.split(",")
            if len(parts) >= 2 and _TRUEFX_TS.match(parts[1].strip()):
                return "truefx"
            return "csv"
    return "csv"


def _open_text(path: Path) -> io.TextIOBase:
    if not path.is_file():
        raise FxwatchError(f"{path}: no such file — check the path (samples live in data/samples/)")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def read_file(
    path: str | Path,
    fmt: str | None = None,
    source: str | None = None,
    utc_offset_hours: float | None = None,
    now: int | None = None,
) -> Iterator[SourceItem]:
    """Yield a Quote per good line and a BadLine (raw + reason) per bad one, in file order."""
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt not in FORMATS:
        raise FxwatchError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "lean":
        pair, midnight_ms, default_source = lean_file_info(p, utc_offset_hours)
        src = source or default_source
        parse = lambda line: parse_lean_line(line, pair, midnight_ms, src, now)  # noqa: E731
    elif fmt == "truefx":
        src = source or "truefx-history"
        parse = lambda line: parse_truefx_history_line(line, src, now)  # noqa: E731
    else:
        src = source or "csv"
        parse = lambda line: parse_plain_line(line, src, now)  # noqa: E731
    with _open_text(p) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            if lineno == 1 and fmt == "csv" and line.lower().replace(" ", "").startswith("pair,ts"):
                continue  # header
            try:
                yield parse(line)
            except ValueError as exc:
                reason = str(exc)
                if ":" not in reason:
                    reason = f"{Reason.UNPARSEABLE}: {reason}"
                yield BadLine(line, reason, src, now_ms(), f"{p.name}:{lineno}")


def event_ts(item: SourceItem) -> int | None:
    """Event time of a Quote; None for a BadLine (it has no trustworthy event time)."""
    return item.ts_ms if isinstance(item, Quote) else None


def _keyed(items: Iterable[SourceItem], index: int) -> Iterator[tuple[int, int, int, SourceItem]]:
    # Bad lines keep their place: they sort at the event time of the last good line before them.
    last = -1
    for seq, item in enumerate(items):
        if isinstance(item, Quote):
            last = item.ts_ms
        yield (last, index, seq, item)


def read_files(
    paths: Iterable[str | Path],
    fmt: str | None = None,
    source: str | None = None,
    utc_offset_hours: float | None = None,
    now: int | None = None,
) -> Iterator[SourceItem]:
    """Several files merged in event-time order (each file must itself be in time order)."""
    streams = [
        _keyed(read_file(p, fmt, source, utc_offset_hours, now), i) for i, p in enumerate(paths)
    ]
    for _, _, _, item in heapq.merge(*streams):
        yield item


def pace(
    items: Iterable[SourceItem],
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[SourceItem]:
    """Release items at `speed`× real time of their event times (None: as fast as possible)."""
    if speed is None:
        yield from items
        return
    if speed <= 0:
        raise FxwatchError(f"speed must be positive, got {speed} (use --max-speed for no pacing)")
    start_wall: float | None = None
    start_event = 0
    for item in items:
        ts = event_ts(item)
        if ts is not None:
            if start_wall is None:
                start_wall, start_event = clock(), ts
            else:
                wait = start_wall + (ts - start_event) / 1000.0 / speed - clock()
                if wait > 0:
                    sleep(wait)
        yield item


def limited(items: Iterable[SourceItem], limit: int | None) -> Iterator[SourceItem]:
    """At most `limit` items (None: all)."""
    return iter(items) if limit is None else itertools.islice(items, limit)
