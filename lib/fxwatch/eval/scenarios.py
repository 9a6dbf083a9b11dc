"""Labelled-scenario scorer: event recall, detection delay, false-alarm incidents and precision
per event type."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fxwatch.detect.bank import PairDetectorBank, default_cross, default_detectors
from fxwatch.detect.incidents import INCIDENT_GAP_MS, group_alerts
from fxwatch.detect.triangle import triangles_by_pair
from fxwatch.sources.synthetic import DEFAULT_SYNTH_PAIRS, SyntheticConfig, generate

__all__ = [
    "Alert",
    "EventResult",
    "AlarmCluster",
    "ScenarioScore",
    "as_alerts",
    "score_scenarios",
    "merge_scores",
    "detect_offline",
    "run_scenario",
    "SCENARIO_START_MS",
    "alerts_frame",
    "flagged_between",
]

CROSS_KINDS = ("cross_break",)  # events an alert naming their triangle (its id) also matches
CROSS_DETECTORS = ("crossrate",)  # detectors that attribute a break to a leg (or the triangle)


@dataclass(frozen=True)
class Alert:
    """One alert: ts_ms is the event time it points at, emitted_ms the event time it was raised
    (default ts_ms)."""

    pair: str
    ts_ms: int
    detector: str
    score: float = 1.0
    emitted_ms: int | None = None

    @property
    def raised_ms(self) -> int:
        """Event time at which the alert became known (for detection delay)."""
        return self.ts_ms if self.emitted_ms is None else self.emitted_ms


@dataclass(frozen=True)
class EventResult:
    """Outcome for one labelled event: detected or not, delay of the first matching alert
    (ms, ≥ 0)."""

    event_id: str
    kind: str
    pair: str
    start_ts: int
    end_ts: int
    detected: bool
    delay_ms: int | None
    first_detector: str | None
    n_alerts: int


@dataclass(frozen=True)
class AlarmCluster:
    """One false-alarm incident: alerts on one pair (or triangle id) outside every labelled
    window, each less than the incident gap after the previous one."""

    pair: str
    start_ts: int
    end_ts: int
    n_alerts: int
    detectors: tuple[str, ...]
    legit: bool  # inside an unlabelled legitimate move (news jump) rather than plain noise


@dataclass
class ScenarioScore:
    """Scored scenario(s): per-event outcomes, unmatched alert incidents and the pair-hours
    observed."""

    events: list[EventResult]
    clusters: list[AlarmCluster]
    pair_hours: float
    matched_alerts: int = 0
    legit_events: int = 0
    legit_events_hit: int = 0
    params: dict = field(default_factory=dict)
    leg_attribution_false_alarms: int = 0  # unmatched cross-rate alerts on a leg that did not move

    @property
    def false_alarm_clusters(self) -> list[AlarmCluster]:
        """Unmatched clusters outside legitimate moves."""
        return [c for c in self.clusters if not c.legit]

    @property
    def legit_clusters(self) -> list[AlarmCluster]:
        """Unmatched clusters inside legitimate (unlabelled) market moves."""
        return [c for c in self.clusters if c.legit]

    def by_kind(self) -> pd.DataFrame:
        """One row per event type: events, detected, recall, delay p50/p90 (s), matched alerts."""
        rows = []
        kinds = sorted({e.kind for e in self.events})
        for k in kinds:
            evs = [e for e in self.events if e.kind == k]
            delays = np.array([e.delay_ms for e in evs if e.detected], dtype=float) / 1000.0
            rows.append(
                {
                    "kind": k,
                    "events": len(evs),
                    "detected": sum(e.detected for e in evs),
                    "recall": sum(e.detected for e in evs) / len(evs),
                    "delay_p50_s": float(np.percentile(delays, 50))
                    if delays.size
                    else float("nan"),
                    "delay_p90_s": float(np.percentile(delays, 90))
                    if delays.size
                    else float("nan"),
                    "alerts": sum(e.n_alerts for e in evs),
                }
            )
        return pd.DataFrame(
            rows,
            columns=[
                "kind",
                "events",
                "detected",
                "recall",
                "delay_p50_s",
                "delay_p90_s",
                "alerts",
            ],
        )

    def by_detector(self) -> pd.DataFrame:
        """Per detector: events it detected first, and the unmatched clusters it took part in."""
        dets = sorted(
            {e.first_detector for e in self.events if e.first_detector}
            | {d for c in self.clusters for d in c.detectors}
        )
        rows = []
        for d in dets:
            rows.append(
                {
                    "detector": d,
                    "first_detections": sum(e.first_detector == d for e in self.events),
                    "false_alarm_clusters": sum(
                        d in c.detectors for c in self.false_alarm_clusters
                    ),
                    "legit_clusters": sum(d in c.detectors for c in self.legit_clusters),
                }
            )
        return pd.DataFrame(
            rows, columns=["detector", "first_detections", "false_alarm_clusters", "legit_clusters"]
        )

    def summary(self) -> dict:
        """Headline figures: recall, delay p50/p90 (s), false-alarm incidents per pair-hour
        (`false_alarm_clusters` and `fa_per_pair_hour` are the same count under their old names),
        leg-attribution false alarms, precision."""
        n = len(self.events)
        det = [e for e in self.events if e.detected]
        delays = np.array([e.delay_ms for e in det], dtype=float) / 1000.0
        fa = len(self.false_alarm_clusters)
        lg = len(self.legit_clusters)
        detected_events = len(det)
        # Cluster-level precision: each detected event is one true positive; noise clusters and
        # clusters on legitimate moves are false positives.
        denom = detected_events + fa + lg
        return {
            "events": n,
            "detected": detected_events,
            "recall": detected_events / n if n else float("nan"),
            "delay_p50_s": float(np.percentile(delays, 50)) if delays.size else float("nan"),
            "delay_p90_s": float(np.percentile(delays, 90)) if delays.size else float("nan"),
            "false_alarm_clusters": fa,
            "pair_hours": self.pair_hours,
            "fa_per_pair_hour": fa / self.pair_hours if self.pair_hours else float("nan"),
            "false_alarm_incidents": fa,
            "fa_incidents_per_pair_hour": fa / self.pair_hours if self.pair_hours else float("nan"),
            "leg_attribution_false_alarms": self.leg_attribution_false_alarms,
            "legit_clusters": lg,
            "legit_events": self.legit_events,
            "legit_events_hit": self.legit_events_hit,
            "precision": detected_events / denom if denom else float("nan"),
            "matched_alerts": self.matched_alerts,
            "unmatched_alerts": sum(c.n_alerts for c in self.clusters),
        }


def as_alerts(alerts) -> list[Alert]:
    """Alerts from Alert/Verdict objects, (pair, ts_ms, detector[, score[, emitted_ms]]) tuples
    or a DataFrame."""
    if isinstance(alerts, pd.DataFrame):
        ts_col = "ts_ms" if "ts_ms" in alerts.columns else "ts"
        ts = alerts[ts_col]
        if not np.issubdtype(ts.dtype, np.integer):
            ts = (pd.to_datetime(ts, utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(
                milliseconds=1
            )
        score = alerts["score"] if "score" in alerts.columns else pd.Series(1.0, index=alerts.index)
        emitted = (
            alerts["emitted_ms"]
            if "emitted_ms" in alerts.columns
            else pd.Series(None, index=alerts.index)
        )
        return [
            Alert(p, int(t), d, float(s), None if pd.isna(e) else int(e))
            for p, t, d, s, e in zip(alerts["pair"], ts, alerts["detector"], score, emitted)
        ]
    out = []
    for a in alerts:
        if isinstance(a, Alert):
            out.append(a)
        elif isinstance(a, tuple):
            out.append(
                Alert(
                    a[0],
                    int(a[1]),
                    a[2],
                    float(a[3]) if len(a) > 3 else 1.0,
                    None if len(a) < 5 or a[4] is None else int(a[4]),
                )
            )
        else:  # a Verdict or anything with pair/ts_ms/detector/score
            out.append(
                Alert(
                    a.pair,
                    int(a.ts_ms),
                    a.detector,
                    float(getattr(a, "score", 1.0)),
                    getattr(a, "emitted_ms", None),
                )
            )
    return out


def _windows(labels, universe, tolerance_ms, grace_ms, triangle_kinds):
    """Per label: (label, set of keys an alert may name, lo, hi). The keys are the label's pairs,
    plus, for `triangle_kinds`, the ids of the watched triangles holding one of them."""
    tris = triangles_by_pair(p for p in universe if "/" in p)
    out = []
    for e in labels:
        pairs = set(e.pair.split(";"))
        if e.kind in triangle_kinds:
            pairs |= {t for p in list(pairs) for t in tris.get(p, ())}
        out.append((e, pairs, e.start_ts - tolerance_ms, e.end_ts + grace_ms))
    return out


def _inside(a: Alert, wins) -> list:
    return [w for w in wins if a.pair in w[1] and w[2] <= a.ts_ms <= w[3]]


def score_scenarios(
    alerts,
    labels: Sequence,
    legit: Sequence = (),
    pairs: Iterable[str] | None = None,
    pair_hours: float | None = None,
    tolerance_ms: int = 1_000,
    grace_ms: int = 30_000,
    cluster_gap_ms: int | None = None,
    triangle_kinds: Sequence[str] = CROSS_KINDS,
    cross_detectors: Sequence[str] = CROSS_DETECTORS,
) -> ScenarioScore:
    """Match alerts to labelled events (EventLabel-like: event_id, kind, pair, start_ts, end_ts).

    One rule for every detector and every generator: an event is detected by an alert on its pair
    (for `triangle_kinds`, also an alert naming a watched triangle that holds its pair, e.g.
    'EUR-JPY-USD') with ts in [start − tolerance_ms, end + grace_ms]; its delay is the first such
    alert's raise time − start (clipped at 0). Every other alert is unmatched: an alert on a pair
    no event touched is a false alarm, whatever detector raised it. Unmatched alerts become
    incidents (`fxwatch.detect.incidents.group_alerts`: same pair or triangle, each alert less than
    `cluster_gap_ms`, default INCIDENT_GAP_MS, after the previous one); an incident touching a
    legitimate move's window (its pairs, or a triangle holding one of them, same margins) is a
    legit cluster, else a false-alarm incident. Unmatched `cross_detectors` alerts on a leg pair
    outside every event and legitimate move are counted as leg-attribution false alarms.
    `pair_hours` defaults to len(pairs) × the span of alerts and labels in hours.
    """
    gap_ms = INCIDENT_GAP_MS if cluster_gap_ms is None else cluster_gap_ms
    alerts = sorted(as_alerts(alerts), key=lambda a: (a.pair, a.ts_ms))
    labels, legit = list(labels), list(legit)
    universe = (
        set(pairs or ())
        | {a.pair for a in alerts if "/" in a.pair}
        | {p for e in labels + legit for p in e.pair.split(";")}
    )
    wins = _windows(labels, universe, tolerance_ms, grace_ms, triangle_kinds)
    # a legitimate move touches its pairs and, for an alert naming a triangle, each triangle of them
    legit_wins = _windows(legit, universe, tolerance_ms, grace_ms, {e.kind for e in legit})
    hits: dict[str, list[Alert]] = {e.event_id: [] for e in labels}
    legit_hit: set[str] = set()
    unmatched: list[tuple[Alert, bool]] = []
    matched = 0
    leg_false = 0
    cross_set = set(cross_detectors)
    for a in alerts:
        ws = _inside(a, wins)
        for w in ws:
            hits[w[0].event_id].append(a)
        if ws:
            matched += 1
            continue
        lw = _inside(a, legit_wins)
        for w in lw:
            legit_hit.add(w[0].event_id)
        if not lw and a.detector in cross_set and "/" in a.pair:
            leg_false += 1
        unmatched.append((a, bool(lw)))
    events = []
    for e in labels:
        hs = hits[e.event_id]
        if hs:
            first = min(hs, key=lambda a: (a.raised_ms, a.ts_ms))
            events.append(
                EventResult(
                    e.event_id,
                    e.kind,
                    e.pair,
                    e.start_ts,
                    e.end_ts,
                    True,
                    max(0, first.raised_ms - e.start_ts),
                    first.detector,
                    len(hs),
                )
            )
        else:
            events.append(
                EventResult(e.event_id, e.kind, e.pair, e.start_ts, e.end_ts, False, None, None, 0)
            )
    clusters = _cluster(unmatched, gap_ms)
    if pair_hours is None:
        stamps = [a.ts_ms for a in alerts] + [
            t for e in labels + legit for t in (e.start_ts, e.end_ts)
        ]
        span_h = (max(stamps) - min(stamps)) / 3_600_000 if stamps else 0.0
        pair_hours = len(set(pairs) if pairs else universe) * span_h
    params = {"tolerance_ms": tolerance_ms, "grace_ms": grace_ms, "cluster_gap_ms": gap_ms}
    return ScenarioScore(
        events,
        clusters,
        float(pair_hours),
        matched,
        len(legit),
        len(legit_hit),
        params,
        leg_false,
    )


def _cluster(unmatched: list[tuple[Alert, bool]], gap_ms: int) -> list[AlarmCluster]:
    """Unmatched (alert, in-legit-window) pairs as incidents (`group_alerts`), one AlarmCluster
    each; legit when any of its alerts lies in a legitimate move's window."""
    legit_at = {(a.pair, a.ts_ms, a.detector) for a, lg in unmatched if lg}
    rows = [
        {"pair": a.pair, "ts": a.ts_ms, "detector": a.detector, "score": a.score, "reason": ""}
        for a, _ in unmatched
    ]
    out = []
    for inc in group_alerts(rows, gap_ms=gap_ms):
        members = [
            (a.pair, a.ts_ms, a.detector)
            for a, _ in unmatched
            if a.pair == inc.key and inc.start_ms <= a.ts_ms <= inc.end_ms
        ]
        out.append(
            AlarmCluster(
                inc.key,
                inc.start_ms,
                inc.end_ms,
                inc.n_alerts,
                tuple(inc.kinds),
                any(m in legit_at for m in members),
            )
        )
    return sorted(out, key=lambda c: (c.pair, c.start_ts))


def merge_scores(scores: Iterable[ScenarioScore]) -> ScenarioScore:
    """Pool several scored scenarios (e.g. seeds): events and clusters concatenated, pair-hours
    summed."""
    scores = list(scores)
    return ScenarioScore(
        [e for s in scores for e in s.events],
        [c for s in scores for c in s.clusters],
        sum(s.pair_hours for s in scores),
        sum(s.matched_alerts for s in scores),
        sum(s.legit_events for s in scores),
        sum(s.legit_events_hit for s in scores),
        dict(scores[0].params) if scores else {},
        sum(s.leg_attribution_false_alarms for s in scores),
    )


def detect_offline(quotes, factory=None, cross=None, cooldown_ms: int = 60_000) -> list[Alert]:
    """Run a fresh PairDetectorBank (default ensemble + cross-rate) over quotes; alerts carry
    their raise time."""
    bank = PairDetectorBank(
        factory or default_detectors,
        cross=default_cross() if cross is None else cross,
        cooldown_ms=cooldown_ms,
    )
    out: list[Alert] = []
    upd = bank.update
    for q in quotes:
        vs = upd(q)
        if vs:
            out.extend(Alert(v.pair, v.ts_ms, v.detector, v.score, q.ts_ms) for v in vs)
    return out


SCENARIO_START_MS = (
    1_705_330_800_000  # 2024-01-15T15:00:00Z: two hours from here cover the 16:00 London fix
)


def run_scenario(
    seed: int,
    hours: float = 2.0,
    pairs: Sequence[str] | None = None,
    start_ms: int = SCENARIO_START_MS,
    factory=None,
    cross_factory=None,
    cooldown_ms: int = 60_000,
    **score_kw,
) -> tuple[ScenarioScore, list[Alert]]:
    """Generate one synthetic scenario (SyntheticConfig defaults otherwise), detect offline,
    score it.

    `factory()` / `cross_factory()` build fresh per-pair / all-pairs detectors (defaults: the
    bank's).
    """
    pairs = tuple(pairs or DEFAULT_SYNTH_PAIRS)
    res = generate(
        SyntheticConfig(pairs=pairs, start_ms=start_ms, duration_s=hours * 3600.0, seed=seed)
    )
    alerts = detect_offline(
        res.quotes(), factory, cross_factory() if cross_factory else None, cooldown_ms
    )
    score = score_scenarios(
        alerts, res.labels, res.legit, pairs=pairs, pair_hours=len(pairs) * hours, **score_kw
    )
    return score, alerts


def alerts_frame(alerts) -> pd.DataFrame:
    """Alerts as a DataFrame: pair, ts_ms, time (UTC), detector, score, emitted_ms."""
    al = as_alerts(alerts)
    df = pd.DataFrame(
        {
            "pair": [a.pair for a in al],
            "ts_ms": [a.ts_ms for a in al],
            "detector": [a.detector for a in al],
            "score": [a.score for a in al],
            "emitted_ms": [a.raised_ms for a in al],
        }
    )
    df.insert(2, "time", pd.to_datetime(df["ts_ms"], unit="ms", utc=True))
    return df


def flagged_between(
    alerts, pair: str, start_ms: int, end_ms: int, detectors: Iterable[str] | None = None
) -> list[Alert]:
    """Alerts on `pair` with start_ms ≤ ts_ms ≤ end_ms (optionally only from `detectors`)."""
    keep = set(detectors) if detectors is not None else None
    return [
        a
        for a in as_alerts(alerts)
        if a.pair == pair and start_ms <= a.ts_ms <= end_ms and (keep is None or a.detector in keep)
    ]
