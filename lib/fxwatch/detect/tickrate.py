"""Tick-rate bursts and gaps: quotes per second against their own recent rate."""

from __future__ import annotations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["TickRate"]


class TickRate:
    """Bursts: ticks in a 1 s bucket > burst_k × EWMA of busy-bucket counts; gaps: silence >
    gap_k × EWMA interval.

    Defaults: bucket_ms=1000, alpha=0.02, burst_k=8.0, min_burst=20 ticks/bucket, gap_k=50.0,
    min_gap_ms=30_000, warmup=60 buckets before any burst verdict (gaps need 100 ticks seen).
    """

    name = "tickrate"

    def __init__(
        self,
        bucket_ms=1000,
        alpha=0.02,
        burst_k=8.0,
        min_burst=20,
        gap_k=50.0,
        min_gap_ms=30_000,
        warmup=60,
    ):
        self.bucket_ms, self.alpha, self.burst_k, self.min_burst = (
            bucket_ms,
            alpha,
            burst_k,
            min_burst,
        )
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
        last, self.last_ms = self.last_ms, ts
        if last is not None:
            gap = ts - last
            dt = self.dt
            if dt is None:
                self.dt = gap
            else:
                if gap > self.min_gap_ms and gap > self.gap_k * dt and self.ticks > 100:
                    out = Verdict(
                        q.pair,
                        ts,
                        self.name,
                        min(1.0, 0.5 + gap / dt / (4.0 * self.gap_k)),
                        True,
                        f"gap: no quote for {gap / 1000:.1f}s (typical {dt / 1000:.2f}s)",
                    )
                    gap = dt  # do not let the gap itself reset what 'typical' means
                cap = 10 * dt + 1
                self.dt = dt + self.alpha * ((gap if gap < cap else cap) - dt)
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
        if (
            c >= self.min_burst
            and out is None
            and not self.burst_fired
            and self.buckets >= self.warmup
            and self.rate
            and c > self.burst_k * self.rate
        ):
            self.burst_fired = True
            ratio = c / self.rate
            out = Verdict(
                q.pair,
                ts,
                self.name,
                min(1.0, 0.5 + ratio / (4.0 * self.burst_k)),
                True,
                f"burst: {c} ticks within {self.bucket_ms} ms, "
                f"{ratio:.0f}x the usual {self.rate:.1f}",
            )
        return out
