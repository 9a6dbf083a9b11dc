"""The one tick-file reader (TrueFX history, Lean tick, plain CSV): parsing, bad lines, merge
order, the columnar path, pacing."""

import zipfile
from pathlib import Path

import pytest

from fxwatch.errors import FxwatchError
from fxwatch.schema import BadLine, Quote, Reason
from fxwatch.sources.replay import (
    detect_format,
    lean_file_info,
    pace,
    read_columns,
    read_file,
    read_files,
    read_quotes,
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
NOW = 1_800_000_000_000  # 2027: later than every sample


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_truefx_history_lines(tmp_path):
    f = write(
        tmp_path / "EURUSD-2016-05.csv",
        "EUR/USD,20160502 00:00:00.959,1.14601,1.14605\n"
        "EUR/USD,20160502 00:00:01.000,1.14600,1.14606\n"
        "EUR/USD,2016-05-02 00:00:01,1.14600,1.14606\n",
    )
    assert detect_format(f) == "truefx"
    items = list(read_file(f, now=NOW))
    assert items[0] == Quote("EUR/USD", 1462147200959, 1.14601, 1.14605, "truefx-history")
    assert items[1].ts_ms == 1462147201000
    assert isinstance(items[2], BadLine) and items[2].code == Reason.BAD_TS
    assert items[2].origin == "EURUSD-2016-05.csv:3"


def test_lean_file_takes_pair_date_and_venue_time_zone_from_the_path(tmp_path):
    body = "0,1.39101,1.39114\n45982627,1.39930,1.39943\n"
    oanda = write(tmp_path / "oanda/tick/eurusd/20140508_eurusd_tick_quote.csv", body)
    fxcm = write(tmp_path / "fxcm/tick/eurusd/20140508_eurusd_tick_quote.csv", body)
    midnight_utc = 1399507200000  # 2014-05-08T00:00:00Z
    o = list(read_file(oanda, now=NOW))
    f = list(read_file(fxcm, now=NOW))
    assert o[0] == Quote("EUR/USD", midnight_utc, 1.39101, 1.39114, "lean-oanda")
    assert (
        f[0].ts_ms == midnight_utc + 5 * 3_600_000
    )  # FXCM is UTC-05:00: local midnight is 05:00 UTC
    assert f[1].ts_ms - o[1].ts_ms == 5 * 3_600_000
    assert f[0].source == "lean-fxcm"


def test_lean_unknown_venue_needs_an_offset(tmp_path):
    f = write(tmp_path / "x/20140508_nzdusd_tick_quote.csv", "1000,0.86,0.87\n")
    with pytest.raises(FxwatchError, match="--utc-offset"):
        list(read_file(f, now=NOW))
    assert lean_file_info(f, 2)[0] == "NZD/USD"
    assert (
        next(read_file(f, utc_offset_hours=2, now=NOW)).ts_ms
        == 1399507200000 - 2 * 3_600_000 + 1000
    )


def test_lean_bad_lines_become_bad_line_records(tmp_path):
    f = write(
        tmp_path / "oanda/tick/eurusd/20140508_eurusd_tick_quote.csv",
        "1000,1.39,1.391\n1001,1.39\n90000000,1.39,1.391\n1002,abc,1.391\n1003,1.39,1.391\n",
    )
    items = list(read_file(f, now=NOW))
    assert [type(i).__name__ for i in items] == ["Quote", "BadLine", "BadLine", "BadLine", "Quote"]
    assert [i.code for i in items if isinstance(i, BadLine)] == [
        Reason.FIELD_COUNT,
        Reason.BAD_TS,
        Reason.BAD_PRICE,
    ]
    assert items[1].raw == "1001,1.39"


def test_plain_csv_with_header_and_every_kind_of_bad_line():
    items = list(read_file(SAMPLES / "bad_lines.csv", now=1_705_327_300_000))
    good = [i for i in items if isinstance(i, Quote)]
    bad = [i for i in items if isinstance(i, BadLine)]
    assert len(good) == 4 and len(bad) == 7  # header skipped, nothing lost
    assert sum(q.crossed for q in good) == 2  # the locked and the crossed quote are kept
    assert sorted(b.code for b in bad) == sorted(
        [
            Reason.FIELD_COUNT,
            Reason.BAD_PAIR,
            Reason.BAD_PRICE,
            Reason.BAD_PRICE,
            Reason.BAD_TS,
            Reason.FUTURE_TS,
            Reason.FIELD_COUNT,
        ]
    )
    assert all(b.source == "csv" and b.origin.startswith("bad_lines.csv:") for b in bad)


def test_merge_is_in_event_time_order_and_bad_lines_keep_their_place(tmp_path):
    a = write(
        tmp_path / "a.csv",
        "EUR/USD,1000000000000,1.1,1.2\nEUR/USD,1000000000005,1.1,1.2\n"
        "garbage\nEUR/USD,1000000000009,1.1,1.2\n",
    )
    b = write(
        tmp_path / "b.csv", "USD/JPY,1000000000001,150.0,150.1\nUSD/JPY,1000000000007,150.0,150.1\n"
    )
    items = list(read_files([a, b], now=NOW))
    assert [getattr(i, "ts_ms", "bad") if isinstance(i, Quote) else "bad" for i in items] == [
        1000000000000,
        1000000000001,
        1000000000005,
        "bad",
        1000000000007,
        1000000000009,
    ]


def test_real_samples_merge_both_venues_in_order():
    files = sorted(SAMPLES.glob("lean/*/tick/eurusd/*.csv"))
    assert len(files) == 2
    items = list(read_files(files))
    assert not [i for i in items if isinstance(i, BadLine)]
    ts = [i.ts_ms for i in items]
    assert ts == sorted(ts)
    assert {i.source for i in items} == {"lean-oanda", "lean-fxcm"}
    # both venues are placed in the same UTC half hour around the ECB spike (12:30-13:00 UTC)
    assert 1399552200000 <= ts[0] and ts[-1] < 1399554000000
    peak = max(items, key=lambda q: q.bid)
    assert 12 * 60 + 40 <= (peak.ts_ms - 1399507200000) // 60000 <= 12 * 60 + 50
    assert (
        sum(q.crossed for q in items if q.source == "lean-fxcm") > 0
    )  # real crossed quotes survive


class FakeClock:
    def __init__(self):
        self.t = 100.0
        self.sleeps = []

    def clock(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(round(s, 6))
        self.t += s


def test_pace_at_speed_sleeps_the_scaled_event_gaps():
    items = [Quote("EUR/USD", 1_000_000_000_000 + d, 1.1, 1.2, "t") for d in (0, 1000, 1000, 4000)]
    items.insert(2, BadLine("x", "unparseable: x", "t", 0))
    fake = FakeClock()
    out = list(pace(items, speed=2.0, sleep=fake.sleep, clock=fake.clock))
    assert out == items
    assert fake.sleeps == [
        0.5,
        1.5,
    ]  # 1 s and then 3 s of event time at 2x; no wait for equal times


def test_pace_without_speed_never_sleeps_and_rejects_nonsense():
    fake = FakeClock()
    items = [Quote("EUR/USD", 1_000_000_000_000 + d, 1.1, 1.2, "t") for d in (0, 5000)]
    assert list(pace(items, None, sleep=fake.sleep, clock=fake.clock)) == items
    assert fake.sleeps == []
    with pytest.raises(FxwatchError):
        list(pace(items, 0))


def test_missing_file_says_so():
    with pytest.raises(FxwatchError, match="no such file"):
        list(read_file("/nonexistent/ticks.csv"))


def test_gzipped_files_are_read(tmp_path):
    import gzip

    f = tmp_path / "EURUSD-2016-05.csv.gz"
    with gzip.open(f, "wt") as fh:
        fh.write("EUR/USD,20160502 00:00:00.959,1.14601,1.14605\n")
    assert detect_format(f) == "truefx"
    assert list(read_file(f, now=NOW)) == [
        Quote("EUR/USD", 1462147200959, 1.14601, 1.14605, "truefx-history")
    ]


def test_plain_csv_columns_by_header_and_without_header(tmp_path):
    named = write(tmp_path / "named.csv", "ts,bid,ask,pair,note\n1000000000000,1.1,1.2,EUR/USD,x\n")
    bare = write(tmp_path / "bare.csv", "EUR/USD,1000000000000,1.1,1.2\n")
    want = Quote("EUR/USD", 1000000000000, 1.1, 1.2, "csv")
    assert list(read_file(named, now=NOW)) == [want] == list(read_file(bare, now=NOW))


def test_read_quotes_stops_at_the_first_bad_line_with_its_place():
    with pytest.raises(FxwatchError, match=r"^bad_lines.csv:3: field_count"):
        list(read_quotes([SAMPLES / "bad_lines.csv"], now=1_705_327_300_000))


def test_columns_of_the_lean_samples_are_the_merged_row_reader_ticks():
    files = sorted(SAMPLES.glob("lean/*/tick/eurusd/*.csv"))
    cols = read_columns(files)
    rows = list(read_quotes(files))
    assert len(cols) == len(rows) > 50_000
    assert list(zip(cols.pair, cols.ts_ms, cols.bid, cols.ask, cols.source)) == [
        (q.pair, q.ts_ms, q.bid, q.ask, q.source) for q in rows
    ]
    assert read_columns([SAMPLES / "synthetic_ticks.csv"]) is None  # only Lean files have columns


def test_zipped_lean_files_are_read(tmp_path):
    f = tmp_path / "oanda/tick/eurusd/20140508_eurusd_tick_quote.zip"
    f.parent.mkdir(parents=True)
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr("20140508_eurusd_tick_quote.csv", "0,1.39101,1.39114\n")
    assert detect_format(f) == "lean"
    want = Quote("EUR/USD", 1399507200000, 1.39101, 1.39114, "lean-oanda")
    assert list(read_file(f, now=NOW)) == [want]
