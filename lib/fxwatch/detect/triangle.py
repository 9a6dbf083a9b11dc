"""Cross-rate (triangular) inconsistency, attributed to the leg that moved (or to the triangle)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import combinations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["CrossRate", "components_by_pair", "triangle_key", "triangles_by_pair"]


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


def components_by_pair(pairs: Iterable[str]) -> dict[str, str]:
    """pair -> the key of its connected component of watched triangles (triangles sharing a leg).

    The key lists the component's currencies sorted and '-' joined: with the default pairs the
    triangles EUR-JPY-USD and EUR-GBP-USD share EUR/USD, so their five pairs map to
    'EUR-GBP-JPY-USD'. A single triangle's component key is its triangle key.
    """
    tris = triangles_by_pair(pairs)
    parent: dict[str, str] = {}

    def root(t: str) -> str:
        while parent.setdefault(t, t) != t:
            t = parent[t]
        return t

    for keys in tris.values():
        for k in keys[1:]:
            parent[root(k)] = root(keys[0])
    ccys: dict[str, set[str]] = {}
    for keys in tris.values():
        for k in keys:
            ccys.setdefault(root(k), set()).update(k.split("-"))
    return {p: triangle_key(ccys[root(keys[0])]) for p, keys in tris.items()}


class CrossRate:
    """Cross-rate consistency of every watched triangle among the pairs it sees, with each break
    attributed to the leg that moved.

    Residual r = Σ ± log mid over a triangle's legs (bp; 0 without arbitrage), taken when every
    leg quoted within max_age_ms. Its tolerance adapts to the triangle's own residual noise: after
    `warmup` residuals it is k × a robust scale (time-decayed mean of |r − centre| winsorised at
    2.5 scales, half-life noise_half_life_ms, learnt only from residuals within tolerance so that
    a break cannot teach it), at least min_tol_bp, plus the legs' relative half-spreads; during
    warm-up it is tol_bp plus the half-spreads. With confirm_legs (default) a break counts only
    once every leg quoted again after it appeared (a news move reaching the legs one by one is
    not a break).

    A confirmed break names its cause. A leg is cleared when another triangle holding it is
    consistent (within half its tolerance). The one leg left in the most broken triangles (≥ 2)
    whose residuals imply one and the same move of it (same sign, equal within their tolerances
    and a quarter of the move) is the leg that moved. Else each remaining leg is a hypothesis:
    had it alone moved off the cross rate, the other legs' moves since the triangle was last calm
    (|r − centre| ≤ tolerance / 4) are natural, and their likelihood is scored against the legs'
    own recent co-movement (EWMA covariance of their log-mid changes, sampled every sample_ms
    while the triangle is consistent, scaled to the span). The leg whose hypothesis fits (−2 log
    likelihood ≤ fit_max, the 99.9 % point of χ² with 2 degrees of freedom) and beats every
    other by ≥ lr_min is the leg that moved; so is a lone remaining leg, and a lone leg whose mid
    has not changed since the triangle was calm, for ≥ stale_ms and ≥ 20 of its usual gaps
    between changes, while the others moved (a stuck quote). The alert goes on that leg; legs
    that did not move get nothing. When no leg explains the break within hold_ms (a slow ramp
    becomes clear as it grows) the alert goes on the triangle ('EUR-JPY-USD'). One alert per
    break until the triangle is back within tolerance.
    """

    name = "crossrate"

    def __init__(
        self,
        tol_bp=5.0,
        max_age_ms=5_000,
        confirm_legs=True,
        k=6.0,
        min_tol_bp=1.0,
        warmup=300,
        noise_half_life_ms=300_000,
        lr_min=6.0,
        fit_max=13.8,
        hold_ms=120_000,
        sample_ms=1_000,
        stale_ms=5_000,
        cov_alpha=0.02,
        vol_floor_bp=0.3,
    ):
        self.tol_bp, self.max_age_ms, self.confirm_legs = tol_bp, max_age_ms, confirm_legs
        self.k, self.min_tol_bp, self.warmup = k, min_tol_bp, warmup
        self.noise_tau = noise_half_life_ms / math.log(2)
        self.lr_min, self.hold_ms, self.stale_ms = lr_min, hold_ms, stale_ms
        self.fit_max = fit_max
        self.sample_ms, self.cov_alpha, self.vol_floor_bp = sample_ms, cov_alpha, vol_floor_bp
        self.latest: dict[str, tuple[int, float, float]] = {}  # pair -> (ts, log mid, rel half-spr)
        # triangle -> [last sample ts, legs' log mids then, EWMA covariance bp²/ms (3×3), samples]
        self.cov: dict[str, list] = {}
        self.changes: dict[str, list] = {}  # pair -> [last mid change ts, EWMA gap ms, changes]
        self.tris: dict[str, tuple[tuple[str, int], ...]] = {}  # triangle -> ((leg, ±1) × 3)
        self.by_pair: dict[str, tuple[str, ...]] = {}  # pair -> its triangles
        self.noise: dict[str, list] = {}  # triangle -> [centre bp, scale bp, residuals, last ts]
        self.calm: dict[str, tuple[int, tuple[float, ...]]] = {}  # triangle -> (ts, legs' log mid)
        self.pending: dict[str, int] = {}  # triangle -> event time it first went out of tolerance
        self.unresolved: dict[str, int] = {}  # triangle -> time a confirmed break had no leg yet
        self.firing: set[str] = set()  # triangles whose break was reported

    def _rebuild(self) -> None:
        """The triangles among the pairs seen so far, each leg with its sign in the residual."""
        self.by_pair = triangles_by_pair(self.latest)
        tris = {}
        for key in {k for ks in self.by_pair.values() for k in ks}:
            a, b, c = key.split("-")
            legs = []
            for x, y in ((a, b), (b, c), (c, a)):  # the cycle a -> b -> c -> a
                legs.append((f"{x}/{y}", 1) if f"{x}/{y}" in self.latest else (f"{y}/{x}", -1))
            tris[key] = tuple(legs)
        self.tris = tris

    def _residual(self, key: str, now: int):
        """(residual − centre, tolerance) of a triangle in bp, or None when a leg is stale."""
        r = band = 0.0
        latest = self.latest
        for p, sg in self.tris[key]:
            d = latest[p]
            if now - d[0] > self.max_age_ms:
                return None
            r += sg * d[1]
            band += d[2]
        nz = self.noise.get(key)
        if nz is None:
            nz = self.noise[key] = [0.0, 0.0, 0, now]
        e = r * 1e4 - nz[0]
        if nz[2] < self.warmup:
            return e, self.tol_bp + band * 1e4
        return e, max(self.min_tol_bp, self.k * nz[1]) + band * 1e4

    def _learn(self, key: str, e: float, tol: float, now: int) -> None:
        """Fold one in-tolerance residual into the triangle's centre and scale; note calm."""
        nz = self.noise[key]
        centre, scale, n, t0 = nz
        if n < self.warmup:
            a = 1.0 / (n + 1)
            cap = self.tol_bp
        else:
            a = 1.0 - math.exp(-max(now - t0, 0) / self.noise_tau)
            cap = 2.5 * max(scale, 0.1 * self.min_tol_bp)
        ec = e if -cap <= e <= cap else (cap if e > 0 else -cap)
        nz[0] = centre + a * ec
        nz[1] = scale + a * (abs(ec) - scale)
        nz[2], nz[3] = n + 1, now
        if abs(e) <= 0.25 * tol:
            self.calm[key] = (now, tuple(self.latest[p][1] for p, _ in self.tris[key]))

    def _sample(self, key: str, now: int) -> None:
        """Every sample_ms of a consistent triangle: fold its legs' log-mid changes (bp) into
        their EWMA covariance per ms (a change vector is winsorised at 4 standard deviations)."""
        lms = [self.latest[p][1] for p, _ in self.tris[key]]
        st = self.cov.get(key)
        if st is None:
            self.cov[key] = [now, lms, None, 0]
            return
        t0, prev, cov, n = st
        dt = now - t0
        if dt < self.sample_ms:
            return
        x = [(a - b) * 1e4 for a, b in zip(lms, prev)]
        if cov is not None and n >= 10:
            var = sum(cov[i][i] for i in range(3)) * dt
            size = sum(v * v for v in x)
            if var > 0 and size > 16.0 * var:
                f = math.sqrt(16.0 * var / size)
                x = [v * f for v in x]
        outer = [[x[i] * x[j] / dt for j in range(3)] for i in range(3)]
        if cov is None:
            cov = outer
        else:
            a = max(self.cov_alpha, 1.0 / (n + 1))
            cov = [[c + a * (o - c) for c, o in zip(cr, orow)] for cr, orow in zip(cov, outer)]
        self.cov[key] = [now, lms, cov, n + 1]

    def _stuck(self, pair: str, since: float) -> bool:
        """True when the pair's mid has not changed since `since` (ms), and not for ≥ stale_ms
        and ≥ 20 of its usual gaps between mid changes."""
        st = self.changes.get(pair)
        if st is None or st[2] < 20 or st[0] > since:
            return False
        return self.latest[pair][0] - st[0] >= max(self.stale_ms, 20.0 * st[1])

    def _moves(self, key: str, now: int) -> tuple[list[float], float]:
        """(each leg's move in bp since `key` was last calm, that span in ms)."""
        t_calm, lms = self.calm.get(key, (now, None))
        if lms is None:
            return [0.0, 0.0, 0.0], 0.0
        return [(self.latest[p][1] - m) * 1e4 for (p, _), m in zip(self.tris[key], lms)], float(
            max(now - t_calm, 1)
        )

    def _misfit(self, key: str, moves: list[float], span: float, i: int, e: float) -> float:
        """−2 log likelihood (up to a constant) of the other legs' moves being natural when leg i
        alone moved off the cross rate by the residual e."""
        sg = self.tris[key][i][1]
        nat = list(moves)
        nat[i] -= sg * e
        st = self.cov.get(key)
        cov = st[2] if st is not None else None
        floor = self.vol_floor_bp**2
        # legs 0 and 1 determine a consistent move vector; their 2×2 covariance over the span
        if cov is None or st[3] < 10:
            a, b, d = floor, 0.0, floor
        else:
            a, b, d = cov[0][0] * span + floor, cov[0][1] * span, cov[1][1] * span + floor
        det = a * d - b * b
        if det <= 0:
            det, b = a * d, 0.0
        x, y = nat[0], nat[1]
        return (d * x * x - 2 * b * x * y + a * y * y) / det

    def update(self, q: Quote) -> Verdict | None:
        if q.bid <= 0 or q.ask <= 0 or "/" not in q.pair:
            return None
        pair, now = q.pair, q.ts_ms
        mid = 0.5 * (q.bid + q.ask)
        lm = math.log(mid)
        prev = self.latest.get(pair)
        self.latest[pair] = (now, lm, abs(q.ask - q.bid) / (2.0 * mid))
        if prev is None:
            self._rebuild()
        elif lm != prev[1]:
            ch = self.changes.get(pair)
            if ch is None:
                self.changes[pair] = [now, 0.0, 0]
            else:
                a = max(self.cov_alpha, 1.0 / (ch[2] + 1))
                ch[1] += a * (now - ch[0] - ch[1])
                ch[0], ch[2] = now, ch[2] + 1
        worst = None
        for key in self.by_pair.get(pair, ()):
            got = self._residual(key, now)
            if got is None:
                continue
            e, tol = got
            if abs(e) <= tol:
                self._learn(key, e, tol, now)
                self._sample(key, now)
                self.firing.discard(key)
                self.pending.pop(key, None)
                self.unresolved.pop(key, None)
                continue
            if key in self.firing:
                continue
            if self.confirm_legs:
                t0 = self.pending.get(key)
                if t0 is None:
                    self.pending[key] = now
                    continue
                if any(self.latest[p][0] <= t0 for p, _ in self.tris[key]):
                    continue  # a leg has not quoted since the break appeared
            if worst is None or abs(e) - tol > worst[0]:
                worst = (abs(e) - tol, key, e, tol)
        if worst is None:
            return None
        return self._attribute(*worst[1:], now)

    def _attribute(self, key: str, e: float, tol: float, now: int) -> Verdict | None:
        """The alert of a confirmed break of `key`: on the leg that moved, on the triangle when
        none has after hold_ms, else None (not yet)."""
        legs = self.tris[key]
        moves, span = self._moves(key, now)
        cands = []
        for i, (p, sg) in enumerate(legs):
            implied = [(sg * e, tol)]  # the move of p each broken triangle of it implies
            cleared = False
            for other in self.by_pair[p]:
                if other != key:
                    got = self._residual(other, now)
                    if got is None:
                        continue
                    if abs(got[0]) <= 0.5 * got[1]:  # clearly consistent: p did not move
                        cleared = True
                        break
                    if abs(got[0]) > got[1]:
                        sgo = next(g for q, g in self.tris[other] if q == p)
                        implied.append((sgo * got[0], got[1]))
            if not cleared:
                xs = [x for x, _ in implied]
                one_move = (min(xs) > 0 or max(xs) < 0) and max(xs) - min(xs) <= sum(
                    t for _, t in implied
                ) + 0.25 * max(abs(x) for x in xs)
                broken = len(implied) if one_move else 1
                cands.append((i, broken, self._misfit(key, moves, span, i, e)))
        leg = None
        most = max((c[1] for c in cands), default=0)
        top = [c for c in cands if c[1] == most]
        still = [c for c in cands if self._stuck(legs[c[0]][0], now - span)]
        if len(still) == 1 and len(cands) > 1:
            leg, how = still[0], f"its quote stayed put for {span / 1000:.0f}s while others moved"
        elif len(cands) == 1 or (most >= 2 and len(top) == 1):
            leg, how = top[0], (f"{most} triangles broken" if most > 1 else "the only leg left")
        elif cands:
            fit = sorted(cands, key=lambda c: c[2])
            if fit[0][2] <= self.fit_max and fit[1][2] - fit[0][2] >= self.lr_min:
                leg, how = fit[0], f"its move explains it, {fit[1][2] - fit[0][2]:.0f} vs next"
        score = 1.0 - 0.5 * tol / abs(e)  # |e| > tol: in (0.5, 1)
        names = [p for p, _ in legs]
        if leg is None:
            since = self.unresolved.setdefault(key, now)
            if now - since < self.hold_ms:
                return None
            self.firing.add(key)
            shown = ", ".join(f"{p} {m:+.1f} bp" for p, m in zip(names, moves))
            return Verdict(
                key,
                now,
                self.name,
                score,
                True,
                f"cross-rate: triangle {key} off by {e:+.1f} bp (tolerance {tol:.1f} bp) for "
                f"{(now - since) / 1000:.0f}s; no single leg's move explains it ({shown})",
            )
        p = names[leg[0]]
        for t in self.by_pair[p]:  # the other triangles this leg broke are the same event
            got = self._residual(t, now)
            if t == key or (got is not None and abs(got[0]) > got[1]):
                self.firing.add(t)
                self.pending.pop(t, None)
                self.unresolved.pop(t, None)
        rest = " and ".join(o for o in names if o != p)
        return Verdict(
            p,
            now,
            self.name,
            score,
            True,
            f"cross-rate: {p} moved {moves[leg[0]]:+.1f} bp in {span / 1000:.1f}s, {key} off by "
            f"{e:+.1f} bp (tolerance {tol:.1f} bp); {rest} stayed consistent "
            f"(leg attribution: {how})",
        )
