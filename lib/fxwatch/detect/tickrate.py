"""Tick-rate bursts and gaps: quotes per second and silences against the venue's own normal."""

from __future__ import annotations

from fxwatch.detect.venue import DecayedQuantile, scheduled_release
from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["TickRate"]


class _Feed:
    """One source's tick-rate state: current bucket, learnt quantiles, EWMA fall-backs."""

    __slots__ = (
        "bucket",
        "count",
        "rate",
        "dt",
        "last_ms",
        "buckets",
        "ticks",
        "burst_fired",
        "counts",
        "gaps",
        "bar",
    )

    def __init__(self, alpha_counts: float, alpha_gaps: float):
        self.bucket = None
        self.count = 0
        self.rate = None  # EWMA ticks per non-empty bucket (warm-up rule)
        self.dt = None  # EWMA inter-arrival ms (warm-up rule)
        self.last_ms = None
        self.buckets = 0
        self.ticks = 0
        self.burst_fired = False
        self.counts = DecayedQuantile(1.0, 8, 112, alpha_counts, 300)  # ticks per busy second
        self.gaps = DecayedQuantile(1.0, 4, 100, alpha_gaps, 1000)  # ms between ticks
        self.bar = None  # burst bar from the learnt quantiles, refreshed per closed bucket


class TickRate:
    """Bursts: ticks in a 1 s bucket above the venue's learnt bar q99 + burst_k × (q99 − median)
    of its busy buckets (and ≥ min_burst); gaps: a silence above gap_k × its learnt q-quantile of
    the time between ticks (and > min_gap_ms).

    Learnt online per quote source (`fxwatch.detect.venue.DecayedQuantile`; buckets above the bar
    are left out, so a burst does not teach what is normal): a venue whose quoting comes in
    bursts or pauses at quiet hours sets its own bar. Until a quantile has
    warmed up (300 busy seconds; 1000 ticks) the rule is the EWMA one: bursts > 8 × the EWMA of
    busy-bucket counts after 60 buckets, gaps > 50 × the EWMA interval after 100 ticks. Within a
    scheduled release window (`fxwatch.detect.venue.scheduled_release`: US data, FOMC, ECB, the
    London and Tokyo fixes) the burst bar is news_k times higher: a burst of quoting at a release
    is not manipulation by itself. Defaults: bucket_ms=1000, burst_k=2.0, q=0.99, min_burst=20,
    gap_k=4.0, q_gap=0.999, min_gap_ms=30_000, news_k=2.0.
    """

    name = "tickrate"

    def __init__(
        self,
        bucket_ms=1000,
        alpha=0.02,
        burst_k=2.0,
        min_burst=20,
        gap_k=4.0,
        min_gap_ms=30_000,
        warmup=60,
        news_k=2.0,
        q=0.99,
        q_gap=0.999,
        alpha_counts=0.002,
        alpha_gaps=0.0002,
    ):
        self.bucket_ms, self.alpha, self.burst_k, self.min_burst = (
            bucket_ms,
            alpha,
            burst_k,
            min_burst,
        )
        self.gap_k, self.min_gap_ms, self.warmup = gap_k, min_gap_ms, warmup
        self.news_k, self.q, self.q_gap = news_k, q, q_gap
        self.alphas = (alpha_counts, alpha_gaps)
        self.feeds: dict[str, _Feed] = {}

    def _gap(self, f: _Feed, q: Quote, gap: int) -> Verdict | None:
        """A gap verdict when `gap` ms of silence is unusual for the feed, else None."""
        dt = f.dt
        if gap <= self.min_gap_ms or f.ticks <= 100:
            return None
        usual = f.gaps.quantile(self.q_gap)
        if usual is not None:
            if gap <= self.gap_k * usual:
                return None
            what = f"its {100 * self.q_gap:g}th percentile {usual / 1000:.1f}s"
            ratio = gap / (self.gap_k * usual)
        else:
            if gap <= 50.0 * dt:
                return None
            what = f"typical {dt / 1000:.2f}s"
            ratio = gap / (50.0 * dt)
        return Verdict(
            q.pair,
            q.ts_ms,
            self.name,
            min(1.0, 0.5 + ratio / 8.0),
            True,
            f"gap: no quote for {gap / 1000:.1f}s ({what})",
        )

    def update(self, q: Quote) -> Verdict | None:
        f = self.feeds.get(q.source)
        if f is None:
            f = self.feeds[q.source] = _Feed(*self.alphas)
        ts = q.ts_ms
        out = None
        f.ticks += 1
        last, f.last_ms = f.last_ms, ts
        if last is not None:
            gap = ts - last
            if f.dt is None:
                f.dt = float(gap)
            else:
                out = self._gap(f, q, gap)
                dt = f.dt
                if out is None:
                    f.gaps.add(gap)
                    cap = 10 * dt + 1
                    f.dt = dt + self.alpha * ((gap if gap < cap else cap) - dt)
        b = ts // self.bucket_ms
        if b != f.bucket:
            if f.bucket is not None:
                c = f.count
                if not f.burst_fired and (f.bar is None or c <= f.bar):
                    f.counts.add(c)  # a burst, alerted or not, does not teach what is normal
                    f.rate = float(c) if f.rate is None else f.rate + self.alpha * (c - f.rate)
                f.buckets += 1
                if f.bar is None or f.buckets % 16 == 0:  # the quantiles move slowly
                    hi, mid = f.counts.quantile(self.q), f.counts.quantile(0.5)
                    f.bar = None if hi is None else hi + self.burst_k * (hi - mid)
            f.bucket, f.count, f.burst_fired = b, 0, False
        f.count += 1
        c = f.count
        if c < self.min_burst or out is not None or f.burst_fired or f.buckets < self.warmup:
            return out
        usual = f.bar
        bar = usual if usual is not None else 8.0 * (f.rate or 0.0)
        if not f.rate or c <= bar:
            return out
        news = scheduled_release(ts)
        if news is not None and c <= self.news_k * bar:
            return out
        f.burst_fired = True
        ratio = c / bar
        basis = (
            f"{ratio:.1f}x its learnt bar {bar:.0f} per second"
            if usual is not None
            else f"{c / f.rate:.0f}x the usual {f.rate:.1f}"
        )
        at = f"; at {news}" if news else ""
        return Verdict(
            q.pair,
            ts,
            self.name,
            min(1.0, 0.5 + ratio / 8.0),
            True,
            f"burst: {c} ticks within {self.bucket_ms} ms, {basis}{at}",
        )
