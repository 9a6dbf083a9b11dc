"""The benchmark commands on the real stack, small: they run, check themselves, end with one JSON
line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]


def _bench(*args: str, timeout: float = 420) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "fxwatch.cli", "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    return json.loads(last)


def test_bench_pipeline_small_run_stores_every_tick_once_and_reports_the_contract(stack):
    # the `alone` part is the backlog run once per query (its bound: a unit test); not run here
    r = _bench(
        "pipeline", "--ticks", "6000", "--baseline-ticks", "500", "--skip", "alone,live,realtime"
    )
    assert r["ticks"] == 6000 and r["quotes_stored"] == 6000 and r["exactly_once"] is True
    assert r["ticks_per_s"] > 0 and r["baseline_ticks"] == 500 and r["baseline_ticks_per_s"] > 0
    assert r["ratio_vs_baseline"] == round(r["ticks_per_s"] / r["baseline_ticks_per_s"], 2)
    assert r["spark_ceiling_ticks_per_s"] > 0 and r["store_ceiling_ticks_per_s"] > 0
    assert r["ratio_vs_spark_ceiling"] == round(
        r["ticks_per_s"] / r["spark_ceiling_ticks_per_s"], 2
    )
    # every query read every tick concurrently; the classic rule had statistics to judge against
    assert set(r["pipeline_queries"]) >= {"quotes", "trends", "tick_alerts", "window_alerts"}
    assert all(q["rows"] is not None for q in r["pipeline_queries"].values())
    assert r["classic_stats_version"] and r["classic_history_ticks"] > 0
    assert not any(k.startswith("alone_") for k in r) and "one_read_bound_s" not in r
    for key in ("p50_latency_ms", "p99_latency_ms", "sustained_live_ticks_per_s", "machine"):
        assert key in r


def test_real_time_mode_detector_alerts_on_every_spike(stack):
    """Real-time mode runs in this pyspark build: every injected spike comes back as one alert."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fxwatch.bench.realtime",
            "--mode",
            "realtime",
            "--duration",
            "8",
            "--rate",
            "500",
            "--interval",
            "10 seconds",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "error" not in r, r.get("error")
    assert r["alerts_expected"] > 0 and r["alerts_seen"] == r["alerts_expected"]
    assert r["trigger"] == "10 seconds" and r["mode"] == "realtime"


def test_bench_store_writes_every_row_and_tick_from_each_process_count(stack):
    r = _bench("store", "--rows", "4000", "--processes", "1,2", "--batch-rows", "50")
    assert r["store_1p_rows_stored"] == 4000 and r["store_2p_rows_stored"] == 4000
    assert r["store_chunks_1p_ticks_stored"] == 4000 and r["store_chunks_2p_ticks_stored"] == 4000
    assert (
        r["store_ceiling_rows_per_s"] == max(r["store_1p_rows_per_s"], r["store_2p_rows_per_s"]) > 0
    )
    best = max(r["store_chunks_1p_ticks_per_s"], r["store_chunks_2p_ticks_per_s"])
    assert r["store_chunks_ceiling_ticks_per_s"] == best > 0
    assert r["store_chunks_vs_rows"] == round(best / r["store_ceiling_rows_per_s"], 2)
