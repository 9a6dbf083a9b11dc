"""The window-alerts query: the classic rule — closed 1-minute windows against historical bounds.

    Kafka fx-quotes ─ readStream ─> parse + validate ─> accepted quotes
        ─ withWatermark(ts, 30 s) ─ groupBy(pair, window(ts, 1 min)).agg(...)  (trends.window_stats)
        ─ append mode: a window comes out once, when the watermark has passed its end (final)
        ─ foreachBatch: stream-static join with the newest fxwatch.stats bounds (per pair, hour of
          week, metric) ─ values outside [lo, hi] ─> Cassandra fxwatch.alerts + Kafka fx-alerts

The bounds are a small static DataFrame, re-read when the daily job writes a new stats version
(checked at most every `stats_refresh_s`), so the rule picks up new statistics without a restart.
Before any statistics exist the rule is silent (cold start).
"""

from __future__ import annotations

import time

from pyspark.sql import functions as F

from fxwatch.config import Settings
from fxwatch.store import stats as stats_table
from fxwatch.store.session import with_retry
from fxwatch.stream.features import hour_of_week, unpivot_metrics
from fxwatch.stream.read import accepted, read_records
from fxwatch.stream.sinks import BatchSink, start_query, write_alerts
from fxwatch.stream.trends import window_stats

__all__ = [
    "MIN_SCALE",
    "RULE_METRICS",
    "StatsBounds",
    "WindowAlertsSink",
    "bounds_table",
    "classic_alerts",
    "start_window_alerts",
    "window_features",
]

MAD_SCALE = 1.4826  # MAD -> std of a normal distribution
# Metrics the classic rule judges by default. The price level ('mid') is in fxwatch.stats too (the
# dashboard draws its band), but a price level is a random walk: compared with the same hour of
# past weeks it drifts out of any band, and in `fxwatch demo` it made 154 of 246 alerts, nearly
# all false. Pass metrics=(..., "mid") to judge it anyway.
RULE_METRICS = ("ret_std", "spread", "ticks")
# smallest scale per metric, so a constant history (std 0) does not make every change an anomaly
MIN_SCALE = {"ticks": 1.0, "ret_std": 1e-7, "spread": 1e-7, "mid": 1e-6}


def start_window_alerts(spark, settings: Settings, config):
    """Start the window-alerts query; returns (StreamingQuery, WindowAlertsSink)."""
    # read + parse + validate
    quotes = accepted(
        read_records(spark, settings, config.starting_offsets, config.max_offsets_per_trigger)
    )
    # watermark + tumbling 1-minute windows with the metrics the rule checks
    features = window_features(quotes, watermark=config.watermark)
    # sink: append mode (final windows only), joined with the current bounds in each micro-batch
    bounds = StatsBounds(settings, refresh_seconds=config.stats_refresh_s)
    sink = WindowAlertsSink(settings, bounds, config.publish_alerts)
    return start_query(features, sink, "window_alerts", "append", settings, config), sink


def window_features(quotes, window: str = "1 minute", watermark: str = "30 seconds"):
    """Tumbling windows per pair with the metrics the rule checks, plus the window's
    hour_of_week."""
    stats = window_stats(
        quotes.withWatermark("ts", watermark), window, None, label=window, with_returns=True
    )
    return stats.withColumn("hour_of_week", hour_of_week(F.col("window_start")))


class WindowAlertsSink(BatchSink):
    """foreachBatch of the window-alerts query: closed windows x current bounds -> alerts.

    Also counts `windows` judged and the stats `versions_seen`.
    """

    def __init__(self, settings: Settings, bounds: StatsBounds, publish: bool = True):
        super().__init__(settings)
        self.bounds, self.publish = bounds, publish
        self.windows = 0
        self.versions_seen: list[str] = []

    @property
    def alerts(self) -> int:
        return self.rows

    def write(self, features, batch_id: int) -> int:
        version, bounds = self.bounds.current(features.sparkSession)
        if version and (not self.versions_seen or self.versions_seen[-1] != version):
            self.versions_seen.append(version)
        features = features.persist()
        try:
            # every partition must be consumed (Spark validates state-store commits per batch)
            self.windows += features.count()
            if bounds is None:
                return 0  # cold start: no statistics yet, the rule stays silent
            return write_alerts(
                _alert_rows(classic_alerts(features, bounds)), self.settings, self.publish
            )
        finally:
            features.unpersist()

    def summary(self) -> dict:
        return {
            **super().summary(),
            "windows": self.windows,
            "stats_versions_seen": list(self.versions_seen),
        }


def _alert_rows(alerts) -> list[dict]:
    """Alert DataFrame -> dicts with epoch-millisecond times (alerts are few: collected)."""
    return [
        r.asDict()
        for r in alerts.select(
            "pair",
            F.unix_millis("ts").alias("ts"),
            "detector",
            "score",
            "reason",
            F.unix_millis("window_start").alias("window_start"),
            F.unix_millis("window_end").alias("window_end"),
            F.col("value").cast("double").alias("value"),
        ).collect()
    ]


def bounds_table(stats, k: float = 4.0, method: str = "meanstd", min_n: int = 5):
    """fxwatch.stats rows -> (pair, hour_of_week, metric, method, lo, hi): centre ± k·scale.

    method 'meanstd' = mean ± k·std, 'mad' = median ± k·1.4826·MAD, 'both' = both rows.
    Rows with fewer than `min_n` windows behind them give no bounds.
    """
    methods = ["meanstd", "mad"] if method == "both" else [method]
    if any(m not in ("meanstd", "mad") for m in methods):
        raise ValueError("method must be 'meanstd', 'mad' or 'both'")
    floors = F.create_map(*[x for m, v in MIN_SCALE.items() for x in (F.lit(m), F.lit(v))])
    floor = F.coalesce(floors[F.col("metric")], F.lit(0.0))
    parts = []
    for m in methods:
        centre = F.col("mean") if m == "meanstd" else F.col("median")
        scale = F.col("std") if m == "meanstd" else F.col("mad") * MAD_SCALE
        scale = F.greatest(F.coalesce(scale, F.lit(0.0)), floor)
        parts.append(
            stats.where(F.col("n") >= min_n).select(
                "pair",
                "hour_of_week",
                "metric",
                F.lit(m).alias("method"),
                (centre - k * scale).alias("lo"),
                (centre + k * scale).alias("hi"),
            )
        )
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def classic_alerts(features, bounds, metrics=RULE_METRICS):
    """Window features joined with bounds -> alerts for each metric outside them.

    detector = 'hist_<metric>_<method>'; ts = window start; score in [0.5, 1) grows with the
    excess over the band's half-width. An empty `bounds` gives no alerts.
    """
    long = unpivot_metrics(features, ["pair", "window_start", "window_end", "hour_of_week"])
    long = long.where(F.col("metric").isin(list(metrics)))
    j = long.join(F.broadcast(bounds), ["pair", "hour_of_week", "metric"])
    value, lo, hi = F.col("value"), F.col("lo"), F.col("hi")
    half = F.greatest((hi - lo) / 2, F.lit(1e-12))
    excess = F.when(value < lo, lo - value).otherwise(value - hi) / half
    side = F.when(value < lo, F.lit("below")).otherwise(F.lit("above"))
    return j.where((value < lo) | (value > hi)).select(
        "pair",
        F.col("window_start").alias("ts"),
        F.concat(F.lit("hist_"), F.col("metric"), F.lit("_"), F.col("method")).alias("detector"),
        (1 - 0.5 * F.exp(-excess)).alias("score"),
        F.format_string(
            "%s %.6g %s historical %s bounds [%.6g, %.6g] for hour-of-week %d",
            F.col("metric"),
            value,
            side,
            F.col("method"),
            lo,
            hi,
            F.col("hour_of_week"),
        ).alias("reason"),
        "window_start",
        "window_end",
        "value",
    )


_STATS_SCHEMA = (
    "pair string, hour_of_week int, metric string, n long, mean double, std double, "
    "median double, mad double"
)


class StatsBounds:
    """Driver-side cache of the newest stats version as a small Spark DataFrame of bounds.

    `current(spark)` checks stats_versions when `refresh_seconds` have passed since the last check
    and reloads when a newer version landed; (None, None) until any stats exist (cold start).
    """

    def __init__(
        self,
        settings: Settings,
        k: float | None = None,
        method: str = "both",
        min_n: int = 5,
        refresh_seconds: float = 30.0,
    ):
        self.settings, self.k, self.method, self.min_n = settings, k, method, min_n
        self.refresh_seconds = refresh_seconds
        self.version: str | None = None
        self.bounds = None
        self.checked_at = float("-inf")
        self.loads = 0

    def current(self, spark):
        """(version, bounds DataFrame) or (None, None)."""
        now = time.monotonic()
        if now - self.checked_at < self.refresh_seconds:
            return self.version, self.bounds
        self.checked_at = now
        row = with_retry(
            lambda: stats_table.latest_version(self.settings), "reading stats_versions"
        )
        if row is None or row.version == self.version:
            return self.version, self.bounds
        rows = with_retry(
            lambda: stats_table.read_stats(self.settings, row.version, row.pairs), "reading stats"
        )
        k = self.k if self.k is not None else (row.k or 4.0)
        columns = ("pair", "hour_of_week", "metric", "n", "mean", "std", "median", "mad")
        stats = spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], _STATS_SCHEMA)
        bounds = bounds_table(stats, k=k, method=self.method, min_n=self.min_n).cache()
        bounds.count()
        if self.bounds is not None:
            self.bounds.unpersist()
        self.version, self.bounds = row.version, bounds
        self.loads += 1
        return self.version, self.bounds
