"""Dashboard queries: Cassandra reads (through fxwatch.store), and an in-memory stand-in for tests.

Every method returns a pandas DataFrame whose timestamps are naive UTC (what cassandra-driver
returns), so figures never have to care where the rows came from. Time ranges that span UTC days
query each (pair, day) partition in turn: a partition holds one pair's rows of one UTC day.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import pandas as pd

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.schema import hour_of_week as schema_hour_of_week
from fxwatch.store import alerts as store_alerts
from fxwatch.store import incidents as store_incidents
from fxwatch.store import pair_status as store_pair_status
from fxwatch.store import stats as store_stats
from fxwatch.store import ticks as store_ticks
from fxwatch.store import trends as store_trends
from fxwatch.store.connection import connect

__all__ = [
    "ALERT_COLUMNS",
    "INCIDENT_COLUMNS",
    "EMA_SPAN",
    "QUOTE_COLUMNS",
    "STATS_COLUMNS",
    "STATUS_COLUMNS",
    "TREND_COLUMNS",
    "CassandraSource",
    "DataSource",
    "InMemorySource",
    "MAX_DAYS",
    "RANGES",
    "RAW_QUOTES_MAX",
    "Snapshot",
    "load_snapshot",
    "time_range",
    "days_between",
    "hour_of_week",
    "incident_frame",
    "utc_naive",
    "with_ema",
]

QUOTE_COLUMNS = ["pair", "ts", "seq", "bid", "ask", "mid", "spread", "source"]
TREND_COLUMNS = [
    "pair",
    "window_len",
    "window_start",
    "window_end",
    "ticks",
    "mid_avg",
    "bid_avg",
    "ask_avg",
    "open",
    "high",
    "low",
    "close",
    "spread_avg",
    "ema",
]
ALERT_COLUMNS = ["ts", "pair", "detector", "score", "reason", "window_start", "window_end", "value"]
# fxwatch.detect.incidents.Incident, times as naive UTC `start` / `end`
INCIDENT_COLUMNS = [
    "incident_id",
    "key",
    "start",
    "end",
    "pairs",
    "kinds",
    "n_alerts",
    "max_score",
    "severity",
    "root_cause",
    "alert_ids",
]
# EMA of the window closes, in windows (computed here: the trends query no longer stores one)
EMA_SPAN = 5
STATS_COLUMNS = [
    "pair",
    "version",
    "hour_of_week",
    "metric",
    "n",
    "mean",
    "std",
    "median",
    "mad",
    "k",
]
STATUS_COLUMNS = ["pair", "last_ts", "bid", "ask", "ticks_seen", "updated_at"]

# A dashboard range never reads more than this many UTC-day partitions per table and pair.
MAX_DAYS = 8
# Ticks a chart draws at most: the newest ones of the range.
QUOTE_ROW_LIMIT = 20_000
# Longest range read tick by tick (quotes); longer ranges show the windowed trends only.
RAW_QUOTES_MAX = timedelta(hours=6)
# Longest window a trends row may span (its partition is the day of its window start).
TREND_REACH = timedelta(hours=1)
# How long before a range an incident may have started and still reach into it.
INCIDENT_REACH = timedelta(hours=6)


def utc_naive(value: datetime | pd.Timestamp | None) -> datetime | None:
    """A datetime as naive UTC (aware values are converted, naive ones taken as UTC already)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _epoch_ms(t: datetime) -> int:
    """A datetime (naive = UTC) -> epoch ms."""
    return (utc_naive(t) - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


def with_ema(trends: pd.DataFrame, span: int = EMA_SPAN) -> pd.DataFrame:
    """Trend rows with `ema`: per pair and window length, the EMA (`span` windows) of the window
    closes (mid_avg where a close is missing), in window-end order. Computed here from the rows
    read, whatever the stored `ema` column holds."""
    df = trends.sort_values(["window_len", "window_end"], ignore_index=True)
    if df.empty:
        return df.assign(ema=pd.Series(dtype="float64"))
    close = pd.to_numeric(df["close"], errors="coerce").fillna(df["mid_avg"])
    keys = [df["pair"], df["window_len"]] if "pair" in df else [df["window_len"]]
    df["ema"] = close.groupby(keys).transform(lambda c: c.ewm(span=span, adjust=False).mean())
    return df


def incident_frame(incidents: Iterable[dict]) -> pd.DataFrame:
    """Incident dicts (Incident fields, times epoch ms) -> INCIDENT_COLUMNS, newest first."""
    rows = [
        {
            **{c: i.get(c) for c in INCIDENT_COLUMNS},
            "start": pd.to_datetime(i["start_ms"], unit="ms"),
            "end": pd.to_datetime(i["end_ms"], unit="ms"),
        }
        for i in incidents
    ]
    df = _frame(rows, INCIDENT_COLUMNS)[INCIDENT_COLUMNS]
    return df.sort_values(["start", "key"], ascending=False, ignore_index=True)


def days_between(start: datetime, end: datetime, max_days: int = MAX_DAYS) -> list[date]:
    """The UTC days that [start, end] touches, newest first, at most `max_days` of them."""
    start, end = utc_naive(start), utc_naive(end)
    if end < start:
        start, end = end, start
    days: list[date] = []
    d = end.date()
    while d >= start.date() and len(days) < max_days:
        days.append(d)
        d -= timedelta(days=1)
    return days


def hour_of_week(ts: datetime) -> int:
    """fxwatch.schema.hour_of_week of a datetime, pandas Timestamp or naive UTC value."""
    return schema_hour_of_week(utc_naive(ts))


class DataSource(Protocol):
    """What the dashboard reads. `CassandraSource` is the real one; `InMemorySource` the fake."""

    def pair_status(self) -> pd.DataFrame: ...
    def quotes(self, pair: str, start: datetime, end: datetime) -> pd.DataFrame: ...
    def trends(self, pair: str, start: datetime, end: datetime) -> pd.DataFrame: ...
    def alerts(self, start: datetime, end: datetime, pair: str | None = None) -> pd.DataFrame: ...
    def incidents(
        self, start: datetime, end: datetime, pair: str | None = None
    ) -> pd.DataFrame: ...
    def bands(self, pair: str, hours: Iterable[int]) -> pd.DataFrame: ...
    def describe(self) -> str: ...


def _frame(rows: Iterable, columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame([dict(r._asdict()) if hasattr(r, "_asdict") else dict(r) for r in rows])
    for c in columns:
        if c not in df.columns:
            df[c] = pd.Series(dtype="float64")
    return df


def _ts_columns(df: pd.DataFrame, cols: Iterable[str]) -> pd.DataFrame:
    for c in cols:
        if c in df.columns:
            s = pd.to_datetime(df[c], utc=True, errors="coerce")
            df[c] = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return df


# --------------------------------------------------------------------------------------------
# Cassandra (the CQL lives in fxwatch.store, one module per table)
# --------------------------------------------------------------------------------------------
# Seconds one dashboard query may take before the refresh shows an error instead.
QUERY_TIMEOUT_S = 20


@dataclass
class CassandraSource:
    """Reads fxwatch tables; connects on first use (so the app starts even with Cassandra down).

    `default_k` is the band width used when stats_versions does not record the detectors' k.
    """

    settings: Settings
    default_k: float = 4.0
    window_lens_ttl_s: float = 30.0
    _cluster: object = field(default=None, init=False, repr=False)
    _session: object = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _window_lens: tuple[float, dict] = field(default=(0.0, {}), init=False, repr=False)

    def describe(self) -> str:
        s = self.settings
        return f"Cassandra {s.cassandra_hosts}:{s.cassandra_port} keyspace {s.keyspace}"

    # -- plumbing -----------------------------------------------------------------------------
    def session(self):
        with self._lock:
            if self._session is None:
                self._cluster, self._session = connect(
                    self.settings, keyspace=None, request_timeout=QUERY_TIMEOUT_S
                )
            return self._session

    @property
    def keyspace(self) -> str:
        return self.settings.keyspace

    def close(self) -> None:
        with self._lock:
            if self._cluster is not None:
                self._cluster.shutdown()
            self._cluster = self._session = None

    # -- queries ------------------------------------------------------------------------------
    def pair_status(self) -> pd.DataFrame:
        rows = store_pair_status.read_pair_status(self.session(), self.keyspace)
        df = _frame(rows, STATUS_COLUMNS)
        return _ts_columns(df, ["last_ts", "updated_at"]).sort_values("pair", ignore_index=True)

    def quotes(self, pair: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Ticks with start <= ts <= end from the tick store (the newest QUOTE_ROW_LIMIT)."""
        start_ms, end_ms = (_epoch_ms(t) for t in (start, end))
        ticks = store_ticks.read_ticks(self.session(), self.keyspace, pair, start_ms, end_ms + 1)
        ticks = ticks.tail(QUOTE_ROW_LIMIT)
        df = ticks.rename(columns={"tick_id": "seq"}).assign(
            pair=pair, ts=pd.to_datetime(ticks["ts_ms"], unit="ms")
        )
        return df[QUOTE_COLUMNS].reset_index(drop=True)

    def window_lens(self, pair: str) -> list[str]:
        """The window lengths the trends table holds for `pair` (cached a few seconds)."""
        stamp, cache = self._window_lens
        if time.monotonic() - stamp > self.window_lens_ttl_s:
            cache = store_trends.window_lens(self.session(), self.keyspace)
            self._window_lens = (time.monotonic(), cache)
        return sorted(cache.get(pair, ()))

    def trends(self, pair: str, start: datetime, end: datetime) -> pd.DataFrame:
        start, end = utc_naive(start), utc_naive(end)
        rows: list = []
        for wl in self.window_lens(pair):
            # trends partitions are keyed by the day of window_START: reach back one window length
            for day in days_between(start - TREND_REACH, end):
                rows.extend(
                    store_trends.read_trends(
                        self.session(), self.keyspace, pair, wl, day, start, end
                    )
                )
        df = _ts_columns(_frame(rows, TREND_COLUMNS), ["window_start", "window_end", "updated_at"])
        return with_ema(df)

    def alerts(self, start: datetime, end: datetime, pair: str | None = None) -> pd.DataFrame:
        start, end = utc_naive(start), utc_naive(end)
        rows: list = []
        for day in days_between(start, end):
            rows.extend(
                store_alerts.read_alerts_of_day(self.session(), self.keyspace, day, start, end)
            )
        df = _ts_columns(_frame(rows, ALERT_COLUMNS), ["ts", "window_start", "window_end"])
        if pair:
            df = df[df["pair"] == pair]
        return df.sort_values("ts", ascending=False, ignore_index=True)

    def incidents(self, start: datetime, end: datetime, pair: str | None = None) -> pd.DataFrame:
        """Incidents overlapping [start, end] (of `pair`: its own and its triangles'), newest
        first; those that started up to INCIDENT_REACH before `start` included."""
        start, end = utc_naive(start), utc_naive(end)
        rows = store_incidents.read_incidents(
            self.session(),
            self.keyspace,
            start - INCIDENT_REACH,
            end + timedelta(milliseconds=1),
            pair,
        )
        df = incident_frame(rows)
        return df[df["end"] >= start].reset_index(drop=True)

    def bands(self, pair: str, hours: Iterable[int]) -> pd.DataFrame:
        """Stats rows of the latest version (as the streaming job picks it) for these hours-of-week.

        The version and k come from stats_versions (bucket 0, newest first) like the detectors'
        `StatsBounds`; without a stats_versions row, the pair's newest version and `default_k`.
        """
        hours = sorted(set(int(h) for h in hours))
        if not hours:
            return _frame([], STATS_COLUMNS)
        latest = store_stats.latest_version(self.settings, self.session())
        if latest:
            version, k = latest.version, latest.k
        else:
            k = None
            version = store_stats.newest_version_of_pair(self.session(), self.keyspace, pair)
            if version is None:
                return _frame([], STATS_COLUMNS)
        rows = store_stats.read_stats_hours(self.session(), self.keyspace, pair, version, hours)
        df = _frame(rows, STATS_COLUMNS)
        df["k"] = float(k if k is not None else self.default_k)
        return df


# --------------------------------------------------------------------------------------------
# In memory (tests, notebooks without a stack)
# --------------------------------------------------------------------------------------------
@dataclass
class InMemorySource:
    """The same reads over DataFrames held in memory (any missing table is empty)."""

    status: pd.DataFrame | None = None
    quote_rows: pd.DataFrame | None = None
    trend_rows: pd.DataFrame | None = None
    alert_rows: pd.DataFrame | None = None
    stats_rows: pd.DataFrame | None = None
    incident_rows: pd.DataFrame | None = None  # INCIDENT_COLUMNS
    k: float = 4.0
    calls: list = field(default_factory=list)

    def describe(self) -> str:
        return "in-memory data"

    @staticmethod
    def _get(df: pd.DataFrame | None, columns: list[str], ts: list[str]) -> pd.DataFrame:
        df = _frame([], columns) if df is None else df.copy()
        for c in columns:
            if c not in df.columns:
                df[c] = pd.Series(dtype="float64")
        return _ts_columns(df, ts)

    def pair_status(self) -> pd.DataFrame:
        self.calls.append(("pair_status",))
        return self._get(self.status, STATUS_COLUMNS, ["last_ts", "updated_at"]).sort_values(
            "pair", ignore_index=True
        )

    def quotes(self, pair, start, end):
        self.calls.append(("quotes", pair, start, end))
        df = self._get(self.quote_rows, QUOTE_COLUMNS, ["ts"])
        df = df[
            (df["pair"] == pair) & (df["ts"] >= utc_naive(start)) & (df["ts"] <= utc_naive(end))
        ]
        return df.sort_values("ts", ignore_index=True)

    def trends(self, pair, start, end):
        self.calls.append(("trends", pair, start, end))
        df = self._get(self.trend_rows, TREND_COLUMNS, ["window_start", "window_end"])
        keep = (
            (df["pair"] == pair)
            & (df["window_end"] >= utc_naive(start))
            & (df["window_end"] <= utc_naive(end))
        )
        return with_ema(df[keep])

    def alerts(self, start, end, pair=None):
        self.calls.append(("alerts", start, end, pair))
        df = self._get(self.alert_rows, ALERT_COLUMNS, ["ts", "window_start", "window_end"])
        df = df[(df["ts"] >= utc_naive(start)) & (df["ts"] <= utc_naive(end))]
        if pair:
            df = df[df["pair"] == pair]
        return df.sort_values("ts", ascending=False, ignore_index=True)

    def incidents(self, start, end, pair=None):
        self.calls.append(("incidents", start, end, pair))
        df = self._get(self.incident_rows, INCIDENT_COLUMNS, ["start", "end"])
        df = df[(df["end"] >= utc_naive(start)) & (df["start"] <= utc_naive(end))]
        if pair:
            mine = [pair == k or pair in ps for k, ps in zip(df["key"], df["pairs"])]
            df = df[pd.Series(mine, index=df.index, dtype=bool)]
        return df.sort_values(["start", "key"], ascending=False, ignore_index=True)

    def bands(self, pair, hours):
        self.calls.append(("bands", pair, tuple(hours)))
        df = self._get(self.stats_rows, STATS_COLUMNS, [])
        df = df[(df["pair"] == pair) & (df["hour_of_week"].isin(list(hours)))]
        if len(df) and "version" in df:
            df = df[df["version"] == df["version"].max()]
        df = df.copy()
        if df["k"].isna().all():
            df["k"] = float(self.k)
        return df.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# One refresh: every read the dashboard needs for a pair and a time range
# --------------------------------------------------------------------------------------------
RANGES: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
RANGE_LABELS = {
    "15m": "last 15 min",
    "1h": "last hour",
    "6h": "last 6 hours",
    "24h": "last 24 hours",
    "7d": "last 7 days",
}
ANCHORS = {"latest": "ending at the pair's latest tick", "now": "ending now (live)"}


@dataclass
class Snapshot:
    """What one refresh read: the pairs, the chosen pair's rows in [start, end], and timings."""

    now: datetime
    pairs: list[str]
    status: pd.DataFrame
    pair: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    quotes: pd.DataFrame = field(default_factory=lambda: _frame([], QUOTE_COLUMNS))
    trends: pd.DataFrame = field(default_factory=lambda: _frame([], TREND_COLUMNS))
    alerts: pd.DataFrame = field(default_factory=lambda: _frame([], ALERT_COLUMNS))
    incidents: pd.DataFrame = field(default_factory=lambda: _frame([], INCIDENT_COLUMNS))
    incident: dict | None = None  # the selected incident (a row of `incidents`)
    evidence: pd.DataFrame = field(default_factory=lambda: _frame([], ALERT_COLUMNS))
    bands: pd.DataFrame = field(default_factory=lambda: _frame([], STATS_COLUMNS))
    query_ms: float = 0.0
    error: str | None = None

    @property
    def empty(self) -> bool:
        return not self.pairs


def time_range(
    status: pd.DataFrame, pair: str, range_key: str, anchor: str, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end] of a refresh: `range_key` long, ending now or at the pair's latest tick."""
    span = RANGES.get(range_key, RANGES["1h"])
    end = utc_naive(now)
    if anchor == "latest":
        row = status[status["pair"] == pair]
        if len(row) and pd.notna(row["last_ts"].iloc[0]):
            end = utc_naive(row["last_ts"].iloc[0]) + timedelta(seconds=1)
    return end - span, end


def load_snapshot(
    source: DataSource,
    pair: str | None,
    range_key: str = "1h",
    anchor: str = "latest",
    now: datetime | None = None,
    incident: str | None = None,
) -> Snapshot:
    """Read everything one refresh shows. `now` is taken at call time (never frozen at start-up).

    `incident`: the id of the incident to drill into; when it is among the range's incidents, its
    alerts (the alerts of its key between its start and end) are read as `evidence`.
    A source that cannot be reached yields an empty snapshot whose `error` says what to do.
    """
    now = utc_naive(now or datetime.now(UTC))
    t0 = time.perf_counter()
    try:
        status = source.pair_status()
    except FxwatchError as exc:
        return Snapshot(now=now, pairs=[], status=_frame([], STATUS_COLUMNS), error=str(exc))
    except Exception as exc:  # a missing table, a timeout: show it instead of a dead page
        return Snapshot(
            now=now,
            pairs=[],
            status=_frame([], STATUS_COLUMNS),
            error=f"{source.describe()}: {type(exc).__name__}: {exc} — "
            "run `fxwatch stack up` (it also creates the schema)",
        )
    pairs = [p for p in status["pair"].tolist() if isinstance(p, str)]
    snap = Snapshot(now=now, pairs=pairs, status=status)
    if not pairs:
        snap.query_ms = (time.perf_counter() - t0) * 1000
        return snap
    snap.pair = pair if pair in pairs else pairs[0]
    snap.start, snap.end = time_range(status, snap.pair, range_key, anchor, now)
    try:
        # Tick by tick for short ranges; longer ones are drawn from the windowed trends alone.
        if snap.end - snap.start <= RAW_QUOTES_MAX:
            snap.quotes = source.quotes(snap.pair, snap.start, snap.end)
        snap.trends = source.trends(snap.pair, snap.start, snap.end)
        snap.alerts = source.alerts(snap.start, snap.end, snap.pair)
        snap.incidents = source.incidents(snap.start, snap.end, snap.pair)
        chosen = snap.incidents[snap.incidents["incident_id"] == incident] if incident else None
        if chosen is not None and len(chosen):
            snap.incident = chosen.iloc[0].to_dict()
            snap.evidence = source.alerts(
                snap.incident["start"], snap.incident["end"], snap.incident["key"]
            )
        hours = {
            hour_of_week(snap.start + timedelta(hours=h))
            for h in range(int((snap.end - snap.start).total_seconds() // 3600) + 1)
        }
        hours.add(hour_of_week(snap.end))
        snap.bands = source.bands(snap.pair, sorted(hours))
    except Exception as exc:
        snap.error = f"{source.describe()}: {type(exc).__name__}: {exc}"
    snap.query_ms = (time.perf_counter() - t0) * 1000
    return snap
