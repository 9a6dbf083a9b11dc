"""The tick store: compressed columnar chunks per (pair, UTC day, minute) in fxwatch.quote_chunks.

One row per pair and minute holds every tick of that minute, sorted by (ts_ms, tick_id), in one
blob (the format below, the only home of it). A tick's identity is (ts_ms, tick_id), tick_id a
hash of what the tick is (fxwatch.stream.features.tick_id): writing merges new ticks into the
chunks they fall in and drops ticks already there, so a replayed micro-batch or a re-sent tick
changes nothing, and two different ticks of the same millisecond stay two. Every reader goes
through `read_ticks` (pandas) or `read_ticks_arrow`; counts come from the chunks' `ticks` column.
Each chunk row also keeps its ticks' per-minute summary (`minutes`, fxwatch.store.minutes),
written with them: `read_minute_ranges` reads only those (the stats job).

Compaction (`compact_day`, `fxwatch store compact`): minute chunks suit the stream, which writes a
few seconds of ticks at a time, but a reader of history pays per chunk (a day is 1 440 of them).
Once an hour is over, its minute chunks can be rewritten as ONE chunk keyed by the hour's first
minute, with `span_ms` = 3 600 000 (a minute chunk's is 60 000, or NULL in older rows). The rule
every reader and writer applies: a chunk whose bucket lies inside the span of an earlier chunk of
its partition is superseded and ignored (`_uncovered`). So compaction writes the hour chunk first
and deletes the minute chunks after: stopped in between, nothing is read twice, and running it
again finishes the job. A writer whose ticks fall in a compacted hour merges them into the hour
chunk (it always reads the hour's first bucket too).

Format 'np-delta-zstd-v1' (little-endian, then zstd level 1; blob = u32 raw size + compressed):
  u32 n, u16 k, k x (u16 length, UTF-8 source name)      header and the source dictionary
  i64[n] ts deltas (the first one absolute), i64[n] tick_id, f64[n] bid, f64[n] ask
  i32[n] source index (-1 = null)
  low, high, open: u8 kind (0 all null, 1 all set, 2 some null) [+ validity bitmap, LSB first,
  when 2] [+ f64[n] when 1 or 2]
"""

from __future__ import annotations

import itertools
import struct
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fxwatch.errors import FxwatchError
from fxwatch.store.minutes import (
    MINUTE_MS,
    decode_minutes,
    minute_rows,
    minute_summaries,
    minutes_batch,
    summarise,
)
from fxwatch.store.names import qualified
from fxwatch.store.session import (
    EPOCH_DATE_OFFSET,
    insert_cql,
    prepared,
    resolve,
    with_retry,
    write_rows,
)

__all__ = [
    "BUCKET_MS",
    "CHUNK_SCHEMA",
    "CHUNKS_COLUMNS",
    "ENCODING",
    "TICK_COLUMNS",
    "TICK_FRAME_COLUMNS",
    "encode_chunk",
    "decode_chunk",
    "merge_ticks",
    "write_ticks",
    "write_tick_rows",
    "compact_day",
    "compact_store",
    "stored_days",
    "read_ticks_arrow",
    "read_ranges_arrow",
    "read_minute_ranges",
    "read_ticks",
    "count_ticks",
    "tick_span",
    "export_ticks_csv",
]

BUCKET_MS = 60_000  # one chunk per pair and minute of event time (a UTC day holds 1 440 of them)
HOUR_MS = 3_600_000  # the span of a compacted chunk
ENCODING = "np-delta-zstd-v1"
# What a writer hands in: one row per tick (any order, duplicates allowed).
TICK_COLUMNS = ["pair", "ts_ms", "tick_id", "bid", "ask", "source", "low", "high", "open"]
# What a chunk holds (the pair and the minute are its key).
CHUNK_SCHEMA = pa.schema(
    [
        ("ts_ms", pa.int64()),
        ("tick_id", pa.int64()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("source", pa.dictionary(pa.int32(), pa.string())),
        ("low", pa.float64()),
        ("high", pa.float64()),
        ("open", pa.float64()),
    ]
)
# Insert order of a quote_chunks row; the key is ((pair, day), bucket).
CHUNKS_COLUMNS = [
    "pair",
    "day",
    "bucket",
    "ticks",
    "first_ts",
    "last_ts",
    "sources",
    "encoding",
    "data",
    "written_at",
    "span_ms",
    "minutes",
]
# Columns of `read_ticks`.
TICK_FRAME_COLUMNS = [
    "ts_ms",
    "tick_id",
    "bid",
    "ask",
    "mid",
    "spread",
    "source",
    "low",
    "high",
    "open",
]
_DAY_MS = 86_400_000
_OPTIONAL = ("low", "high", "open")
_CODEC = pa.Codec("zstd", compression_level=1)
_PAGE_CHUNKS = 360  # chunks per page of a partition read (a busy minute is ~100 kB)
# An hour with more ticks keeps its minute chunks (a cell stays a few MB at most: ~40 B a tick raw).
MAX_HOUR_TICKS = 100_000
_EPOCH, _ONE_MS = datetime(1970, 1, 1), timedelta(milliseconds=1)
# Chunk rows go to Cassandra in single-partition UNLOGGED batches of at most this many rows and
# bytes of blobs: one request per ~30 small chunks instead of one each (the driver's cost per
# request was a third of a backlog's write time). A single-partition batch is one mutation, which
# Cassandra's batch size thresholds do not apply to (CASSANDRA-10876); the cap keeps each request
# small all the same.
_BATCH_CHUNKS, _BATCH_BYTES = 64, 32 * 1024


# ---- the chunk format -----------------------------------------------------------------------
def encode_chunk(table: pa.Table) -> bytes:
    """A table of ticks (CHUNK_SCHEMA's columns; source plain or dictionary) -> a chunk blob.
    Rows are stored in the order given: `merge_ticks` sorts and de-duplicates first."""
    return _encode_arrays(*_columns(table))


def _columns(table: pa.Table) -> tuple:
    """A tick table's columns as `_encode_arrays` takes them: ts_ms, tick_id, bid, ask (numpy),
    the source indices (-1 = null) and their names, and (values, valid) of low, high, open."""
    source = table.column("source").combine_chunks()
    if not pa.types.is_dictionary(source.type):
        source = pc.dictionary_encode(source)
    optional = []
    for name in _OPTIONAL:
        col = table.column(name).combine_chunks().cast(pa.float64())
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False))
        optional.append((col.fill_null(0.0).to_numpy(), valid))
    return (
        _numpy(table, "ts_ms", np.int64),
        _numpy(table, "tick_id", np.int64),
        _numpy(table, "bid", np.float64),
        _numpy(table, "ask", np.float64),
        source.indices.fill_null(-1).to_numpy(zero_copy_only=False),
        source.dictionary.to_pylist(),
        optional,
    )


def _encode_arrays(ts, tick_id, bid, ask, source, names, optional) -> bytes:
    """The chunk format from numpy columns: `source` indexes `names` (-1 = null); `optional` holds
    (values, valid) of low, high, open (values where not valid are ignored)."""
    n = len(ts)
    encoded = [x.encode() for x in names]
    head = [struct.pack("<IH", n, len(encoded))]
    head += [struct.pack("<H", len(x)) + x for x in encoded]
    parts = [
        np.diff(ts, prepend=np.int64(0)).astype("<i8", copy=False).tobytes(),
        tick_id.astype("<i8", copy=False).tobytes(),
        bid.astype("<f8", copy=False).tobytes(),
        ask.astype("<f8", copy=False).tobytes(),
        source.astype("<i4", copy=False).tobytes(),
    ]
    for values, valid in optional:
        set_ = int(np.count_nonzero(valid))
        if set_ == 0:
            parts.append(b"\x00")
            continue
        data = np.where(valid, values, 0.0).astype("<f8", copy=False).tobytes()
        if set_ == n:
            parts += [b"\x01", data]
        else:
            parts += [b"\x02", np.packbits(valid, bitorder="little").tobytes(), data]
    raw = b"".join(head + parts)
    return struct.pack("<I", len(raw)) + _CODEC.compress(raw, asbytes=True)


def decode_chunk(data: bytes) -> pa.Table:
    """A chunk blob -> its ticks as a pyarrow Table (CHUNK_SCHEMA)."""
    return _table(*_concat([_decode_arrays(data)]))


def _decode_arrays(data: bytes) -> tuple[list[str], dict[str, np.ndarray]]:
    """A chunk blob -> (source names, numpy columns): n, ts_ms, tick_id, bid, ask, source index
    (-1 = null), and for each of low/high/open its values (absent: all null) and, when only some
    are null, `<name>_valid` (absent: all valid). Numpy views on the decompressed bytes: no Arrow
    object per chunk."""
    (size,) = struct.unpack_from("<I", data)
    raw = _CODEC.decompress(memoryview(data)[4:], size, asbytes=True)
    n, k = struct.unpack_from("<IH", raw)
    pos = 6
    names = []
    for _ in range(k):
        (length,) = struct.unpack_from("<H", raw, pos)
        names.append(raw[pos + 2 : pos + 2 + length].decode())
        pos += 2 + length

    def take(dtype: str, count: int) -> np.ndarray:
        nonlocal pos
        a = np.frombuffer(raw, dtype, count, pos)
        pos += a.nbytes
        return a

    cols: dict[str, np.ndarray] = {"n": np.int64(n)}
    cols["ts_ms"] = np.cumsum(take("<i8", n))
    cols["tick_id"] = take("<i8", n)
    cols["bid"] = take("<f8", n)
    cols["ask"] = take("<f8", n)
    cols["source"] = take("<i4", n)
    for name in _OPTIONAL:
        kind = raw[pos]
        pos += 1
        if kind == 0:
            continue  # all null
        bits = take("u1", (n + 7) // 8) if kind == 2 else None
        cols[name] = take("<f8", n)
        if bits is not None:
            cols[name + "_valid"] = np.unpackbits(bits, bitorder="little")[:n].astype(bool)
    return names, cols


def _concat(decoded: list[tuple[list[str], dict[str, np.ndarray]]]):
    """Decoded chunks (in order) -> one set of numpy columns and one source dictionary."""
    where: dict[str, int] = {}  # source name -> its index in the shared dictionary
    sources, out = [], {c: [] for c in ("ts_ms", "tick_id", "bid", "ask")}
    optional = {c: ([], []) for c in _OPTIONAL}  # values, validity
    for chunk_names, cols in decoded:
        n = int(cols["n"])
        for c in out:
            out[c].append(cols[c])
        # this chunk's source indices -> indices into the shared dictionary
        remap = np.array([where.setdefault(x, len(where)) for x in chunk_names] + [-1], np.int32)
        sources.append(remap[cols["source"]])  # index -1 picks the trailing -1: null stays null
        for c in _OPTIONAL:
            values, valid = optional[c]
            if c not in cols:  # the chunk has no value of it
                values.append(np.full(n, np.nan))
                valid.append(np.zeros(n, bool))
            else:
                values.append(cols[c])
                valid.append(cols.get(c + "_valid", np.ones(n, bool)))
    names = sorted(where, key=where.get)
    arrays = {c: np.concatenate(v) if v else np.empty(0) for c, v in out.items()}
    arrays["source"] = np.concatenate(sources) if sources else np.empty(0, np.int32)
    for c, (values, valid) in optional.items():
        arrays[c] = np.concatenate(values) if values else np.empty(0)
        arrays[c + "_valid"] = np.concatenate(valid) if valid else np.empty(0, bool)
    return names, arrays


def _table(names: list[str], a: dict[str, np.ndarray]) -> pa.Table:
    """Numpy columns (from `_concat`) -> a CHUNK_SCHEMA table."""
    index = a["source"]
    columns = [
        pa.array(a["ts_ms"].astype(np.int64, copy=False)),
        pa.array(a["tick_id"].astype(np.int64, copy=False)),
        pa.array(a["bid"].astype(np.float64, copy=False)),
        pa.array(a["ask"].astype(np.float64, copy=False)),
        pa.DictionaryArray.from_arrays(
            pa.array(index, pa.int32(), mask=index < 0), pa.array(names, pa.string())
        ),
    ]
    for c in _OPTIONAL:
        valid = a[c + "_valid"]
        columns.append(pa.array(a[c], pa.float64(), mask=~valid))
    return pa.Table.from_arrays(columns, schema=CHUNK_SCHEMA)


def merge_ticks(*tables: pa.Table) -> pa.Table:
    """Tick tables of one pair -> one, sorted by (ts_ms, tick_id), each identity once."""
    parts = [_plain(t) for t in tables if t is not None and t.num_rows]
    if not parts:
        return _plain(CHUNK_SCHEMA.empty_table())
    t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    ts, ids = _numpy(t, "ts_ms", np.int64), _numpy(t, "tick_id", np.int64)
    order = np.lexsort((ids, ts))
    ts, ids = ts[order], ids[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (ts[1:] != ts[:-1]) | (ids[1:] != ids[:-1])
    if first.all() and (order == np.arange(len(order))).all():
        return t
    return t.take(pa.array(order[first]))


def _plain(t: pa.Table) -> pa.Table:
    """CHUNK_SCHEMA's columns in its order, source as plain strings (any two of them concat)."""
    types = {"ts_ms": pa.int64(), "tick_id": pa.int64(), "source": pa.string()}
    return pa.table({c: t.column(c).cast(types.get(c, pa.float64())) for c in CHUNK_SCHEMA.names})


def _numpy(t: pa.Table, name: str, dtype) -> np.ndarray:
    return np.asarray(t.column(name).to_numpy(), dtype=dtype)


# ---- writes -----------------------------------------------------------------------------------
def write_ticks(target, keyspace: str | None, ticks: pa.Table, concurrency: int = 8) -> int:
    """Merge ticks (TICK_COLUMNS, any pairs, order and duplicates) into their chunks.

    Per (pair, day): ONE read of the chunks the ticks fall in; a chunk already stored is merged
    (`merge_ticks`) and written back whole (not at all when it gains nothing); a new chunk is
    encoded straight from the batch, sorted and de-duplicated once for all its chunks (`_Batch`).
    Rows go to Cassandra in single-partition batches. One writer per pair at a time (the
    stream's Kafka key is the pair: one task per pair and micro-batch). Retries transient
    errors; returns the chunks written."""
    if ticks.num_rows == 0:
        return 0
    session, ks = resolve(target, keyspace)
    select_cql = (
        f"SELECT bucket, span_ms, encoding, data FROM {qualified(ks, 'quote_chunks')} "
        "WHERE pair = ? AND day = ? AND bucket IN ?"
    )
    batch = _Batch(ticks)

    def read_existing() -> dict[tuple[str, int], dict[int, pa.Table]]:
        select = prepared(session, select_cql)  # (preparing needs Cassandra too: retried)
        futures = {
            key: session.execute_async(
                select, (key[0], EPOCH_DATE_OFFSET + key[1], _with_hour_starts(spans))
            )
            for key, spans in batch.groups.items()
        }  # all (pair, day) reads in flight at once
        return {
            key: {_ms(r.bucket): (_span(r), _decode(r.encoding, r.data)) for r in f.result()}
            for key, f in futures.items()
        }

    existing = with_retry(read_existing, "reading tick chunks")
    now = int(time.time() * 1000)
    rows = []
    for (pair, day), spans in batch.groups.items():
        have = existing[(pair, day)]
        for key, (lo, hi) in _targets(spans, have).items():
            if key not in have:  # a new minute chunk: the batch's own ticks, ready to encode
                rows.append(batch.chunk_row(pair, day, key, lo, hi, now))
                continue
            span, old = have[key]
            merged = merge_ticks(old, batch.table(lo, hi))
            if merged.num_rows == old.num_rows:
                continue  # nothing new: a replay or re-sent ticks
            rows.append(_chunk_row(pair, day, key, span, merged, now))
    cql = insert_cql(ks, "quote_chunks", CHUNKS_COLUMNS)
    return with_retry(
        lambda: write_rows(
            session, cql, rows, 2, _BATCH_CHUNKS, concurrency, batch_bytes=_BATCH_BYTES
        ),
        "writing tick chunks to Cassandra",
    )


class _Batch:
    """A writer's ticks as numpy columns sorted by (pair, ts_ms, tick_id), each identity once, and
    grouped: `groups` = {(pair, day): {minute bucket: (lo, hi) row range}}. A new minute chunk is
    a row range of it, encoded without building an Arrow table (`chunk_row`); the per-minute
    summaries of every range come from one numpy pass. Thousands of small chunks (a quiet pair,
    a backlog spread over hours) cost ~0.1 ms each instead of ~1.5 ms."""

    def __init__(self, ticks: pa.Table):
        pairs = pc.dictionary_encode(ticks.column("pair").combine_chunks())
        codes = pairs.indices.to_numpy(zero_copy_only=False)
        ts, ids = _numpy(ticks, "ts_ms", np.int64), _numpy(ticks, "tick_id", np.int64)
        order = np.lexsort((ids, ts, codes))
        codes, ts, ids = codes[order], ts[order], ids[order]
        keep = np.ones(len(order), dtype=bool)  # each (pair, ts_ms, tick_id) once
        keep[1:] = (codes[1:] != codes[:-1]) | (ts[1:] != ts[:-1]) | (ids[1:] != ids[:-1])
        order, codes = order[keep], codes[keep]
        self.ticks = ticks.take(pa.array(order))
        self.ts, self.ids, self.bid, self.ask, self.source, self.names, self.optional = _columns(
            self.ticks
        )
        new_pair = np.ones(len(codes), dtype=bool)
        new_pair[1:] = codes[1:] != codes[:-1]
        # a run of the summaries is one pair's minute: exactly a new minute chunk's rows
        starts, summaries = minute_summaries(self.ts, self.bid, self.ask, new_pair)
        lows = np.flatnonzero(starts).tolist()
        self.summaries = dict(zip(lows, summaries))  # first row of a run -> its summary
        self.groups: dict[tuple[str, int], dict[int, tuple[int, int]]] = {}
        for lo, hi in zip(lows, lows[1:] + [len(codes)]):
            pair = pairs.dictionary[int(codes[lo])].as_py()
            bucket = int(self.ts[lo] - self.ts[lo] % BUCKET_MS)
            self.groups.setdefault((pair, bucket // _DAY_MS), {})[bucket] = (lo, hi)

    def table(self, lo: int, hi: int) -> pa.Table:
        """Rows lo..hi as a table (to merge into a stored chunk)."""
        return self.ticks.slice(lo, hi - lo)

    def chunk_row(self, pair: str, day: int, bucket: int, lo: int, hi: int, now: int) -> tuple:
        """The quote_chunks row of a new minute chunk holding rows lo..hi (one pair's minute):
        the same row `_chunk_row` makes of the same ticks."""
        index = self.source[lo:hi]
        # the chunk's own source dictionary, in order of first appearance (as encode_chunk's)
        present, first = np.unique(index, return_index=True)
        present = present[np.argsort(first)]
        present = present[present >= 0]
        local = np.full(len(self.names) + 1, -1, dtype=np.int32)  # last slot: null stays -1
        local[present] = np.arange(len(present), dtype=np.int32)
        names = [self.names[i] for i in present]
        blob = _encode_arrays(
            self.ts[lo:hi],
            self.ids[lo:hi],
            self.bid[lo:hi],
            self.ask[lo:hi],
            local[index],
            names,
            [(values[lo:hi], valid[lo:hi]) for values, valid in self.optional],
        )
        minutes = self.summaries[lo]
        first_ts, last_ts = int(self.ts[lo]), int(self.ts[hi - 1])
        return _row(
            pair, day, bucket, BUCKET_MS, hi - lo, first_ts, last_ts, names, blob, now, minutes
        )


def write_tick_rows(target, keyspace: str | None, rows: Iterable[tuple]) -> int:
    """`write_ticks` for tuples in TICK_COLUMNS order (fxwatch.stream.sinks.write_from_executors'
    writer form); returns the ticks handed in."""
    rows = list(rows)
    if rows:
        write_ticks(target, keyspace, pa.table(dict(zip(TICK_COLUMNS, zip(*rows)))))
    return len(rows)


def _with_hour_starts(spans: dict[int, tuple[int, int]]) -> list[int]:
    """The minute buckets a writer reads, plus the first bucket of their hours: where a compacted
    hour chunk would be."""
    return sorted(set(spans) | {b - b % HOUR_MS for b in spans})


def _targets(
    spans: dict[int, tuple[int, int]], have: dict[int, tuple[int, pa.Table]]
) -> dict[int, tuple[int, int]]:
    """Minute buckets -> (row span of their ticks), in bucket order -> the chunk each goes to:
    the minute's own, or its hour's when `have` (bucket -> (span_ms, ticks)) holds a compacted
    chunk there; the minutes of one hour are consecutive rows, so a target's ticks are one slice."""
    out: dict[int, tuple[int, int]] = {}
    for bucket, (lo, hi) in spans.items():
        hour = bucket - bucket % HOUR_MS
        key = hour if have.get(hour, (BUCKET_MS,))[0] == HOUR_MS else bucket
        out[key] = (out.get(key, (lo,))[0], hi)
    return out


def _span(row) -> int:
    """The event time a chunk row covers from its bucket (older rows have no span_ms: a minute)."""
    return row.span_ms or BUCKET_MS


def _uncovered(rows: Iterable) -> Iterator:
    """Chunk rows of one partition in bucket order -> those no earlier row's span covers: the
    minute chunks a compacted hour chunk replaced and compaction has not deleted yet are skipped."""
    until = None
    for r in rows:
        start = _ms(r.bucket)
        if until is not None and start < until:
            continue
        until = start + _span(r)
        yield r


def _chunk_row(pair: str, day: int, bucket: int, span: int, ticks: pa.Table, now: int) -> tuple:
    """The quote_chunks row of a chunk holding `ticks` (sorted, de-duplicated)."""
    ts = _numpy(ticks, "ts_ms", np.int64)
    return _row(
        pair,
        day,
        bucket,
        span,
        ticks.num_rows,
        int(ts[0]),
        int(ts[-1]),
        pc.unique(ticks.column("source")).drop_null().to_pylist(),
        encode_chunk(ticks),
        now,
        summarise(  # the chunk's per-minute summary
            ts, _numpy(ticks, "bid", np.float64), _numpy(ticks, "ask", np.float64), bucket
        ),
    )


def _row(pair, day, bucket, span, n, first_ts, last_ts, sources, blob, now, minutes) -> tuple:
    """A quote_chunks row in CHUNKS_COLUMNS order (`day` in days since the epoch)."""
    return (
        pair,
        EPOCH_DATE_OFFSET + day,
        bucket,
        n,
        first_ts,
        last_ts,
        set(sources) or None,
        ENCODING,
        blob,
        now,
        span,
        minutes,
    )


def _decode(encoding: str, data: bytes) -> pa.Table:
    _check_encoding(encoding)
    return decode_chunk(data)


def _check_encoding(encoding: str) -> None:
    if encoding != ENCODING:
        raise FxwatchError(
            f"a tick chunk is encoded {encoding!r}, this fxwatch reads "
            f"{ENCODING!r}: upgrade fxwatch to read it"
        )


def _ms(t: datetime) -> int:
    """A driver timestamp (naive UTC) -> epoch ms."""
    return (t.replace(tzinfo=None) - _EPOCH) // _ONE_MS


# ---- reads ------------------------------------------------------------------------------------
def read_ticks_arrow(
    target, keyspace: str | None, pair: str, start_ms: int, end_ms: int
) -> pa.Table:
    """Ticks of `pair` with start_ms <= ts_ms < end_ms (CHUNK_SCHEMA, sorted): one query per UTC
    day, paged, only the chunks that overlap the range."""
    return next(read_ranges_arrow(target, keyspace, [(pair, start_ms, end_ms)], ahead=1))


def read_ranges_arrow(
    target, keyspace: str | None, ranges: Iterable[tuple[str, int, int]], ahead: int = 4
) -> Iterator[pa.Table]:
    """`read_ticks_arrow` of each (pair, start_ms, end_ms) in turn, the queries of the next
    `ahead` ranges already sent while one is decoded: a reader of many pair-days does not wait
    for Cassandra between them (sequential: 3.4 s for 150 pair-days here, 2.2 s)."""
    session, ks = resolve(target, keyspace)
    columns = "bucket, span_ms, encoding, data"
    for (_, start_ms, end_ms), results in _sent_ahead(session, ks, columns, ranges, ahead):
        yield _range_table(results, start_ms, end_ms)


def read_minute_ranges(
    target, keyspace: str | None, ranges: Iterable[tuple[str, int, int]], ahead: int = 4
) -> Iterator[pa.RecordBatch]:
    """The per-minute summaries (fxwatch.store.minutes: pair, m, ticks, mid_avg, spread_avg,
    ret_std) of each (pair, start_ms, end_ms) in turn, one row per non-empty minute, in order —
    `minute_rows` of the range's ticks, read from the chunks' `minutes` column without their
    ticks. A range holding a chunk written before summaries existed (`minutes` NULL) is read
    as ticks and summarised instead (`fxwatch store compact` writes its hours with summaries).
    The range must start and end on whole minutes (ValueError otherwise)."""
    session, ks = resolve(target, keyspace)
    ranges = list(ranges)
    for pair, start_ms, end_ms in ranges:
        if start_ms % MINUTE_MS or end_ms % MINUTE_MS:
            raise ValueError(
                f"read_minute_ranges: {pair} [{start_ms}, {end_ms}) is not whole minutes"
            )
    columns = "bucket, span_ms, minutes"
    for (pair, start_ms, end_ms), results in _sent_ahead(session, ks, columns, ranges, ahead):
        rows = list(_uncovered(_chained(results)))
        if any(r.minutes is None for r in rows):  # written before summaries: from the ticks
            ticks = next(read_ranges_arrow(session, ks, [(pair, start_ms, end_ms)], ahead=1))
            yield minute_rows(pair, ticks)
            continue
        parts = [decode_minutes(r.minutes, _ms(r.bucket)) for r in rows]
        batch = minutes_batch(pair, parts)
        m = batch.column("m")
        keep = pc.and_(pc.greater_equal(m, start_ms), pc.less(m, end_ms))
        yield batch if len(batch) == 0 or pc.all(keep).as_py() else batch.filter(keep)


def _sent_ahead(session, ks: str, columns: str, ranges, ahead: int):
    """(range, its queries' results in `_range_queries` order) for each range in turn, the
    queries of the next `ahead` ranges already in flight."""
    cql = (
        f"SELECT {columns} FROM {qualified(ks, 'quote_chunks')} "
        "WHERE pair = ? AND day = ? AND bucket >= ? AND bucket < ?"
    )
    stmt = with_retry(lambda: prepared(session, cql), "reading tick chunks")
    stmt.fetch_size = _PAGE_CHUNKS
    ranges = list(ranges)
    sent: dict[int, list] = {}  # range index -> [(future, args, head)] of its queries

    def send(i: int) -> None:
        sent[i] = [
            (session.execute_async(stmt, args), args, head)
            for args, head in _range_queries(*ranges[i])
        ]

    for i, one in enumerate(ranges):
        for j in range(i, min(i + max(1, ahead), len(ranges))):
            if j not in sent:
                send(j)
        yield one, [(_rows(session, stmt, f, args), head) for f, args, head in sent.pop(i)]


def _rows(session, stmt, future, args):
    """The rows of a query sent with execute_async; if it failed, sent again with with_retry's
    back-off and its clear error."""
    try:
        return future.result()
    except Exception:
        return with_retry(lambda: session.execute(stmt, args), "reading tick chunks")


def _range_queries(pair: str, start_ms: int, end_ms: int) -> list[tuple[tuple, bool]]:
    """The queries of a range read, in bucket order: per UTC day, when the range starts inside an
    hour, that hour's first bucket (head=True: only a compacted chunk there counts, it starts
    before the range), then the range itself."""
    if end_ms <= start_ms:
        return []
    first = start_ms // BUCKET_MS * BUCKET_MS
    out = []
    for day in range(start_ms // _DAY_MS, (end_ms - 1) // _DAY_MS + 1):
        lo, hi = max(first, day * _DAY_MS), min(end_ms, (day + 1) * _DAY_MS)
        hour = lo - lo % HOUR_MS
        if hour < lo:
            out.append(((pair, EPOCH_DATE_OFFSET + day, hour, hour + 1), True))
        out.append(((pair, EPOCH_DATE_OFFSET + day, lo, hi), False))
    return out


def _chained(results: list[tuple[Iterable, bool]]) -> Iterator:
    """The rows of a range read's queries, in bucket order; of a head query (the range starts
    inside an hour) only a compacted hour chunk counts."""
    return itertools.chain.from_iterable(
        (r for r in rs if _span(r) == HOUR_MS) if head else rs for rs, head in results
    )


def _range_table(results: list[tuple[Iterable, bool]], start_ms: int, end_ms: int) -> pa.Table:
    """The rows of a range read's queries (in `_range_queries` order) -> its ticks: superseded
    chunks skipped, the rest decoded into one Arrow table, cut to [start_ms, end_ms)."""
    decoded = []
    for r in _uncovered(_chained(results)):
        _check_encoding(r.encoding)
        decoded.append(_decode_arrays(r.data))
    if not decoded:
        return CHUNK_SCHEMA.empty_table()
    t = _table(*_concat(decoded))  # one Arrow table for the whole range, not one per chunk
    ts = t.column("ts_ms")
    keep = pc.and_(pc.greater_equal(ts, start_ms), pc.less(ts, end_ms))
    return t if pc.all(keep).as_py() else t.filter(keep)


def read_ticks(target, keyspace: str | None, pair: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Ticks of `pair` with start_ms <= ts_ms < end_ms as pandas (TICK_FRAME_COLUMNS, sorted by
    ts_ms then tick_id; mid and spread derived as the stream derives them; source a string)."""
    df = read_ticks_arrow(target, keyspace, pair, start_ms, end_ms).to_pandas()
    df["source"] = df["source"].astype(object)
    df["mid"] = (df["bid"] + df["ask"]) / 2
    df["spread"] = df["ask"] - df["bid"]
    return df[TICK_FRAME_COLUMNS]


def count_ticks(
    target, keyspace: str | None, pairs: Iterable[str], days: Iterable[date], timeout: float = 120
) -> int:
    """Ticks stored for these pairs on these UTC days (the chunks' `ticks` column, summed)."""
    session, ks = resolve(target, keyspace)
    stmt = prepared(
        session,
        f"SELECT bucket, span_ms, ticks FROM {qualified(ks, 'quote_chunks')} "
        "WHERE pair = ? AND day = ?",
    )
    days = list(days)
    return sum(
        r.ticks
        for p in pairs
        for d in days
        for r in _uncovered(session.execute(stmt, (p, d), timeout=timeout))
    )


def tick_span(
    target, keyspace: str | None, pair: str
) -> tuple[int, datetime | None, datetime | None]:
    """(ticks, first ts, last ts) of everything stored for `pair` — what an empty range is
    missing; (0, None, None) when nothing is. Scans the partition keys: for messages, not loops."""
    session, ks = resolve(target, keyspace)
    table = qualified(ks, "quote_chunks")
    keys = prepared(session, f"SELECT DISTINCT pair, day FROM {table}")
    days = [r.day for r in session.execute(keys) if r.pair == pair]
    stmt = prepared(
        session,
        f"SELECT bucket, span_ms, ticks, first_ts, last_ts FROM {table} WHERE pair = ? AND day = ?",
    )
    count, first, last = 0, None, None
    for day in days:
        for row in _uncovered(session.execute(stmt, (pair, day))):
            count += row.ticks
            first = row.first_ts if first is None else min(first, row.first_ts)
            last = row.last_ts if last is None else max(last, row.last_ts)
    return (count, *(None if t is None else t.replace(tzinfo=UTC) for t in (first, last)))


# ---- compaction -------------------------------------------------------------------------------
def compact_day(target, keyspace: str | None, pair: str, day: int | date, before_ms: int) -> dict:
    """Rewrite each hour of (pair, UTC day) that ended by `before_ms` and still has minute chunks
    as one hour chunk (span_ms = HOUR_MS; the ticks merged as a writer merges them), then delete
    the minute chunks it replaces. Idempotent; safe to stop at any point (see the module's rule).

    An hour of more than MAX_HOUR_TICKS ticks keeps its minute chunks. Not for hours a writer is
    still filling: a tick written into a minute chunk between this read and its delete is lost, so
    `before_ms` stays behind every stream's event time (`fxwatch store compact` keeps 24 h).
    Returns {"hours": compacted, "chunks": minute chunks replaced, "ticks": ticks in them,
    "skipped_big": hours kept as minutes}."""
    session, ks = resolve(target, keyspace)
    table = qualified(ks, "quote_chunks")
    day = day if isinstance(day, int) else (day - date(1970, 1, 1)).days
    key = (pair, EPOCH_DATE_OFFSET + day)
    # which hours to compact, from the chunks' keys and spans only (a rerun reads no blob)
    layout = prepared(session, f"SELECT bucket, span_ms FROM {table} WHERE pair = ? AND day = ?")
    spans: dict[int, list[int]] = {}  # hour -> span_ms of its chunks
    for r in with_retry(lambda: list(session.execute(layout, key)), "reading tick chunks"):
        bucket = _ms(r.bucket)
        spans.setdefault(bucket - bucket % HOUR_MS, []).append(_span(r))
    todo = [
        hour
        for hour, members in sorted(spans.items())
        # over by before_ms (the stream may still write into a later one), not compacted already
        if hour + HOUR_MS <= before_ms and members != [HOUR_MS]
    ]
    out = {"hours": 0, "chunks": 0, "ticks": 0, "skipped_big": 0}
    if not todo:
        return out
    select = prepared(
        session,
        f"SELECT span_ms, encoding, data FROM {table} "
        "WHERE pair = ? AND day = ? AND bucket >= ? AND bucket < ?",
    )
    futures = [session.execute_async(select, (*key, hour, hour + HOUR_MS)) for hour in todo]
    now, rows, done = int(time.time() * 1000), [], []
    for hour, future in zip(todo, futures):
        members = list(_rows(session, select, future, (*key, hour, hour + HOUR_MS)))
        for r in members:
            _check_encoding(r.encoding)
        # the hour's chunks decoded into one table (as a range read does), then sorted and
        # de-duplicated once: a stale minute chunk's ticks are in the hour chunk already
        merged = merge_ticks(_table(*_concat([_decode_arrays(r.data) for r in members])))
        if merged.num_rows > MAX_HOUR_TICKS:
            out["skipped_big"] += 1
            continue
        rows.append(_chunk_row(pair, day, hour, HOUR_MS, merged, now))
        done.append(hour)
        out["hours"] += 1
        out["chunks"] += sum(_span(r) != HOUR_MS for r in members)
        out["ticks"] += merged.num_rows
    if not rows:
        return out
    cql = insert_cql(ks, "quote_chunks", CHUNKS_COLUMNS)
    # the hour chunks first: once they are written, the minute chunks are superseded ...
    with_retry(lambda: write_rows(session, cql, rows, 0, 1, 8), "writing compacted tick chunks")
    delete = prepared(
        session, f"DELETE FROM {table} WHERE pair = ? AND day = ? AND bucket > ? AND bucket < ?"
    )
    # ... then deleted, one range per hour (its own first bucket is the hour chunk's key)
    for hour in done:
        args = (*key, hour, hour + HOUR_MS)
        with_retry(lambda args=args: session.execute(delete, args), "deleting minute chunks")
    return out


def stored_days(
    target,
    keyspace: str | None,
    before_ms: int,
    pairs: Iterable[str] | None = None,
    since_ms: int = 0,
) -> list[tuple[str, int]]:
    """(pair, UTC day number) of every tick-store partition of a day that starts before
    `before_ms` and ends after `since_ms` (only `pairs` if given), sorted. Scans the partition
    keys: for maintenance, not for loops."""
    session, ks = resolve(target, keyspace)
    wanted = set(pairs) if pairs else None
    keys = session.execute(
        prepared(session, f"SELECT DISTINCT pair, day FROM {qualified(ks, 'quote_chunks')}")
    )
    return sorted(
        (r.pair, r.day.days_from_epoch)
        for r in keys
        if (wanted is None or r.pair in wanted)
        and since_ms < (r.day.days_from_epoch + 1) * _DAY_MS
        and r.day.days_from_epoch * _DAY_MS < before_ms
    )


def compact_store(
    target,
    keyspace: str | None,
    before_ms: int,
    days: list[tuple[str, int]],
    workers: int = 4,
    on_day=None,
) -> dict:
    """`compact_day` for each (pair, day) of `days` (e.g. `stored_days`), `workers` partitions at
    a time; `on_day()` is called after each (a progress bar). Returns the totals and "days": the
    partitions looked at."""
    session, ks = resolve(target, keyspace)
    totals = {"days": len(days), "hours": 0, "chunks": 0, "ticks": 0, "skipped_big": 0}

    def one(key):
        result = compact_day(session, ks, key[0], key[1], before_ms)
        if on_day is not None:
            on_day()
        return result

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for result in pool.map(one, days):
            for k, v in result.items():
                totals[k] += v
    return totals


def export_ticks_csv(pair: str, ticks: pd.DataFrame, path: str | Path) -> int:
    """Write `read_ticks` output as CSV: pair, ts (ISO-8601 UTC with ms), ts_ms, bid, ask, mid,
    spread, source, low, high, open, tick_id (prices exactly as stored); returns the rows."""
    ts = pd.to_datetime(ticks["ts_ms"], unit="ms", utc=True)
    out = pd.DataFrame(
        {
            "pair": pair,
            "ts": ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z",
            **{
                c: ticks[c]
                for c in [
                    "ts_ms",
                    "bid",
                    "ask",
                    "mid",
                    "spread",
                    "source",
                    "low",
                    "high",
                    "open",
                    "tick_id",
                ]
            },
        }
    )
    out.to_csv(path, index=False)
    return len(out)
