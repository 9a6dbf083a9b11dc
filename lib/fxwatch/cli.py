"""The `fxwatch` command line: each area registers its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

from fxwatch.errors import FxwatchError

__all__ = ["main", "build_parser"]

# Each module listed here has `register(subparsers)`, which adds its subcommands and sets
# `func=callable(args) -> int` on them. Keep the list in the order the help should show.
COMMAND_MODULES = [
    "fxwatch.stack.cli",  # stack up|down|status|reset
    "fxwatch.store.cli",  # store init
    "fxwatch.demo_cli",  # demo
    "fxwatch.bus.cli",  # topics ensure, produce, synth
    "fxwatch.detect.cli",  # detect, nab
    "fxwatch.stream.cli",  # stream run, alerts
    "fxwatch.stats.cli",  # job stats
    "fxwatch.eval.scenarios_cli",  # scenarios
    "fxwatch.dashboard.cli",  # dashboard
    "fxwatch.notebooks_cli",  # notebooks run|sync|check
    "fxwatch.bench.cli",  # bench pipeline|latency|producer|stats, cluster up|down|status
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fxwatch",
        description="Real-time FX analysis and manipulation detection on Kafka, Spark and Cassandra.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except FxwatchError as exc:
        print(f"fxwatch: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
