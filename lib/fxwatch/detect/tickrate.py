"""Tick-rate bursts and gaps: quotes per second against their own recent rate."""

from __future__ import annotations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["TickRate"]


class TickRate:
    """Bursts: ticks in a 1 s bucket > burst_k × EWMA of busy-bucket counts; gaps: silence > gap_k × EWMA interval.

    Defaults: bucket_ms=1000, alpha=0.02, burst_k=8.0, min_burst=20 ticks/bucket, gap_k=50.0,
    min_gap_ms=30_000, warmup=60 buckets before any burst verdict (gaps need 100 ticks seen).
    """

    name = "tickrate"

    def __init__(self, bucket_ms=1000, alpha=0.02, burst_k=8.0, min_burst=20, gap_k=50.0, min_gap_ms=30_000, warmup=60):
        self.bucket_ms, self.alpha, self.burst_k, self.min_burst = bucket_ms, alpha, burst_k, min_burst
        self.gap_k, self.min_gap_ms, self.warmup = gap_k, min_gap_ms, warmup
        self.bucket = None
        self.count = 0
        self.rate = None  # EWMA ticks per non-empty bucket
        self.dt = None  # EWMA inter-arrival ms
        self.last_ms = None
        self.buckets = 0
        self.ticks = 0
        self.burst_fired = False

    def update(self, q: Quote) -> Verdict | None:
        ts = q.ts_ms
        out = None
        self.ticks += 1
        if self.last_ms is not None:
            gap = ts - self.last_ms
            if self.dt is not None and self.ticks > 100 and gap > self.min_gap_ms and gap > self.gap_k * self.dt:
                ratio = gap / self.dt
                out = Verdict(q.pair, ts, self.name, min(1.0, 0.5 + ratio / (4.0 * self.gap_k)), True,
                              f"gap: no quote for {gap / 1000:.1f}s (typical {self.dt / 1000:.2f}s)")
                gap = self.dt  # do not let the gap itself reset what 'typical' means
            self.dt = gap if self.dt is None else self.dt + self.alpha * (min(gap, 10 * self.dt + 1) - self.dt)
        self.last_ms = ts
        b = ts // self.bucket_ms
        if b != self.bucket:
            if self.bucket is not None:
                c = self.count
                if self.rate is None:
                    self.rate = float(c)
                elif not self.burst_fired:
                    self.rate += self.alpha * (c - self.rate)
                self.buckets += 1
            self.bucket, self.count, self.burst_fired = b, 0, False
        self.count += 1
        c = self.count
        if (out is None and not self.burst_fired and self.buckets >= self.warmup and self.rate
                and c >= self.min_burst and c > self.burst_k * self.rate):
            self.burst_fired = True
            ratio = c / self.rate
            out = Verdict(q.pair, ts, self.name, min(1.0, 0.5 + ratio / (4.0 * self.burst_k)), True,
                          f"burst: {c} ticks within {self.bucket_ms} ms, {ratio:.0f}x the usual {self.rate:.1f}")
        return out
