"""Synthetic FX ticks with consistent cross rates and injected, labelled manipulation events."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from fxwatch.errors import FxwatchError
from fxwatch.schema import Quote, normalize_pair

__all__ = [
    "SyntheticConfig",
    "SyntheticResult",
    "EventLabel",
    "LABEL_KINDS",
    "LEGIT_KINDS",
    "DEFAULT_SYNTH_PAIRS",
    "generate",
    "write_ticks",
    "write_labels",
    "read_labels",
    "parse_duration",
    "fix_times",
]

DEFAULT_SYNTH_PAIRS = ("EUR/USD", "USD/JPY", "EUR/JPY", "GBP/USD", "EUR/GBP")
LABEL_KINDS = ("spike", "spread_blowout", "frozen", "cross_break", "fix_ramp", "crossed", "burst")
LEGIT_KINDS = ("news_jump",)  # real market moves: never labelled as anomalies
LABEL_FIELDS = ("event_id", "kind", "pair", "start_ts", "end_ts", "params")

# Level of each currency in USD (the latent factors are their log levels; USD is the numeraire).
_USD_VALUE = {
    "USD": 1.0,
    "EUR": 1.09,
    "GBP": 1.27,
    "JPY": 1 / 148.0,
    "CHF": 1 / 0.88,
    "AUD": 0.66,
    "NZD": 0.61,
    "CAD": 1 / 1.35,
    "SEK": 1 / 10.4,
    "NOK": 1 / 10.6,
}
_ANNUAL_VOL = {
    "USD": 0.0,
    "EUR": 0.07,
    "GBP": 0.08,
    "JPY": 0.09,
    "CHF": 0.07,
    "AUD": 0.10,
    "NZD": 0.10,
    "CAD": 0.06,
    "SEK": 0.09,
    "NOK": 0.10,
}
_SPREAD_PIPS = {"EUR/USD": 0.6, "USD/JPY": 0.8, "GBP/USD": 0.9, "EUR/GBP": 0.9, "EUR/JPY": 1.2}
_GRID_MS = 100
_SECONDS_PER_YEAR = 252 * 86_400
# Benchmark fixes as (zone, local hour, local minute, name).
_FIXES = (("Europe/London", 16, 0, "WMR 16:00 London"), ("Asia/Tokyo", 9, 55, "Tokyo 9:55"))


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Deterministic: the same config gives the same ticks and labels."""

    pairs: tuple[str, ...] = DEFAULT_SYNTH_PAIRS
    start_ms: int = 1_705_327_200_000  # 2024-01-15T14:00:00Z, a Monday, covering the London fix
    duration_s: float = 3600.0
    rate: float = 4.0  # mean ticks per second per pair (before intraday variation)
    seed: int = 0
    events_per_hour: float = 1.0  # of each labelled kind (fix ramps: one per fix in the window)
    legit_per_hour: float = 1.0  # unlabelled news jumps
    kinds: tuple[str, ...] = LABEL_KINDS
    source: str = "synthetic"


@dataclass(frozen=True)
class EventLabel:
    """One injected event: `pair` may list several pairs separated by ';' (news jumps)."""

    event_id: str
    kind: str
    pair: str
    start_ts: int
    end_ts: int
    params: dict = field(default_factory=dict)


@dataclass
class SyntheticResult:
    """Generated ticks (time-ordered arrays), labelled events and unlabelled legitimate moves."""

    pairs: tuple[str, ...]
    ts: np.ndarray  # int64 epoch ms
    pair_idx: np.ndarray  # index into pairs
    bid: np.ndarray
    ask: np.ndarray
    labels: list[EventLabel]
    legit: list[EventLabel]
    source: str = "synthetic"

    def __len__(self) -> int:
        return int(self.ts.size)

    def quotes(self) -> Iterator[Quote]:
        """The ticks as Quotes in event-time order."""
        pairs, src = self.pairs, self.source
        for t, p, b, a in zip(
            self.ts.tolist(), self.pair_idx.tolist(), self.bid.tolist(), self.ask.tolist()
        ):
            yield Quote(pairs[p], t, b, a, src)


def parse_duration(text: str | float) -> float:
    """'90s', '30m', '2h', '1d' or plain seconds -> seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    s = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if s and s[-1] in units:
            return float(s[:-1]) * units[s[-1]]
        return float(s)
    except ValueError:
        raise FxwatchError(f"duration {text!r} not understood — write e.g. 90s, 30m, 2h") from None


def _decimals(pair: str) -> int:
    return 3 if "JPY" in pair else 5


def _pip(pair: str) -> float:
    return 0.01 if "JPY" in pair else 0.0001


def _activity(ts_ms: np.ndarray) -> np.ndarray:
    """Intraday activity multiplier by UTC hour: quiet Asia, busy London/New York overlap."""
    hour = (ts_ms // 3_600_000) % 24
    profile = np.array(
        [
            0.5,
            0.6,
            0.6,
            0.6,
            0.6,
            0.6,
            0.7,
            1.0,
            1.3,
            1.3,
            1.2,
            1.2,
            1.4,
            1.6,
            1.6,
            1.5,
            1.4,
            1.0,
            0.9,
            0.8,
            0.7,
            0.5,
            0.4,
            0.4,
        ]
    )
    return profile[hour]


def fix_times(start_ms: int, end_ms: int) -> list[tuple[int, str]]:
    """Benchmark fix instants (UTC ms, name) inside [start_ms, end_ms)."""
    out = []
    first = datetime.fromtimestamp(start_ms / 1000, UTC).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_ms / 1000, UTC).date() + timedelta(days=1)
    day = first
    while day <= last:
        for zone, hh, mm, name in _FIXES:
            local = datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(zone))
            t = int(local.timestamp() * 1000)
            if start_ms <= t < end_ms and local.weekday() < 5:
                out.append((t, name))
        day += timedelta(days=1)
    return sorted(out)


class _Occupancy:
    """Per-pair busy intervals so that injected events do not overlap (labels stay clean)."""

    def __init__(self, margin_ms: int) -> None:
        self.margin = margin_ms
        self.busy: dict[str, list[tuple[int, int]]] = {}

    def free(self, pairs: list[str], a: int, b: int) -> bool:
        return all(
            b + self.margin <= x or a - self.margin >= y
            for p in pairs
            for x, y in self.busy.get(p, [])
        )

    def take(self, pairs: list[str], a: int, b: int) -> None:
        for p in pairs:
            self.busy.setdefault(p, []).append((a, b))


def generate(cfg: SyntheticConfig) -> SyntheticResult:
    """Ticks for every pair from shared latent currency factors, with events injected."""
    pairs = tuple(_checked_pair(p) for p in cfg.pairs)
    ccys = sorted({c for p in pairs for c in p.split("/")} | {"USD"})
    missing = [c for c in ccys if c not in _USD_VALUE]
    if missing:
        raise FxwatchError(
            f"no synthetic model for {', '.join(missing)} — use pairs of "
            f"{', '.join(sorted(_USD_VALUE))}"
        )
    if cfg.duration_s <= 0 or cfg.rate <= 0:
        raise FxwatchError("duration and rate must be positive")
    rng = np.random.default_rng(cfg.seed)
    start, dur_ms = cfg.start_ms, int(cfg.duration_s * 1000)
    end = start + dur_ms
    n_grid = dur_ms // _GRID_MS + 1
    grid_ts = start + np.arange(n_grid, dtype=np.int64) * _GRID_MS
    act = _activity(grid_ts)
    occ = _Occupancy(margin_ms=30_000)
    labels: list[EventLabel] = []
    legit: list[EventLabel] = []
    counter = iter(range(1, 1_000_000))

    def new_id() -> str:
        return f"syn{cfg.seed}-{next(counter):04d}"

    def place(
        length_ms: int, affected: list[str], lo: int | None = None, hi: int | None = None
    ) -> int | None:
        lo = start + max(1000, dur_ms // 50) if lo is None else lo
        hi = end - length_ms - max(1000, dur_ms // 50) if hi is None else hi
        if hi <= lo:
            return None
        for _ in range(60):
            a = int(rng.integers(lo, hi))
            if occ.free(affected, a, a + length_ms):
                occ.take(affected, a, a + length_ms)
                return a
        return None

    hours = cfg.duration_s / 3600.0
    n_events = max(1, round(cfg.events_per_hour * hours))
    ev_len = lambda lo_s, hi_s: int(min(rng.uniform(lo_s, hi_s), cfg.duration_s / 8) * 1000)  # noqa: E731

    # 1. latent log-levels of each currency in USD: Brownian, volatility follows activity
    sigma = {
        c: _ANNUAL_VOL[c] / math.sqrt(_SECONDS_PER_YEAR) * math.sqrt(_GRID_MS / 1000) for c in ccys
    }
    factors: dict[str, np.ndarray] = {}
    for c in ccys:
        steps = rng.standard_normal(n_grid) * sigma[c] * act
        steps[0] = 0.0
        factors[c] = math.log(_USD_VALUE[c]) + np.cumsum(steps)

    # 2. legitimate news jumps: one currency re-prices, every pair with it moves consistently,
    #    no revert
    n_legit = round(cfg.legit_per_hour * hours)
    for _ in range(n_legit):
        ccy = str(rng.choice(ccys))
        affected = [p for p in pairs if ccy in p.split("/")]
        if not affected:
            continue
        at = place(300_000 if dur_ms > 1_200_000 else dur_ms // 8, affected)
        if at is None:
            continue
        jump_bp = float(rng.uniform(20, 60) * rng.choice([-1, 1]))
        i = (at - start) // _GRID_MS
        after = np.arange(n_grid - i)
        boost = 1.0 + 2.0 * np.exp(-after * _GRID_MS / 120_000)  # vol stays high for a few minutes
        noise = (
            rng.standard_normal(n_grid - i) * sigma[ccy if ccy != "USD" else "EUR"] * (boost - 1)
        )
        if ccy == "USD":  # USD is the numeraire: move every other currency the other way
            for c in ccys:
                if c != "USD":
                    factors[c][i:] += -jump_bp / 1e4 + np.cumsum(noise)
        else:
            factors[ccy][i:] += jump_bp / 1e4 + np.cumsum(noise)
        legit.append(
            EventLabel(
                new_id(),
                "news_jump",
                ";".join(affected),
                at,
                at + 300_000,
                {"currency": ccy, "jump_bp": round(jump_bp, 2)},
            )
        )

    # 3. tick arrivals per pair: Poisson with intraday rate, prices read from the factors
    per_pair: dict[str, dict[str, np.ndarray]] = {}
    for p in pairs:
        lam = cfg.rate * act * (_GRID_MS / 1000)
        counts = rng.poisson(lam)
        idx = np.repeat(np.arange(n_grid), counts)
        ts = grid_ts[idx] + rng.integers(0, _GRID_MS, idx.size)
        order = np.argsort(ts, kind="stable")
        ts, idx = ts[order], idx[order]
        base, quote = p.split("/")
        mid = np.exp(factors[base][idx] - factors[quote][idx])
        pip = _pip(p)
        spread = (
            _SPREAD_PIPS.get(p, 1.5)
            * pip
            * (1 + 0.3 * np.abs(rng.standard_normal(idx.size)))
            / np.sqrt(act[idx])
        )
        per_pair[p] = {"ts": ts, "mid": mid, "spread": spread, "crossed": np.zeros(idx.size, bool)}

    def window(p: str, a: int, b: int) -> np.ndarray:
        ts = per_pair[p]["ts"]
        return np.arange(np.searchsorted(ts, a), np.searchsorted(ts, b, side="right"))

    kinds = [k for k in cfg.kinds if k in LABEL_KINDS]
    unknown = set(cfg.kinds) - set(LABEL_KINDS)
    if unknown:
        raise FxwatchError(
            f"unknown event kinds {sorted(unknown)}: choose from {', '.join(LABEL_KINDS)}"
        )
    crosses = [p for p in pairs if "USD" not in p]

    # 4. fix ramps: a pair is pushed up into a benchmark fix and falls back after it
    if "fix_ramp" in kinds:
        for t_fix, name in fix_times(start + 360_000, end - 360_000):
            p = str(rng.choice(pairs))
            pre, post = int(rng.integers(3, 8)) * 60_000, int(rng.integers(3, 8)) * 60_000
            if not occ.free([p], t_fix - pre, t_fix + post):
                continue
            occ.take([p], t_fix - pre, t_fix + post)
            amp_bp = float(rng.uniform(8, 25) * rng.choice([-1, 1]))
            d = per_pair[p]
            rel = d["ts"] - t_fix
            shape = np.where(rel < 0, 1 + rel / pre, 1 - rel / post).clip(0, 1)
            d["mid"] *= np.exp(amp_bp / 1e4 * shape)
            labels.append(
                EventLabel(
                    new_id(),
                    "fix_ramp",
                    p,
                    t_fix - pre,
                    t_fix + post,
                    {
                        "fix": name,
                        "amplitude_bp": round(amp_bp, 2),
                        "ramp_s": pre // 1000,
                        "revert_s": post // 1000,
                    },
                )
            )

    # 5. the other labelled kinds
    for kind in kinds:
        if kind == "fix_ramp":
            continue
        for _ in range(n_events):
            if kind == "cross_break":
                if not crosses:
                    break
                p = str(rng.choice(crosses))
            else:
                p = str(rng.choice(pairs))
            d = per_pair[p]
            if kind == "spike":
                ticks = int(rng.integers(1, 4))
                a = place(2000, [p])
                if a is None:
                    continue
                w = window(p, a, a + 60_000)[:ticks]
                if w.size == 0:
                    continue
                mag = float(rng.uniform(30, 150) * rng.choice([-1, 1]))
                d["mid"][w] *= math.exp(mag / 1e4)
                labels.append(
                    EventLabel(
                        new_id(),
                        kind,
                        p,
                        int(d["ts"][w[0]]),
                        int(d["ts"][w[-1]]),
                        {"magnitude_bp": round(mag, 2), "ticks": int(w.size)},
                    )
                )
            elif kind == "spread_blowout":
                length = ev_len(10, 60)
                a = place(length, [p])
                if a is None:
                    continue
                factor = float(rng.uniform(8, 25))
                d["spread"][window(p, a, a + length)] *= factor
                labels.append(
                    EventLabel(new_id(), kind, p, a, a + length, {"factor": round(factor, 2)})
                )
            elif kind == "frozen":
                length = ev_len(30, 180)
                a = place(length, [p])
                if a is None:
                    continue
                w = window(p, a, a + length)
                if w.size:
                    d["mid"][w] = d["mid"][w[0]]
                    d["spread"][w] = d["spread"][w[0]]
                labels.append(
                    EventLabel(new_id(), kind, p, a, a + length, {"duration_s": length / 1000})
                )
            elif kind == "cross_break":
                length = ev_len(10, 60)
                a = place(length, [p])
                if a is None:
                    continue
                dev = float(rng.uniform(15, 40) * rng.choice([-1, 1]))
                d["mid"][window(p, a, a + length)] *= math.exp(dev / 1e4)
                labels.append(
                    EventLabel(new_id(), kind, p, a, a + length, {"deviation_bp": round(dev, 2)})
                )
            elif kind == "crossed":
                a = place(2000, [p])
                if a is None:
                    continue
                w = window(p, a, a + 60_000)[: int(rng.integers(1, 6))]
                if w.size == 0:
                    continue
                d["crossed"][w] = True
                labels.append(
                    EventLabel(
                        new_id(),
                        kind,
                        p,
                        int(d["ts"][w[0]]),
                        int(d["ts"][w[-1]]),
                        {"ticks": int(w.size)},
                    )
                )
            elif kind == "burst":
                length = ev_len(2, 10)
                a = place(length, [p])
                if a is None:
                    continue
                burst_rate = float(rng.uniform(50, 200))
                n = rng.poisson(burst_rate * length / 1000)
                extra_ts = np.sort(rng.integers(a, a + length, n)).astype(np.int64)
                j = np.clip(np.searchsorted(d["ts"], extra_ts) - 1, 0, max(0, d["ts"].size - 1))
                extra_mid = d["mid"][j] * np.exp(
                    rng.standard_normal(n) * 0.2 * _pip(p) / d["mid"][j]
                )
                for key, val in (
                    ("ts", extra_ts),
                    ("mid", extra_mid),
                    ("spread", d["spread"][j]),
                    ("crossed", np.zeros(n, bool)),
                ):
                    d[key] = np.concatenate([d[key], val])
                order = np.argsort(d["ts"], kind="stable")
                for key in d:
                    d[key] = d[key][order]
                labels.append(
                    EventLabel(
                        new_id(),
                        kind,
                        p,
                        a,
                        a + length,
                        {"rate_per_s": round(burst_rate, 1), "extra_ticks": int(n)},
                    )
                )

    # 6. quote: round to the pair's decimals, at least one point of spread unless crossed by design
    all_ts, all_idx, all_bid, all_ask = [], [], [], []
    for k, p in enumerate(pairs):
        d = per_pair[p]
        dec = _decimals(p)
        tick = 10.0**-dec
        bid = np.round(d["mid"] - d["spread"] / 2, dec)
        ask = np.maximum(np.round(d["mid"] + d["spread"] / 2, dec), np.round(bid + tick, dec))
        cr = d["crossed"]
        if cr.any():
            gap = np.round(rng.integers(1, 4, int(cr.sum())) * tick, dec)
            ask[cr] = np.round(bid[cr] - gap, dec)
        all_ts.append(d["ts"])
        all_idx.append(np.full(d["ts"].size, k, np.int16))
        all_bid.append(bid)
        all_ask.append(ask)
    ts = np.concatenate(all_ts)
    order = np.argsort(ts, kind="stable")
    labels.sort(key=lambda e: (e.start_ts, e.event_id))
    return SyntheticResult(
        pairs,
        ts[order],
        np.concatenate(all_idx)[order],
        np.concatenate(all_bid)[order],
        np.concatenate(all_ask)[order],
        labels,
        legit,
        cfg.source,
    )


def _checked_pair(p: str) -> str:
    canonical = normalize_pair(p)
    if canonical is None:
        raise FxwatchError(f"{p!r} is not a currency pair — write e.g. EUR/USD")
    return canonical


def write_ticks(path: str | Path, result: SyntheticResult) -> int:
    """Write plain `pair,ts,bid,ask` CSV (with header); returns the number of ticks."""
    decs = [_decimals(p) for p in result.pairs]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("pair,ts,bid,ask\n")
        for t, k, b, a in zip(
            result.ts.tolist(), result.pair_idx.tolist(), result.bid.tolist(), result.ask.tolist()
        ):
            d = decs[k]
            fh.write(f"{result.pairs[k]},{t},{b:.{d}f},{a:.{d}f}\n")
    return len(result)


def write_labels(path: str | Path, labels: list[EventLabel]) -> int:
    """Write the labels CSV: event_id,kind,pair,start_ts,end_ts,params (params as JSON)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LABEL_FIELDS)
        for e in labels:
            w.writerow(
                [
                    e.event_id,
                    e.kind,
                    e.pair,
                    e.start_ts,
                    e.end_ts,
                    json.dumps(e.params, sort_keys=True),
                ]
            )
    return len(labels)


def read_labels(path: str | Path) -> list[EventLabel]:
    """Read a labels CSV written by write_labels."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != LABEL_FIELDS:
            raise FxwatchError(
                f"{path}: not a labels file (header must be {','.join(LABEL_FIELDS)})"
            )
        return [
            EventLabel(
                r["event_id"],
                r["kind"],
                r["pair"],
                int(r["start_ts"]),
                int(r["end_ts"]),
                json.loads(r["params"] or "{}"),
            )
            for r in reader
        ]
