"""Tick readers (TrueFX, Lean, plain CSV; a columnar fast path), the offline runner and the alerts CSV writer."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from fxwatch.detect.verdict import Verdict
from fxwatch.errors import FxwatchError
from fxwatch.schema import Quote, QuotePrices

__all__ = [
    "FORMATS",
    "QuoteView",
    "TickColumns",
    "detect_offline_fast",
    "iso_ms",
    "lean_meta",
    "read_columns",
    "read_csv",
    "read_lean",
    "read_lean_columns",
    "read_quotes",
    "read_truefx",
    "run_columns",
    "write_alerts",
]

FORMATS = ("truefx", "lean", "csv")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_LEAN_NAME = re.compile(r"(\d{8})_([a-z]{6})_(?:tick_)?quote\.(?:csv|zip)$", re.I)


def _open_text(path: str | os.PathLike) -> io.TextIOBase:
    """Open a CSV, or the first member of a .zip, as text."""
    p = Path(path)
    if not p.exists():
        raise FxwatchError(f"input file not found: {p}")
    if p.suffix.lower() == ".zip":
        zf = zipfile.ZipFile(p)
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if not names:
            raise FxwatchError(f"empty zip archive: {p}")
        return io.TextIOWrapper(zf.open(names[0]), encoding="utf-8")
    return open(p, encoding="utf-8", newline="")


def _day_ms(yyyymmdd: str) -> int:
    d = dt.datetime(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]), tzinfo=dt.timezone.utc)
    return int((d - _EPOCH).total_seconds()) * 1000


def read_truefx(path, source: str = "truefx") -> Iterator[Quote]:
    """TrueFX historical rows `EUR/USD,20160502 00:00:00.959,1.14601,1.14605` (UTC, pairs interleaved)."""
    days: dict[str, int] = {}
    with _open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                pair, stamp, bid, ask = line.rstrip("\r\n").split(",")[:4]
                day = stamp[:8]
                base = days.get(day)
                if base is None:
                    base = days[day] = _day_ms(day)
                hh, mm, ss = stamp[9:].split(":")
                ms = base + (int(hh) * 3600 + int(mm) * 60) * 1000 + round(float(ss) * 1000)
                yield Quote(pair, ms, float(bid), float(ask), source)
            except (ValueError, IndexError):
                raise FxwatchError(f"{path}:{n}: not a TrueFX row 'EUR/USD,20160502 00:00:00.959,bid,ask': {line.strip()[:60]!r}") from None


def lean_meta(path) -> tuple[str, str, float]:
    """(pair 'EUR/USD', date 'YYYYMMDD', default tz offset hours) from a Lean tick file path."""
    p = Path(path)
    m = _LEAN_NAME.search(p.name)
    if not m:
        raise FxwatchError(f"cannot read date and pair from Lean file name {p.name} (expected YYYYMMDD_eurusd_tick_quote.csv)")
    sym = m.group(2).upper()
    tz = -5.0 if "fxcm" in (s.lower() for s in p.parts) else 0.0  # FXCM data are UTC-05 fixed, OANDA UTC
    return f"{sym[:3]}/{sym[3:]}", m.group(1), tz


def read_lean(path, tz_offset_hours: float | None = None, source: str | None = None) -> Iterator[Quote]:
    """Lean tick quotes `ms_since_midnight,bid,ask`; pair and date come from the path.

    The file's clock is UTC+tz_offset_hours; default -5 for paths under fxcm/, else 0 (OANDA).
    """
    pair, day, tz = lean_meta(path)
    if tz_offset_hours is not None:
        tz = tz_offset_hours
    base = _day_ms(day) - round(tz * 3_600_000)
    src = source or ("fxcm" if tz == -5.0 else "lean")
    with _open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ms, bid, ask = line.split(",")[:3]
                yield Quote(pair, base + int(ms), float(bid), float(ask), src)
            except ValueError:
                raise FxwatchError(f"{path}:{n}: not a Lean tick row 'ms,bid,ask': {line.strip()[:60]!r}") from None


def _parse_ts(s: str) -> int:
    s = s.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return round((t - _EPOCH).total_seconds() * 1000)


def read_csv(path, source: str = "csv") -> Iterator[Quote]:
    """Plain CSV with header `pair,ts,bid,ask` (ts epoch ms or ISO-8601, UTC if no offset)."""
    with _open_text(path) as fh:
        rd = csv.DictReader(fh)
        need = {"pair", "ts", "bid", "ask"}
        if not rd.fieldnames or not need <= set(rd.fieldnames):
            raise FxwatchError(f"{path}: CSV header must contain pair,ts,bid,ask (found {rd.fieldnames})")
        for n, row in enumerate(rd, 2):
            try:
                yield Quote(row["pair"], _parse_ts(row["ts"]), float(row["bid"]), float(row["ask"]), source)
            except ValueError:
                raise FxwatchError(f"{path}:{n}: bad row {row}") from None


def read_quotes(paths: Iterable, fmt: str = "truefx", tz_offset_hours: float | None = None) -> Iterator[Quote]:
    """Quotes from one or more files in event-time order (files are merged by ts_ms)."""
    if fmt not in FORMATS:
        raise FxwatchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    paths = list(paths)
    if fmt == "lean":
        its = [read_lean(p, tz_offset_hours) for p in paths]
    elif fmt == "csv":
        its = [read_csv(p) for p in paths]
    else:
        its = [read_truefx(p) for p in paths]
    if len(its) == 1:
        return its[0]
    import heapq

    return heapq.merge(*its, key=lambda q: q.ts_ms)


def iso_ms(ts_ms: int) -> str:
    """Epoch ms -> '2014-05-08T12:45:00.123Z'."""
    t = _EPOCH + dt.timedelta(milliseconds=ts_ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def write_alerts(path, verdicts: Iterable[Verdict]) -> int:
    """Write alerts CSV `pair,ts,detector,score,reason`; return the number of rows."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["pair", "ts", "detector", "score", "reason"])
        for v in verdicts:
            w.writerow([v.pair, iso_ms(v.ts_ms), v.detector, f"{v.score:.4f}", v.reason])
            n += 1
    return n


class QuoteView(QuotePrices):
    """A mutable stand-in for `Quote` (same attribute names), reused for every tick of the fast path.

    Valid only because detectors read a quote's attributes during `update` and keep no reference to it
    (`tests/test_detect_io_fast.py` checks both the alerts and the reference count).
    """

    __slots__ = ("pair", "ts_ms", "bid", "ask", "source", "low", "high", "open")

    def __init__(self, pair: str = "", ts_ms: int = 0, bid: float = 0.0, ask: float = 0.0, source: str = ""):
        self.pair, self.ts_ms, self.bid, self.ask, self.source = pair, ts_ms, bid, ask, source
        self.low = self.high = self.open = None


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


def read_lean_columns(path, tz_offset_hours: float | None = None, source: str | None = None) -> TickColumns | None:
    """Lean ticks parsed in bulk with exactly `read_lean`'s values; None if the file needs the plain reader.

    pandas splits the columns; prices go through Python's own float() so every value is bit-identical.
    """
    import pandas as pd

    pair, day, tz = lean_meta(path)
    if tz_offset_hours is not None:
        tz = tz_offset_hours
    base = _day_ms(day) - round(tz * 3_600_000)
    src = source or ("fxcm" if tz == -5.0 else "lean")
    try:
        df = pd.read_csv(path, header=None, usecols=[0, 1, 2], names=["ms", "bid", "ask"],
                         dtype={"ms": "int64", "bid": str, "ask": str}, na_filter=False, engine="c")
        ts = (df["ms"].to_numpy() + base).tolist()
        bid = list(map(float, df["bid"].tolist()))
        ask = list(map(float, df["ask"].tolist()))
    except Exception:  # odd rows (blank-with-spaces, ragged, several zip members): the plain reader decides
        return None
    n = len(ts)
    return TickColumns([pair] * n, ts, bid, ask, [src] * n)


def read_columns(paths: Iterable, fmt: str = "truefx", tz_offset_hours: float | None = None) -> TickColumns | None:
    """Columnar read of Lean files merged like `read_quotes` (stable by ts_ms); None when not possible."""
    if fmt != "lean":
        return None
    parts = []
    for p in paths:
        c = read_lean_columns(p, tz_offset_hours)
        if c is None or any(b < a for a, b in zip(c.ts_ms, c.ts_ms[1:])):
            return None  # an unsorted file: heapq.merge order is not a sort, leave it to read_quotes
        parts.append(c)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    import numpy as np

    cat = [sum((getattr(c, f) for c in parts), []) for f in ("pair", "ts_ms", "bid", "ask", "source")]
    order = np.argsort(np.asarray(cat[1], dtype=np.int64), kind="stable").tolist()
    return TickColumns(*([col[i] for i in order] for col in cat))


def run_columns(cols: TickColumns, detectors_factory: Callable[[], list], cross: Iterable | None = None,
                cooldown_ms: int = 60_000) -> list[Verdict]:
    """The alerts `run_detectors` gives for these ticks, fed through one reused `QuoteView`.

    Same per-pair `Ensemble` members and de-dup, same all-pairs de-dup, same order. The all-pairs
    detectors compare pairs with each other, so they are skipped when the input holds a single pair.
    """
    from fxwatch.detect.ensemble import AlertDeduper, Ensemble

    cross = list(cross or [])
    if len(set(cols.pair)) < 2:
        cross = []
    cups = tuple(d.update for d in cross)
    cadmit = AlertDeduper(cooldown_ms).admit
    members: dict[str, tuple] = {}
    view = QuoteView()
    out: list[Verdict] = []

    def member_updates(pair: str) -> tuple:
        got = members.get(pair)
        if got is None:
            ens = Ensemble(detectors_factory(), cooldown_ms)
            got = members[pair] = (tuple(d.update for d in ens.members), ens.dedup.admit)
        return got

    if not cups and len(set(cols.source)) == 1:  # one pair, one source: set time and prices only
        if len(cols):
            view.pair, view.source = cols.pair[0], cols.source[0]
            ups, admit = member_updates(view.pair)
        for ts, bid, ask in zip(cols.ts_ms, cols.bid, cols.ask):
            view.ts_ms = ts
            view.bid = bid
            view.ask = ask
            for up in ups:
                v = up(view)
                if v is not None and v.alert and admit(v):
                    out.append(v)
        return out
    cur_pair = cur_src = None
    for pair, ts, bid, ask, src in zip(cols.pair, cols.ts_ms, cols.bid, cols.ask, cols.source):
        if pair != cur_pair:
            ups, admit = member_updates(pair)
            view.pair = cur_pair = pair
        if src != cur_src:
            view.source = cur_src = src
        view.ts_ms = ts
        view.bid = bid
        view.ask = ask
        for up in ups:
            v = up(view)
            if v is not None and v.alert and admit(v):
                out.append(v)
        for up in cups:
            v = up(view)
            if v is not None and v.alert and cadmit(v):
                out.append(v)
    return out


def detect_offline_fast(paths: Iterable, fmt: str, detectors_factory: Callable[[], list], cross: Iterable | None = None,
                        cooldown_ms: int = 60_000, tz_offset_hours: float | None = None) -> tuple[int, list[Verdict]]:
    """(ticks read, alerts) for files: the columnar path when the format allows, else `read_quotes` + the bank."""
    paths = list(paths)
    cols = read_columns(paths, fmt, tz_offset_hours)
    if cols is not None:
        return len(cols), run_columns(cols, detectors_factory, cross, cooldown_ms)
    from fxwatch.detect.bank import PairDetectorBank

    bank = PairDetectorBank(detectors_factory, cross=cross, cooldown_ms=cooldown_ms)
    upd = bank.update
    out: list[Verdict] = []
    n = 0
    for q in read_quotes(paths, fmt, tz_offset_hours):
        n += 1
        v = upd(q)
        if v:
            out.extend(v)
    return n, out
