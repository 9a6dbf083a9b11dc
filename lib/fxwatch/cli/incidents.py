"""`fxwatch incidents`: export the incidents in Cassandra as CSV and show the most severe ones."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence

from fxwatch.config import Settings
from fxwatch.detect.incidents import SEVERITIES
from fxwatch.schema import iso_ms
from fxwatch.store.alerts import empty_window_note, parse_since
from fxwatch.store.connection import connect
from fxwatch.store.incidents import export_incidents_csv, incident_span, read_incidents

__all__ = ["register", "incidents_report"]


def register(subparsers) -> None:
    """Add `incidents` to the fxwatch command line."""
    p = subparsers.add_parser(
        "incidents", help="export incidents (alerts grouped per pair/triangle) as CSV"
    )
    p.add_argument(
        "--since", default=None, help="date, UTC time or span back (90m, 24h, 7d); default 24h"
    )
    p.add_argument(
        "--until", default=None, help="end (exclusive), same forms as --since; default now"
    )
    p.add_argument("--pair", default=None, help="only incidents of this pair (or triangle leg)")
    p.add_argument(
        "--output",
        required=True,
        help="CSV file to write (incident_id,key,start,end,severity,pairs,kinds,...)",
    )
    p.add_argument("--top", type=int, default=10, help="print this many, most severe first")
    p.set_defaults(func=_incidents)


def incidents_report(incidents: Sequence[dict], path, top: int = 10) -> str:
    """'N incidents (h high, m medium, l low) -> path' and the `top` most severe, newest first
    among equals: severity, start, key, kinds, root cause — one line each."""
    counts = Counter(i["severity"] for i in incidents)
    by_severity = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s])
    lines = [
        f"{len(incidents)} incidents" + (f" ({by_severity})" if by_severity else "") + f" -> {path}"
    ]
    rank = {s: k for k, s in enumerate(SEVERITIES)}
    ordered = sorted(incidents, key=lambda i: (-rank.get(i["severity"], 0), -i["start_ms"]))
    for i in ordered[: max(top, 0)]:
        lines.append(
            f"  {i['severity']:<6} {iso_ms(i['start_ms'])}  {i['key']:<11} "
            f"{','.join(i['kinds'])}: {i['root_cause']}"
        )
    if len(ordered) > top > 0:
        lines.append(f"  ... {len(ordered) - top} more in {path}")
    return "\n".join(lines)


def _incidents(args) -> int:
    settings = Settings.from_env()
    since = parse_since(args.since)
    until = parse_since(args.until) if args.until else None
    cluster, session = connect(settings)
    try:
        incidents = read_incidents(session, settings.keyspace, since, until, args.pair)
        # an empty window (the default is the last 24 h of wall time): say where incidents are
        span = incident_span(session, settings.keyspace) if not incidents else None
    finally:
        cluster.shutdown()
    export_incidents_csv(incidents, args.output)
    print(incidents_report(incidents, args.output, args.top))
    if span is not None:
        noun = f"incidents of {args.pair}" if args.pair else "incidents"
        print(empty_window_note(noun, span, settings.keyspace, since, until), file=sys.stderr)
        if not span[0]:
            print(
                "The streaming job's `incidents` query writes them: run `fxwatch stream run "
                "--queries alerts,incidents` (or `fxwatch detect --incidents F.csv` on tick "
                "files).",
                file=sys.stderr,
            )
    return 0
