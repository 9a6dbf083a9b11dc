"""The tick-alerts query: fxwatch.detect's bank as arbitrary stateful processing, keyed by pair
and by group of currency triangles.

    Kafka fx-quotes ─ readStream ─> parse + validate ─> accepted quotes
        ─ fan out: each quote to its pair's key and to its watched triangles' component key
        ─ groupBy(key).applyInPandasWithState(detectors)    state per key in Spark's state store
        ─ append mode ─ foreachBatch ─> Cassandra fxwatch.alerts + Kafka fx-alerts

Per key, a micro-batch's quotes run in (ts_ms, offset) order through the key's detectors; their
pickled state is checkpointed with the query, so a restart resumes where the last committed batch
left off and a replayed batch starts from the same state. No state holds all pairs: the keys
spread over the executors.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterable

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql.streaming.state import GroupStateTimeout

from fxwatch.config import Settings
from fxwatch.detect.bank import cross_factory, cross_keys, new_state
from fxwatch.schema import Quote
from fxwatch.stream.read import accepted, read_records
from fxwatch.stream.session import ALERTS_POOL, scheduler_pool
from fxwatch.stream.sinks import BatchSink, start_query, write_alerts

__all__ = ["ALERT_SCHEMA", "TickAlertsSink", "detect_ticks", "start_tick_alerts", "state_keys"]

# one row per alert the detectors raise
ALERT_SCHEMA = "pair string, ts_ms long, detector string, score double, reason string"
_STATE_SCHEMA = "blob binary"  # the key's detectors, pickled
_INPUT = ["pair", "ts_ms", "bid", "ask", "source", "low", "high", "open"]


def start_tick_alerts(spark, settings: Settings, config):
    """Start the tick-alerts query in the FAIR pool that goes first; (StreamingQuery, sink)."""
    # read + parse + validate
    quotes = accepted(
        read_records(spark, settings, config.starting_offsets, config.max_offsets_per_trigger)
    )
    # fan out by key, stateful detectors per key
    alerts = detect_ticks(quotes, config.detectors, config.cross, config.pairs, config.cooldown_ms)
    # sink: Cassandra + Kafka; the alert path's jobs run in the FAIR pool served first
    sink = TickAlertsSink(settings, config.publish_alerts)
    with scheduler_pool(spark, ALERTS_POOL):
        return start_query(alerts, sink, "tick_alerts", "append", settings, config), sink


def detect_ticks(
    quotes,
    factory: Callable[[], list],
    cross,
    pairs: Iterable[str],
    cooldown_ms: int = 60_000,
    order=("ts_ms", "offset"),
):
    """Accepted quotes -> ALERT_SCHEMA rows: the de-duplicated alerts `fxwatch.detect` reports.

    Each quote goes to the state of its pair and, when `cross` is given, to the state of the
    component of currency triangles among `pairs` that holds its pair (triangles sharing a leg).
    Inside a micro-batch a key's quotes run in `order`. `cross`: a factory of cross-pair
    detectors, a list of them as a template, or None.
    """
    cross = cross_factory(cross)
    extra = [c for c in order if c not in _INPUT]
    return (
        quotes.select(F.explode(state_keys(pairs if cross else ())).alias("key"), *_INPUT, *extra)
        .groupBy("key")
        .applyInPandasWithState(
            _run_key(factory, cross, cooldown_ms, list(order)),
            ALERT_SCHEMA,
            _STATE_SCHEMA,
            "append",
            GroupStateTimeout.NoTimeout,
        )
    )


def state_keys(pairs: Iterable[str]):
    """A Column: the detector-state keys of a quote, its pair then the key of the component of
    currency triangles among `pairs` holding its pair (`fxwatch.detect.bank.cross_keys`; a literal
    map: the fan-out is a plain column expression)."""
    key_list = F.array(F.col("pair"))
    triangles = cross_keys(pairs)
    if not triangles:
        return key_list
    keys = F.create_map(
        *[x for p, t in triangles.items() for x in (F.lit(p), F.array(*[F.lit(k) for k in t]))]
    )
    return F.concat(key_list, F.coalesce(keys[F.col("pair")], F.array().cast("array<string>")))


def _run_key(factory, cross, cooldown_ms: int, order: list[str]):
    """The function Spark calls per key and micro-batch: restore, run the quotes, save, emit."""

    def run(key, frames, state):
        (k,) = key
        detectors = (
            pickle.loads(state.get[0])
            if state.exists
            else new_state(k, factory, cross, cooldown_ms)
        )
        batch = pd.concat(list(frames), ignore_index=True).sort_values(order, kind="stable")
        alerts = []
        for pair, ts_ms, bid, ask, source, low, high, open_ in zip(*(batch[c] for c in _INPUT)):
            q = Quote(
                pair, int(ts_ms), float(bid), float(ask), source, _opt(low), _opt(high), _opt(open_)
            )
            alerts.extend(detectors.update_many(q))
        state.update((pickle.dumps(detectors, protocol=pickle.HIGHEST_PROTOCOL),))
        yield pd.DataFrame(
            {
                "pair": [v.pair for v in alerts],
                "ts_ms": [int(v.ts_ms) for v in alerts],
                "detector": [v.detector for v in alerts],
                "score": [float(v.score) for v in alerts],
                "reason": [v.reason for v in alerts],
            },
            columns=["pair", "ts_ms", "detector", "score", "reason"],
        )

    return run


def _opt(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


class TickAlertsSink(BatchSink):
    """foreachBatch of the tick-alerts query: alert rows -> Cassandra and the alerts topic."""

    def __init__(self, settings: Settings, publish: bool = True):
        super().__init__(settings)
        self.publish = publish

    def write(self, alerts, batch_id: int) -> int:
        rows = [
            {
                "pair": r["pair"],
                "ts": int(r["ts_ms"]),
                "detector": r["detector"],
                "score": float(r["score"]),
                "reason": r["reason"],
                "window_start": None,
                "window_end": None,
                "value": None,
            }
            for r in alerts.collect()
        ]
        return write_alerts(rows, self.settings, self.publish)
