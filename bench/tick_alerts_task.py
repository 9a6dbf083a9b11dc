"""The tick-alerts query's own work without Spark: the detector library over the benchmark's ticks.

`fxwatch bench pipeline` times the tick-alerts query alone (`alone_tick_alerts_wall_s`). This runs
the function that query hands to `applyInPandasWithState` (`stream.tick_alerts._run_key`: restore
a key's detectors, run its quotes in order, pickle them back) in one Python process over N of
the benchmark's ticks (our own generator, 8 pairs), each pair's ticks to its pair's key and to its
triangles' key as the query fans them out — the detector library's cost with no Spark, Arrow or
state store around it. `--profile` adds cProfile's top functions for one pair.

    .venv/bin/python bench/tick_alerts_task.py [--ticks 300000] [--profile]   # no services needed

Last line on stdout: one JSON object {ticks, keys, seconds, us_per_tick, alerts}.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time

import numpy as np
import pandas as pd

from fxwatch.bench.ticks import backlog_ticks
from fxwatch.detect.bank import WATCHED_PAIRS, cross_keys, default_cross, default_detectors
from fxwatch.stream.tick_alerts import _run_key


class _FreshState:
    """The GroupState a key starts with: nothing stored; keeps what the function saves."""

    exists = False
    get = None

    def update(self, value) -> None:
        self.saved = value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=300_000)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    n = args.ticks
    data = backlog_ticks(n, 1_300_000_000_000)  # `bench pipeline`'s backlog
    frame = pd.DataFrame(
        {
            "pair": [data.pairs[i] for i in data.pair_idx],
            "ts_ms": data.ts_ms,
            "bid": data.bid,
            "ask": data.ask,
            "source": "bench",
            "low": np.nan,
            "high": np.nan,
            "open": np.nan,
            "offset": np.arange(n),
        }
    )
    run = _run_key(default_detectors, default_cross, 60_000, ["ts_ms", "offset"])
    triangles = cross_keys(WATCHED_PAIRS)
    t0 = time.perf_counter()
    keys = alerts = 0
    for pair, ticks in frame.groupby("pair"):
        for key in (pair, *triangles.get(pair, ())):
            keys += 1
            alerts += sum(len(out) for out in run((key,), [ticks], _FreshState()))
    seconds = time.perf_counter() - t0
    if args.profile:
        one = frame[frame.pair == data.pairs[0]]
        prof = cProfile.Profile()
        prof.runcall(lambda: list(run((data.pairs[0],), [one], _FreshState())))
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    result = {
        "ticks": n,
        "keys": keys,
        "seconds": round(seconds, 2),
        "us_per_tick": round(seconds / n * 1e6, 1),
        "alerts": alerts,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
