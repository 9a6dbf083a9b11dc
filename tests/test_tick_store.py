"""The tick store: the chunk format round trip, merge by tick identity on the real Cassandra,
range reads across minutes and days, `fxwatch store migrate` and `fxwatch quotes`."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from fxwatch.store.ticks import (
    CHUNK_SCHEMA,
    TICK_FRAME_COLUMNS,
    count_ticks,
    decode_chunk,
    encode_chunk,
    merge_ticks,
    read_ticks,
    write_ticks,
)

_DAY_MS = 86_400_000
MIGRATE_KEYSPACE = "fxwatch_test_migrate"


def _ticks(pair: str, ts, ids, bid=None, source="t", low=None) -> pa.Table:
    n = len(ts)
    bid = [1.1 + i * 1e-5 for i in range(n)] if bid is None else bid
    return pa.table(
        {
            "pair": [pair] * n,
            "ts_ms": pa.array(ts, pa.int64()),
            "tick_id": pa.array(ids, pa.int64()),
            "bid": pa.array(bid, pa.float64()),
            "ask": pa.array([b + 2e-4 for b in bid], pa.float64()),
            "source": pa.array([source] * n if isinstance(source, str) else source, pa.string()),
            "low": pa.array(low if low is not None else [None] * n, pa.float64()),
            "high": pa.nulls(n, pa.float64()),
            "open": pa.array([1.09] * n, pa.float64()),
        }
    )


def _own_day_ms() -> int:
    """Midnight of a random past UTC day: the test's (pair, day) partitions start empty."""
    return (
        int(datetime(2002, 1, 1, tzinfo=UTC).timestamp() * 1000) + random.randrange(8000) * _DAY_MS
    )


def _pair() -> str:
    return f"T{uuid.uuid4().hex[:5].upper()}/USD"


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


# ---- the format (no services) -----------------------------------------------------------------
def test_a_chunk_round_trips_nulls_sources_and_two_ticks_in_one_millisecond():
    t = _ticks(
        "X",
        [5, 5, 9, 1_700_000_000_123],
        [2, -(2**63), 2**63 - 1, 7],
        bid=[1.1, 1.10001, 148.123, 0.5],
        source=["venue-a", None, "venue-b", "venue-a"],
        low=[None, 1.0, None, 2.5],
    ).drop_columns(["pair"])
    back = decode_chunk(encode_chunk(t))
    assert back.schema == CHUNK_SCHEMA and back.to_pylist() == t.to_pylist()
    assert back.column("high").null_count == 4 and back.column("low").null_count == 2
    empty = decode_chunk(encode_chunk(t.slice(0, 0)))
    assert empty.num_rows == 0 and empty.schema == CHUNK_SCHEMA


def test_chunks_decoded_together_equal_each_decoded_alone():
    """A range read decodes its chunks to numpy and builds one table: the same rows as decoding
    each chunk alone, though each chunk has its own source dictionary and null pattern."""
    from fxwatch.store.ticks import _concat, _decode_arrays, _table

    chunks = [
        _ticks("X", [1, 2, 3], [1, 2, 3], source=["b", None, "a"], low=[None, 1.0, None]),
        _ticks("X", [60_001], [4], source="c", low=[2.0]),  # every optional value set
        _ticks("X", [120_000, 120_001], [5, 6], source=[None, None]),  # no source at all
        _ticks("X", [180_000], [7], source="a").slice(0, 0),  # an empty chunk
    ]
    blobs = [encode_chunk(t.drop_columns(["pair"])) for t in chunks]
    together = _table(*_concat([_decode_arrays(b) for b in blobs]))
    alone = pa.concat_tables([decode_chunk(b) for b in blobs]).unify_dictionaries()
    assert together.schema == CHUNK_SCHEMA
    assert together.to_pylist() == alone.to_pylist()
    assert together.column("low").null_count == 2 + 0 + 2


def test_merge_keeps_each_identity_once_sorted_and_different_ticks_of_one_ms_apart():
    a = _ticks("X", [10, 20, 20], [1, 2, 3])
    b = _ticks("X", [20, 5, 10], [2, 4, 9])  # (20, 2) again, a new earlier tick, (10, 9) is new
    m = merge_ticks(a, b)
    assert list(zip(m["ts_ms"].to_pylist(), m["tick_id"].to_pylist())) == [
        (5, 4),
        (10, 1),
        (10, 9),
        (20, 2),
        (20, 3),
    ]
    assert merge_ticks(m, a, b).equals(m)  # merging what is there changes nothing


def test_new_chunks_encoded_from_the_batch_equal_chunks_made_by_merging():
    """The writer's fast path (a new minute chunk encoded from the sorted batch, summaries from
    one pass) gives the very row the merge path gives: same blob, summary, counts, sources."""
    import numpy as np

    from fxwatch.store.ticks import BUCKET_MS, _Batch, _chunk_row

    rng = np.random.default_rng(1)
    for trial in range(60):
        n = int(rng.integers(1, 300))
        ts = 1_700_000_000_000 + rng.integers(0, 4 * 60_000, n)
        pairs = rng.choice(["EUR/USD", "USD/JPY", "GBP/USD"], n)
        sources = rng.choice(["a", "b", None], n, p=[0.6, 0.3, 0.1]) if trial % 2 else ["s"] * n
        some_null = rng.random(n) < (trial % 3) / 3  # none, a third, two thirds
        t = pa.table(
            {
                "pair": pairs,
                "ts_ms": pa.array(ts, pa.int64()),
                "tick_id": pa.array(rng.integers(-3, 3, n), pa.int64()),  # same-ms ticks
                "bid": np.round(1 + rng.random(n), 5),
                "ask": np.round(1.0002 + rng.random(n), 5),
                "source": pa.array(list(sources), pa.string()),
                "low": pa.array(rng.random(n), mask=some_null),
                "high": pa.array([None] * n, pa.float64()),
                "open": pa.array(rng.random(n)),
            }
        )
        t = pa.concat_tables([t, t.slice(0, n // 3)])  # duplicates
        batch = _Batch(t)
        chunks = 0
        for (pair, day), spans in batch.groups.items():
            for bucket, (lo, hi) in spans.items():
                mine = (t.column("pair").to_numpy(zero_copy_only=False) == pair) & (
                    t.column("ts_ms").to_numpy() // BUCKET_MS * BUCKET_MS == bucket
                )
                merged = merge_ticks(t.filter(pa.array(mine)).drop_columns(["pair"]))
                expected = _chunk_row(pair, day, bucket, BUCKET_MS, merged, 7)
                assert batch.chunk_row(pair, day, bucket, lo, hi, 7) == expected
                chunks += 1
        assert chunks == len({(p, b // BUCKET_MS) for p, b in zip(pairs, ts)})


def test_chunk_rows_go_in_batches_bounded_by_rows_and_bytes():
    from fxwatch.store.session import _batches

    rows = [("p", 1, b"x" * size) for size in (10, 10, 10, 50, 10, 200, 10)]
    assert [len(b) for b in _batches(rows, 64, 60)] == [3, 2, 1, 1]  # 30+50 > 60; 200 alone
    assert [len(b) for b in _batches(rows, 2, 0)] == [2, 2, 2, 1]
    assert sum(_batches(rows, 3, 100), []) == rows  # every row once, in order


def test_chunks_are_compact_on_live_shaped_ticks():
    from fxwatch.bench.store import chunk_codec_figures

    f = chunk_codec_figures(sizes=(60, 7_500), repeat=3)
    assert f["chunk_7500_bytes_per_tick"] < 14  # 8 of them are the (incompressible) tick id hash
    assert f["chunk_60_bytes_per_tick"] < 25


# ---- the store on the real Cassandra ------------------------------------------------------------
@pytest.mark.integration
def test_a_batch_written_twice_leaves_the_same_chunks_and_overlaps_merge(stack, cassandra_session):
    pair, t0 = _pair(), _own_day_ms() + 9 * 3_600_000
    first = _ticks(pair, [t0 + i * 500 for i in range(300)], range(300))  # 150 s: 3 chunks
    assert write_ticks(stack, None, first) == 3
    blobs = {
        r.bucket: (r.data, r.written_at)
        for r in cassandra_session.execute(
            "SELECT bucket, data, written_at FROM quote_chunks WHERE pair=%s AND day=%s",
            (pair, _day(t0)),
        )
    }
    assert write_ticks(cassandra_session, stack.keyspace, first) == 0  # a replay: nothing written
    again = {
        r.bucket: (r.data, r.written_at)
        for r in cassandra_session.execute(
            "SELECT bucket, data, written_at FROM quote_chunks WHERE pair=%s AND day=%s",
            (pair, _day(t0)),
        )
    }
    assert again == blobs
    # an overlapping batch: its second half is new, its first half re-sent (another order)
    second = _ticks(pair, [t0 + i * 500 for i in range(449, 149, -1)], range(449, 149, -1))
    write_ticks(stack, None, second)
    assert count_ticks(cassandra_session, None, [pair], [_day(t0)]) == 450
    got = read_ticks(stack, None, pair, t0, t0 + _DAY_MS)
    assert list(got.columns) == TICK_FRAME_COLUMNS
    assert got["tick_id"].tolist() == list(range(450)) and got["ts_ms"].is_monotonic_increasing
    row = cassandra_session.execute(
        "SELECT ticks, first_ts, last_ts, sources, encoding FROM quote_chunks "
        "WHERE pair=%s AND day=%s AND bucket=%s",
        (pair, _day(t0), t0),
    ).one()
    assert row.ticks == 120 and row.sources == {"t"} and row.encoding == "np-delta-zstd-v1"
    assert row.last_ts - row.first_ts == timedelta(milliseconds=119 * 500)


@pytest.mark.integration
def test_resent_ticks_are_stored_once_and_same_millisecond_ticks_stay_apart(stack):
    pair, t0 = _pair(), _own_day_ms() + 3_600_000
    write_ticks(stack, None, _ticks(pair, [t0, t0], [11, 12], bid=[1.1, 1.2]))
    write_ticks(stack, None, _ticks(pair, [t0, t0, t0], [12, 11, 13], bid=[1.2, 1.1, 1.3]))
    got = read_ticks(stack, None, pair, t0, t0 + 1)
    assert got["tick_id"].tolist() == [11, 12, 13] and got["bid"].tolist() == [1.1, 1.2, 1.3]
    assert got["mid"].tolist() == [(b + b + 2e-4) / 2 for b in (1.1, 1.2, 1.3)]


@pytest.mark.integration
def test_read_ticks_takes_exactly_the_range_across_minutes_and_days(stack):
    pair = _pair()
    midnight = _own_day_ms() + _DAY_MS
    ts = [midnight - 90_000 + i * 1_000 for i in range(180)]  # 23:58:30 .. 00:01:29 next day
    write_ticks(stack, None, _ticks(pair, ts, range(180)))
    assert count_ticks(stack, None, [pair], [_day(midnight - 1), _day(midnight)]) == 180
    cases = [
        (midnight - 90_000, midnight + 90_000),
        (midnight - 61_500, midnight + 30_001),
        (midnight, midnight + 1),
        (midnight - 1, midnight),
        (midnight + 89_000, midnight + 10**9),
        (midnight - 10**9, midnight - 90_000),
        (midnight + 5_000, midnight + 5_000),
    ]
    for start, end in cases:
        got = read_ticks(stack, None, pair, start, end)["ts_ms"].tolist()
        assert got == [t for t in ts if start <= t < end], (start - midnight, end - midnight)


def _chunk_keys(session, pair: str, day: date) -> dict[int, int | None]:
    """bucket (ms from the day's midnight) -> span_ms of the partition's rows."""
    rows = session.execute(
        "SELECT bucket, span_ms FROM quote_chunks WHERE pair=%s AND day=%s", (pair, day)
    )
    midnight = datetime(day.year, day.month, day.day)
    return {(r.bucket - midnight) // timedelta(milliseconds=1): r.span_ms for r in rows}


@pytest.mark.integration
def test_compaction_keeps_every_tick_once_and_writers_merge_into_hour_chunks(
    stack, cassandra_session
):
    from fxwatch.store.ticks import HOUR_MS, compact_day

    pair, midnight = _pair(), _own_day_ms()
    day = _day(midnight)
    # 02:00-04:00 every 7 s (two hours, 120 minute chunks each), and ticks at 05:30 and 05:31
    ts = [midnight + 2 * HOUR_MS + i * 7_000 for i in range(2 * HOUR_MS // 7_000)]
    ts += [midnight + 5 * HOUR_MS + 30 * 60_000 + s for s in (0, 60_000)]
    write_ticks(stack, None, _ticks(pair, ts, range(len(ts))))
    before = read_ticks(stack, None, pair, midnight, midnight + _DAY_MS)
    assert len(before) == len(ts) and len(_chunk_keys(cassandra_session, pair, day)) == 122

    # hours 02 and 03 are over by 04:10; 05 is not: it keeps its minute chunks
    result = compact_day(stack, None, pair, day, midnight + 4 * HOUR_MS + 600_000)
    assert result == {"hours": 2, "chunks": 120, "ticks": len(ts) - 2, "skipped_big": 0}
    keys = _chunk_keys(cassandra_session, pair, day)
    assert keys == {
        2 * HOUR_MS: HOUR_MS,
        3 * HOUR_MS: HOUR_MS,
        330 * 60_000: 60_000,
        331 * 60_000: 60_000,
    }
    assert read_ticks(stack, None, pair, midnight, midnight + _DAY_MS).equals(before)
    assert count_ticks(stack, None, [pair], [day]) == len(ts)
    # a range starting inside a compacted hour finds the ticks of that hour chunk, exactly
    start, end = midnight + 2 * HOUR_MS + 1_234_567, midnight + 3 * HOUR_MS + 77_777
    got = read_ticks(stack, None, pair, start, end)["ts_ms"].tolist()
    assert got == [t for t in ts if start <= t < end]
    # again: nothing to do
    again = compact_day(stack, None, pair, day, midnight + 4 * HOUR_MS + 600_000)
    assert again["hours"] == 0 and _chunk_keys(cassandra_session, pair, day) == keys

    # a late tick into a compacted hour merges into its hour chunk; a replay changes nothing
    late = _ticks(pair, [midnight + 2 * HOUR_MS + 61_001], [10**6], bid=[1.3])
    assert write_ticks(stack, None, late) == 1
    assert write_ticks(stack, None, late) == 0
    assert _chunk_keys(cassandra_session, pair, day) == keys
    after = read_ticks(stack, None, pair, midnight, midnight + _DAY_MS)
    assert len(after) == len(ts) + 1 and after["ts_ms"].is_monotonic_increasing
    assert 10**6 in after["tick_id"].tolist()

    # compaction stopped between its write and its delete: a stale minute chunk inside a compacted
    # hour is neither read nor counted twice
    stale = _ticks(pair, [midnight + 3 * HOUR_MS + 65_000], [99], bid=[9.9])
    write_ticks(stack, None, stale)  # merges into the hour chunk ...
    from fxwatch.store.session import insert_cql, write_rows  # ... so put a minute chunk there
    from fxwatch.store.ticks import CHUNKS_COLUMNS, _chunk_row

    bucket = midnight + 3 * HOUR_MS + 60_000
    row = _chunk_row(pair, midnight // _DAY_MS, bucket, 60_000, merge_ticks(stale), 0)
    cql = insert_cql(stack.keyspace, "quote_chunks", CHUNKS_COLUMNS)
    write_rows(cassandra_session, cql, [row], 0, 1, 1)
    assert len(_chunk_keys(cassandra_session, pair, day)) == 5
    assert count_ticks(stack, None, [pair], [day]) == len(ts) + 2
    assert len(read_ticks(stack, None, pair, midnight, midnight + _DAY_MS)) == len(ts) + 2
    compact_day(stack, None, pair, day, midnight + 4 * HOUR_MS)  # finishes the job
    assert _chunk_keys(cassandra_session, pair, day) == keys


@pytest.mark.integration
def test_migrate_converts_every_row_partition_once_and_can_delete_the_rows(stack, tmp_path):
    from fxwatch.store.connection import connect
    from fxwatch.store.migrate import migrate_quotes
    from fxwatch.store.quotes import write_quote_rows
    from fxwatch.store.schema import init_schema, truncate_tables

    settings = stack.with_(keyspace=MIGRATE_KEYSPACE)
    init_schema(settings)
    cluster, session = connect(settings)
    try:
        truncate_tables(session, MIGRATE_KEYSPACE, ["quotes", "quote_chunks"])
        t0 = _own_day_ms() + _DAY_MS - 30_000  # rows on two days
        rows = [
            (
                pair,
                _day(t0 + i * 997),
                t0 + i * 997,
                1000 + i,
                1.1,
                1.1002,
                1.1001,
                2e-4,
                "old",
                None,
                1.2 if i % 2 == 0 and i else None,
                None,
                t0,
            )
            for pair in ("EUR/USD", "USD/JPY")
            for i in range(100)
        ]
        write_quote_rows(session, None, rows)
        # the stream already stored some of the same ticks, and one the row table lacks
        write_ticks(
            session,
            None,
            _ticks(
                "EUR/USD",
                [t0, t0 + 997, t0 + 5],
                [1000, 1001, 77],
                bid=[1.1, 1.1, 1.3],
                source="old",
            ),
        )
        env = dict(os.environ, FXWATCH_KEYSPACE=MIGRATE_KEYSPACE)
        fx = str(Path(sys.executable).parent / "fxwatch")
        run = subprocess.run(
            [fx, "store", "migrate", "--no-progress"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result["partitions"] == 4 and result["rows"] == 200
        assert result["ticks_before"] == 3 and result["ticks_after"] == 201
        days = sorted({r[1] for r in rows})
        assert count_ticks(session, None, ["EUR/USD", "USD/JPY"], days) == 201
        eur = read_ticks(session, None, "EUR/USD", t0 - 1, t0 + _DAY_MS)
        assert eur["tick_id"].tolist()[:3] == [1000, 77, 1001]
        assert eur["high"].notna().sum() == 49 and eur["low"].isna().all()
        # again, and this time the rows go: nothing changes in the tick store
        again = migrate_quotes(session, None, delete_rows=True, show_progress=False)
        assert again["ticks_before"] == again["ticks_after"] == 201 and again["rows_deleted"]
        assert session.execute("SELECT pair FROM quotes LIMIT 1").one() is None
        assert count_ticks(session, None, ["EUR/USD", "USD/JPY"], days) == 201
    finally:
        cluster.shutdown()


@pytest.mark.integration
def test_quotes_cli_exports_a_range_and_says_where_the_ticks_are_when_it_is_empty(
    stack, tmp_path, monkeypatch, capsys
):
    from fxwatch.cli import main

    pair, t0 = _pair(), _own_day_ms() + 12 * 3_600_000
    write_ticks(stack, None, _ticks(pair, [t0 + i * 250 for i in range(1000)], range(1000)))
    monkeypatch.setenv("FXWATCH_KEYSPACE", stack.keyspace)
    start = datetime.fromtimestamp(t0 / 1000, tz=UTC)
    out = tmp_path / "q.csv"
    assert (
        main(
            [
                "quotes",
                "--pair",
                pair,
                "--since",
                (start + timedelta(seconds=10)).isoformat(),
                "--until",
                (start + timedelta(seconds=20)).isoformat(),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(out, newline="")))
    assert len(rows) == 40 and rows[0]["pair"] == pair
    assert rows[0]["ts"] == (start + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert float(rows[0]["bid"]) == 1.1 + 40 * 1e-5 and rows[0]["tick_id"] == "40"
    assert main(["quotes", "--pair", pair, "--output", str(out)]) == 0  # the last 24 h: empty
    err = capsys.readouterr().err
    assert f"holds 1000 ticks of {pair}" in err and f"--since {start:%Y-%m-%d}" in err
    assert len(list(csv.DictReader(open(out, newline="")))) == 0


@pytest.mark.integration
def test_store_compact_cli_compacts_the_pairs_hours_before_its_bound(
    stack, cassandra_session, monkeypatch, capsys
):
    from fxwatch.cli import main

    pair, midnight = _pair(), _own_day_ms()
    ts = [midnight + h * 3_600_000 + i * 30_000 for h in (1, 2) for i in range(120)]
    write_ticks(stack, None, _ticks(pair, ts, range(len(ts))))
    monkeypatch.setenv("FXWATCH_KEYSPACE", stack.keyspace)
    before = datetime.fromtimestamp((midnight + 3 * 3_600_000) / 1000, tz=UTC)  # both hours over
    args = ["store", "compact", "--pair", pair, "--before", before.isoformat(), "--no-progress"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["days"] == 1 and result["hours"] == 2 and result["chunks"] == 120
    assert result["ticks"] == len(ts)
    assert set(_chunk_keys(cassandra_session, pair, _day(midnight)).values()) == {3_600_000}
    assert read_ticks(stack, None, pair, midnight, midnight + _DAY_MS)["ts_ms"].tolist() == ts


@pytest.mark.integration
def test_ranges_read_ahead_equal_each_range_read_alone(stack):
    from fxwatch.store.ticks import HOUR_MS, compact_day, read_ranges_arrow, read_ticks_arrow

    pairs, midnight = [_pair(), _pair()], _own_day_ms()
    stored = {}
    for k, pair in enumerate(pairs):
        ts = [midnight + 23 * HOUR_MS + i * (3_001 + k) for i in range(2_000)]  # into the next day
        write_ticks(stack, None, _ticks(pair, ts, range(len(ts))))
        stored[pair] = ts
    compact_day(stack, None, pairs[0], _day(midnight), midnight + _DAY_MS)  # its 23h: one chunk
    ranges = [
        (p, lo, hi)
        for p in pairs
        for lo, hi in [
            (midnight, midnight + 2 * _DAY_MS),
            (midnight + 23 * HOUR_MS + 654_321, midnight + _DAY_MS + 1_000_000),  # inside 23h
            (midnight + _DAY_MS, midnight + _DAY_MS),  # empty
            (midnight - _DAY_MS, midnight),  # nothing stored
        ]
    ]
    together = list(read_ranges_arrow(stack, None, ranges, ahead=3))
    alone = [read_ticks_arrow(stack, None, *r) for r in ranges]
    for (pair, lo, hi), t, a in zip(ranges, together, alone):
        assert t.equals(a)
        assert t.column("ts_ms").to_pylist() == [x for x in stored[pair] if lo <= x < hi]


@pytest.mark.integration
def test_minute_summaries_read_equal_the_minutes_of_the_ticks_through_merges_and_compaction(
    stack, cassandra_session
):
    """`read_minute_ranges` (the chunks' per-minute summaries, no tick decoded) == `minute_rows`
    of the same range's ticks: minute chunks, a compacted hour, a late tick merged into it, a
    range starting inside an hour, two days, and a chunk written before summaries existed."""
    from fxwatch.store.minutes import minute_rows
    from fxwatch.store.ticks import (
        HOUR_MS,
        compact_day,
        read_minute_ranges,
        read_ranges_arrow,
    )

    pair, midnight = _pair(), _own_day_ms()
    rng = random.Random(3)
    ts = sorted(
        midnight + 22 * HOUR_MS + rng.randrange(4 * HOUR_MS) for _ in range(3_000)
    )  # 22h of day 1 to 02h of day 2, several ticks in some milliseconds
    bid = [1.1 + rng.random() * 1e-3 for _ in ts]
    write_ticks(stack, None, _ticks(pair, ts, range(len(ts)), bid=bid))
    compact_day(stack, None, pair, _day(midnight), midnight + _DAY_MS)  # day 1's 22h and 23h
    late = _ticks(pair, [midnight + 22 * HOUR_MS + 17], [10**6], bid=[1.2])
    write_ticks(stack, None, late)  # merged into the 22h chunk: its summary is rewritten
    # a chunk as written before summaries existed: its minutes read from its ticks
    old = cassandra_session.execute(
        f"SELECT bucket FROM {stack.keyspace}.quote_chunks WHERE pair = %s AND day = %s LIMIT 1",
        (pair, _day(midnight + _DAY_MS)),
    ).one()
    cassandra_session.execute(
        f"UPDATE {stack.keyspace}.quote_chunks SET minutes = null "
        "WHERE pair = %s AND day = %s AND bucket = %s",
        (pair, _day(midnight + _DAY_MS), old.bucket),
    )
    ranges = [
        (pair, midnight, midnight + 2 * _DAY_MS),
        (pair, midnight + 22 * HOUR_MS + 7 * 60_000, midnight + _DAY_MS + 60 * 60_000),
        (pair, midnight + _DAY_MS, midnight + 2 * _DAY_MS),
        (pair, midnight - _DAY_MS, midnight),  # nothing stored
    ]
    summaries = list(read_minute_ranges(stack, None, ranges, ahead=2))
    ticks = list(read_ranges_arrow(stack, None, ranges))
    for got, t in zip(summaries, ticks):
        want = minute_rows(pair, t)
        assert got.num_rows == want.num_rows
        assert got.equals(want)
    assert summaries[0].num_rows > 200 and sum(summaries[0].column("ticks").to_pylist()) == 3_001
    assert summaries[3].num_rows == 0
    with pytest.raises(ValueError, match="whole minutes"):
        next(read_minute_ranges(stack, None, [(pair, midnight + 1, midnight + _DAY_MS)]))


def test_the_quotes_task_reports_each_pairs_count_and_newest_tick():
    """The per-pair summary the quotes query sends to pair_status: ticks per pair and the newest
    by (ts_ms, offset) — a later offset wins a tie in time."""
    from fxwatch.stream.quotes import _newest_per_pair

    good = pa.table(
        {
            "pair": ["A", "B", "A", "A"],
            "ts_ms": [5, 1, 5, 3],
            "offset": [1, 2, 0, 9],
            "bid": [1.0, 2.0, 3.0, 4.0],
            "ask": [1.5, 2.5, 3.5, 4.5],
        }
    )
    rows = {r["pair"]: r for r in _newest_per_pair(good).to_pylist()}
    assert rows["A"] == {"pair": "A", "ts_ms": 5, "offset": 1, "bid": 1.0, "ask": 1.5,
                         "kind": "pair", "n": 3}  # fmt: skip
    assert rows["B"]["n"] == 1 and rows["B"]["bid"] == 2.0 and len(rows) == 2
    assert _newest_per_pair(good.slice(0, 0)).num_rows == 0
