"""Benchmark building blocks that need no services: ticks, arithmetic, progress rates, the
DuckDB yardstick's agreement with the Spark stats job, the flaky server, the cluster config."""

from __future__ import annotations

import io
import json
import math
from collections import Counter

import numpy as np
import pytest

from fxwatch.bench.report import emit, latency_summary, percentile, ratio
from fxwatch.bench.ticks import SPIKE_JUMP, make_ticks
from fxwatch.errors import FxwatchError
from fxwatch.schema import Quote, validate_quote


def test_ticks_are_valid_unique_quotes_with_marked_spikes():
    t = make_ticks(5000, 1_600_000_000_000, spike_every=250)
    assert len(t) == len(t.keys) == 5000
    quotes = [Quote.from_json(v) for v in t.values]
    assert all(validate_quote(q, now=2_000_000_000_000) is None for q in quotes)
    assert max(Counter((q.pair, q.ts_ms) for q in quotes).values()) == 1  # one Cassandra row each
    assert [q.pair.encode() for q in quotes] == t.keys
    assert t.spikes.tolist() == list(range(249, 5000, 250))
    spikes = {i: quotes[i] for i in t.spikes.tolist()}
    assert all(q.bid > q.ask for q in spikes.values())  # crossed
    normal = [q for i, q in enumerate(quotes) if i not in spikes]
    assert all(q.bid < q.ask for q in normal)
    ref = {q.pair: q.mid for q in normal}
    assert all(q.mid / ref[q.pair] - 1 > SPIKE_JUMP / 2 for q in spikes.values())
    assert t.spike_keys() == {(q.pair, q.ts_ms) for q in spikes.values()}


def test_percentiles_match_numpy_and_summary_counts():
    data = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 90, 99, 100):
        assert math.isclose(percentile(data, q), float(np.percentile(data, q)))
    assert percentile([], 50) is None
    s = latency_summary([10.0, 20.0, 30.0], expected=4)
    assert s["p50_latency_ms"] == 20.0 and s["alerts_seen"] == 3 and s["alerts_expected"] == 4
    assert latency_summary([], 2)["p99_latency_ms"] is None
    assert ratio(100.0, 4.0) == 25.0 and ratio(None, 3.0) is None and ratio(3.0, 0) is None


def test_emit_prints_one_json_object_as_the_last_line():
    buf = io.StringIO()
    buf.write("progress line\n")
    emit({"ticks_per_s": 1.5, "nested": {"a": 1}}, buf)
    last = buf.getvalue().strip().splitlines()[-1]
    assert json.loads(last) == {"nested": {"a": 1}, "ticks_per_s": 1.5}


def test_live_step_latencies_match_each_event_to_the_first_alert_of_its_family():
    from fxwatch.bench.live import family_of, step_latencies

    assert [family_of(d) for d in ("crossed", "zscore", "hist_ticks_mad", "cusum")] == [
        "stateless",
        "confirmation",
        "classic",
        "confirmation",
    ]
    events = {  # (pair, ts) -> (Kafka send ms, kind)
        ("A/B", 1000): (1000, "crossed"),
        ("A/B", 2000): (2000, "jump"),
        ("C/D", 3000): (3000, "jump"),
        ("C/D", 9000): (9000, "crossed"),
        ("E/F", 100): (100, "spike"),  # not a measured kind: ignored
    }
    alerts = {  # (pair, ts, detector) -> (first seen ms, window end)
        ("A/B", 1000, "crossed"): (1250.0, None),
        ("A/B", 1000, "zscore"): (1100.0, None),  # wrong family for the crossed event
        ("A/B", 2010, "zscore"): (2400.0, None),  # confirmed on the next tick
        ("A/B", 2010, "cusum"): (2300.0, None),  # the first of the family counts
        ("C/D", 9000 + 6000, "crossed"): (15100.0, None),  # past the horizon: not this event
        ("C/D", 2999, "zscore"): (3050.0, None),  # before the event: not it
    }
    got = step_latencies(events, alerts, horizon_ms=5000)
    assert got["stateless"] == {"latencies": [250.0], "missed": 1}
    assert got["confirmation"] == {"latencies": [300.0], "missed": 1}


def test_compare_reports_the_worst_relative_difference():
    import pandas as pd

    from fxwatch.bench.stats import compare

    a = pd.DataFrame(
        {
            "pair": ["X", "Y"],
            "hour_of_week": [1, 1],
            "metric": ["m", "m"],
            "n": [10, 10],
            "mean": [1.0, 2.0],
            "std": [0.1, 0.2],
            "median": [1.0, 2.0],
            "mad": [0.1, 0.1],
            "p01": [0.5, 1.5],
            "p99": [1.5, 2.5],
        }
    )
    b = a.copy()
    b.loc[1, "mean"] = 2.2
    out = compare(a, b)
    assert out["rows_matched"] == 2 and math.isclose(out["max_rel_diff"], 0.2 / 2.2)
    assert compare(a, a)["max_rel_diff"] == 0.0


@pytest.mark.spark
def test_duckdb_yardstick_computes_the_same_statistics_as_the_spark_job(spark, tmp_path):
    from fxwatch.bench.stats import compare, duckdb_stats, spark_stats, write_history

    path = write_history(tmp_path / "hist", ticks=6000, days=2, pairs=("EUR/USD", "USD/JPY"))
    duck, _ = duckdb_stats(path, days=2, threads=1)
    sp, _ = spark_stats(spark, path, days=2)
    assert len(duck) > 100
    out = compare(sp, duck)
    assert out["rows_spark"] == out["rows_duckdb"] == out["rows_matched"]
    assert out["max_rel_diff"] < 1e-9


def test_flaky_server_counts_requests_per_window():
    from support.flaky_http import FlakyTrueFX

    srv = FlakyTrueFX("u", "p")
    srv.times = [0.0, 0.1, 0.2, 1.5, 1.6, 5.0]
    assert srv.max_rate(1.0) == 3 and srv.max_rate(0.05) == 1
    srv.server.server_close()


def test_cluster_config_from_env(monkeypatch):
    from fxwatch.cluster.manager import ClusterConfig, spark_home

    monkeypatch.setenv("FXWATCH_CLUSTER_PORT", "17077")
    monkeypatch.setenv("FXWATCH_CLUSTER_WORKER_CORES", "1")
    cfg = ClusterConfig.from_env()
    assert cfg.master_url == "spark://127.0.0.1:17077" and cfg.worker_cores == 1
    assert (spark_home() / "bin" / "spark-class").exists()


def test_bench_commands_are_registered_and_the_result_has_the_contract_keys(monkeypatch):
    from fxwatch.bench.pipeline import bench_pipeline
    from fxwatch.cli import build_parser
    from fxwatch.config import Settings

    args = build_parser().parse_args(["bench", "pipeline", "--ticks", "1000"])
    assert args.ticks == 1000 and args.baseline_ticks == 20_000
    assert build_parser().parse_args(["cluster", "status"]).func
    # every part skipped: no services needed, the result line still has the contract keys
    result = bench_pipeline(
        Settings.from_env(),
        skip={"ceilings", "backlog", "alone", "baseline", "live", "realtime"},
        echo=lambda m: None,
    )
    for key in (
        "ticks_per_s",
        "baseline_ticks_per_s",
        "p50_latency_ms",
        "p99_latency_ms",
        "spark_ceiling_ticks_per_s",
        "store_ceiling_ticks_per_s",
        "sustained_live_ticks_per_s",
    ):
        assert key in result and result[key] is None
    assert result["machine"]["nproc"] >= 1
    # a renamed or misspelt part is an error, not a silently full run
    with pytest.raises(FxwatchError, match="unknown benchmark part"):
        bench_pipeline(Settings.from_env(), skip={"throughput"}, echo=lambda m: None)


def test_progress_rows_and_profile_are_per_fxwatch_query():
    from fxwatch.bench.progress import ProgressLog, batch_profile, query_of

    assert query_of("tick_alerts-fx-quotes-thr-1a2b") == "tick_alerts" and query_of(None) == "?"
    log = ProgressLog()
    log.events += [
        {
            "name": "trends-fx-quotes-x",
            "start_ms": 0,
            "duration_ms": 10.0,
            "rows": 40,
            "add_batch_ms": 4.0,
        },
        {
            "name": "trends-fx-quotes-x",
            "start_ms": 20,
            "duration_ms": 30.0,
            "rows": 60,
            "add_batch_ms": 20.0,
        },
        {
            "name": "quotes-fx-quotes-x",
            "start_ms": 0,
            "duration_ms": 5.0,
            "rows": 50,
            "add_batch_ms": 1.0,
        },
    ]
    assert log.rows_by_query() == {"trends": 100, "quotes": 50}
    profile = batch_profile(log.snapshot())
    assert profile["trends"]["batches"] == 2 and profile["trends"]["max_batch_ms"] == 30.0
    # own work: median of 4 and 20; the rest per batch: median of 6 and 10
    assert profile["trends"]["median_add_batch_ms"] == 12.0
    assert profile["trends"]["median_overhead_ms"] == 8.0
    assert batch_profile(log.snapshot(), since_ms=10)["trends"]["batches"] == 1


def test_the_one_read_bound_is_one_parse_plus_each_querys_own_work():
    from fxwatch.bench.pipeline import one_read_bound

    result = {
        "spark_ceiling_ticks_per_s": 50_000.0,  # 300 000 ticks parse in 6 s
        "alone_quotes_wall_s": 16.0,
        "alone_trends_wall_s": 14.0,
        "alone_tick_alerts_wall_s": 5.0,  # faster than one parse: no negative work counted
    }
    got = one_read_bound(result, 300_000)
    assert got["one_read_bound_s"] == 6.0 + 10.0 + 8.0 + 0.0
    assert got["one_read_bound_ticks_per_s"] == round(300_000 / 24.0, 1)
    assert got["one_read_bound_vs_spark_ceiling"] == round(12_500 / 50_000, 2)
    # either part not measured: no bound
    assert one_read_bound({"spark_ceiling_ticks_per_s": 50_000.0}, 300_000) == {}
    assert one_read_bound({"alone_quotes_wall_s": 16.0}, 300_000) == {}
