"""The console shows fxwatch's lines and Spark's real errors only; Spark's log goes to a file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics
from fxwatch.sources.synthetic import SyntheticConfig, generate
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema, truncate_tables
from fxwatch.stream.session import spark_log_file

pytestmark = [pytest.mark.integration, pytest.mark.spark]

KEYSPACE = "fxwatch_test_quiet"
FXWATCH = str(Path(sys.executable).parent / "fxwatch")
JAVA_FRAME = re.compile(r"^\s+at [\w.$]+\(", re.M)  # a line of a Java stack trace
# A log4j line of a Java class (`WARN org.apache.spark.X: ...`, `ERROR Executor: ...`), a JVM
# warning, or the banner of Spark's default log4j profile.
JAVA_LOG = re.compile(
    r"^.*\b(WARN|ERROR|INFO)\b.*\b(org|com|io|kafka)\.[\w.$]+|^WARNING: |log4j|"
    r"Setting default log level|To adjust logging level",
    re.M,
)


def _noise(text: str) -> list[str]:
    return [m.group(0) for m in JAVA_FRAME.finditer(text)] + [
        m.group(0) for m in JAVA_LOG.finditer(text)
    ]


@pytest.fixture()
def quiet_settings(stack):
    """A keyspace of this test's own (emptied) and fresh topics holding a small labelled sample."""
    tag = uuid.uuid4().hex[:8]
    settings = stack.with_(
        keyspace=KEYSPACE,
        quotes_topic=f"fx-quotes-quiet-{tag}",
        dlq_topic=f"fx-quotes-dlq-quiet-{tag}",
        alerts_topic=f"fx-alerts-quiet-{tag}",
    )
    init_schema(settings)
    cluster, session = connect(settings)
    try:
        truncate_tables(session, KEYSPACE)
    finally:
        cluster.shutdown()
    ensure_topics(settings)
    sample = generate(
        SyntheticConfig(pairs=("EUR/USD", "USD/JPY"), duration_s=300, rate=1.0, seed=7)
    )
    produce(sample.quotes(), settings)
    yield settings
    shutil.rmtree(settings.checkpoint_dir / KEYSPACE / settings.quotes_topic, ignore_errors=True)


def _env(settings) -> dict[str, str]:
    return dict(
        os.environ,
        FXWATCH_KEYSPACE=settings.keyspace,
        FXWATCH_QUOTES_TOPIC=settings.quotes_topic,
        FXWATCH_DLQ_TOPIC=settings.dlq_topic,
        FXWATCH_ALERTS_TOPIC=settings.alerts_topic,
        FXWATCH_INCIDENTS_TOPIC=settings.incidents_topic,
    )


@pytest.mark.slow
def test_streaming_step_prints_no_java_logs_and_logs_to_a_file(quiet_settings):
    log = spark_log_file(quiet_settings, "fxwatch-stream")
    before = log.stat().st_size if log.exists() else 0
    run = subprocess.run(
        [FXWATCH, "stream", "run", "--until-idle"],
        env=_env(quiet_settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out, err = run.stdout, run.stderr
    assert run.returncode == 0, f"stream run failed:\n{out}\n{err}"
    summary = r"^\d+ quotes, 0 dead-lettered, \d+ trend rows, \d+ alerts in "
    assert re.search(summary, out, re.M), out
    assert not _noise(out), f"Java output on stdout:\n{out}"
    assert not _noise(err), f"Java output on stderr:\n{err}"
    assert err.strip() == "", f"unexpected stderr:\n{err}"
    # Spark's own log went to .stack/logs/spark-fxwatch-stream.log, this run's lines included.
    assert log.is_file() and log.stat().st_size > before, f"{log} was not written"
    with open(log, encoding="utf-8", errors="replace") as fh:
        fh.seek(before)
        written = fh.read()
    assert "Submitted application: fxwatch-stream" in written, written[-2000:]


def test_a_spark_error_is_one_console_line_and_its_trace_stays_in_the_file(stack, tmp_path):
    """A Java ERROR with an exception: one line on stderr naming the log file, trace in the file."""
    app = f"fxwatch-test-quiet-{uuid.uuid4().hex[:6]}"
    script = textwrap.dedent(f"""
        from fxwatch.config import Settings
        from fxwatch.stream.session import get_spark

        spark = get_spark(Settings.from_env(), app_name={app!r})
        jvm = spark.sparkContext._jvm
        boom = jvm.java.lang.IllegalStateException("disk on fire\\nsecond line of the message")
        jvm.org.slf4j.LoggerFactory.getLogger("org.apache.spark.fxwatch.Probe").error(
            "probe failed\\nsecond line: " + "x" * 500, boom)
        jvm.org.slf4j.LoggerFactory.getLogger("org.apache.spark.fxwatch.Probe").warn("a warning")
        spark.stop()
        print("done")
    """)
    log = spark_log_file(stack, app)
    try:
        run = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "done"
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith("spark ERROR Probe: probe failed | second line: xxx"), lines[0]
        assert len(lines[0]) < 500 and str(log) in lines[0], lines[0]
        assert not JAVA_FRAME.search(run.stderr)
        text = log.read_text(encoding="utf-8")
        assert "disk on fire" in text and JAVA_FRAME.search(text), text[-2000:]
        assert "WARN" in text and "a warning" in text
    finally:
        log.unlink(missing_ok=True)
