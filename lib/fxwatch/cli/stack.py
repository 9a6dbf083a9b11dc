"""`fxwatch stack [--home DIR] up|down|status|reset`."""

from __future__ import annotations

import argparse
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.stack.config import DEFAULT_CASSANDRA_STORAGE_PORT, StackConfig
from fxwatch.stack.manager import stack_down, stack_reset, stack_status, stack_up

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stack", help="start/stop the local Kafka + Cassandra (no Docker)")
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="folder of a second stack instance (pid files, data, logs, secrets); "
        "give it its own ports through FXWATCH_* (default: .stack)",
    )
    p.add_argument(
        "--cassandra-storage-port",
        type=int,
        default=DEFAULT_CASSANDRA_STORAGE_PORT,
        help="Cassandra's inter-node port (another one for a second instance)",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser(
        "up",
        help="start Kafka and Cassandra, wait until healthy, "
        "create the login role (if any) and the schema",
    )
    up.set_defaults(func=_up)
    down = actions.add_parser("down", help="stop the services fxwatch started")
    down.add_argument("--only", choices=["kafka", "cassandra"], help="stop just this one")
    down.set_defaults(func=_down)
    status = actions.add_parser("status", help="state, pid, port and log of each service")
    status.set_defaults(func=_status)
    reset = actions.add_parser("reset", help="stop and delete local data, logs and checkpoints")
    reset.set_defaults(func=_reset)


def _stack(args: argparse.Namespace) -> StackConfig:
    settings = Settings.from_env()
    home = args.home.resolve() if args.home else settings.stack_dir
    return StackConfig(settings, home, args.cassandra_storage_port)


def _up(args: argparse.Namespace) -> int:
    stack_up(_stack(args))
    return 0


def _down(args: argparse.Namespace) -> int:
    stack_down(_stack(args), only=args.only)
    return 0


def _status(args: argparse.Namespace) -> int:
    statuses = stack_status(_stack(args))
    for st in statuses:
        print(st.line())
    return 0 if all(st.state == "running" for st in statuses) else 3


def _reset(args: argparse.Namespace) -> int:
    stack_reset(_stack(args))
    return 0
