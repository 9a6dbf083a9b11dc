"""Tests that read a shared dataset: skip when it is missing, but fail under CI (`CI` set)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import NoReturn

import pytest

from fxwatch.datasets import DATASETS, dataset_dir
from fxwatch.errors import FxwatchError

__all__ = ["needs_dataset", "require_dataset"]


def require_dataset(kind: str, *needed: str) -> Path:
    """The folder of dataset `kind` ("nab", "lean"), with every `needed` relative path in it.

    Missing: `pytest.fail` when the environment variable CI is set (a CI run must not pass by
    skipping), else `pytest.skip`; the message names the variable that points at the dataset.
    """
    try:
        root = dataset_dir(kind)
    except FxwatchError as exc:
        problem = str(exc)
    else:
        lacking = [rel for rel in needed if not (root / rel).exists()]
        problem = (
            (
                f"{kind} dataset at {root} lacks {', '.join(lacking)}: "
                f"set {DATASETS[kind][0]} to a complete copy"
            )
            if lacking
            else ""
        )
    if problem:  # reported outside the except block: no chained traceback in the report
        _missing(problem)
    return root


def needs_dataset(kind: str, *needed: str):
    """Decorator: `require_dataset(kind, *needed)` before the test (skip, or under CI fail)."""

    def wrap(test):
        @functools.wraps(test)
        def checked(*args, **kwargs):
            require_dataset(kind, *needed)
            return test(*args, **kwargs)

        return checked

    return wrap


def _missing(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(
            f"{message} (CI is set: a missing dataset fails instead of skipping)", pytrace=False
        )
    pytest.skip(message)
