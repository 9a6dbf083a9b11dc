"""`fxwatch stack up|down|status|reset`."""

from __future__ import annotations

import argparse

from fxwatch.config import Settings

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stack", help="start/stop the local Kafka + Cassandra (no Docker)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start Kafka and Cassandra, wait until healthy, create the schema")
    up.set_defaults(func=_up)
    down = actions.add_parser("down", help="stop the services fxwatch started")
    down.add_argument("--only", choices=["kafka", "cassandra"], help="stop just this one")
    down.set_defaults(func=_down)
    actions.add_parser("status", help="state, pid, port and log of each service").set_defaults(func=_status)
    actions.add_parser("reset", help="stop and delete local data, logs and checkpoints").set_defaults(func=_reset)


def _up(args: argparse.Namespace) -> int:
    from fxwatch.stack.manager import stack_up

    stack_up(Settings.from_env())
    return 0


def _down(args: argparse.Namespace) -> int:
    from fxwatch.stack.manager import stack_down

    stack_down(Settings.from_env(), only=args.only)
    return 0


def _status(args: argparse.Namespace) -> int:
    from fxwatch.stack.manager import stack_status

    statuses = stack_status(Settings.from_env())
    for st in statuses:
        print(st.line())
    return 0 if all(st.state == "running" for st in statuses) else 3


def _reset(args: argparse.Namespace) -> int:
    from fxwatch.stack.manager import stack_reset

    stack_reset(Settings.from_env())
    return 0
