"""Regenerate the samples of data/samples/ (synthetic day slice, ECB-spike real slice,
bad lines)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fxwatch.datasets import lean_dir
from fxwatch.errors import FxwatchError
from fxwatch.sources.synthetic import SyntheticConfig, generate, write_labels, write_ticks

HERE = Path(__file__).resolve().parent
DAY = "20140508"
# 12:30-13:00 UTC: ECB press conference, EUR/USD spikes to ~1.3993 at 12:46 UTC and reverses.
SLICE_UTC_MS = (12 * 3_600_000 + 30 * 60_000, 13 * 3_600_000)
VENUE_OFFSET_MS = {"oanda": 0, "fxcm": -5 * 3_600_000}  # Lean: OANDA UTC, FXCM UTC-05:00 fixed

BAD_LINES = """pair,ts,bid,ask
EUR/USD,1705327200000,1.09001,1.09008
EUR/USD,1705327200100,1.09002,1.09009,1.2
EURUSD-X,1705327200200,1.09002,1.09009
EUR/USD,1705327200300,-1.09,1.09009
EUR/USD,1705327200400,nan,1.09009
EUR/USD,17053272005OO,1.09002,1.09009
EUR/USD,1705327200500,1.09010,1.09010
USD/JPY,1705327200600,148.002,147.998
EUR/USD,4102444800000,1.09002,1.09009
this is not a quote
USD/JPY,1705327200700,148.001,148.009
"""


def make_synthetic(out: Path) -> None:
    cfg = SyntheticConfig(
        start_ms=1_705_330_800_000,  # 2024-01-15T15:00:00Z: covers the 16:00 London fix
        duration_s=2 * 3600,
        rate=1.5,
        seed=42,
    )
    result = generate(cfg)
    n = write_ticks(out / "synthetic_ticks.csv", result)
    write_labels(out / "synthetic_labels.csv", result.labels)
    write_labels(out / "synthetic_legit.csv", result.legit)
    print(f"synthetic: {n} ticks, {len(result.labels)} labels, {len(result.legit)} legit moves")


def make_real_slice(out: Path, lean: Path) -> None:
    for venue, offset in VENUE_OFFSET_MS.items():
        src = lean / venue / "tick" / "eurusd" / f"{DAY}_eurusd_tick_quote.csv"
        dst = out / "lean" / venue / "tick" / "eurusd" / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        lo, hi = (t + offset for t in SLICE_UTC_MS)  # ms since *local* midnight
        kept = [
            line for line in src.read_text().splitlines() if lo <= int(line.split(",", 1)[0]) < hi
        ]
        dst.write_text("\n".join(kept) + "\n")
        print(f"{dst.relative_to(out)}: {len(kept)} ticks")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument(
        "--lean",
        type=Path,
        default=None,
        help="the quantconnect_lean folder of the shared data "
        "(default: $FXWATCH_LEAN_DIR, else ../shared/data/fx/quantconnect_lean)",
    )
    args = ap.parse_args()
    try:
        lean = args.lean or lean_dir()
    except FxwatchError as exc:
        ap.error(str(exc))
    make_synthetic(args.out)
    make_real_slice(args.out, lean)
    (args.out / "bad_lines.csv").write_text(BAD_LINES)
    print("bad_lines.csv: 4 good quotes (one locked, one crossed) and 7 bad lines")


if __name__ == "__main__":
    main()
