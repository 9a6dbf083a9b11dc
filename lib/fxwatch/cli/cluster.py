"""`fxwatch cluster up|down|status`: the local Spark standalone cluster."""

from __future__ import annotations

from fxwatch.cluster.manager import cluster_down, cluster_status, cluster_up
from fxwatch.config import Settings

__all__ = ["register"]


def register(subparsers) -> None:
    """Add `cluster` with its three actions."""
    p = subparsers.add_parser("cluster", help="a local Spark standalone master + worker")
    sub = p.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    sub.add_parser(
        "up", help="start master and worker, wait until the worker registered"
    ).set_defaults(func=_up)
    sub.add_parser("down", help="stop worker and master").set_defaults(func=_down)
    sub.add_parser("status", help="pids, workers, applications").set_defaults(func=_status)


def _up(args) -> int:
    cluster_up(Settings.from_env())
    return 0


def _down(args) -> int:
    cluster_down(Settings.from_env())
    return 0


def _status(args) -> int:
    for k, v in cluster_status(Settings.from_env()).items():
        print(f"{k}: {v}")
    return 0
