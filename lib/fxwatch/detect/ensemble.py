"""Ensemble of quote detectors: noisy-or of scores plus per pair+detector alert de-duplication."""

from __future__ import annotations

from fxwatch.detect.verdict import Verdict
from fxwatch.schema import Quote

__all__ = ["AlertDeduper", "Ensemble"]


class AlertDeduper:
    """One alert per event: suppress repeats of the same pair+detector until cooldown_ms of quiet.

    Default cooldown_ms=60_000. Each suppressed repeat extends the event, so a 10-minute storm of
    crossed quotes yields one alert, and a new storm after a minute of calm yields another.
    """

    def __init__(self, cooldown_ms=60_000):
        self.cooldown_ms = cooldown_ms
        self.last: dict[tuple[str, str], int] = {}

    def admit(self, v: Verdict) -> bool:
        """True if `v` starts a new event; False if it continues one already reported."""
        key = (v.pair, v.detector)
        prev = self.last.get(key)
        self.last[key] = v.ts_ms if prev is None else max(prev, v.ts_ms)
        return prev is None or v.ts_ms - prev > self.cooldown_ms


class Ensemble:
    """Runs member detectors on each quote; `update_many` returns de-duplicated alerts.

    `update` (the Detector protocol) returns one verdict named 'ensemble' whose score is the
    noisy-or 1 − Π(1 − s_i) of the members' scores on this quote and whose reason lists them.
    Default cooldown_ms=60_000 (see AlertDeduper).
    """

    name = "ensemble"

    def __init__(self, members, cooldown_ms=60_000):
        self.members = list(members)
        self.dedup = AlertDeduper(cooldown_ms)
        self._updates = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_updates"] = None  # bound methods are rebuilt after unpickling
        return state

    def update_many(self, q: Quote) -> list[Verdict]:
        """All members' new alerts for this quote (repeats of an ongoing event are dropped)."""
        ups = self._updates
        if ups is None:
            ups = self._updates = tuple(d.update for d in self.members)
        out = []
        for up in ups:
            v = up(q)
            if v is not None and v.alert and self.dedup.admit(v):
                out.append(v)
        return out

    def update(self, q: Quote) -> Verdict | None:
        alerts = self.update_many(q)
        if not alerts:
            return None
        miss = 1.0
        for v in alerts:
            miss *= 1.0 - v.score
        reason = "; ".join(f"{v.detector}: {v.reason}" for v in alerts)
        return Verdict(q.pair, q.ts_ms, self.name, 1.0 - miss, True, reason)
