"""What is normal for a venue, learnt online: base rates, quantiles and the scheduled releases.

Three small pieces the per-pair detectors share (each detector keeps one per quote source, so a
venue that quotes crossed all day learns that, and one that never does keeps a tiny rate):

- `BaseRate`: how often an event (a crossed or locked quote) happens per tick, from a prior and
  decayed counts, and how surprising k events in the last window are (a Poisson tail).
- `DecayedQuantile`: a high quantile of a positive quantity (ticks per second, the gap between
  ticks) from an exponentially decayed log-binned histogram.
- `RELEASES` / `scheduled_release`: the scheduled releases around which a burst of quoting is
  expected.

The release table is deliberately small and fixed: the times at which FX reliably re-prices on a
schedule, as local wall-clock times in their own time zone (so daylight saving is followed), on
weekdays:

- US data at 8:30 and 10:00 New York time (payrolls, CPI, retail sales, ISM, confidence);
- FOMC statements at 14:00 New York time;
- ECB decisions at 14:15 and the press conference at 14:45 Frankfurt time (12:15 / 12:45 UTC in
  summer);
- the WM/Reuters 16:00 London fix and the Tokyo 9:55 fix.

Not every weekday has a release at each of these times; treating them all as release times only
relaxes the burst threshold for a few minutes a day (`RELEASE_BEFORE_MS` before to
`RELEASE_AFTER_MS` after), which costs little and needs no calendar feed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "BaseRate",
    "DecayedQuantile",
    "RELEASES",
    "RELEASE_AFTER_MS",
    "RELEASE_BEFORE_MS",
    "poisson_tail",
    "scheduled_release",
]

# (time zone, local hour, local minute, name): weekdays only
RELEASES: tuple[tuple[str, int, int, str], ...] = (
    ("America/New_York", 8, 30, "US data 8:30 New York"),
    ("America/New_York", 10, 0, "US data 10:00 New York"),
    ("America/New_York", 14, 0, "FOMC 14:00 New York"),
    ("Europe/Berlin", 14, 15, "ECB decision 14:15 Frankfurt"),
    ("Europe/Berlin", 14, 45, "ECB press conference 14:45 Frankfurt"),
    ("Europe/London", 16, 0, "WM/Reuters 16:00 London fix"),
    ("Asia/Tokyo", 9, 55, "Tokyo 9:55 fix"),
)
RELEASE_BEFORE_MS = 120_000  # quoting picks up shortly before a release
RELEASE_AFTER_MS = 600_000  # and stays busy for a few minutes after it
_ZONES = {z: ZoneInfo(z) for z, *_ in RELEASES}
_DAY_MS = 86_400_000


def _release_ms(day_ms: int) -> list[tuple[int, str]]:
    """(UTC ms, name) of every release on the UTC day starting at day_ms and the days around it."""
    out = []
    for zone, hour, minute, name in RELEASES:
        tz = _ZONES[zone]
        for d in (-1, 0, 1):
            day = datetime.fromtimestamp((day_ms + d * _DAY_MS) / 1000, UTC).astimezone(tz)
            local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
            if local.weekday() < 5:
                out.append((int(local.timestamp() * 1000), name))
    return out


_CACHE: dict[int, list[tuple[int, str]]] = {}


def scheduled_release(ts_ms: int) -> str | None:
    """The name of the scheduled release whose window holds ts_ms, else None."""
    day = ts_ms - ts_ms % _DAY_MS
    times = _CACHE.get(day)
    if times is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        times = _CACHE[day] = _release_ms(day)
    for t, name in times:
        if t - RELEASE_BEFORE_MS <= ts_ms <= t + RELEASE_AFTER_MS:
            return name
    return None


def poisson_tail(k: int, mu: float) -> float:
    """P(X ≥ k) for X ~ Poisson(mu): exact up to k = 100, a Chernoff bound beyond."""
    if k <= 0:
        return 1.0
    if mu <= 0.0:
        return 0.0
    if k > 100:
        if k <= mu:
            return 1.0
        return min(1.0, math.exp(-mu + k - k * math.log(k / mu)))
    term = math.exp(-mu)
    below = term
    for i in range(1, k):
        term *= mu / i
        below += term
    return max(0.0, 1.0 - below)


class BaseRate:
    """Events per tick, learnt online: (decayed events + prior_rate·prior_ticks) / (decayed ticks +
    prior_ticks), counts halving every half_life_ticks.

    The prior is the warm-up: a venue starts out presumed to (almost) never do it, and a few
    thousand ticks of its real behaviour outweigh that. Feed it whole windows (`add`) after they
    were tested, so an ongoing storm is judged against the rate before it.
    """

    def __init__(self, prior_rate=1e-5, prior_ticks=1_000, half_life_ticks=50_000, group=60):
        self.prior_rate, self.prior_ticks = prior_rate, prior_ticks
        self.half_life_ticks = half_life_ticks
        self.ticks = 0.0
        self.events = 0.0
        self.group = group  # `add` calls per window of the events-per-window quantile
        self.per_window = DecayedQuantile(1.0, 4, 48, 0.01, 30)
        self._acc = [0, 0]  # calls and events in the current window

    def busy(self, q: float = 0.99) -> float | None:
        """The q-quantile of events per window of `group` adds (None while warming up): real
        venues cross in clusters, far more often than a Poisson rate would say."""
        return self.per_window.quantile(q)

    @property
    def rate(self) -> float:
        """Current estimate of events per tick."""
        p = self.prior_ticks
        return (self.events + self.prior_rate * p) / (self.ticks + p)

    def add(self, ticks: int, events: int) -> None:
        """Fold a closed stretch of `ticks` ticks holding `events` events into the rate."""
        keep = 0.5 ** (ticks / self.half_life_ticks)
        self.ticks = self.ticks * keep + ticks
        self.events = self.events * keep + events
        acc = self._acc
        acc[0] += 1
        acc[1] += events
        if acc[0] >= self.group:
            self.per_window.add(acc[1])
            acc[0] = acc[1] = 0

    def surprise(self, ticks: int, events: int) -> float:
        """P(at least `events` events in `ticks` ticks) at the learnt rate (small = unusual)."""
        return poisson_tail(events, self.rate * ticks)


class DecayedQuantile:
    """A high quantile of a positive quantity from a log-binned histogram with exponential decay.

    Bins split each factor 2 above `lo` into `bins_per_doubling` equal steps (`n_bins` bins, the
    last open-ended); each new value
    weighs 1 / (1 − alpha) times the previous one (lazy decay: no pass over the bins per value).
    `quantile(q)` returns the upper edge of the bin holding the q-quantile, or None before
    `min_count` values.
    """

    def __init__(self, lo=1.0, bins_per_doubling=4, n_bins=80, alpha=0.001, min_count=300):
        self.lo, self.per, self.alpha, self.min_count = lo, bins_per_doubling, alpha, min_count
        self.bins = [0.0] * n_bins
        self.weight = 1.0
        self.count = 0

    def add(self, x: float) -> None:
        """Add one value."""
        if x <= self.lo:
            i = 0
        else:
            m, e = math.frexp(x / self.lo)  # x / lo = m · 2**e, 0.5 ≤ m < 1
            i = (e - 1) * self.per + int((2.0 * m - 1.0) * self.per) + 1
        bins = self.bins
        bins[min(i, len(bins) - 1)] += self.weight
        self.count += 1
        self.weight /= 1.0 - self.alpha
        if self.weight > 1e100:  # renormalise long before floats overflow
            self.bins = [b / self.weight for b in bins]
            self.weight = 1.0

    def quantile(self, q: float) -> float | None:
        """The q-quantile (upper bin edge), None while warming up."""
        if self.count < self.min_count:
            return None
        total = sum(self.bins)
        target = q * total
        acc = 0.0
        for i, b in enumerate(self.bins):
            acc += b
            if acc >= target:
                return self._edge(i)
        return self._edge(len(self.bins) - 1)

    def _edge(self, i: int) -> float:
        """Upper edge of bin i (bins split each doubling into `per` equal steps)."""
        if i == 0:
            return self.lo
        octave, step = divmod(i - 1, self.per)
        return self.lo * 2.0**octave * (1.0 + (step + 1) / self.per)
