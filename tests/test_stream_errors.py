"""The pipeline refuses to start against a missing broker or database with a one-line fix."""

from __future__ import annotations

import pytest

from fxwatch.errors import FxwatchError


@pytest.mark.integration
def test_kafka_down_fails_fast_with_the_fix(stack):
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import run_pipeline

    s = stack.with_(kafka_bootstrap="127.0.0.1:1")  # nothing listens there
    with pytest.raises(FxwatchError, match="fxwatch stack up"):
        run_pipeline(None, s, PipelineConfig(queries=("quotes",), until_idle=True))


def test_cassandra_down_fails_fast_with_the_fix(base_settings):
    from fxwatch.store.session import close_sessions
    from fxwatch.stream.config import PipelineConfig
    from fxwatch.stream.pipeline import run_pipeline

    s = base_settings.with_(cassandra_port=1)
    try:
        with pytest.raises(FxwatchError, match="fxwatch stack up"):
            run_pipeline(None, s, PipelineConfig(queries=("quotes",), until_idle=True))
    finally:
        close_sessions()


def test_write_retries_then_says_what_to_do():
    from cassandra import OperationTimedOut

    from fxwatch.store.session import with_retry

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OperationTimedOut("slow")
        return 7

    assert with_retry(flaky, "writing x", attempts=3, first_delay=0.01) == 7
    with pytest.raises(FxwatchError, match="failed after 2 attempts.*fxwatch stack status"):
        with_retry(
            lambda: (_ for _ in ()).throw(OperationTimedOut("down")),
            "writing y",
            attempts=2,
            first_delay=0.01,
        )


def test_unknown_query_name_is_rejected():
    from fxwatch.stream.config import PipelineConfig, expand_queries

    assert expand_queries(["quotes", "anomalies"]) == ("quotes", "tick_alerts", "window_alerts")
    assert expand_queries(["alerts", "trends"]) == (
        "trends",
        "tick_alerts",
        "window_alerts",
        "incidents",  # the alert path: the alerts and the incidents grouped from them
    )
    with pytest.raises(FxwatchError, match="unknown query 'trend'"):
        expand_queries(["trend"])
    with pytest.raises(FxwatchError, match="unknown query 'trend'"):
        PipelineConfig(queries=("trend",))
    with pytest.raises(FxwatchError, match="interval"):
        PipelineConfig(watermark="thirty seconds")
