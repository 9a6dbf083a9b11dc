"""Cross-rate (triangular) inconsistency: a quote against the product of the other two legs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import combinations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["CrossRate", "triangle_key", "triangles_by_pair"]


def triangle_key(currencies: Iterable[str]) -> str:
    """The state key of a currency triangle: its three currencies sorted, 'EUR-JPY-USD'."""
    return "-".join(sorted(currencies))


def triangles_by_pair(pairs: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """pair -> the keys of the triangles among `pairs` that contain it.

    A triangle {A, B, C} exists when each of its three legs is quoted by one of `pairs`, in either
    direction (EUR/USD, USD/JPY and EUR/JPY make 'EUR-JPY-USD').
    """
    legs: dict[frozenset, list[str]] = {}
    for p in dict.fromkeys(pairs):
        a, b = p.split("/", 1)
        legs.setdefault(frozenset((a, b)), []).append(p)
    currencies = sorted({c for leg in legs for c in leg})
    out: dict[str, list[str]] = {}
    for tri in combinations(currencies, 3):
        sides = [frozenset(s) for s in combinations(tri, 2)]
        if all(s in legs for s in sides):
            for s in sides:
                for p in legs[s]:
                    out.setdefault(p, []).append(triangle_key(tri))
    return {p: tuple(keys) for p, keys in out.items()}


class CrossRate:
    """Sees every pair; for each triangle A/B = A/C × C/B among latest mids, alert on |residual|
    beyond tolerance.

    Residual r = log(A/B) − log(A/C) − log(C/B) in basis points. Tolerance = tol_bp + half of each
    leg's relative spread (the no-arbitrage band). Legs older than max_age_ms are ignored. One
    alert per triangle until it comes back within tolerance. Defaults: tol_bp=5.0,
    max_age_ms=5_000. confirm_legs=True waits until the break survives a fresh quote on every leg
    (a real market move reaches all legs within a tick or two; a stale leg after a news jump is not
    a broken cross rate).
    """

    name = "crossrate"

    def __init__(self, tol_bp=5.0, max_age_ms=5_000, confirm_legs=False):
        self.tol_bp, self.max_age_ms, self.confirm_legs = tol_bp, max_age_ms, confirm_legs
        self.pending: dict = {}  # triangle key -> event time it first went out of tolerance
        self.latest: dict[
            str, tuple[int, float, float]
        ] = {}  # pair -> (ts_ms, log mid, rel half-spread)
        self.firing: set = set()

    def _leg(self, base, quote, now):
        """Log rate base/quote from a direct or inverted fresh quote, with its relative
        half-spread and ts."""
        d = self.latest.get(f"{base}/{quote}")
        if d is not None and now - d[0] <= self.max_age_ms:
            return d[1], d[2], d[0]
        i = self.latest.get(f"{quote}/{base}")
        if i is not None and now - i[0] <= self.max_age_ms:
            return -i[1], i[2], i[0]
        return None

    def update(self, q: Quote) -> Verdict | None:
        if q.bid <= 0 or q.ask <= 0 or "/" not in q.pair:
            return None
        mid = 0.5 * (q.bid + q.ask)
        self.latest[q.pair] = (q.ts_ms, math.log(mid), abs(q.ask - q.bid) / (2.0 * mid))
        if len(self.latest) < 3:
            return None  # a triangle needs three pairs
        base, quote = q.pair.split("/", 1)
        worst = None
        for other in self.latest:
            if other == q.pair:
                continue
            a, b = other.split("/", 1)
            # The pivot currency C must share a leg with base and with quote.
            for c in {a, b} - {base, quote}:
                l1 = self._leg(base, c, q.ts_ms)
                l2 = self._leg(c, quote, q.ts_ms)
                if l1 is None or l2 is None:
                    continue
                key = (q.pair, c)
                resid = (self.latest[q.pair][1] - l1[0] - l2[0]) * 1e4
                tol = self.tol_bp + (self.latest[q.pair][2] + l1[1] + l2[1]) * 1e4
                if abs(resid) <= tol:
                    self.firing.discard(key)
                    self.pending.pop(key, None)
                    continue
                if key in self.firing:
                    continue
                if self.confirm_legs:
                    t0 = self.pending.get(key)
                    if t0 is None:
                        self.pending[key] = q.ts_ms
                        continue
                    if l1[2] <= t0 or l2[2] <= t0:
                        continue  # a leg has not quoted since the break appeared
                if worst is None or abs(resid) - tol > worst[0]:
                    worst = (abs(resid) - tol, key, resid, tol, c)
        if worst is None:
            return None
        excess, key, resid, tol, c = worst
        self.firing.add(key)
        self.pending.pop(key, None)
        return Verdict(
            q.pair,
            q.ts_ms,
            self.name,
            1.0 - 0.5 * tol / (tol + excess),
            True,
            f"cross-rate: {q.pair} off {base}/{c} x {c}/{quote} by {resid:+.1f} bp "
            f"(tolerance {tol:.1f} bp)",
        )
