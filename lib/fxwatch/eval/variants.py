"""Benchmark generator variants the detectors were not tuned on: heavy tails, volatility clustering,
intraday seasonality, quoting bursts around news, other pairs and price scales, with labelled
events sized in units of each pair's own noise.

Written apart from `fxwatch.sources.synthetic` (only its label and result shapes are shared, so the
scenario scorer reads both): currency log-levels follow GARCH(1,1) variances on 5-second blocks with
Student-t steps on a 100 ms grid; ticks arrive as an inhomogeneous Poisson process (intraday profile
x news bursts); spreads are log-normal around a per-pair base in basis points. Every injected
event records `magnitude` in the noise unit of its kind (`UNITS`), measured on the clean series
just before the event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fxwatch.detect.bank import PairDetectorBank, default_cross, default_detectors
from fxwatch.errors import FxwatchError
from fxwatch.eval.scenarios import Alert, ScenarioScore, score_scenarios
from fxwatch.sources.synthetic import LABEL_KINDS, EventLabel, SyntheticResult, fix_times

__all__ = [
    "UNITS",
    "VARIANTS",
    "Variant",
    "detect_result",
    "generate_variant",
    "run_variant",
    "variant_names",
]

# USD value and annual volatility of each currency the variants quote.
_CCY = {
    "USD": (1.0, 0.0),
    "EUR": (1.085, 0.075),
    "GBP": (1.265, 0.08),
    "JPY": (1 / 149.5, 0.095),
    "CHF": (1 / 0.885, 0.075),
    "AUD": (0.655, 0.11),
    "CAD": (1 / 1.36, 0.065),
    "NOK": (1 / 10.7, 0.11),
    "MXN": (1 / 17.1, 0.13),
    "TRY": (1 / 32.2, 0.22),
    "ZAR": (1 / 18.6, 0.16),
}
# Base spread in basis points of the mid, and quote decimals.
_SPREAD_BP = {
    "EUR/USD": 0.5,
    "USD/JPY": 0.6,
    "EUR/JPY": 1.0,
    "GBP/USD": 0.8,
    "EUR/GBP": 1.0,
    "AUD/USD": 1.0,
    "USD/CAD": 1.0,
    "USD/CHF": 1.0,
    "EUR/CHF": 1.2,
    "USD/MXN": 3.0,
    "USD/TRY": 8.0,
    "EUR/TRY": 14.0,
    "EUR/NOK": 4.0,
    "USD/NOK": 4.0,
    "USD/ZAR": 6.0,
}
_DECIMALS = {"JPY": 3, "MXN": 4, "TRY": 4, "NOK": 4, "ZAR": 4}

UNITS = {
    "spike": "x std of the pair's tick log-returns over the previous 5 min",
    "spread_blowout": "x median spread over the previous 5 min",
    "cross_break": "x std of the triangle residual over the previous 5 min",
    "burst": "x tick rate over the previous 5 min",
    "frozen": "repeated quotes",
    "crossed": "crossed quotes in a row",
    "fix_ramp": "x tick-return std x sqrt(mid changes in the ramp-up)",
}
"""Noise unit of each event kind's `magnitude` label parameter."""

_GRID_MS = 100
_BLOCK = 50  # grid steps per GARCH block (5 s)
_YEAR_S = 252 * 86_400
_LOOKBACK_MS = 300_000
_WARMUP_MS = 900_000  # no labelled event in the first 15 minutes (detector warm-up)
_MARGIN_MS = 60_000


@dataclass(frozen=True)
class Variant:
    """One generator variant: price process, tick arrivals, venue habits and event sizes."""

    name: str
    description: str
    pairs: tuple[str, ...]
    start_ms: int
    rates: dict = field(default_factory=dict)  # pair -> mean ticks/s (default 4)
    dof: float | None = None  # Student-t degrees of freedom of the steps (None: normal)
    garch: tuple[float, float] | None = None  # (alpha, beta) per 5-second block
    seasonal: float = 0.0  # 0 = flat activity, 1 = full intraday profile
    news_per_hour: float = 0.0  # scheduled announcements (unlabelled, legitimate)
    news_burst: float = 6.0  # tick-rate multiple right after an announcement
    locked_frac: float = 0.0  # share of quotes the venue shows locked (bid = ask) as normal
    crossed_frac: float = 0.0  # share shown crossed by one price point as normal
    events_per_hour: float = 1.5  # of each labelled kind
    magnitudes: dict = field(default_factory=dict)  # kind -> (lo, hi) in UNITS, log-uniform
    vol_scale: float = 1.0  # multiplies every currency's annual volatility
    quote_noise: float = 0.3  # per-quote mid noise, in half-spreads (std): bid-ask bounce

    def rate(self, pair: str) -> float:
        """Mean ticks per second of `pair` before the intraday profile."""
        return float(self.rates.get(pair, 4.0))


_SIZES = {
    "spike": (3.0, 60.0),
    "spread_blowout": (1.5, 25.0),
    "cross_break": (2.0, 60.0),
    "burst": (2.0, 60.0),
    "frozen": (10.0, 600.0),
    "crossed": (1.0, 8.0),
    "fix_ramp": (2.0, 25.0),
}
_MAJORS = ("EUR/USD", "USD/JPY", "EUR/JPY", "GBP/USD", "EUR/GBP")

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "student_t",
            "Student-t(3) steps, constant volatility, majors + AUD/USD, USD/CAD at 2-8 ticks/s",
            ("EUR/USD", "USD/JPY", "EUR/JPY", "AUD/USD", "USD/CAD"),
            start_ms=1_709_708_400_000,  # 2024-03-06 07:00 UTC
            rates={"EUR/USD": 8.0, "USD/JPY": 6.0, "EUR/JPY": 3.0, "AUD/USD": 3.0, "USD/CAD": 2.0},
            dof=3.0,
            magnitudes=_SIZES,
        ),
        Variant(
            "garch",
            "GARCH(1,1) volatility clustering (alpha 0.10, beta 0.88 per 5 s) with t(5) steps; "
            "two triangles sharing EUR/USD (EUR-GBP-USD, EUR-CHF-USD)",
            ("EUR/USD", "GBP/USD", "EUR/GBP", "USD/CHF", "EUR/CHF"),
            start_ms=1_710_252_000_000,  # 2024-03-12 14:00 UTC
            rates={"EUR/USD": 6.0, "GBP/USD": 4.0, "EUR/GBP": 2.5, "USD/CHF": 3.0, "EUR/CHF": 2.0},
            dof=5.0,
            garch=(0.10, 0.88),
            magnitudes=_SIZES,
        ),
        Variant(
            "news_season",
            "full intraday profile across the London open (06:30-08:30 UTC), 2 scheduled "
            "announcements per hour with 6x quoting bursts, jumps and wider spreads",
            _MAJORS,
            start_ms=1_713_335_400_000,  # 2024-04-17 06:30 UTC
            rates={p: 4.0 for p in _MAJORS},
            seasonal=1.0,
            news_per_hour=2.0,
            news_burst=6.0,
            magnitudes=_SIZES,
        ),
        Variant(
            "em_scales",
            "other price scales and tick rates: USD/MXN ~17, USD/TRY ~32, EUR/TRY ~35, EUR/NOK "
            "~11.6, USD/NOK ~10.7 beside EUR/USD; 0.3-6 ticks/s; TRY at 22 % volatility",
            ("EUR/USD", "USD/MXN", "USD/TRY", "EUR/TRY", "EUR/NOK", "USD/NOK"),
            start_ms=1_715_943_600_000,  # 2024-05-17 11:00 UTC
            rates={
                "EUR/USD": 6.0,
                "USD/MXN": 1.5,
                "USD/TRY": 0.6,
                "EUR/TRY": 0.3,
                "EUR/NOK": 2.0,
                "USD/NOK": 1.5,
            },
            dof=4.0,
            garch=(0.08, 0.90),
            magnitudes=_SIZES,
        ),
        Variant(
            "harsh",
            "all at once: t(3) steps, GARCH clustering, 1.5x volatility, intraday profile, "
            "2 announcements per hour on any currency, a venue that shows 0.5 % locked and "
            "0.1 % crossed quotes as normal; majors + USD/MXN",
            (*_MAJORS, "USD/MXN"),
            start_ms=1_718_719_200_000,  # 2024-06-18 14:00 UTC (covers the 16:00 London fix)
            rates={
                "EUR/USD": 6.0,
                "USD/JPY": 5.0,
                "EUR/JPY": 3.0,
                "GBP/USD": 4.0,
                "EUR/GBP": 2.0,
                "USD/MXN": 1.5,
            },
            dof=3.0,
            garch=(0.10, 0.88),
            seasonal=1.0,
            news_per_hour=2.0,
            news_burst=5.0,
            locked_frac=0.005,
            crossed_frac=0.001,
            vol_scale=1.5,
            magnitudes=_SIZES,
        ),
    )
}
"""The named variants (`fxwatch scenarios --variant NAME`)."""


def variant_names() -> list[str]:
    """Names of the registered variants."""
    return list(VARIANTS)


def _activity(ts_ms: np.ndarray, amount: float) -> np.ndarray:
    """Intraday activity by UTC hour (Asia low, London open, New York overlap), mean 1 per day."""
    h = (ts_ms % 86_400_000) / 3_600_000.0
    shape = (
        0.35
        + 0.25 * np.exp(-(((h - 1.0) / 1.5) ** 2))
        + 0.9 * np.exp(-(((h - 8.0) / 1.6) ** 2))
        + 1.1 * np.exp(-(((h - 13.5) / 2.0) ** 2))
    )
    return (shape / 0.72) ** amount  # 0.72 ≈ the profile's daily mean


def _steps(rng, n: int, dof: float | None) -> np.ndarray:
    """Unit-variance i.i.d. steps: normal, or Student-t scaled to variance 1."""
    if dof is None:
        return rng.standard_normal(n)
    if dof <= 2:
        raise FxwatchError("Student-t steps need dof > 2 (finite variance), e.g. dof=3")
    return rng.standard_t(dof, n) * math.sqrt((dof - 2.0) / dof)


def _garch_scale(rng, z: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Multiply unit steps by sqrt(h) of a GARCH(1,1) on 5-second block returns (mean h = 1)."""
    n = z.size
    k = -(-n // _BLOCK)
    padded = np.zeros(k * _BLOCK)
    padded[:n] = z
    zb = padded.reshape(k, _BLOCK).sum(1) / math.sqrt(_BLOCK)  # block return, unit variance
    omega = 1.0 - alpha - beta
    h = np.empty(k)
    cur = 1.0
    for i in range(k):
        h[i] = cur
        cur = min(omega + alpha * cur * zb[i] * zb[i] + beta * cur, 50.0)
    return z * np.repeat(np.sqrt(h), _BLOCK)[:n]


def _pair_ccys(pairs: Sequence[str]) -> list[str]:
    ccys = sorted({c for p in pairs for c in p.split("/")} | {"USD"})
    missing = [c for c in ccys if c not in _CCY]
    if missing:
        raise FxwatchError(
            f"no variant model for {', '.join(missing)}: use currencies of {', '.join(_CCY)}"
        )
    return ccys


def _triangles(pairs: Sequence[str]) -> list[tuple[tuple[str, int], ...]]:
    """Triangles among pairs as ((pair, sign), x3): the signed log mids sum to 0."""
    legs = {frozenset(p.split("/")): p for p in pairs}
    ccys = sorted({c for p in pairs for c in p.split("/")})
    out = []
    for i, a in enumerate(ccys):
        for j in range(i + 1, len(ccys)):
            for c in ccys[j + 1 :]:
                b = ccys[j]
                cycle = ((a, b), (b, c), (c, a))
                if all(frozenset(s) in legs for s in cycle):
                    tri = []
                    for x, y in cycle:
                        p = legs[frozenset((x, y))]
                        tri.append((p, 1 if p == f"{x}/{y}" else -1))
                    out.append(tuple(tri))
    return out


class _Book:
    """Per-pair busy intervals, so labelled events and announcements never overlap."""

    def __init__(self) -> None:
        self.busy: dict[str, list[tuple[int, int]]] = {}

    def free(self, pairs, a: int, b: int) -> bool:
        return all(
            b + _MARGIN_MS <= x or a - _MARGIN_MS >= y
            for p in pairs
            for x, y in self.busy.get(p, ())
        )

    def take(self, pairs, a: int, b: int) -> None:
        for p in pairs:
            self.busy.setdefault(p, []).append((a, b))


class _Pair:
    """One pair's ticks while events are injected: clean copies keep the noise measurable."""

    def __init__(self, ts, mid, spread):
        self.ts, self.mid, self.spread = ts, mid, spread
        self.clean_mid, self.clean_spread = mid.copy(), spread.copy()
        self.crossed = np.zeros(ts.size, bool)
        self.in_event = np.zeros(ts.size, bool)

    def index(self, a: int, b: int) -> np.ndarray:
        return np.arange(np.searchsorted(self.ts, a), np.searchsorted(self.ts, b, side="right"))

    def before(self, t: int) -> np.ndarray:
        return self.index(t - _LOOKBACK_MS, t - 1)

    def ret_std(self, t: int) -> float:
        """Std of the non-zero tick log-mid changes in the 5 minutes before t (clean series)."""
        d = np.diff(np.log(self.clean_mid[self.before(t)]))
        d = d[np.abs(d) > 1e-12]
        if d.size < 10:
            d = np.diff(np.log(self.clean_mid))
            d = d[np.abs(d) > 1e-12]
        return float(d.std()) if d.size else 1e-5

    def med_spread(self, t: int) -> float:
        w = self.before(t)
        return float(np.median(self.clean_spread[w] if w.size else self.clean_spread))

    def rate(self, t: int) -> float:
        return max(self.before(t).size / (_LOOKBACK_MS / 1000), 0.01)


def _draw(rng, lo_hi, grid, k: int) -> float:
    """Event magnitude: the k-th value of the (shuffled) grid, else log-uniform in (lo, hi)."""
    if grid is not None:
        return float(grid[k % len(grid)])
    lo, hi = lo_hi
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def generate_variant(
    variant: Variant | str,
    seed: int,
    hours: float = 2.0,
    kinds: Sequence[str] | None = None,
    grid: Sequence[float] | None = None,
    events_per_hour: float | None = None,
) -> SyntheticResult:
    """Ticks, labels (kinds of `LABEL_KINDS`) and unlabelled announcements of one variant run.

    `grid`: event magnitudes cycle through these values (shuffled per kind) instead of being drawn
    from the variant's range: used by the detection curves. Deterministic in (variant, seed, ...).
    """
    v = VARIANTS[variant] if isinstance(variant, str) else variant
    kinds = tuple(LABEL_KINDS if kinds is None else kinds)
    bad = sorted(set(kinds) - set(LABEL_KINDS))
    if bad:
        raise FxwatchError(f"unknown event kinds {bad}: choose from {', '.join(LABEL_KINDS)}")
    if hours <= 0:
        raise FxwatchError("hours must be positive, e.g. 2")
    rng = np.random.default_rng([seed, *map(ord, v.name)])
    ccys = _pair_ccys(v.pairs)
    start = v.start_ms
    dur = int(hours * 3_600_000)
    end = start + dur
    n = dur // _GRID_MS
    grid_ts = start + np.arange(n, dtype=np.int64) * _GRID_MS
    act = _activity(grid_ts, v.seasonal)
    book = _Book()
    ids = iter(range(1, 1_000_000))
    new_id = lambda: f"var-{v.name}-{seed}-{next(ids):04d}"  # noqa: E731

    # 1. currency log-level steps: t or normal, GARCH-scaled, intraday volatility sqrt(activity)
    steps = {}
    for c in ccys:
        z = _steps(rng, n, v.dof)
        if v.garch:
            z = _garch_scale(rng, z, *v.garch)
        sig = _CCY[c][1] * v.vol_scale / math.sqrt(_YEAR_S) * math.sqrt(_GRID_MS / 1000)
        steps[c] = z * sig * np.sqrt(act)
    rate_mult = {p: np.ones(n) for p in v.pairs}
    spread_mult = {p: np.ones(n) for p in v.pairs}

    # 2. scheduled announcements: a currency re-prices, volatility, quoting and spreads jump
    legit: list[EventLabel] = []
    first = ((start + _WARMUP_MS) // 1_800_000 + 1) * 1_800_000  # on the hour or half hour
    slots = list(range(first, end - 600_000, 1_800_000))
    n_news = min(len(slots), round(v.news_per_hour * hours))
    movable = [c for c in ccys if c != "USD" or len(ccys) > 2]
    for t in sorted(rng.choice(slots, n_news, replace=False).tolist()) if n_news else []:
        ccy = str(rng.choice(movable))
        affected = [p for p in v.pairs if ccy in p.split("/")]
        if not affected or not book.free(affected, t - 30_000, t + 300_000):
            continue
        book.take(affected, t - 30_000, t + 300_000)
        i = (t - start) // _GRID_MS
        after = np.arange(n - i) * (_GRID_MS / 1000.0)
        ref = "EUR" if ccy == "USD" else ccy
        sig_min = _CCY[ref][1] * v.vol_scale / math.sqrt(_YEAR_S) * math.sqrt(60.0)
        jump = float(rng.uniform(4, 15) * rng.choice([-1, 1]) * sig_min)
        boost = 1.0 + 3.0 * np.exp(-after / 90.0)
        movers = [c for c in ccys if c != "USD"] if ccy == "USD" else [ccy]
        for c in movers:
            steps[c][i:] *= boost
            steps[c][i] += -jump if ccy == "USD" else jump
        for p in affected:
            rate_mult[p][i:] *= 1.0 + (v.news_burst - 1.0) * np.exp(-after / 30.0)
            spread_mult[p][i:] *= 1.0 + 1.5 * np.exp(-after / 20.0)
        legit.append(
            EventLabel(
                new_id(),
                "news_jump",
                ";".join(affected),
                t,
                t + 300_000,
                {"currency": ccy, "jump_bp": round(jump * 1e4, 2)},
            )
        )
    factors = {c: math.log(_CCY[c][0]) + np.cumsum(steps[c]) for c in ccys}

    # 3. ticks: Poisson arrivals per 100 ms cell, mids from the factors, log-normal spreads
    book_pairs: dict[str, _Pair] = {}
    for p in v.pairs:
        lam = v.rate(p) * act * rate_mult[p] * (_GRID_MS / 1000)
        cell = np.repeat(np.arange(n), rng.poisson(lam))
        ts = grid_ts[cell] + rng.integers(0, _GRID_MS, cell.size)
        order = np.argsort(ts, kind="stable")
        ts, cell = ts[order], cell[order]
        base, quote = p.split("/")
        rel = _SPREAD_BP.get(p, 3.0) * 1e-4
        noise = v.quote_noise * rel / 2 * rng.standard_normal(cell.size)
        mid = np.exp(factors[base][cell] - factors[quote][cell] + noise)
        spread = (
            rel
            * mid
            * np.exp(0.25 * rng.standard_normal(cell.size))
            * spread_mult[p][cell]
            / np.sqrt(act[cell])
        )
        book_pairs[p] = _Pair(ts, mid, spread)

    # 4. labelled events, each sized in its noise unit on the clean series
    labels: list[EventLabel] = []
    triangles = _triangles(v.pairs)
    per_kind = v.events_per_hour if events_per_hour is None else events_per_hour
    n_ev = max(1, round(per_kind * hours))
    bursts = []

    def place(length: int, pairs, lo: int | None = None, hi: int | None = None) -> int | None:
        lo = start + _WARMUP_MS if lo is None else lo
        hi = end - length - _MARGIN_MS if hi is None else hi
        if hi <= lo:
            return None
        for _ in range(80):
            a = int(rng.integers(lo, hi))
            if book.free(pairs, a, a + length):
                book.take(pairs, a, a + length)
                return a
        return None

    for kind in kinds:
        order = rng.permutation(len(grid)) if grid is not None else None
        gridk = [grid[j] for j in order] if grid is not None else None
        for k in range(n_ev):
            m = _draw(rng, v.magnitudes.get(kind, _SIZES[kind]), gridk, k)
            sign = float(rng.choice([-1.0, 1.0]))
            if kind == "cross_break":
                if not triangles:
                    break
                tri = triangles[int(rng.integers(len(triangles)))]
                legs = [q for q, _ in tri]
                p = tri[int(rng.integers(3))][0]
            else:
                p = str(rng.choice(v.pairs))
                legs = [p]
            d = book_pairs[p]
            if kind == "fix_ramp":
                pre, post = int(rng.integers(3, 8)) * 60_000, int(rng.integers(3, 8)) * 60_000
                fixes = [t for t, _ in fix_times(start + _WARMUP_MS + pre, end - post - 60_000)]
                fixes = [t for t in fixes if book.free([p], t - pre, t + post)]
                if fixes and k == 0:
                    t_fix, fix_name = fixes[0], "benchmark fix"
                else:
                    a = place(pre + post, [p])
                    if a is None:
                        continue
                    t_fix, fix_name = (a + pre) // 60_000 * 60_000, "minute mark"
                    book.busy[p].pop()
                if not book.free([p], t_fix - pre, t_fix + post):
                    continue
                book.take([p], t_fix - pre, t_fix + post)
                w = d.index(t_fix - pre, t_fix - 1)
                changes = int((np.abs(np.diff(np.log(d.clean_mid[w]))) > 1e-12).sum())
                amp = m * d.ret_std(t_fix - pre) * math.sqrt(max(changes, 1)) * sign
                rel = d.ts - t_fix
                shape = np.where(rel < 0, 1 + rel / pre, 1 - rel / post).clip(0, 1)
                d.mid *= np.exp(amp * shape)
                d.in_event[d.index(t_fix - pre, t_fix + post)] = True
                labels.append(
                    EventLabel(
                        new_id(),
                        kind,
                        p,
                        t_fix - pre,
                        t_fix + post,
                        {
                            "magnitude": round(m, 3),
                            "amplitude_bp": round(amp * 1e4, 2),
                            "fix": fix_name,
                            "ramp_s": pre // 1000,
                            "revert_s": post // 1000,
                        },
                    )
                )
                continue
            if kind == "frozen":
                length = int(min(m / (d.ts.size / (dur / 1000)) * 1.5 * 1000, 900_000))
            elif kind in ("spread_blowout", "cross_break"):
                length = int(rng.uniform(10, 60) * 1000)
            elif kind == "burst":
                length = int(rng.uniform(2, 10) * 1000)
            else:
                length = 5_000
            a = place(length, legs)
            if a is None:
                continue
            if kind == "spike":
                w = d.index(a, a + 60_000)[: int(rng.integers(1, 4))]
                if w.size == 0:
                    continue
                size = m * d.ret_std(a) * sign
                d.mid[w] *= math.exp(size)
                params = {"magnitude": round(m, 3), "magnitude_bp": round(size * 1e4, 2)}
                lo, hi = int(d.ts[w[0]]), int(d.ts[w[-1]])
                params["ticks"] = int(w.size)
            elif kind == "crossed":
                w = d.index(a, a + 60_000)[: max(1, int(round(m)))]
                if w.size == 0:
                    continue
                d.crossed[w] = True
                lo, hi = int(d.ts[w[0]]), int(d.ts[w[-1]])
                params = {"magnitude": int(w.size)}
            elif kind == "spread_blowout":
                w = d.index(a, a + length)
                d.spread[w] = m * d.med_spread(a) * np.exp(0.1 * rng.standard_normal(w.size))
                lo, hi = a, a + length
                params = {"magnitude": round(m, 3), "factor_of_median": round(m, 3)}
            elif kind == "cross_break":
                sd = _residual_std(book_pairs, tri, a)
                dev = m * sd * sign
                w = d.index(a, a + length)
                d.mid[w] *= math.exp(dev)
                lo, hi = a, a + length
                params = {
                    "magnitude": round(m, 3),
                    "deviation_bp": round(dev * 1e4, 2),
                    "residual_std_bp": round(sd * 1e4, 3),
                    "triangle": "-".join(sorted({c for q in legs for c in q.split("/")})),
                }
            elif kind == "frozen":
                w = d.index(a, a + length)[: int(round(m))]
                if w.size < 2:
                    continue
                d.mid[w] = d.mid[w[0]]
                d.spread[w] = d.spread[w[0]]
                lo, hi = int(d.ts[w[0]]), int(d.ts[w[-1]])
                params = {"magnitude": int(w.size), "duration_s": round((hi - lo) / 1000, 1)}
            else:  # burst
                lam = m * d.rate(a)
                extra = int(rng.poisson(lam * length / 1000))
                bursts.append((p, a, length, extra))
                lo, hi = a, a + length
                params = {
                    "magnitude": round(m, 3),
                    "rate_per_s": round(lam, 2),
                    "extra_ticks": extra,
                }
            d.in_event[d.index(lo, hi)] = True
            labels.append(EventLabel(new_id(), kind, p, lo, hi, params))

    # 5. quoting bursts: extra quotes that repeat the going mid with a one-point jitter
    for p, a, length, extra in bursts:
        d = book_pairs[p]
        if extra == 0:
            continue
        ets = np.sort(rng.integers(a, a + length, extra)).astype(np.int64)
        j = np.clip(np.searchsorted(d.ts, ets) - 1, 0, d.ts.size - 1)
        point = 10.0 ** -_decimals(p)
        emid = d.mid[j] + rng.integers(-1, 2, extra) * point / 2
        for name, add in (
            ("ts", ets),
            ("mid", emid),
            ("spread", d.spread[j]),
            ("crossed", np.zeros(extra, bool)),
            ("in_event", np.ones(extra, bool)),
        ):
            setattr(d, name, np.concatenate([getattr(d, name), add]))
        o = np.argsort(d.ts, kind="stable")
        for name in ("ts", "mid", "spread", "crossed", "in_event"):
            setattr(d, name, getattr(d, name)[o])

    # 6. quotes: round to the pair's decimals; the venue's normal locked/crossed quotes outside
    #    labelled events; crossed events by 1-3 points
    out_ts, out_idx, out_bid, out_ask = [], [], [], []
    for k, p in enumerate(v.pairs):
        d = book_pairs[p]
        dec = _decimals(p)
        point = 10.0**-dec
        bid = np.round(d.mid - d.spread / 2, dec)
        ask = np.maximum(np.round(d.mid + d.spread / 2, dec), np.round(bid + point, dec))
        free = ~d.in_event
        u = rng.random(d.ts.size)
        locked = free & (u < v.locked_frac)
        xnoise = free & (u >= v.locked_frac) & (u < v.locked_frac + v.crossed_frac)
        ask[locked] = bid[locked]
        ask[xnoise] = np.round(bid[xnoise] - point, dec)
        cr = d.crossed
        if cr.any():
            ask[cr] = np.round(bid[cr] - rng.integers(1, 4, int(cr.sum())) * point, dec)
        out_ts.append(d.ts)
        out_idx.append(np.full(d.ts.size, k, np.int16))
        out_bid.append(bid)
        out_ask.append(ask)
    ts = np.concatenate(out_ts)
    order = np.argsort(ts, kind="stable")
    labels.sort(key=lambda e: (e.start_ts, e.event_id))
    return SyntheticResult(
        tuple(v.pairs),
        ts[order],
        np.concatenate(out_idx)[order],
        np.concatenate(out_bid)[order],
        np.concatenate(out_ask)[order],
        labels,
        legit,
        f"variant-{v.name}",
    )


def _decimals(pair: str) -> int:
    """Quote decimals: set by the quote currency's scale (EUR/JPY 3, USD/MXN 4, GBP/USD 5)."""
    return _DECIMALS.get(pair.split("/")[1], 5)


def _residual_std(book: dict[str, _Pair], tri, t: int) -> float:
    """Std of the triangle residual (sum of signed log mids, latest quote of each leg) sampled at
    every tick of the 5 minutes before t, on the clean series."""
    stamps = np.unique(np.concatenate([book[p].ts[book[p].before(t)] for p, _ in tri]))
    if stamps.size < 10:
        return 1e-5
    total = np.zeros(stamps.size)
    ok = np.ones(stamps.size, bool)
    for p, s in tri:
        d = book[p]
        j = np.searchsorted(d.ts, stamps, side="right") - 1
        ok &= j >= 0
        total += s * np.log(d.clean_mid[np.clip(j, 0, None)])
    r = total[ok]
    return float(r.std()) if r.size > 1 else 1e-5


def detect_result(res: SyntheticResult, cooldown_ms: int = 60_000) -> list[Alert]:
    """The default bank (per-pair detectors + cross-rate detectors of every triangle among the
    result's own pairs) over the result's ticks; alerts carry the time they were raised."""
    bank = PairDetectorBank(
        default_detectors, cross=default_cross(), cooldown_ms=cooldown_ms, pairs=res.pairs
    )
    out: list[Alert] = []
    upd = bank.update
    for q in res.quotes():
        for v in upd(q):
            out.append(Alert(v.pair, v.ts_ms, v.detector, v.score, q.ts_ms))
    return out


def run_variant(
    variant: Variant | str, seed: int, hours: float = 2.0, **generate_kw
) -> tuple[ScenarioScore, list[Alert], SyntheticResult]:
    """Generate one variant run, detect with the default bank, score with the scenario scorer."""
    res = generate_variant(variant, seed, hours, **generate_kw)
    alerts = detect_result(res)
    score = score_scenarios(
        alerts, res.labels, res.legit, pairs=res.pairs, pair_hours=len(res.pairs) * hours
    )
    return score, alerts, res
