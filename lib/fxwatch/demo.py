"""`fxwatch demo`: the whole pipeline on the local stack, from a labelled sample to scored
alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.config import Settings
from fxwatch.eval.scenarios import score_scenarios
from fxwatch.progress import progress
from fxwatch.sources.replay import read_file
from fxwatch.sources.synthetic import SyntheticConfig, generate, read_labels
from fxwatch.stats.job import run_stats_job
from fxwatch.store.alerts import delete_alerts_of_day, read_alerts
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema
from fxwatch.stream.config import PipelineConfig
from fxwatch.stream.pipeline import run_pipeline
from fxwatch.stream.session import get_spark, stop_spark

__all__ = ["run_demo", "DEMO_SAMPLE", "HISTORY_WEEKS"]

DEMO_SAMPLE = dict(
    start_ms=1_705_330_800_000, duration_s=2 * 3600, rate=1.5, seed=42
)  # = data/samples
HISTORY_WEEKS = 2  # quiet history, same hours of the week, so the classic rule has bounds to use
_DAY_MS = 86_400_000


def _history(weeks: int):
    """Calm synthetic ticks of the same hours-of-week in the weeks before the sample (no events)."""
    for w in range(weeks, 0, -1):
        cfg = SyntheticConfig(
            start_ms=DEMO_SAMPLE["start_ms"] - w * 7 * _DAY_MS,
            duration_s=DEMO_SAMPLE["duration_s"],
            rate=DEMO_SAMPLE["rate"],
            seed=1000 + w,
            events_per_hour=0.0,
            legit_per_hour=0.0,
        )
        yield from generate(cfg).quotes()


def _produce(items, settings: Settings, label: str, echo) -> None:
    with progress(desc=f"produce {label}", unit=" ticks", every=25_000) as bar:
        summary = produce(items, settings, progress=bar.update)
    echo(f"  {summary}")


def _stream(settings: Settings, queries, echo) -> dict:
    config = PipelineConfig(
        queries=queries,
        until_idle=True,
        checkpoints=settings.checkpoint_dir / f"demo-{settings.quotes_topic}",
    )
    spark = get_spark(settings, app_name="fxwatch-demo")
    try:
        result = run_pipeline(spark, settings, config)
    finally:
        stop_spark()
    echo(
        f"  streamed {result.get('quotes', 0)} quotes in {result['elapsed_s']:.1f} s "
        f"({result.get('ticks_per_s', 0):,.0f} ticks/s), {result.get('trend_rows', 0)} trend rows, "
        f"{result.get('alerts', 0)} alerts"
    )
    return result


def _alerts_between(settings: Settings, start_ms: int, end_ms: int) -> list[dict]:
    cluster, session = connect(settings)
    try:
        lo = datetime.fromtimestamp(start_ms / 1000, UTC)
        hi = datetime.fromtimestamp(end_ms / 1000, UTC)
        rows = []
        for a in read_alerts(session, settings.keyspace, lo, hi):
            ts = a["ts"].replace(tzinfo=UTC)
            rows.append(
                {
                    "pair": a["pair"],
                    "ts_ms": int(ts.timestamp() * 1000),
                    "ts": ts,
                    "detector": a["detector"],
                    "score": a["score"],
                    "reason": a["reason"],
                }
            )
        return sorted(rows, key=lambda a: a["ts_ms"])
    finally:
        cluster.shutdown()


def _clear_sample_alerts(settings: Settings) -> None:
    """Delete the alerts of the sample's UTC day (synthetic 2024-01-15: only demo runs write
    there)."""
    cluster, session = connect(settings)
    try:
        day = datetime.fromtimestamp(DEMO_SAMPLE["start_ms"] / 1000, UTC).date()
        delete_alerts_of_day(session, day, settings.keyspace)
    finally:
        cluster.shutdown()


def run_demo(
    settings: Settings | None = None,
    echo: Callable[[str], None] = print,
    history_weeks: int = HISTORY_WEEKS,
    out_dir: Path | None = None,
) -> dict:
    """Replay history and the labelled sample through Kafka, Spark and Cassandra; score the
    alerts."""
    base = settings or Settings.from_env()
    tag = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    # Topics of this run: offsets start at 0, so a rerun writes the very same Cassandra keys again.
    cfg = base.isolated(f"demo-{tag}")
    out = Path(out_dir) if out_dir else base.runs_dir / "demo" / tag
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    init_schema(cfg)
    ensure_topics(cfg)
    echo(f"[1/5] keyspace {cfg.keyspace}; topics {', '.join(cfg.topics)}")

    echo(
        f"[2/5] {history_weeks} weeks of calm history (same hours of the week) "
        "-> Kafka -> Spark -> Cassandra"
    )
    _produce(_history(history_weeks), cfg, "history", echo)
    _stream(cfg, ("quotes", "trends"), echo)

    as_of = datetime.fromtimestamp(DEMO_SAMPLE["start_ms"] / 1000, UTC).date().isoformat()
    echo(f"[3/5] daily statistics job (papermill) as of {as_of}, lookback {7 * history_weeks} days")
    executed = run_stats_job(
        as_of, lookback_days=7 * history_weeks, settings=cfg, output_dir=out / "stats"
    )
    echo(f"  executed notebook: {executed}")

    _clear_sample_alerts(cfg)  # alerts of an earlier demo run would otherwise be scored again
    samples = cfg.samples_dir
    echo(
        "[4/5] the labelled sample (2 h, 5 pairs, injected manipulations) + bad lines "
        "-> the full pipeline"
    )
    _produce(read_file(samples / "synthetic_ticks.csv"), cfg, "sample", echo)
    _produce(read_file(samples / "bad_lines.csv"), cfg, "bad lines", echo)
    result = _stream(cfg, ("quotes", "trends", "alerts"), echo)

    echo("[5/5] alerts in Cassandra scored against the injected events")
    start, end = (
        DEMO_SAMPLE["start_ms"],
        DEMO_SAMPLE["start_ms"] + int(DEMO_SAMPLE["duration_s"] * 1000),
    )
    alerts = _alerts_between(cfg, start, end + 60_000)
    # the tick detectors and the classic rule also ran over the history (they start at the topic's
    # first offset), so the pipeline wrote more alerts than the sample window holds
    echo(
        f"  {len(alerts)} of the {result.get('alerts', 0)} alerts written "
        "fall in the sample window; "
        "the others are outside it, in the history"
    )
    csv_path = out / "alerts.csv"
    with open(csv_path, "w", encoding="utf-8") as fh:
        fh.write("pair,ts,detector,score,reason\n")
        for a in alerts:
            iso = a["ts"].strftime("%Y-%m-%dT%H:%M:%S.") + f"{a['ts'].microsecond // 1000:03d}Z"
            reason = str(a["reason"] or "").replace('"', "'")
            fh.write(f'{a["pair"]},{iso},{a["detector"]},{a["score"]:.4f},"{reason}"\n')
    labels = read_labels(samples / "synthetic_labels.csv")
    legit = read_labels(samples / "synthetic_legit.csv")
    pairs = sorted({lb.pair for lb in labels if ";" not in lb.pair})
    score = score_scenarios(
        [(a["pair"], a["ts_ms"], a["detector"], a["score"]) for a in alerts],
        labels,
        legit,
        pairs=pairs,
        pair_hours=len(pairs) * DEMO_SAMPLE["duration_s"] / 3600,
    )
    table = score.by_kind()
    echo(table.to_string())
    summary = {
        "quotes": result.get("quotes"),
        "alerts": len(alerts),
        **score.summary(),
        "elapsed_s": round(time.perf_counter() - t0, 1),
        "alerts_csv": str(csv_path),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    echo("")
    echo("Where to look:")
    echo(f"  alerts CSV           {csv_path}")
    echo(f"  stats job notebook   {executed}")
    echo("  dashboard            .venv/bin/fxwatch dashboard   (then open http://127.0.0.1:8050)")
    echo("  notebooks            make lab   (00-quickstart walks through the same steps)")
    echo(json.dumps(summary, default=str))
    return summary
