"""`fxwatch topics ensure`, `fxwatch produce …` and `fxwatch synth …` subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.progress import progress
from fxwatch.schema import SourceItem
from fxwatch.sources.replay import add_file_arguments, limited, pace, read_files
from fxwatch.sources.synthetic import (
    DEFAULT_SYNTH_PAIRS,
    SyntheticConfig,
    generate,
    parse_duration,
    write_labels,
    write_ticks,
)
from fxwatch.sources.truefx import TrueFXClient

__all__ = ["register", "build_source", "parse_start"]


def register(subparsers) -> None:
    """Add the ingestion subcommands."""
    topics = subparsers.add_parser("topics", help="Kafka topics of fxwatch")
    tsub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    ens = tsub.add_parser("ensure", help="create fx-quotes, fx-quotes-dlq, fx-alerts if missing")
    ens.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker")
    ens.set_defaults(func=_cmd_topics_ensure)

    prod = subparsers.add_parser(
        "produce", help="send quotes from a source to Kafka (bad lines to the DLQ)"
    )
    prod.add_argument("--source", choices=("replay", "synthetic", "truefx"), required=True)
    _add_source_args(prod)
    pacing = prod.add_mutually_exclusive_group()
    pacing.add_argument("--speed", type=float, help="X times real time (replay, synthetic)")
    pacing.add_argument("--max-speed", action="store_true", help="no pacing (the default)")
    prod.add_argument("--limit", type=int, help="stop after N items")
    prod.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker")
    prod.add_argument("--no-progress", action="store_true", help="no progress bar")
    prod.set_defaults(func=_cmd_produce)

    syn = subparsers.add_parser("synth", help="write synthetic ticks and their labels to files")
    _add_synth_args(syn)
    syn.add_argument(
        "--out",
        type=Path,
        required=True,
        help="directory for <name>_ticks.csv and <name>_labels.csv",
    )
    syn.add_argument("--name", default="synthetic", help="file name prefix")
    syn.set_defaults(func=_cmd_synth)


def _add_source_args(p: argparse.ArgumentParser) -> None:
    add_file_arguments(p, prefix="replay: ")  # the same flags as `fxwatch detect`
    _add_synth_args(p)


def _add_synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--duration",
        default="1h",
        help="synthetic: data length; truefx: polling time (90s, 30m, 2h)",
    )
    p.add_argument("--pairs", help="comma-separated, e.g. EUR/USD,USD/JPY")
    p.add_argument("--seed", type=int, default=0, help="synthetic: random seed")
    p.add_argument("--rate", type=float, default=4.0, help="synthetic: mean ticks/s per pair")
    p.add_argument(
        "--start",
        default="2024-01-15T14:00:00Z",
        help="synthetic: first tick time, ISO-8601 UTC or 'now' (use with --speed 1)",
    )


def parse_start(text: str) -> int:
    """'now' or ISO-8601 (UTC if no offset) -> epoch ms."""
    if text == "now":
        return int(datetime.now(UTC).timestamp() * 1000)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FxwatchError(
            f"--start {text!r} is not ISO-8601 — write e.g. 2024-01-15T14:00:00Z"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _pairs(args) -> tuple[str, ...] | None:
    return tuple(p.strip() for p in args.pairs.split(",") if p.strip()) if args.pairs else None


def _synth_config(args):
    return SyntheticConfig(
        pairs=_pairs(args) or DEFAULT_SYNTH_PAIRS,
        start_ms=parse_start(args.start),
        duration_s=parse_duration(args.duration),
        rate=args.rate,
        seed=args.seed,
    )


def build_source(args, settings) -> tuple[Iterator[SourceItem], int | None]:
    """The item iterator for the CLI arguments, and its length when known."""
    if args.source == "replay":
        if not args.files:
            raise FxwatchError("--source replay needs --files (e.g. data/samples/*.csv)")
        items, total = read_files(args.files, args.format, args.utc_offset), None
    elif args.source == "synthetic":
        result = generate(_synth_config(args))
        items, total = result.quotes(), len(result)
    else:
        client = TrueFXClient.from_settings(settings, pairs=_pairs(args))
        print(
            f"TrueFX {'session' if client.authenticated else 'snapshot (no TRUEFX_USER)'} mode, "
            f"{args.duration}",
            file=sys.stderr,
        )
        items, total = (
            client.stream(duration_s=parse_duration(args.duration), limit=args.limit),
            None,
        )
    if args.source != "truefx" and args.speed:
        items = pace(items, args.speed)
    if args.limit is not None:
        items = limited(items, args.limit)
        total = args.limit if total is None else min(total, args.limit)
    return items, total


def _cmd_topics_ensure(args) -> int:
    # lazy: fxwatch.bus imports kafka; `fxwatch --help` and other commands must not
    from fxwatch.bus.topics import ensure_topics

    for name, state in ensure_topics(Settings.from_env(), timeout_s=args.timeout).items():
        print(f"{name}: {state}")
    return 0


def _cmd_produce(args) -> int:
    # lazy: fxwatch.bus imports kafka; `fxwatch --help` and other commands must not
    from fxwatch.bus.producer import produce

    settings = Settings.from_env()
    items, total = build_source(args, settings)
    with progress(total=total, unit=" ticks", disable=args.no_progress, file=sys.stderr) as bar:
        summary = produce(items, settings, timeout_s=args.timeout, progress=bar.update)
    print(f"{settings.quotes_topic}: {summary}")
    return 0


def _cmd_synth(args) -> int:
    result = generate(_synth_config(args))
    args.out.mkdir(parents=True, exist_ok=True)
    ticks = args.out / f"{args.name}_ticks.csv"
    labels = args.out / f"{args.name}_labels.csv"
    legit = args.out / f"{args.name}_legit.csv"
    n = write_ticks(ticks, result)
    write_labels(labels, result.labels)
    write_labels(legit, result.legit)
    print(
        f"{ticks}: {n} ticks; {labels}: {len(result.labels)} labelled events; "
        f"{legit}: {len(result.legit)} unlabelled market moves"
    )
    return 0
