"""Anomalies: the classic windowed rule against historical bounds, and tick detectors in Spark state."""

from __future__ import annotations

import pickle
from typing import Callable, Sequence

from fxwatch.stats.features import hour_of_week, unpivot_metrics
from fxwatch.stream.trends import window_stats

__all__ = [
    "window_features",
    "RULE_METRICS",
    "bounds_table",
    "classic_alerts",
    "TICK_ALERT_SCHEMA",
    "detect_ticks",
    "tick_alerts",
    "new_cross_state",
    "feed_cross",
]

MAD_SCALE = 1.4826  # MAD -> std of a normal distribution
# Metrics the classic rule judges by default. The price level ('mid') is in fxwatch.stats too (the
# dashboard draws its band), but a price level is a random walk: compared with the same hour of past
# weeks it drifts out of any band, and in `fxwatch demo` it made 154 of 246 alerts, nearly all false.
# Pass metrics=(..., "mid") to judge it anyway.
RULE_METRICS = ("ret_std", "spread", "ticks")
# smallest scale per metric, so a constant history (std 0) does not make every change an anomaly
MIN_SCALE = {"ticks": 1.0, "ret_std": 1e-7, "spread": 1e-7, "mid": 1e-6}


def window_features(quotes, window: str = "1 minute", watermark: str = "30 seconds"):
    """Tumbling windows per pair with the metrics the rule checks, plus hour_of_week of the window."""
    from pyspark.sql import functions as F

    stats = window_stats(quotes.withWatermark("ts", watermark), window, None, label=window)
    return stats.withColumn("hour_of_week", hour_of_week(F.col("window_start")))


def bounds_table(stats, k: float = 4.0, method: str = "meanstd", min_n: int = 5):
    """fxwatch.stats rows -> (pair, hour_of_week, metric, method, lo, hi): centre ± k·scale.

    method 'meanstd' = mean ± k·std, 'mad' = median ± k·1.4826·MAD, 'both' = both rows.
    Rows with fewer than `min_n` windows behind them give no bounds.
    """
    from pyspark.sql import functions as F

    methods = ["meanstd", "mad"] if method == "both" else [method]
    if any(m not in ("meanstd", "mad") for m in methods):
        raise ValueError("method must be 'meanstd', 'mad' or 'both'")
    floor = F.coalesce(F.create_map(*[x for m, v in MIN_SCALE.items() for x in (F.lit(m), F.lit(v))])[F.col("metric")],
                       F.lit(0.0))
    parts = []
    for m in methods:
        centre = F.col("mean") if m == "meanstd" else F.col("median")
        scale = F.col("std") if m == "meanstd" else F.col("mad") * MAD_SCALE
        scale = F.greatest(F.coalesce(scale, F.lit(0.0)), floor)
        parts.append(stats.where(F.col("n") >= min_n).select(
            "pair", "hour_of_week", "metric", F.lit(m).alias("method"),
            (centre - k * scale).alias("lo"), (centre + k * scale).alias("hi"),
        ))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def classic_alerts(features, bounds, metrics=RULE_METRICS):
    """Window features joined with bounds -> alerts (ALERT_COLUMNS) for each metric outside them.

    detector = 'hist_<metric>_<method>'; ts = window start; score in [0.5, 1) grows with the excess
    over the band's half-width. An empty `bounds` (cold start, no stats yet) gives no alerts.
    """
    from pyspark.sql import functions as F

    long = unpivot_metrics(features, ["pair", "window_start", "window_end", "hour_of_week"])
    long = long.where(F.col("metric").isin(list(metrics)))
    j = long.join(F.broadcast(bounds), ["pair", "hour_of_week", "metric"])
    half = F.greatest((F.col("hi") - F.col("lo")) / 2, F.lit(1e-12))
    excess = F.when(F.col("value") < F.col("lo"), F.col("lo") - F.col("value")).otherwise(F.col("value") - F.col("hi")) / half
    side = F.when(F.col("value") < F.col("lo"), F.lit("below")).otherwise(F.lit("above"))
    return (
        j.where((F.col("value") < F.col("lo")) | (F.col("value") > F.col("hi")))
        .select(
            "pair",
            F.col("window_start").alias("ts"),
            F.concat(F.lit("hist_"), F.col("metric"), F.lit("_"), F.col("method")).alias("detector"),
            (1 - 0.5 * F.exp(-excess)).alias("score"),
            F.format_string("%s %.6g %s historical %s bounds [%.6g, %.6g] for hour-of-week %d",
                            F.col("metric"), F.col("value"), side, F.col("method"), F.col("lo"), F.col("hi"),
                            F.col("hour_of_week")).alias("reason"),
            "window_start", "window_end", "value",
        )
    )


TICK_ALERT_SCHEMA = "pair string, ts_ms long, detector string, score double, reason string"
_STATE_SCHEMA = "blob binary"
CROSS_KEY = "*"  # the state key under which the all-pairs (cross-rate) detectors run


def new_cross_state(cross: Callable[[], list], cooldown_ms: int) -> tuple:
    """The all-pairs state: (cross-rate detectors, their de-duplicator)."""
    from fxwatch.detect.ensemble import AlertDeduper

    return list(cross()), AlertDeduper(cooldown_ms)


def feed_cross(state: tuple, q) -> list:
    """One quote through the all-pairs detectors; their new (de-duplicated) alerts."""
    detectors, dedup = state
    out = []
    for d in detectors:
        v = d.update(q)
        if v is not None and v.alert and dedup.admit(v):
            out.append(v)
    return out


def _detector_fn(factory: Callable[[], list], cross: Callable[[], list] | None, cooldown_ms: int,
                 order: Sequence[str]):
    """The applyInPandasWithState function: one pickled detector state per key (pair or '*')."""

    def fn(key, frames, state):
        import math

        import pandas as pd

        from fxwatch.detect.ensemble import Ensemble
        from fxwatch.schema import Quote

        (k,) = key
        if state.exists:
            obj = pickle.loads(state.get[0])
        elif k == CROSS_KEY:
            obj = new_cross_state(cross or list, cooldown_ms)
        else:
            obj = Ensemble(factory(), cooldown_ms)
        pdf = pd.concat(list(frames), ignore_index=True).sort_values(list(order), kind="stable")
        out = []

        def opt(v):
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

        for pair, ts_ms, bid, ask, source, low, high, open_ in zip(
                pdf["pair"], pdf["ts_ms"], pdf["bid"], pdf["ask"], pdf["source"], pdf["low"], pdf["high"], pdf["open"]):
            q = Quote(pair, int(ts_ms), float(bid), float(ask), source, opt(low), opt(high), opt(open_))
            if k == CROSS_KEY:
                out.extend(feed_cross(obj, q))
            else:
                out.extend(obj.update_many(q))
        state.update((pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL),))
        yield pd.DataFrame({
            "pair": [v.pair for v in out], "ts_ms": [int(v.ts_ms) for v in out],
            "detector": [v.detector for v in out], "score": [float(v.score) for v in out],
            "reason": [v.reason for v in out],
        }, columns=["pair", "ts_ms", "detector", "score", "reason"])

    return fn


def detect_ticks(quotes, factory: Callable[[], list] | None = None, cross: Callable[[], list] | None = None,
                 cooldown_ms: int = 60_000, order: Sequence[str] = ("ts_ms", "offset")):
    """Run fxwatch.detect's per-pair ensemble (and the cross-rate detectors) in Spark state.

    Each quote is keyed by its pair and, when `cross` is given, also by '*' (one state holding the
    all-pairs detectors). Inside a micro-batch a key's quotes run in `order`; the state (pickled
    detectors) carries over batches and restarts via the checkpoint. Output: TICK_ALERT_SCHEMA rows,
    the de-duplicated alerts exactly as `fxwatch.detect.run_detectors` would report them.
    """
    from pyspark.sql import functions as F

    from fxwatch.detect.bank import default_detectors

    factory = factory or default_detectors
    keys = F.array(F.col("pair"), F.lit(CROSS_KEY)) if cross else F.array(F.col("pair"))
    cols = ["pair", "ts_ms", "bid", "ask", "source", "low", "high", "open"] + [c for c in order if c not in
                                                                               ("pair", "ts_ms")]
    return (
        quotes.select(F.explode(keys).alias("dkey"), *cols)
        .groupBy("dkey")
        .applyInPandasWithState(_detector_fn(factory, cross, cooldown_ms, order), TICK_ALERT_SCHEMA,
                                _STATE_SCHEMA, "append", "NoTimeout")
    )


def tick_alerts(verdicts):
    """TICK_ALERT_SCHEMA rows -> alert rows (ALERT_COLUMNS; no window)."""
    from pyspark.sql import functions as F

    return verdicts.select(
        "pair", F.timestamp_millis("ts_ms").alias("ts"), "detector", "score", "reason",
        F.lit(None).cast("timestamp").alias("window_start"), F.lit(None).cast("timestamp").alias("window_end"),
        F.lit(None).cast("double").alias("value"),
    )
