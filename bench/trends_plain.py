"""Trends as plain aggregations vs with the ordered per-window array the trends query held before.

Usage: .venv/bin/python bench/trends_plain.py [--ticks 300000] [--passes 3]

One topic of benchmark ticks (fxwatch.bench.ticks, our own generator) is read by the trends
query in update mode into the `noop` sink, Trigger.AvailableNow, in one JVM, the two variants
alternating pass by pass (so machine load hits both alike), after one warm-up pass
(fxwatch.bench.ab):

* plain  — one groupBy per window spec of plain aggregations (counts, sums, sums of squares,
  min/max, min_by/max_by), the trends query when this was measured (it is one scan now:
  bench/trends_scan.py);
* arrays — the same plus, on the tumbling windows, the event-time ordered (ts_ms, offset, mid)
  array per window that `ret_std` and the EMA were computed from before.

Prints one line per pass and a JSON summary (median seconds, ticks/s, ratio) as the last line.
"""

from __future__ import annotations

from fxwatch.bench.ab import ab_main, trends_per_spec
from fxwatch.stream.trends import window_stats


def with_arrays(quotes, watermark: str = "30 seconds"):
    """The trends query's windows with the ordered array on the tumbling ones (the old shape)."""
    marked = quotes.withWatermark("ts", watermark)
    tumbling = window_stats(marked, "1 minute", None, "1m", with_returns=True)
    sliding = window_stats(marked, "5 minutes", "1 minute", "5m/1m")
    return tumbling.drop("ret_std").unionByName(sliding)


def main(argv: list[str] | None = None) -> int:
    return ab_main(argv, __doc__, "trends-ab", {"plain": trends_per_spec, "arrays": with_arrays})


if __name__ == "__main__":
    raise SystemExit(main())
