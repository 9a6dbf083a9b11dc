"""Incidents: the alerts of one pair (or one currency triangle) that follow each other closely,
grouped into one explained record — the unit an analyst reads instead of single alerts.

The ONE grouping rule and the ONE explanation, for every engine: the offline engine and the
scenario scorer call `group_alerts`; the streaming job groups with Spark's
`session_window(ts, "60 seconds")` and explains each closed session with `incident_of` (so both
give the same incidents on the same alerts).

Rule: alerts with the same `incident_key` (the alert's `pair`: a pair such as 'USD/JPY', or a
triangle id such as 'EUR-JPY-USD' for a cross-rate break no single leg explains) belong to one
incident while each comes less than `INCIDENT_GAP_MS` after the previous one.

Severity (`severity_of`), from the evidence:
    high    three or more kinds of evidence (distinct detectors), or two with a score >= 0.9
    medium  two kinds, or one kind with 3+ alerts, or a score >= 0.9
    low     otherwise: one or two alerts of one detector, none near-certain
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fxwatch.schema import alert_id

__all__ = [
    "INCIDENT_GAP_MS",
    "SEVERITIES",
    "Incident",
    "describe",
    "group_alerts",
    "incident_id",
    "incident_key",
    "incident_of",
    "key_pairs",
    "severity_of",
]

INCIDENT_GAP_MS = 60_000  # alerts of one key less than this apart are one incident
SEVERITIES = ("low", "medium", "high")
HIGH_SCORE = 0.9  # a near-certain alert
_MAX_REASON = 240  # characters of the lead alert's reason in a root cause

# What each detector's alert means, in an analyst's words (hist_<metric>_<method>: window rule),
# the most specific explanation first: an incident's root cause leads with its first kind here.
_MEANING = {
    "crossrate": "cross-rate break",
    "crossed": "crossed/locked quotes",
    "zscore": "price spike",
    "ramp": "ramp and revert",
    "frozen": "frozen feed",
    "stale": "repeated quote",
    "spread": "spread blow-out",
    "tickrate": "tick-rate anomaly",
    "cusum": "sustained move",
    "pagehinkley": "shift in mean return",
    "bounds": "price outside historical bounds",
}
_RANK = {name: k for k, name in enumerate(_MEANING)}
_WINDOW_METRIC = {
    "ret_std": "1-minute volatility",
    "spread": "1-minute spread",
    "ticks": "1-minute tick count",
    "mid": "1-minute price",
}
# Market convention: the currency listed first in a pair (for a triangle's legs).
_BASE_ORDER = ("EUR", "GBP", "AUD", "NZD", "USD", "CAD", "CHF", "JPY")


@dataclass(frozen=True)
class Incident:
    """Alerts of one key that overlap in time, with what they say together."""

    incident_id: str  # incident_id(key, start_ms): the same incident always has the same id
    key: str  # a pair ('USD/JPY') or a currency triangle ('EUR-JPY-USD')
    start_ms: int  # first alert's event time (epoch ms)
    end_ms: int  # last alert's event time
    pairs: tuple[str, ...]  # the key's pair, or the triangle's three legs
    kinds: tuple[str, ...]  # sorted distinct detector names
    alert_ids: tuple[str, ...]  # fxwatch.schema.alert_id of each alert, in event-time order
    n_alerts: int
    max_score: float
    severity: str  # one of SEVERITIES (severity_of)
    root_cause: str  # one line (describe)


def _field(alert, *names):
    """The first of `names` an alert (a mapping or an object such as a Verdict) has."""
    for name in names:
        if isinstance(alert, Mapping):
            if alert.get(name) is not None:
                return alert[name]
        elif getattr(alert, name, None) is not None:
            return getattr(alert, name)
    raise KeyError(f"alert {alert!r} has none of {names}")


def incident_key(alert) -> str:
    """The incident an alert belongs to: its `pair` (a pair, or a triangle id for a cross-rate
    break attributed to no leg)."""
    return str(_field(alert, "pair"))


def incident_id(key: str, start_ms: int) -> str:
    """An incident's id: a hash of its key and start, stable across engines and reruns."""
    return hashlib.blake2b(f"{key}|{int(start_ms)}".encode(), digest_size=8).hexdigest()


def _base_rank(currency: str) -> tuple[int, str]:
    rank = _BASE_ORDER.index(currency) if currency in _BASE_ORDER else len(_BASE_ORDER)
    return rank, currency


def key_pairs(key: str) -> tuple[str, ...]:
    """The pairs an incident key covers: ('USD/JPY',) or a triangle's three legs in market
    convention ('EUR-JPY-USD' -> ('EUR/JPY', 'EUR/USD', 'USD/JPY'))."""
    if "/" in key or "-" not in key:
        return (key,)
    cs = sorted(set(key.split("-")), key=_base_rank)
    return tuple(sorted(f"{a}/{b}" for i, a in enumerate(cs) for b in cs[i + 1 :]))


def severity_of(kinds: Sequence[str], n_alerts: int, max_score: float) -> str:
    """'low', 'medium' or 'high' from the evidence (see the module docstring)."""
    n_kinds = len(set(kinds))
    if n_kinds >= 3 or (n_kinds == 2 and max_score >= HIGH_SCORE):
        return "high"
    if n_kinds == 2 or n_alerts >= 3 or max_score >= HIGH_SCORE:
        return "medium"
    return "low"


def _rank(detector: str) -> int:
    """Place of a detector in the order of explanations (_MEANING order; others after)."""
    return _RANK.get(detector, len(_RANK))


def _meaning(detector: str) -> str:
    if detector.startswith("hist_"):
        metric = detector[len("hist_") :].rsplit("_", 1)[0]
        return f"{_WINDOW_METRIC.get(metric, metric)} outside historical bounds"
    return _MEANING.get(detector, detector)


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def describe(
    key: str,
    kinds: Sequence[str],
    reasons: Sequence[tuple[str, str] | str],
    n_alerts: int,
    max_score: float,
) -> tuple[str, str]:
    """(severity, root cause) of an incident: the one explanation every engine uses.

    `reasons`: (detector, reason) of its alerts, the most telling first (`incident_of`: the most
    specific kind of evidence, then the highest score); a plain string is taken as the lead's.
    The root cause names the subject (the pair, or the triangle and its legs when no leg could be
    blamed), what the lead alert saw, the other kinds of evidence, and how many alerts there are,
    e.g. "USD/JPY: price spike — bad tick: +9.1 sigma spike reverted within 2 ticks; also spread
    blow-out (3 alerts)".
    """
    kinds = sorted(set(kinds))
    lead_kind, lead_reason = None, ""
    if reasons:
        first = reasons[0]
        lead_kind, lead_reason = (None, first) if isinstance(first, str) else first
    lead_kind = lead_kind or (kinds[0] if kinds else "alert")
    pairs = key_pairs(key)
    if len(pairs) > 1:
        subject = (
            f"triangle {key} ({', '.join(pairs)}) out of line, no single leg to blame: "
            f"{_meaning(lead_kind)}"
        )
    else:
        subject = f"{key}: {_meaning(lead_kind)}"
    text = subject + (f" — {_one_line(lead_reason)}" if lead_reason else "")
    others = [_meaning(k) for k in sorted(kinds, key=_rank) if k != lead_kind]
    if others:
        text += f"; also {', '.join(dict.fromkeys(others))}"
    text += f" ({n_alerts} alert{'s' if n_alerts != 1 else ''})"
    return severity_of(kinds, n_alerts, max_score), text


def _ts(alert) -> int:
    return int(_field(alert, "ts", "ts_ms"))


def _id(alert) -> str:
    if isinstance(alert, Mapping) and alert.get("id"):
        return str(alert["id"])
    if not isinstance(alert, Mapping) and getattr(alert, "id", None):
        return str(alert.id)
    return alert_id(incident_key(alert), _ts(alert), str(_field(alert, "detector")))


def incident_of(key: str, alerts: Iterable) -> Incident:
    """The incident made of these alerts of one key (one session; repeats of an alert id count
    once). Alerts: mappings or objects with pair, ts (or ts_ms, epoch ms), detector, score,
    reason, and optionally id (default fxwatch.schema.alert_id)."""
    unique: dict[str, object] = {}
    for a in alerts:
        unique.setdefault(_id(a), a)
    if not unique:
        raise ValueError(f"incident {key!r} without alerts")
    rows = sorted(
        (
            (_ts(a), str(_field(a, "detector")), i, float(_field(a, "score")), _reason(a))
            for i, a in unique.items()
        ),
        key=lambda r: (r[0], r[1], r[2]),
    )
    start, end = rows[0][0], rows[-1][0]
    kinds = tuple(sorted({r[1] for r in rows}))
    max_score = max(r[3] for r in rows)
    by_weight = sorted(rows, key=lambda r: (_rank(r[1]), -r[3], r[0]))  # most telling first
    severity, root_cause = describe(
        key, kinds, [(r[1], r[4]) for r in by_weight], len(rows), max_score
    )
    return Incident(
        incident_id=incident_id(key, start),
        key=key,
        start_ms=start,
        end_ms=end,
        pairs=key_pairs(key),
        kinds=kinds,
        alert_ids=tuple(r[2] for r in rows),
        n_alerts=len(rows),
        max_score=max_score,
        severity=severity,
        root_cause=root_cause,
    )


def _reason(alert) -> str:
    """An alert's reason ('' when it has none)."""
    try:
        return str(_field(alert, "reason"))
    except KeyError:
        return ""


def group_alerts(alerts: Iterable, gap_ms: int = INCIDENT_GAP_MS) -> list[Incident]:
    """Alerts (any order; Verdicts, alert dicts or rows) -> incidents, by start then key.

    Per incident key, sorted by event time, an alert less than `gap_ms` after the previous one
    joins its incident, otherwise it starts a new one (Spark's session_window semantics).
    """
    by_key: dict[str, list] = {}
    for a in alerts:
        by_key.setdefault(incident_key(a), []).append(a)
    out: list[Incident] = []
    for key, items in by_key.items():
        items.sort(key=_ts)
        session: list = []
        last = None
        for a in items:
            t = _ts(a)
            if session and t - last >= gap_ms:
                out.append(incident_of(key, session))
                session = []
            session.append(a)
            last = t
        if session:
            out.append(incident_of(key, session))
    out.sort(key=lambda i: (i.start_ms, i.key))
    return out
