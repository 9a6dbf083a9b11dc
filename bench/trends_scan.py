"""Trends in one scan of Kafka (the library's nested groupBy) vs one groupBy per window spec.

Usage: .venv/bin/python bench/trends_scan.py [--ticks 300000] [--passes 3]

One topic of benchmark ticks (fxwatch.bench.ticks, our own generator) is read by the trends
query in update mode into the `noop` sink, Trigger.AvailableNow, in one JVM, the two variants
alternating pass by pass after one warm-up pass (fxwatch.bench.ab):

* one_scan — `fxwatch.stream.trends.build_trends` as it is now: one groupBy over the sliding
  5-minute windows computes the 1-minute rows too (the last minute of each window);
* per_spec — one groupBy per window spec and a union (the form notebook 03 teaches): each branch
  of the union reads and parses the Kafka topic again.

Both give the same rows (tests/test_stream_trends.py). Prints one line per pass and a JSON summary
(median seconds, ticks/s, ratio, rows emitted) as the last line.
"""

from __future__ import annotations

from fxwatch.bench.ab import ab_main, trends_per_spec
from fxwatch.stream.trends import build_trends


def main(argv: list[str] | None = None) -> int:
    variants = {"one_scan": build_trends, "per_spec": trends_per_spec}
    return ab_main(argv, __doc__, "trends-scan", variants)


if __name__ == "__main__":
    raise SystemExit(main())
