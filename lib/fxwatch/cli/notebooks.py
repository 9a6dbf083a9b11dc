"""`fxwatch notebooks run|sync|check`."""

from __future__ import annotations

import argparse

from fxwatch.config import Settings

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebooks", help="run the numbered notebooks with papermill; pair and check them"
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="execute every numbered notebook (quick-run parameters) into "
        "runs/notebooks/<timestamp>/, stopping at the first failing cell",
    )
    run.add_argument(
        "only", nargs="*", help="notebook numbers or stems to run (default: all, in order)"
    )
    run.add_argument("--keep-going", action="store_true", help="run the rest after a failure")
    run.add_argument(
        "--full",
        action="store_true",
        help="use each notebook's own defaults instead of the quick-run parameters",
    )
    run.set_defaults(func=_run)
    actions.add_parser(
        "sync", help="write every NN-*.ipynb from its py:percent twin (no outputs)"
    ).set_defaults(func=_sync)
    actions.add_parser(
        "check", help="every .py has its .ipynb, code cells agree, no outputs, one parameters cell"
    ).set_defaults(func=_check)


def _dir(settings: Settings):
    return settings.root / "notebooks"


def _run(args: argparse.Namespace) -> int:
    # lazy: fxwatch.notebooks imports jupytext and papermill (seconds); other commands must not
    from fxwatch.notebooks import run_notebooks

    settings = Settings.from_env()
    results = run_notebooks(
        _dir(settings),
        settings.runs_dir,
        only=args.only or None,
        parameters={} if args.full else None,
        keep_going=args.keep_going,
    )
    failed = [r for r in results if not r.ok]
    print(
        f"{len(results) - len(failed)} of {len(results)} notebook(s) ran in "
        f"{sum(r.seconds for r in results):.0f} s; outputs in "
        f"{results[0].output.parent if results else settings.runs_dir}"
    )
    return 1 if failed else 0


def _sync(args: argparse.Namespace) -> int:
    # lazy: fxwatch.notebooks imports jupytext and papermill (seconds); other commands must not
    from fxwatch.notebooks import sync_notebooks

    changed = sync_notebooks(_dir(Settings.from_env()))
    print(f"{len(changed)} notebook(s) rewritten")
    return 0


def _check(args: argparse.Namespace) -> int:
    # lazy: fxwatch.notebooks imports jupytext and papermill (seconds); other commands must not
    from fxwatch.notebooks import check_notebooks

    problems = check_notebooks(_dir(Settings.from_env()))
    for p in problems:
        print(p)
    print("notebooks ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0
