"""Wiring: start the quotes, trends and anomaly queries with checkpoints; run until idle or forever."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Iterable

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.stream.anomalies import classic_alerts, detect_ticks, tick_alerts, window_features
from fxwatch.stream.read import accepted, read_records
from fxwatch.stream.sinks import (QuotesBatchWriter, start_foreach_batch, write_alert_rows, write_alerts,
                                  write_trends)
from fxwatch.stream.stats_bounds import StatsBounds
from fxwatch.stream.session import ALERTS_POOL, scheduler_pool
from fxwatch.stream.trends import DEFAULT_WINDOWS, build_trends

__all__ = ["QUERIES", "DETECTOR_ENGINES", "expand_queries", "checkpoint_root", "TrendsWriter", "ClassicWriter",
           "AlertsWriter", "DriverAlertsWriter", "interval_ms", "start_pipeline", "run_pipeline"]

# "anomalies" = the classic windowed rule + the tick-level detectors. Beside "trends", the classic
# rule runs inside the trends query (fxwatch.stream.window_judge), else as its own query.
QUERIES = ("quotes", "trends", "classic", "detectors")
_ALIASES = {"anomalies": ("classic", "detectors")}
# Where the tick detectors keep their state: "driver" (fxwatch.stream.driver_detect: one stateless
# Spark job per batch, detectors in the driver, snapshots beside the checkpoint; lowest latency on one
# machine) or "state" (applyInPandasWithState: Spark's state store, scales out with the pairs).
DETECTOR_ENGINES = ("driver", "state")


def expand_queries(names: Iterable[str]) -> list[str]:
    """'quotes,trends,anomalies' names -> the query list, in QUERIES order."""
    wanted: set[str] = set()
    for n in names:
        n = n.strip()
        if not n:
            continue
        if n in _ALIASES:
            wanted.update(_ALIASES[n])
        elif n in QUERIES:
            wanted.add(n)
        else:
            raise FxwatchError(f"unknown query {n!r}: choose among {', '.join(QUERIES + tuple(_ALIASES))}")
    return [q for q in QUERIES if q in wanted]


def checkpoint_root(settings: Settings) -> Path:
    """Checkpoints of this keyspace + topic: <checkpoint_dir>/<keyspace>/<topic>/<query>."""
    topic = re.sub(r"[^\w.-]", "_", settings.quotes_topic)
    return settings.checkpoint_dir / settings.keyspace / topic


class _Writer:
    def __init__(self):
        self.batches = 0
        self.rows = 0
        self.timings: list[float] = []

    def _done(self, t0: float, rows: int) -> None:
        self.batches += 1
        self.rows += rows
        self.timings.append(time.perf_counter() - t0)


class TrendsWriter(_Writer):
    """foreachBatch of the trends query (update mode): upsert the windows that changed; with a
    `judge` (window_judge.ClosedWindowJudge), also the classic rule on the windows now final."""

    def __init__(self, settings: Settings, judge=None, derived=()):
        super().__init__()
        self.settings, self.judge = settings, judge
        self.derived = list(derived)  # [(pane label, panes.SlidingFromPanes)]: sliding rows from panes

    def __call__(self, df, batch_id: int) -> None:
        t0 = time.perf_counter()
        if self.judge is None and not self.derived:
            self._done(t0, write_trends(df, self.settings))
            return
        from fxwatch.stream.panes import minute_rows, write_windows

        df = df.persist()  # more than one action on the batch: compute the windows once
        try:
            n = write_trends(df, self.settings)
            collected: dict[str, list] = {}  # tumbling rows by label, collected once for panes and judge

            def rows(label: str) -> list[dict]:
                if label not in collected:
                    collected[label] = minute_rows(df, label)
                return collected[label]

            for label, deriver in self.derived:
                n += write_windows(deriver.windows(rows(label), batch_id), self.settings)
            if self.judge is not None:
                self.judge(rows(self.judge.label), batch_id, df.sparkSession)
        finally:
            df.unpersist()
        self._done(t0, n)


def interval_ms(text: str) -> int:
    """'30 seconds', '1 minute', '500 milliseconds' (Spark's interval words) -> milliseconds."""
    units = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*", text.lower())
    if not m or m.group(2) not in units:
        raise FxwatchError(f"cannot read the interval {text!r}: write it like '30 seconds' or '2 minutes'")
    return int(float(m.group(1)) * units[m.group(2)])


class ClassicWriter(_Writer):
    """foreachBatch of the classic rule (append mode: final windows only) against the latest stats."""

    def __init__(self, settings: Settings, bounds: StatsBounds, kafka: bool = True):
        super().__init__()
        self.settings, self.bounds, self.kafka = settings, bounds, kafka
        self.alerts = 0
        self.windows = 0
        self.versions_seen: list[str] = []

    def __call__(self, df, batch_id: int) -> None:
        t0 = time.perf_counter()
        version, bounds = self.bounds.current(df.sparkSession)
        if version and (not self.versions_seen or self.versions_seen[-1] != version):
            self.versions_seen.append(version)
        n = 0
        df = df.persist()
        try:
            # every partition must be consumed (Spark validates state-store commits per batch)
            self.windows += df.count()
            if bounds is not None:
                n = len(write_alerts(classic_alerts(df, bounds), self.settings, kafka=self.kafka))
        finally:
            df.unpersist()
        self.alerts += n
        self._done(t0, n)


class AlertsWriter(_Writer):
    """foreachBatch of the tick-detector query: verdict rows -> alerts table and topic."""

    def __init__(self, settings: Settings, kafka: bool = True):
        super().__init__()
        self.settings, self.kafka = settings, kafka

    def __call__(self, df, batch_id: int) -> None:
        t0 = time.perf_counter()
        self._done(t0, len(write_alerts(tick_alerts(df), self.settings, kafka=self.kafka)))


class DriverAlertsWriter(_Writer):
    """foreachBatch of the tick-detector query, driver engine: quotes as Arrow -> detectors -> alerts."""

    def __init__(self, settings: Settings, checkpoint: str, factory=None, cross=None, kafka: bool = True):
        super().__init__()
        from fxwatch.stream.driver_detect import DriverDetectors

        self.settings, self.kafka = settings, kafka
        self.engine = DriverDetectors(checkpoint, factory, cross)
        self.ticks = 0
        self.stage_seconds = {"collect": 0.0, "detect": 0.0, "write": 0.0}

    def __call__(self, df, batch_id: int) -> None:
        from fxwatch.stream.driver_detect import DETECT_COLUMNS

        t0 = time.perf_counter()
        table = df.select(*DETECT_COLUMNS).toArrow()  # one stateless Spark job: read, parse, validate
        t1 = time.perf_counter()
        self.ticks += table.num_rows
        verdicts = self.engine.process(table, batch_id)
        t2 = time.perf_counter()
        rows = [{"pair": v.pair, "ts": int(v.ts_ms), "detector": v.detector, "score": float(v.score),
                 "reason": v.reason, "window_start": None, "window_end": None, "value": None} for v in verdicts]
        n = len(write_alert_rows(rows, self.settings, kafka=self.kafka))
        t3 = time.perf_counter()
        for stage, dt in (("collect", t1 - t0), ("detect", t2 - t1), ("write", t3 - t2)):
            self.stage_seconds[stage] += dt
        self._done(t0, n)


def _classic_in_trends(names: list[str], wanted: bool) -> bool:
    """Does the classic rule run inside the trends query (both selected, not asked apart)?"""
    return wanted and "trends" in names and "classic" in names


def _preflight(settings: Settings) -> None:
    """Fail fast, with the fix, when Cassandra or Kafka is not there."""
    from fxwatch.stream.cassandra_io import process_session

    process_session(settings)
    from fxwatch.bus.topics import ensure_topics

    ensure_topics(settings)  # FxwatchError naming the fix when no broker answers


def start_pipeline(spark, settings: Settings, queries=("quotes", "trends", "anomalies"), until_idle: bool = False,
                   starting_offsets: str = "earliest", max_offsets_per_trigger: int | None = None,
                   trigger_seconds: float = 1.0, watermark: str = "30 seconds", stats_refresh_seconds: float = 30.0,
                   checkpoints: Path | None = None, kafka_alerts: bool = True, detectors_factory=None,
                   cross=None, trend_windows=None, slow_trigger_seconds: float = 5.0,
                   detector_engine: str = "driver", quotes_trigger_seconds: float = 1.0,
                   classic_in_trends: bool = True, sliding_from_panes: bool = True):
    """Start the selected queries; returns {name: (StreamingQuery, writer)}.

    Without until_idle, the tick detectors (the alert path) trigger every `trigger_seconds`, the
    quotes sink every max(trigger_seconds, quotes_trigger_seconds), trends and the classic rule
    (minute windows) every max(trigger_seconds, slow_trigger_seconds): on few cores, every micro-batch
    costs fixed work, and the alert path gets the cores first. `detector_engine` (DETECTOR_ENGINES)
    says where the tick detectors keep state. With trends and classic both selected and
    `classic_in_trends`, the classic rule runs inside the trends query (window_judge: one Kafka read
    and one window aggregation fewer); the result maps "classic" to (the trends query, its judge).
    With `sliding_from_panes`, sliding trend windows whose slide is a tumbling window's length are
    combined from those panes on the driver (fxwatch.stream.panes) instead of aggregated again.
    """
    if detector_engine not in DETECTOR_ENGINES:
        raise FxwatchError(f"unknown detector engine {detector_engine!r}: choose {' or '.join(DETECTOR_ENGINES)}")
    slow = max(trigger_seconds, slow_trigger_seconds)
    quotes_trigger = max(trigger_seconds, quotes_trigger_seconds)
    from fxwatch.detect.bank import default_cross

    names = expand_queries(queries)
    merged = _classic_in_trends(names, classic_in_trends)
    root = Path(checkpoints) if checkpoints else checkpoint_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    started: dict[str, tuple] = {}

    def records():
        return read_records(spark, settings, starting_offsets, max_offsets_per_trigger)

    def start(name: str):
        # the engines keep different things beside their checkpoints: never share one
        cp = str(root / ("detectors-driver" if name == "detectors" and detector_engine == "driver" else name))
        if name == "quotes":
            w = QuotesBatchWriter(settings, writer=cp)
            return start_foreach_batch(records(), w, cp, f"quotes-{settings.quotes_topic}", until_idle,
                                       trigger_seconds=quotes_trigger), w
        if name == "trends":
            judge = None
            if merged:
                from fxwatch.stream.window_judge import ClosedWindowJudge

                judge = ClosedWindowJudge(settings, StatsBounds(settings, refresh_seconds=stats_refresh_seconds),
                                          cp, interval_ms(watermark), kafka=kafka_alerts)
            from fxwatch.stream.panes import SlidingFromPanes, split_windows

            windows = trend_windows or DEFAULT_WINDOWS
            derived = []
            if sliding_from_panes:  # sliding windows from the 1-minute panes: each tick aggregated once
                windows, specs = split_windows(windows)
                derived = [(pane, SlidingFromPanes(cp, label, n, pane_ms)) for pane, label, n, pane_ms in specs]
            w = TrendsWriter(settings, judge, derived)
            trends = build_trends(accepted(records()), windows, watermark)
            return start_foreach_batch(trends, w, cp, f"trends-{settings.quotes_topic}", until_idle, "update", slow), w
        if name == "classic":
            w = ClassicWriter(settings, StatsBounds(settings, refresh_seconds=stats_refresh_seconds), kafka_alerts)
            return start_foreach_batch(window_features(accepted(records()), watermark=watermark), w, cp,
                                       f"classic-{settings.quotes_topic}", until_idle, "append", slow), w
        if detector_engine == "driver":
            w = DriverAlertsWriter(settings, cp, detectors_factory, cross or default_cross, kafka_alerts)
            return start_foreach_batch(accepted(records()), w, cp, f"detectors-{settings.quotes_topic}", until_idle,
                                       "append", trigger_seconds), w
        w = AlertsWriter(settings, kafka_alerts)
        verdicts = detect_ticks(accepted(records()), detectors_factory, cross or default_cross)
        return start_foreach_batch(verdicts, w, cp, f"detectors-{settings.quotes_topic}", until_idle,
                                   "append", trigger_seconds), w

    try:
        for name in names:
            if name == "classic" and merged:
                q, w = started["trends"]
                started["classic"] = (q, w.judge)
                continue
            # the tick detectors are the alert path: their jobs run in the FAIR pool that goes first
            with scheduler_pool(spark, ALERTS_POOL if name == "detectors" else None):
                started[name] = start(name)
    except Exception:
        for q, _ in started.values():
            q.stop()
        raise
    return started


def _failure(name: str, exc) -> FxwatchError:
    text = str(exc)
    m = re.search(r"FxwatchError: ([^\n]+)", text)
    if m:
        return FxwatchError(f"query {name}: {m.group(1)}")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return FxwatchError(f"query {name} failed: {first[:300]} — fix the cause and rerun; it resumes from its checkpoint")


def run_pipeline(spark, settings: Settings, until_idle: bool = True, queries=("quotes", "trends", "anomalies"),
                 timeout: float | None = None, max_restarts: int = 3, sequential: bool = True, **options) -> dict:
    """Run the pipeline; with until_idle, process everything available (AvailableNow) and return.

    Returns {"queries": {name: {batches, rows, seconds, batch_seconds}}, "quotes", "rejected",
    "trend_rows", "alerts", "elapsed_s", "ticks_per_s"}. Without until_idle runs until interrupted
    (or `timeout`), restarting a failed query up to `max_restarts` times with back-off. With until_idle
    and `sequential` (default) the queries run one after the other (faster on a 2-core machine).
    Note: with AvailableNow the newest windows stay open until later data move the watermark past
    them; trends rows of open windows are already written (update mode) and are overwritten as they
    grow; the classic rule only ever judges closed windows, so it reports them on a later run.
    """
    _preflight(settings)
    t0 = time.perf_counter()
    if until_idle and sequential:
        # one query after the other: on few cores this beats four queries competing for them
        started = {}
        names = expand_queries(queries)
        merged = _classic_in_trends(names, options.get("classic_in_trends", True))
        for name in names:
            if name == "classic" and merged:
                continue  # it ran inside the trends query
            unit = [name, "classic"] if name == "trends" and merged else [name]
            started.update(start_pipeline(spark, settings, unit, until_idle, **options))
            q = started[name][0]
            try:
                q.awaitTermination(timeout) if timeout else q.awaitTermination()
            except Exception as exc:
                raise _failure(name, exc) from None
            finally:
                if q.isActive:
                    q.stop()
    else:
        started = start_pipeline(spark, settings, queries, until_idle, **options)
    restarts = 0
    try:
        if until_idle:
            deadline = None if timeout is None else time.monotonic() + timeout
            for name, (q, _) in started.items():
                left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
                try:
                    done = q.awaitTermination(left) if left is not None else (q.awaitTermination() or True)
                except Exception as exc:
                    raise _failure(name, exc) from None
                if not done:
                    raise FxwatchError(f"query {name} did not finish within {timeout} s: raise --timeout or check the logs")
        else:
            deadline = None if timeout is None else time.monotonic() + timeout
            while deadline is None or time.monotonic() < deadline:
                for name in list(started):
                    q = started[name][0]  # (a unit restarted below replaces its members' entries)
                    if q.isActive:
                        continue
                    exc = q.exception()
                    if exc is None:
                        continue
                    restarts += 1
                    if restarts > max_restarts:
                        raise _failure(name, exc)
                    time.sleep(min(2 ** restarts, 30))  # back-off before resuming from the checkpoint
                    unit = [n for n, (other, _) in started.items() if other is q]  # trends + classic share one
                    started.update(start_pipeline(spark, settings, unit, until_idle, **options))
                try:
                    spark.streams.awaitAnyTermination(1)
                except Exception:
                    pass  # handled above on the next pass: the failed query is restarted or reported
                spark.streams.resetTerminated()
    finally:
        for q, _ in started.values():
            if q.isActive:
                q.stop()
    elapsed = time.perf_counter() - t0
    out: dict = {"queries": {}, "elapsed_s": elapsed, "restarts": restarts}
    for name, (q, w) in started.items():
        out["queries"][name] = {"batches": w.batches if hasattr(w, "batches") else w.counts["batches"],
                                "rows": getattr(w, "rows", None), "batch_seconds": list(w.timings)}
    if "quotes" in started:
        w = started["quotes"][1]
        out["quotes"], out["rejected"] = w.counts["quotes"], w.counts["rejected"]
        out["queries"]["quotes"]["rows"] = w.counts["quotes"]
        out["queries"]["quotes"]["stage_seconds"] = dict(w.stage_seconds)
        out["ticks_per_s"] = w.counts["quotes"] / elapsed if elapsed else 0.0
    if "detectors" in started and hasattr(started["detectors"][1], "stage_seconds"):
        out["queries"]["detectors"]["stage_seconds"] = dict(started["detectors"][1].stage_seconds)
    if "trends" in started:
        out["trend_rows"] = started["trends"][1].rows
    out["alerts"] = sum(started[n][1].rows for n in ("classic", "detectors") if n in started)
    if "classic" in started:
        out["stats_versions_seen"] = started["classic"][1].versions_seen
        out["classic_windows"] = started["classic"][1].windows
    return out
