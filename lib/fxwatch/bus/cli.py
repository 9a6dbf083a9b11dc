"""`fxwatch topics ensure`, `fxwatch produce …` and `fxwatch synth …` subcommands."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from fxwatch.errors import FxwatchError
from fxwatch.schema import SourceItem

__all__ = ["register", "build_source", "parse_start"]


def register(subparsers) -> None:
    """Add the ingestion subcommands."""
    topics = subparsers.add_parser("topics", help="Kafka topics of fxwatch")
    tsub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    ens = tsub.add_parser("ensure", help="create fx-quotes, fx-quotes-dlq, fx-alerts if missing")
    ens.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker")
    ens.set_defaults(func=_cmd_topics_ensure)

    prod = subparsers.add_parser("produce", help="send quotes from a source to Kafka (bad lines to the DLQ)")
    prod.add_argument("--source", choices=("replay", "synthetic", "truefx"), required=True)
    _add_source_args(prod)
    pace = prod.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, help="X times real time (replay, synthetic)")
    pace.add_argument("--max-speed", action="store_true", help="no pacing (the default)")
    prod.add_argument("--limit", type=int, help="stop after N items")
    prod.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker")
    prod.add_argument("--no-progress", action="store_true", help="no progress bar")
    prod.set_defaults(func=_cmd_produce)

    syn = subparsers.add_parser("synth", help="write synthetic ticks and their labels to files")
    _add_synth_args(syn)
    syn.add_argument("--out", type=Path, required=True, help="directory for <name>_ticks.csv and <name>_labels.csv")
    syn.add_argument("--name", default="synthetic", help="file name prefix")
    syn.set_defaults(func=_cmd_synth)


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--files", nargs="+", type=Path, help="replay: tick files, merged in event-time order")
    p.add_argument("--format", choices=("truefx", "lean", "csv"), help="replay: file format (default: detect)")
    p.add_argument("--utc-offset", type=float, help="replay: hours of Lean files of an unknown venue")
    _add_synth_args(p)


def _add_synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", default="1h", help="synthetic: data length; truefx: polling time (90s, 30m, 2h)")
    p.add_argument("--pairs", help="comma-separated, e.g. EUR/USD,USD/JPY")
    p.add_argument("--seed", type=int, default=0, help="synthetic: random seed")
    p.add_argument("--rate", type=float, default=4.0, help="synthetic: mean ticks/s per pair")
    p.add_argument("--start", default="2024-01-15T14:00:00Z",
                   help="synthetic: first tick time, ISO-8601 UTC or 'now' (use with --speed 1)")


def parse_start(text: str) -> int:
    """'now' or ISO-8601 (UTC if no offset) -> epoch ms."""
    if text == "now":
        return int(datetime.now(timezone.utc).timestamp() * 1000)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FxwatchError(f"--start {text!r} is not ISO-8601 — write e.g. 2024-01-15T14:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def _pairs(args) -> tuple[str, ...] | None:
    return tuple(p.strip() for p in args.pairs.split(",") if p.strip()) if args.pairs else None


def _synth_config(args):
    from fxwatch.sources.synthetic import DEFAULT_SYNTH_PAIRS, SyntheticConfig, parse_duration

    return SyntheticConfig(pairs=_pairs(args) or DEFAULT_SYNTH_PAIRS, start_ms=parse_start(args.start),
                           duration_s=parse_duration(args.duration), rate=args.rate, seed=args.seed)


def build_source(args, settings) -> tuple[Iterator[SourceItem], int | None]:
    """The item iterator for the CLI arguments, and its length when known."""
    from fxwatch.sources import replay

    if args.source == "replay":
        if not args.files:
            raise FxwatchError("--source replay needs --files (e.g. data/samples/*.csv)")
        items, total = replay.read_files(args.files, args.format, utc_offset_hours=args.utc_offset), None
    elif args.source == "synthetic":
        from fxwatch.sources.synthetic import generate

        result = generate(_synth_config(args))
        items, total = result.quotes(), len(result)
    else:
        from fxwatch.sources.synthetic import parse_duration
        from fxwatch.sources.truefx import TrueFXClient

        client = TrueFXClient.from_settings(settings, pairs=_pairs(args))
        print(f"TrueFX {'session' if client.authenticated else 'snapshot (no TRUEFX_USER)'} mode, "
              f"{args.duration}", file=sys.stderr)
        items, total = client.stream(duration_s=parse_duration(args.duration), limit=args.limit), None
    if args.source != "truefx" and args.speed:
        items = replay.pace(items, args.speed)
    if args.limit is not None:
        items = replay.limited(items, args.limit)
        total = args.limit if total is None else min(total, args.limit)
    return items, total


def _cmd_topics_ensure(args) -> int:
    from fxwatch.bus.topics import ensure_topics
    from fxwatch.config import Settings

    for name, state in ensure_topics(Settings.from_env(), timeout_s=args.timeout).items():
        print(f"{name}: {state}")
    return 0


def _cmd_produce(args) -> int:
    from tqdm import tqdm

    from fxwatch.bus.producer import produce
    from fxwatch.config import Settings

    settings = Settings.from_env()
    items, total = build_source(args, settings)
    with tqdm(total=total, unit="tick", disable=True if args.no_progress else None, file=sys.stderr) as bar:
        summary = produce(items, settings, timeout_s=args.timeout, progress=bar.update)
    print(f"{settings.quotes_topic}: {summary}")
    return 0


def _cmd_synth(args) -> int:
    from fxwatch.sources.synthetic import generate, write_labels, write_ticks

    result = generate(_synth_config(args))
    args.out.mkdir(parents=True, exist_ok=True)
    ticks = args.out / f"{args.name}_ticks.csv"
    labels = args.out / f"{args.name}_labels.csv"
    legit = args.out / f"{args.name}_legit.csv"
    n = write_ticks(ticks, result)
    write_labels(labels, result.labels)
    write_labels(legit, result.legit)
    print(f"{ticks}: {n} ticks; {labels}: {len(result.labels)} labelled events; "
          f"{legit}: {len(result.legit)} unlabelled market moves")
    return 0
