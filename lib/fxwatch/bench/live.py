"""The live benchmark: the whole pipeline running as `fxwatch stream run` runs it, fed by a paced
feeder whose rate steps up; per step, consumer lag and tick-to-alert latency of each detector
family.

    feeder (ticks/s, events) ─> Kafka ─> quotes, trends, tick_alerts, window_alerts (concurrent,
    processing-time triggers) ─> Cassandra alerts <─ poller (every 50 ms: first seen)

Families (the event that triggers each):
* stateless — a crossed quote (bid > ask, mid unchanged): the crossed-quote check fires on it;
* confirmation — an uncrossed 3 % jump: detectors that confirm a move with the next tick fire;
* classic — the window rule: a 1-minute window is judged once the watermark passes its end, so
  its latency is counted from the window's end (the watermark, 30 s by default, is by design).

A step passes when every query's lag (ticks sent − ticks it processed) at the step's end is within
(its trigger + 3 s) of ticks, and p99 tick-to-alert of the tick-level families is ≤ `p99_ms`, with
no event missed. The sustained live rate is the highest rate of an unbroken run of passing steps.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fxwatch.bench.cassandra_probe import AlertPoller
from fxwatch.bench.history import load_bench_stats
from fxwatch.bench.progress import ProgressLog, batch_profile
from fxwatch.bench.report import percentile
from fxwatch.bench.steady import SteadyFeeder, many_pairs
from fxwatch.stack.manager import wait_until
from fxwatch.store.connection import connect
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.pipeline import start_pipeline

__all__ = ["FAMILIES", "QUOTE_READERS", "family_of", "step_latencies", "live_run"]

# the queries that read the quotes topic (the others, e.g. incidents, read what these write)
QUOTE_READERS = ("quotes", "trends", "tick_alerts", "window_alerts")

# event kind of the feeder -> the detector family it measures
FAMILIES = {"crossed": "stateless", "jump": "confirmation"}


def family_of(detector: str) -> str:
    """The family of an alert's detector: stateless, classic or confirmation."""
    if detector == "crossed":
        return "stateless"
    if detector.startswith("hist_"):
        return "classic"
    return "confirmation"


def step_latencies(
    events: dict[tuple[str, int], tuple[int, str]],
    alerts: dict[tuple[str, int, str], tuple[float, int | None]],
    horizon_ms: int = 5_000,
) -> dict[str, dict]:
    """Per family: latencies (first seen − Kafka send time, ms) of the events and how many were
    missed. An event (pair, ts) -> (sent ms, kind) is caught by the first alert of its family on
    its pair with ts in [event ts, event ts + horizon_ms]."""
    by_pair: dict[str, list[tuple[int, str, float]]] = {}
    for (pair, ts, detector), (seen, _) in alerts.items():
        by_pair.setdefault(pair, []).append((ts, family_of(detector), seen))
    out: dict[str, dict] = {}
    for (pair, ts), (sent, kind) in events.items():
        family = FAMILIES.get(kind)
        if family is None:
            continue
        d = out.setdefault(family, {"latencies": [], "missed": 0})
        seen = [
            s for t, f, s in by_pair.get(pair, ()) if f == family and ts <= t <= ts + horizon_ms
        ]
        if seen:
            d["latencies"].append(min(seen) - sent)
        else:
            d["missed"] += 1
    return out


def _summary(lat: list[float], missed: int) -> dict:
    return {
        "events": len(lat) + missed,
        "missed": missed,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
    }


def live_run(
    settings,
    spark,
    rates: tuple[float, ...] = (1000, 2500, 5000, 7500, 10000),
    step_s: float = 40.0,
    settle_s: float = 5.0,
    alerts_trigger_s: float = 0.2,
    p99_ms: float = 1000.0,
    pairs: int = 96,
    config: PipelineConfig | None = None,
    echo=print,
) -> dict:
    """Step the feeder through `rates` with every output on; stop at the first failing step."""
    mids = many_pairs(pairs)
    names = tuple(mids)
    config = (config or PipelineConfig()).with_(
        until_idle=False, starting_offsets="latest", alerts_trigger_s=alerts_trigger_s
    )
    now_ms = int(time.time() * 1000)
    span_ms = int((len(rates) * (step_s + settle_s) + 180) * 1000)
    out: dict[str, object] = load_bench_stats(
        spark, settings, names, now_ms - 600_000, now_ms + span_ms, 300.0, mids, echo=echo
    )
    cluster, session = connect(settings)
    poller = AlertPoller(session, datetime.now(UTC).date(), now_ms - 1000)
    progress = ProgressLog().attach(spark)
    # each pair gets an event every 35 s, kinds alternating: a detector sees its pair's next
    # event after 70 s, past its 60 s de-duplication
    feeder = SteadyFeeder(
        settings,
        settings.quotes_topic,
        rate=rates[0],
        pairs=names,
        mids=mids,
        pair_gap_s=35.0,
        kinds=("crossed", "jump"),
    )
    echo(f"live: starting every query (tick alerts every {alerts_trigger_s:g} s) on {names[0]}..")
    started = start_pipeline(spark, settings, config)
    triggers = {n: config.trigger(n)["processingTime"] for n in started}

    def died() -> str | None:
        for name, (q, _) in started.items():
            if not q.isActive:
                return f"query {name} stopped: {q.exception()}"
        return None

    steps: list[dict] = []
    try:
        poller.start()
        feeder.start()
        t0 = time.monotonic()
        if not wait_until(lambda: poller.alerts, 180, 0.25, abort=died):
            raise RuntimeError("live: no alert readable in Cassandra within 180 s of feeding")
        echo(f"live: first alert after {time.monotonic() - t0:.1f} s")
        for rate in rates:
            feeder.set_rate(rate)
            time.sleep(settle_s)  # let the new rate reach every query before measuring
            start_ms, sent_before = time.time() * 1000, feeder.sent
            time.sleep(step_s)  # the measured window itself
            end_ms, sent = time.time() * 1000, feeder.sent
            processed = progress.rows_by_query()
            # the feeder shares the cores: say what it managed to send
            step = {"rate": rate, "sent_per_s": round((sent - sent_before) / step_s, 1)}
            readers = [n for n in started if n in QUOTE_READERS]
            lag = {n: sent - processed.get(n, 0) for n in readers}
            bounds = {n: rate * (float(triggers[n].split()[0]) + 3.0) for n in readers}
            events = {
                k: (s, feeder.kinds[k])
                for k, s in list(feeder.spikes.items())
                if start_ms <= s < end_ms
            }
            # alerts of the window's last events: wait (bounded) for them while feeding goes on
            wait_until(
                lambda events=events: all(
                    d["missed"] == 0 for d in step_latencies(events, dict(poller.alerts)).values()
                ),
                5,
                0.2,
                abort=died,
            )
            fams = step_latencies(events, dict(poller.alerts))
            step["lag"] = lag
            # each query's micro-batches in the measured window: how long, and how much of that
            # was its own work (the rest is paid per batch, whatever its size)
            step["batches"] = batch_profile(progress.snapshot(), since_ms=start_ms)
            step["lag_bounded"] = all(lag[n] <= bounds[n] for n in readers)
            for family, d in fams.items():
                step[family] = _summary(d["latencies"], d["missed"])
            classic = [
                seen - end
                for (_, _, det), (seen, end) in dict(poller.alerts).items()
                if det.startswith("hist_") and end is not None and start_ms <= end < end_ms
            ]
            step["classic"] = {
                "windows_alerted": len(classic),
                "close_to_alert_p50_ms": percentile(classic, 50),
                "close_to_alert_p99_ms": percentile(classic, 99),
            }
            tick_p99 = [step[f]["p99_ms"] for f in FAMILIES.values() if f in step]
            missed = sum(step[f]["missed"] for f in FAMILIES.values() if f in step)
            step["passed"] = bool(
                step["lag_bounded"]
                and tick_p99
                and missed == 0
                and all(p is not None and p <= p99_ms for p in tick_p99)
            )
            steps.append(step)
            echo(f"live step {rate:g} ticks/s: {step}")
            if not step["passed"]:
                break
    finally:
        feeder.stop_event.set()
        poller.stop_event.set()
        for q, _ in started.values():
            if q.isActive:
                q.stop()
        progress.detach(spark)
        cluster.shutdown()
    sustained = None
    for step in steps:
        if not step["passed"]:
            break
        sustained = step["rate"]
    out.update({"live_steps": steps, "sustained_live_ticks_per_s": sustained, "live_pairs": pairs})
    first = steps[0] if steps else {}
    for family in ("stateless", "confirmation"):
        for k in ("p50_ms", "p99_ms"):
            out[f"{family}_{k.replace('_ms', '')}_latency_ms"] = first.get(family, {}).get(k)
    out["classic_close_to_alert_p99_ms"] = first.get("classic", {}).get("close_to_alert_p99_ms")
    out["latency_rate"] = first.get("rate")
    return out
