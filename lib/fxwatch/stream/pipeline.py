"""The streaming job: start the queries of a PipelineConfig, run them until idle or supervise them.

    start_pipeline(spark, settings, config)  -> {name: (StreamingQuery, sink)}
    run_pipeline(spark, settings, config)    -> summary dict (until idle, or until `timeout`)

Each query lives in its own module and reads Kafka itself (see the module docstrings):
quotes.py, trends.py, tick_alerts.py, window_alerts.py, incidents.py (reads the alerts topic).
"""

from __future__ import annotations

import re
import time

from fxwatch.bus.topics import ensure_topics
from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.store.session import process_session
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.incidents import start_incidents
from fxwatch.stream.quotes import start_quotes
from fxwatch.stream.tick_alerts import start_tick_alerts
from fxwatch.stream.trends import start_trends
from fxwatch.stream.window_alerts import start_window_alerts

__all__ = ["STARTERS", "start_pipeline", "run_pipeline", "summarize"]

# query name -> the function that starts it: (spark, settings, config) -> (StreamingQuery, sink)
STARTERS = {
    "quotes": start_quotes,
    "trends": start_trends,
    "tick_alerts": start_tick_alerts,
    "window_alerts": start_window_alerts,
    "incidents": start_incidents,
}


def start_pipeline(spark, settings: Settings, config: PipelineConfig) -> dict[str, tuple]:
    """Start the config's queries; {name: (StreamingQuery, sink)}. All or none: when one fails to
    start, those already started are stopped."""
    started: dict[str, tuple] = {}
    try:
        for name in config.queries:
            started[name] = STARTERS[name](spark, settings, config)
    except Exception:
        for q, _ in started.values():
            q.stop()
        raise
    return started


def run_pipeline(
    spark,
    settings: Settings,
    config: PipelineConfig,
    timeout: float | None = None,
    max_restarts: int = 3,
) -> dict:
    """Run the pipeline and return its summary (see `summarize`).

    `config.until_idle`: each query processes everything Kafka holds (AvailableNow) and stops; the
    queries run one after the other — on a 2-core machine that beats four queries competing.
    Otherwise the queries run together until `timeout` (or forever), and a failed query is
    restarted from its checkpoint up to `max_restarts` times with back-off.
    """
    _preflight(settings)
    t0 = time.perf_counter()
    if config.until_idle:
        started = _run_each_until_idle(spark, settings, config, timeout)
        restarts = 0
    else:
        started, restarts = _supervise(spark, settings, config, timeout, max_restarts)
    return summarize(started, time.perf_counter() - t0, restarts)


def _preflight(settings: Settings) -> None:
    """Fail fast, with the fix, when Cassandra or Kafka is not there."""
    process_session(settings)
    ensure_topics(settings)  # FxwatchError naming the fix when no broker answers


def _run_each_until_idle(spark, settings, config, timeout) -> dict[str, tuple]:
    started: dict[str, tuple] = {}
    for name in config.queries:
        q, sink = started[name] = STARTERS[name](spark, settings, config)
        try:
            done = q.awaitTermination(timeout) if timeout else (q.awaitTermination() or True)
        except Exception as exc:
            raise _failure(name, exc) from None
        finally:
            if q.isActive:
                q.stop()
        if not done:
            raise FxwatchError(
                f"query {name} did not finish within {timeout} s: raise --timeout or check the logs"
            )
    return started


def _supervise(spark, settings, config, timeout, max_restarts) -> tuple[dict, int]:
    started = start_pipeline(spark, settings, config)
    restarts = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while deadline is None or time.monotonic() < deadline:
            for name, (q, _) in list(started.items()):
                exc = None if q.isActive else q.exception()
                if exc is None:
                    continue
                restarts += 1
                if restarts > max_restarts:
                    raise _failure(name, exc)
                time.sleep(min(2**restarts, 30))  # back-off, then resume from the checkpoint
                started[name] = STARTERS[name](spark, settings, config)
            try:
                spark.streams.awaitAnyTermination(1)
            except Exception:
                pass  # handled on the next pass: the failed query is restarted or reported
            spark.streams.resetTerminated()
    finally:
        for q, _ in started.values():
            if q.isActive:
                q.stop()
    return started, restarts


def _failure(name: str, exc) -> FxwatchError:
    text = str(exc)
    m = re.search(r"FxwatchError: ([^\n]+)", text)
    if m:
        return FxwatchError(f"query {name}: {m.group(1)}")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return FxwatchError(
        f"query {name} failed: {first[:300]} — fix the cause and rerun; "
        "it resumes from its checkpoint"
    )


def summarize(started: dict[str, tuple], elapsed: float, restarts: int = 0) -> dict:
    """{"queries": {name: sink summary}, "quotes", "rejected", "trend_rows", "alerts", "incidents",
    "elapsed_s", "ticks_per_s", "restarts"} of a run."""
    out: dict = {
        "queries": {n: sink.summary() for n, (_, sink) in started.items()},
        "elapsed_s": elapsed,
        "restarts": restarts,
    }
    if "quotes" in started:
        sink = started["quotes"][1]
        out["quotes"], out["rejected"] = sink.rows, sink.rejected
        out["ticks_per_s"] = sink.rows / elapsed if elapsed else 0.0
    if "trends" in started:
        out["trend_rows"] = started["trends"][1].rows
    if "incidents" in started:
        out["incidents"] = started["incidents"][1].rows
    out["alerts"] = sum(
        started[n][1].rows for n in ("tick_alerts", "window_alerts") if n in started
    )
    return out
