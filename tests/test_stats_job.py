"""`fxwatch job stats`: the papermill-run notebook reads seeded Cassandra history and writes a
version."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from support.frames import accepted_quotes

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.notebooks]


def _seed(spark, settings, pair: str, day0: datetime) -> int:

    from fxwatch.stream.quotes import write_quotes

    t0 = int(day0.timestamp() * 1000) + 10 * 3_600_000
    # 10:00-10:19 two ticks a minute, then a 40-minute gap (still in the active hour)
    rows = [
        (pair, t0 + m * 60_000 + j * 20_000, m * 2 + j, 1.1 + m * 1e-4, 1.1002 + m * 1e-4, "seed")
        for m in range(20)
        for j in range(2)
    ]
    df = accepted_quotes(spark, rows)
    return write_quotes(df, settings)


def test_stats_job_writes_a_version_and_failed_run_leaves_its_notebook(
    spark, stack, cassandra_session, tmp_path
):
    from fxwatch.errors import FxwatchError
    from fxwatch.stats.job import run_stats_job

    day0 = datetime(2003, 1, 6, tzinfo=UTC) + timedelta(weeks=random.randrange(800))
    pair = "CHF/JPY"
    assert _seed(spark, stack, pair, day0) == 40
    as_of = (day0.date() + timedelta(days=1)).isoformat()
    out = run_stats_job(
        as_of, lookback_days=1, k=3.5, settings=stack, pairs=pair, output_dir=tmp_path / "ok"
    )
    nb = json.loads(out.read_text())
    assert nb["metadata"]["papermill"]["parameters"]["as_of"] == as_of  # audit trail
    versions = [
        r
        for r in cassandra_session.execute(
            f"SELECT * FROM {stack.keyspace}.stats_versions WHERE bucket=0"
        )
        if r.version.startswith(as_of + "@")
    ]
    assert versions and versions[0].k == 3.5 and pair in versions[0].pairs
    rows = {
        r.metric: r
        for r in cassandra_session.execute(
            f"SELECT * FROM {stack.keyspace}.stats WHERE pair=%s AND version=%s",
            (pair, versions[0].version),
        )
    }
    assert rows["ticks"].n == 60 and rows["ticks"].mean == pytest.approx(
        40 / 60
    )  # gap minutes count as 0
    assert rows["mid"].n == 20 and rows["ticks"].hour_of_week == 10  # Monday 10h UTC
    # the job compacted the finished hour first: its 20 minute chunks are one hour chunk now
    chunks = list(
        cassandra_session.execute(
            f"SELECT bucket, span_ms, ticks FROM {stack.keyspace}.quote_chunks "
            "WHERE pair=%s AND day=%s",
            (pair, day0.date()),
        )
    )
    assert [(c.bucket.hour, c.span_ms, c.ticks) for c in chunks] == [(10, 3_600_000, 40)]

    # a bad parameter: the run fails, raises (the CLI exits 1) and leaves its executed notebook
    with pytest.raises(FxwatchError, match="bad_pair"):
        run_stats_job(
            as_of, lookback_days=1, settings=stack, pairs="CHFJPY", output_dir=tmp_path / "bad"
        )
    failed = json.loads((tmp_path / "bad" / "05-historical-stats.ipynb").read_text())
    assert any(
        o.get("output_type") == "error" for c in failed["cells"] for o in c.get("outputs", [])
    )
