"""The `fxwatch` command line: one module per area in this package registers its subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

from fxwatch.errors import FxwatchError

__all__ = ["main", "build_parser"]

# Each module listed here has `register(subparsers)`, which adds its subcommands and sets
# `func=callable(args) -> int` on them. Keep the list in the order the help should show.
COMMAND_MODULES = [
    "fxwatch.cli.stack",  # stack up|down|status|reset
    "fxwatch.cli.store",  # store init
    "fxwatch.cli.demo",  # demo
    "fxwatch.cli.bus",  # topics ensure, produce, synth
    "fxwatch.cli.data",  # data fetch|manifest
    "fxwatch.cli.detect",  # detect
    "fxwatch.cli.nab",  # nab
    "fxwatch.cli.stream",  # stream run, alerts
    "fxwatch.cli.incidents",  # incidents
    "fxwatch.cli.stats",  # job stats
    "fxwatch.cli.scenarios",  # scenarios
    "fxwatch.cli.dashboard",  # dashboard
    "fxwatch.cli.notebooks",  # notebooks run|sync|check
    "fxwatch.cli.bench",  # bench pipeline|latency|producer|stats|store
    "fxwatch.cli.cluster",  # cluster up|down|status
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fxwatch",
        description="Real-time FX analysis and manipulation detection on Kafka, Spark "
        "and Cassandra.",
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
