"""Fast offline path: the columnar reader and the bank's reused QuoteView give exactly the plain
path's ticks and alerts."""

from __future__ import annotations

import gzip
import sys
import zipfile
from pathlib import Path

import pytest

from fxwatch.cli import main
from fxwatch.cli.detect import detect_files
from fxwatch.datasets import lean_dir
from fxwatch.detect import (
    PairDetectorBank,
    QuoteView,
    default_cross,
    default_detectors,
    detect_columns,
    run_detectors,
)
from fxwatch.errors import FxwatchError
from fxwatch.sources.replay import read_columns, read_file, read_lean_columns, read_quotes
from fxwatch.sources.synthetic import SyntheticConfig, generate
from support.datasets import needs_dataset

FXCM_EURUSD = "fxcm/tick/eurusd/20140508_eurusd_tick_quote.csv"
FXCM_NZDUSD = "fxcm/tick/nzdusd/20140508_nzdusd_tick_quote.csv"
EURUSD = lean_dir(must_exist=False) / FXCM_EURUSD
NZDUSD = lean_dir(must_exist=False) / FXCM_NZDUSD
need_fx = needs_dataset("lean", FXCM_EURUSD, FXCM_NZDUSD)


def key(alerts):
    return [(v.pair, v.ts_ms, v.detector, v.score, v.alert, v.reason) for v in alerts]


def head(src: Path, dst_root: Path, rows: int) -> Path:
    """Copy the first `rows` lines of a Lean file under the same fxcm/tick/<sym>/ layout."""
    dst = dst_root / "fxcm" / "tick" / src.parent.name / src.name
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src) as fh:
        dst.write_text("".join(line for _, line in zip(range(rows), fh)))
    return dst


@need_fx
def test_columns_are_bit_identical_to_the_row_reader():
    cols = read_lean_columns(EURUSD)
    plain = list(read_quotes([EURUSD]))
    assert len(cols) == len(plain) > 100_000
    assert cols.ts_ms == [q.ts_ms for q in plain]
    assert cols.bid == [q.bid for q in plain] and cols.ask == [q.ask for q in plain]
    assert set(cols.pair) == {"EUR/USD"}
    assert set(cols.source) == {"lean-fxcm"} == {q.source for q in plain}


@need_fx
def test_fast_path_alerts_equal_plain_path_on_a_full_fxcm_day():
    plain = run_detectors(read_quotes([EURUSD], "lean"), default_detectors, cross=default_cross)
    n, fast = detect_files([EURUSD], "lean")
    assert n == 167_466 and len(plain) > 10
    assert key(fast) == key(plain)


@need_fx
def test_fast_path_alerts_equal_plain_path_on_two_merged_pairs(tmp_path):
    files = [head(EURUSD, tmp_path, 60_000), head(NZDUSD, tmp_path, 30_000)]
    cols = read_columns(files, "lean")
    merged = list(read_quotes(files, "lean"))
    assert [(q.pair, q.ts_ms, q.bid, q.ask) for q in merged] == list(
        zip(cols.pair, cols.ts_ms, cols.bid, cols.ask)
    )
    plain = run_detectors(merged, default_detectors, cross=default_cross)
    assert {v.pair for v in plain} == {"EUR/USD", "NZD/USD"}
    assert key(detect_columns(cols, default_detectors, default_cross)) == key(plain)
    assert key(detect_files(files)[1]) == key(plain)


def test_odd_files_fall_back_to_the_plain_reader(tmp_path):
    d = tmp_path / "fxcm" / "tick" / "eurusd"
    d.mkdir(parents=True)
    ragged = d / "20140508_eurusd_tick_quote.csv"
    rows = [
        f"{1000 * i},{1.39 + (i % 5) * 1e-5:.5f},{1.39002 + (i % 5) * 1e-5:.5f}" for i in range(400)
    ]
    rows[10] += ",extra"  # ragged: pandas refuses it, the row reader takes the first three fields
    rows[20], rows[21] = rows[21], rows[20]  # out of order: heapq.merge order, not a sort
    ragged.write_text("\n".join(rows) + "\n")
    assert read_columns([ragged], "lean") is None
    n, fast = detect_files([ragged], "lean")
    assert n == 400
    plain = run_detectors(read_quotes([ragged], "lean"), default_detectors, cross=default_cross)
    assert key(fast) == key(plain)


def test_a_bad_line_leaves_the_columnar_path_and_stops_the_run_with_its_place(tmp_path):
    d = tmp_path / "oanda" / "tick" / "eurusd"
    d.mkdir(parents=True)
    f = d / "20140508_eurusd_tick_quote.csv"
    rows = [f"{1000 * i},1.39,1.39002" for i in range(50)]
    for bad in ("-1,1.39,1.39002", "1000,-1.39,1.39002", "1000,nan,1.39002", "1000, 1.39,1.39002"):
        f.write_text("\n".join(rows[:20] + [bad] + rows[20:]) + "\n")
        assert read_columns([f]) is None, bad
        items = list(read_file(f))
        if all(type(i).__name__ == "Quote" for i in items):  # spaces: the row reader takes them
            assert detect_files([f])[0] == 51
            continue
        with pytest.raises(FxwatchError, match=r"20140508_eurusd_tick_quote.csv:21: bad_"):
            detect_files([f])


@need_fx
def test_detectors_keep_no_reference_to_the_quote():
    # The reused QuoteView is only sound if no detector stores the object it is handed.
    dets = default_detectors() + default_cross()
    for i, q in enumerate(read_quotes([EURUSD])):
        if i == 20_000:
            break
        for d in dets:
            before = sys.getrefcount(q)
            d.update(q)
            assert sys.getrefcount(q) == before, type(d).__name__


def test_quote_view_reads_like_a_quote():
    v = QuoteView("EUR/USD", 5, 1.1, 1.2, "x")
    assert (v.pair, v.ts_ms, v.low, v.high, v.open) == ("EUR/USD", 5, None, None, None)
    assert v.mid == pytest.approx(1.15) and v.spread == pytest.approx(0.1) and not v.crossed


@need_fx
def test_cli_default_and_plain_reader_write_the_same_alerts(tmp_path, capsys):
    src = head(EURUSD, tmp_path, 40_000)
    fast, plain = tmp_path / "fast.csv", tmp_path / "plain.csv"
    args = ["detect", "--files", str(src), "--format", "lean", "--output"]
    assert main([*args, str(fast)]) == 0
    assert main([*args, str(plain), "--plain-reader"]) == 0
    assert "40000 ticks" in capsys.readouterr().out
    text = fast.read_text()
    assert text.count("\n") > 5 and text == plain.read_text()


def test_extra_columns_gz_and_zip_read_like_the_row_reader(tmp_path):
    d = tmp_path / "oanda" / "tick" / "eurusd"
    d.mkdir(parents=True)
    rows = [
        f"{1000 * i},{1.1 + (i % 7) * 1e-5:.5f},{1.10002 + (i % 7) * 1e-5:.5f},5,6"
        for i in range(300)
    ]
    text = "\n".join(rows) + "\n"
    f = d / "20140508_eurusd_tick_quote.csv"
    f.write_text(text)
    z = d / "20140509_eurusd_tick_quote.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("20140509_eurusd_tick_quote.csv", text)
    g = d / "20140510_eurusd_quote.csv.gz"
    with gzip.open(g, "wt") as fh:
        fh.write(text)
    for path in (f, z, g):
        cols = read_lean_columns(path)
        plain = list(read_quotes([path]))
        assert cols is not None and set(cols.source) == {"lean-oanda"} and len(plain) == 300
        assert list(zip(cols.pair, cols.ts_ms, cols.bid, cols.ask)) == [
            (q.pair, q.ts_ms, q.bid, q.ask) for q in plain
        ]


def test_bank_update_columns_equals_update_per_quote_across_triangles_and_calls():
    # five pairs in two watched triangles, labelled events (spikes, cross breaks, frozen legs)
    quotes = list(generate(SyntheticConfig(duration_s=1800.0, seed=3)).quotes())
    plain = PairDetectorBank(default_detectors, cross=default_cross)
    want = [v for q in quotes for v in plain.update(q)]
    fast = PairDetectorBank(default_detectors, cross=default_cross)
    got = []
    for i in range(0, len(quotes), 7_000):  # several calls: state carries over between them
        part = quotes[i : i + 7_000]
        got += fast.update_columns(
            [q.pair for q in part],
            [q.ts_ms for q in part],
            [q.bid for q in part],
            [q.ask for q in part],
            [q.source for q in part],
        )
    assert {"crossrate", "frozen"} <= {v.detector for v in want} and len(want) > 5
    assert key(got) == key(want)
