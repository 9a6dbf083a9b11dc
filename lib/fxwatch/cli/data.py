"""`fxwatch data fetch nab`: download a dataset; `fxwatch data manifest nab`: list its checksums."""

from __future__ import annotations

import argparse

from fxwatch.fetch import BASE_URL_VAR, PINNED_COMMIT, fetch_nab, load_manifest, write_manifest

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add `data fetch` and `data manifest`."""
    data = sub.add_parser("data", help="download the datasets fxwatch is evaluated on")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    fetch = actions.add_parser(
        "fetch", help=f"download NAB at commit {PINNED_COMMIT[:8]}, each file checked by SHA-256"
    )
    fetch.add_argument("dataset", choices=["nab"])
    fetch.add_argument(
        "--dest",
        default=None,
        help="target folder (default: $FXWATCH_NAB_DIR, else ../shared/data/nab "
        "beside the repository)",
    )
    fetch.add_argument(
        "--base-url",
        default=None,
        help=f"mirror serving <base>/<commit>/<path> (default: ${BASE_URL_VAR}, "
        "else raw.githubusercontent.com/numenta/NAB)",
    )
    fetch.set_defaults(func=_fetch)

    manifest = actions.add_parser(
        "manifest", help="developer: regenerate the shipped checksum list from a local NAB copy"
    )
    manifest.add_argument("dataset", choices=["nab"])
    manifest.add_argument(
        "--from", dest="src", required=True, help=f"a copy of NAB at commit {PINNED_COMMIT[:8]}"
    )
    manifest.set_defaults(func=_manifest)


def _fetch(args: argparse.Namespace) -> int:
    root = fetch_nab(args.dest, base_url=args.base_url)
    print(
        f"NAB {PINNED_COMMIT[:8]} in {root}: all {len(load_manifest())} files match their "
        "SHA-256 (source and licence in SOURCE.txt)"
    )
    return 0


def _manifest(args: argparse.Namespace) -> int:
    path = write_manifest(args.src)
    print(f"wrote {path} ({len(load_manifest())} files)")
    return 0
