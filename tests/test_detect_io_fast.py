"""Fast offline path: columnar Lean reader and reused QuoteView give exactly the plain path's ticks and alerts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fxwatch.detect import default_cross, default_detectors, run_detectors
from fxwatch.detect.io import (
    QuoteView,
    detect_offline_fast,
    read_columns,
    read_lean,
    read_lean_columns,
    read_quotes,
    run_columns,
)

LEAN = Path("/work/shared/data/fx/quantconnect_lean/fxcm/tick")
EURUSD = LEAN / "eurusd/20140508_eurusd_tick_quote.csv"
NZDUSD = LEAN / "nzdusd/20140508_nzdusd_tick_quote.csv"
need_fx = pytest.mark.skipif(not (EURUSD.exists() and NZDUSD.exists()), reason="FXCM Lean files not present")


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
def test_columns_are_bit_identical_to_read_lean():
    cols = read_lean_columns(EURUSD)
    plain = list(read_lean(EURUSD))
    assert len(cols) == len(plain) > 100_000
    assert cols.ts_ms == [q.ts_ms for q in plain]
    assert cols.bid == [q.bid for q in plain] and cols.ask == [q.ask for q in plain]
    assert set(cols.pair) == {"EUR/USD"} and set(cols.source) == {"fxcm"}


@need_fx
def test_fast_path_alerts_equal_plain_path_on_a_full_fxcm_day():
    plain = run_detectors(read_quotes([EURUSD], "lean"), default_detectors, cross=default_cross())
    n, fast = detect_offline_fast([EURUSD], "lean", default_detectors, cross=default_cross())
    assert n == 167_466 and len(plain) > 100
    assert key(fast) == key(plain)


@need_fx
def test_fast_path_alerts_equal_plain_path_on_two_merged_pairs(tmp_path):
    files = [head(EURUSD, tmp_path, 60_000), head(NZDUSD, tmp_path, 30_000)]
    cols = read_columns(files, "lean")
    merged = list(read_quotes(files, "lean"))
    assert [(q.pair, q.ts_ms, q.bid, q.ask) for q in merged] == list(zip(cols.pair, cols.ts_ms, cols.bid, cols.ask))
    plain = run_detectors(merged, default_detectors, cross=default_cross())
    assert {v.pair for v in plain} == {"EUR/USD", "NZD/USD"}
    assert key(run_columns(cols, default_detectors, default_cross())) == key(plain)


def test_odd_files_fall_back_to_the_plain_reader(tmp_path):
    d = tmp_path / "fxcm" / "tick" / "eurusd"
    d.mkdir(parents=True)
    ragged = d / "20140508_eurusd_tick_quote.csv"
    rows = [f"{1000 * i},{1.39 + (i % 5) * 1e-5:.5f},{1.39002 + (i % 5) * 1e-5:.5f}" for i in range(400)]
    rows[10] += ",extra"  # a ragged row: pandas refuses it, read_lean takes the first three fields
    rows[20], rows[21] = rows[21], rows[20]  # out of order: heapq.merge order, not a sort
    ragged.write_text("\n".join(rows) + "\n")
    assert read_columns([ragged], "lean") is None
    n, fast = detect_offline_fast([ragged], "lean", default_detectors, cross=default_cross())
    assert n == 400
    assert key(fast) == key(run_detectors(read_quotes([ragged], "lean"), default_detectors, cross=default_cross()))


@need_fx
def test_detectors_keep_no_reference_to_the_quote():
    # The reused QuoteView is only sound if no detector stores the object it is handed.
    dets = default_detectors() + default_cross()
    for i, q in enumerate(read_lean(EURUSD)):
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
    from fxwatch.cli import main

    src = head(EURUSD, tmp_path, 40_000)
    fast, plain = tmp_path / "fast.csv", tmp_path / "plain.csv"
    assert main(["detect", "--input", str(src), "--output", str(fast), "--format", "lean"]) == 0
    assert main(["detect", "--input", str(src), "--output", str(plain), "--format", "lean", "--plain-reader"]) == 0
    assert "40000 ticks" in capsys.readouterr().out
    text = fast.read_text()
    assert text.count("\n") > 5 and text == plain.read_text()


def test_extra_columns_and_zip_read_like_read_lean(tmp_path):
    import zipfile

    d = tmp_path / "oanda" / "tick" / "eurusd"
    d.mkdir(parents=True)
    rows = [f"{1000 * i},{1.1 + (i % 7) * 1e-5:.5f},{1.10002 + (i % 7) * 1e-5:.5f},5,6" for i in range(300)]
    f = d / "20140508_eurusd_tick_quote.csv"
    f.write_text("\n".join(rows) + "\n")
    z = d / "20140509_eurusd_tick_quote.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("20140509_eurusd_tick_quote.csv", "\n".join(rows) + "\n")
    for path in (f, z):
        cols = read_lean_columns(path)
        plain = list(read_lean(path))
        assert cols is not None and set(cols.source) == {"lean"}
        assert list(zip(cols.pair, cols.ts_ms, cols.bid, cols.ask)) == [(q.pair, q.ts_ms, q.bid, q.ask) for q in plain]
