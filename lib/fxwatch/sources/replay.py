"""The one tick-file reader (TrueFX history, Lean tick, plain CSV), row by row or columnar; replay.

Row by row, `read_file`/`read_files` yield a validated `Quote` per good line and a `BadLine` per
bad one (what `fxwatch produce --source replay` sends); `read_quotes` yields only Quotes and stops
at the first bad line (what `fxwatch detect` runs on). `read_columns` is the fast path for Lean
files: the same ticks as parallel lists, or None when only the row reader can decide. `pace`
replays at speed.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import heapq
import io
import itertools
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fxwatch.errors import FxwatchError
from fxwatch.schema import (
    MAX_FUTURE_SKEW_MS,
    MIN_TS_MS,
    BadLine,
    Quote,
    Reason,
    SourceItem,
    make_quote,
    normalize_pair,
    now_ms,
    parse_price,
    parse_ts,
)

__all__ = [
    "FORMATS",
    "LEAN_VENUE_UTC_OFFSET_HOURS",
    "LEAN_FILE_NAME",
    "TickColumns",
    "add_file_arguments",
    "detect_format",
    "read_file",
    "read_files",
    "read_quotes",
    "read_columns",
    "read_lean_columns",
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
# YYYYMMDD_<pair>_tick_quote.csv (also _quote, .csv.gz, .zip): the pair and the local date
LEAN_FILE_NAME = re.compile(r"^(\d{8})_([a-z]{6})_(?:tick_)?quote\.(?:csv(?:\.gz)?|zip)$", re.I)
_TRUEFX_TS = re.compile(r"^\d{8} \d{2}:\d{2}:\d{2}")
_CSV_COLUMNS = ("pair", "ts", "bid", "ask")
_DAY_MS = 86_400_000
_SIGNED_FIRST_FIELD = re.compile(rb"(?m)^[ \t]*[+-]")


def add_file_arguments(
    p: argparse.ArgumentParser, required: bool = False, prefix: str = ""
) -> None:
    """The tick-file flags, the same in every command that reads tick files (--files, --format,
    --utc-offset); `prefix` starts their help (e.g. 'replay: ')."""
    p.add_argument(
        "--files",
        nargs="+",
        type=Path,
        required=required,
        metavar="FILE",
        help=f"{prefix}tick files, merged in event-time order",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help=f"{prefix}truefx (EUR/USD,20160502 00:00:00.959,bid,ask), lean "
        "(ms,bid,ask; pair and date from the file name) or csv (pair,ts,bid,ask); "
        "default: detected",
    )
    p.add_argument(
        "--utc-offset",
        type=float,
        default=None,
        metavar="HOURS",
        help=f"{prefix}clock of Lean files as UTC+HOURS (default: by venue in the path, "
        "oanda 0, fxcm -5)",
    )


# ---- one line -> Quote (ValueError with a reason if bad) ---------------------------------------
def _fields(line: str, expected: int, at_least: bool = False) -> list[str]:
    parts = [p.strip() for p in line.split(",")]
    if len(parts) < expected or (len(parts) > expected and not at_least):
        want = f"at least {expected}" if at_least else str(expected)
        raise ValueError(f"{Reason.FIELD_COUNT}: expected {want} fields, got {len(parts)}")
    return parts


def parse_plain_line(
    line: str,
    source: str,
    now: int | None = None,
    columns: tuple[int, ...] | None = None,
    width: int = 4,
) -> Quote:
    """`pair,ts,bid,ask` (ts epoch ms or ISO-8601) -> Quote; ValueError(reason) if bad.

    `columns`/`width`: where pair, ts, bid, ask are in a line of `width` fields (from a header).
    """
    parts = _fields(line, width)
    if columns is None:
        pair, ts, bid, ask = parts
    else:
        pair, ts, bid, ask = (
            parts[columns[0]],
            parts[columns[1]],
            parts[columns[2]],
            parts[columns[3]],
        )
    return make_quote(
        pair, parse_ts(ts), parse_price("bid", bid), parse_price("ask", ask), source, now=now
    )


def parse_truefx_history_line(line: str, source: str, now: int | None = None) -> Quote:
    """`EUR/USD,20160502 00:00:00.959,1.14601,1.14605` (UTC) -> Quote; ValueError(reason) if bad."""
    pair, ts, bid, ask = _fields(line, 4)
    if not _TRUEFX_TS.match(ts):
        raise ValueError(f"{Reason.BAD_TS}: {ts!r} is not 'YYYYMMDD HH:MM:SS.fff'")
    return make_quote(
        pair, parse_ts(ts), parse_price("bid", bid), parse_price("ask", ask), source, now=now
    )


def parse_lean_line(
    line: str, pair: str, midnight_utc_ms: int, source: str, now: int | None = None
) -> Quote:
    """`ms_since_midnight,bid,ask[,...]` -> Quote, given the file's pair and its local midnight
    in UTC ms. Fields after the third are ignored."""
    ms, bid, ask = _fields(line, 3, at_least=True)[:3]
    if not ms.isdecimal():  # digits only
        raise ValueError(f"{Reason.BAD_TS}: {ms!r} is not milliseconds since midnight")
    offset = int(ms)
    if offset >= _DAY_MS:
        raise ValueError(f"{Reason.BAD_TS}: {offset} ms is past the end of the day")
    return make_quote(
        pair,
        midnight_utc_ms + offset,
        parse_price("bid", bid),
        parse_price("ask", ask),
        source,
        now=now,
    )


def lean_file_info(path: Path, utc_offset_hours: float | None = None) -> tuple[str, int, str]:
    """(pair, local midnight as UTC ms, source) of a Lean tick file.

    The path is `<venue>/tick/<pair>/YYYYMMDD_<pair>_tick_quote.csv`; the file's clock is
    UTC+`utc_offset_hours`, None: by the venue in the path (oanda, fxcm).
    """
    path = Path(path)
    m = LEAN_FILE_NAME.match(path.name)
    if not m:
        raise FxwatchError(
            f"{path}: not a Lean tick file name (want YYYYMMDD_<pair>_tick_quote.csv)"
        )
    day, raw_pair = m.group(1), m.group(2)
    pair = normalize_pair(raw_pair)
    if pair is None:
        raise FxwatchError(f"{path}: {raw_pair!r} in the file name is not a currency pair")
    venue = next((p.lower() for p in path.parts if p.lower() in LEAN_VENUE_UTC_OFFSET_HOURS), None)
    if utc_offset_hours is None:
        if venue is None:
            raise FxwatchError(
                f"{path}: unknown venue (no oanda/fxcm in the path) — pass the UTC offset "
                "(--utc-offset HOURS) so the ticks get the right time"
            )
        utc_offset_hours = LEAN_VENUE_UTC_OFFSET_HOURS[venue]
    midnight = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
    midnight_ms = int(midnight.timestamp() * 1000) - int(utc_offset_hours * 3_600_000)
    return pair, midnight_ms, f"lean-{venue or 'file'}"


def detect_format(path: str | Path) -> str:
    """'lean' by file name, else 'truefx' if the 2nd field is 'YYYYMMDD HH:MM:SS', else 'csv'."""
    p = Path(path)
    if LEAN_FILE_NAME.match(p.name):
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
    """A tick file as text: plain, .gz, or the first file in a .zip."""
    if not path.is_file():
        raise FxwatchError(f"{path}: no such file — check the path (samples live in data/samples/)")
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(
            gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline=""
        )
    if path.suffix.lower() == ".zip":
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if not names:
            raise FxwatchError(f"{path}: empty zip archive")
        return io.TextIOWrapper(zf.open(names[0]), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _read_bytes(path: Path) -> bytes:
    """A tick file's bytes: plain, .gz, or the first file in a .zip (as `_open_text` reads it)."""
    if path.suffix.lower() == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read()
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            return zf.read(next(n for n in zf.namelist() if not n.endswith("/")))
    return path.read_bytes()


def _csv_header(line: str) -> tuple[tuple[int, ...], int] | None:
    """(positions of pair, ts, bid, ask; number of fields) if `line` is a header naming them."""
    names = [p.strip().lower() for p in line.split(",")]
    if not all(c in names for c in _CSV_COLUMNS):
        return None
    return tuple(names.index(c) for c in _CSV_COLUMNS), len(names)


def _parse_plain_by_header(
    line: str, src: str, now: int | None, header: tuple[tuple[int, ...], int]
) -> Quote:
    return parse_plain_line(line, src, now, *header)


def _format(path: Path, fmt: str | None) -> str:
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise FxwatchError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


# ---- row by row: Quote or BadLine per line ------------------------------------------------------
def read_file(
    path: str | Path,
    fmt: str | None = None,
    utc_offset_hours: float | None = None,
    *,
    source: str | None = None,
    now: int | None = None,
) -> Iterator[SourceItem]:
    """Yield a Quote per good line and a BadLine (raw + reason) per bad one, in file order.

    `fmt` None: detected (see `detect_format`); `utc_offset_hours`: see `lean_file_info`; `now`:
    the clock for the future-timestamp rule (None: the real one).
    """
    p = Path(path)
    fmt = _format(p, fmt)
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
            if lineno == 1 and fmt == "csv":
                header = _csv_header(line)
                if header == ((0, 1, 2, 3), 4):
                    continue  # the usual header: the usual columns
                if header:  # columns by name
                    parse = functools.partial(
                        _parse_plain_by_header, src=src, now=now, header=header
                    )
                    continue
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
    utc_offset_hours: float | None = None,
    *,
    source: str | None = None,
    now: int | None = None,
) -> Iterator[SourceItem]:
    """Several files merged in event-time order (each file must itself be in time order)."""
    paths = list(paths)
    if len(paths) == 1:
        yield from read_file(paths[0], fmt, utc_offset_hours, source=source, now=now)
        return
    streams = [
        _keyed(read_file(p, fmt, utc_offset_hours, source=source, now=now), i)
        for i, p in enumerate(paths)
    ]
    for _, _, _, item in heapq.merge(*streams):
        yield item


def read_quotes(
    paths: Iterable[str | Path],
    fmt: str | None = None,
    utc_offset_hours: float | None = None,
    *,
    source: str | None = None,
    now: int | None = None,
) -> Iterator[Quote]:
    """The Quotes of `read_files`; FxwatchError at the first bad line (its file:line and reason)."""
    for item in read_files(paths, fmt, utc_offset_hours, source=source, now=now):
        if type(item) is BadLine:
            raise FxwatchError(f"{item.origin}: {item.reason} (line {item.raw[:60]!r})")
        yield item


# ---- columnar: the same ticks as parallel lists -------------------------------------------------
@dataclass
class TickColumns:
    """Ticks as parallel Python lists (event-time order): pair, ts_ms, bid, ask, source per row."""

    pair: list
    ts_ms: list
    bid: list
    ask: list
    source: list

    def __len__(self) -> int:
        return len(self.ts_ms)


def read_lean_columns(
    path: str | Path,
    utc_offset_hours: float | None = None,
    *,
    source: str | None = None,
    now: int | None = None,
) -> TickColumns | None:
    """A Lean file's ticks in bulk, exactly `read_file`'s Quotes; None if it needs the row reader.

    pandas splits the columns; prices go through Python's own float(), so every value is
    bit-identical. None when any line is not a good tick (the row reader then says which and why),
    or the file is odd for pandas (ragged rows, not UTF-8).
    """
    p = Path(path)
    pair, midnight_ms, default_source = lean_file_info(p, utc_offset_hours)
    try:
        data = _read_bytes(p)
        if _SIGNED_FIRST_FIELD.search(data):  # '+5', '-0': pandas reads ints, the row reader not
            return None
        df = pd.read_csv(
            io.BytesIO(data),
            header=None,
            usecols=[0, 1, 2],
            names=["ms", "bid", "ask"],
            dtype={"ms": "int64", "bid": str, "ask": str},
            na_filter=False,
            engine="c",
        )
        offset = df["ms"].to_numpy()
        bid = list(map(float, df["bid"].tolist()))
        ask = list(map(float, df["ask"].tolist()))
    except Exception:  # odd rows (blank with spaces, ragged, not UTF-8): the row reader decides
        return None
    n = len(offset)
    if n:
        prices = np.array([bid, ask])
        if not ((prices > 0) & (prices < np.inf)).all():  # NaN fails both
            return None
        clock = now_ms() if now is None else now
        lo, hi = int(offset.min()), int(offset.max())
        if (
            lo < 0
            or hi >= _DAY_MS
            or midnight_ms + lo < MIN_TS_MS
            or midnight_ms + hi > clock + MAX_FUTURE_SKEW_MS
        ):
            return None
    return TickColumns(
        [pair] * n, (offset + midnight_ms).tolist(), bid, ask, [source or default_source] * n
    )


def read_columns(
    paths: Iterable[str | Path],
    fmt: str | None = None,
    utc_offset_hours: float | None = None,
    *,
    source: str | None = None,
    now: int | None = None,
) -> TickColumns | None:
    """`read_quotes` of Lean files as columns (same ticks, same merge order); None when the row
    reader must decide (another format, a bad line, a file out of time order)."""
    paths = [Path(p) for p in paths]
    if not paths or any(_format(p, fmt) != "lean" for p in paths):
        return None
    parts = []
    for p in paths:
        c = read_lean_columns(p, utc_offset_hours, source=source, now=now)
        if c is None or any(b < a for a, b in zip(c.ts_ms, c.ts_ms[1:])):
            return None  # an unsorted file: the merge order is not a sort, leave it to read_quotes
        parts.append(c)
    if len(parts) == 1:
        return parts[0]
    # heapq.merge's order of sorted files = a stable sort of their concatenation by time
    names = ("pair", "ts_ms", "bid", "ask", "source")
    cat = [sum((getattr(c, f) for c in parts), []) for f in names]
    order = np.argsort(np.asarray(cat[1], dtype=np.int64), kind="stable").tolist()
    return TickColumns(*([col[i] for i in order] for col in cat))


# ---- replay --------------------------------------------------------------------------------------
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
