"""Where the shared datasets are: an environment variable, else ../shared/data next to the repo."""

from __future__ import annotations

import os
from pathlib import Path

from fxwatch.config import project_root
from fxwatch.errors import FxwatchError

__all__ = ["DATASETS", "dataset_dir", "lean_dir", "nab_dir"]

# kind -> (environment variable, folder under <repository root>/../shared/data)
DATASETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "nab": ("FXWATCH_NAB_DIR", ("nab",)),
    "lean": ("FXWATCH_LEAN_DIR", ("fx", "quantconnect_lean")),
}


def _shared_default(parts: tuple[str, ...]) -> Path:
    """shared/data/<parts> beside the repository, or beside the nearest folder above it that has
    one (a checkout nested deeper, e.g. a CI work tree); the plain sibling when none exists."""
    root = project_root()
    for folder in root.parents:
        candidate = folder.joinpath("shared", "data", *parts)
        if candidate.is_dir():
            return candidate
    return root.parent.joinpath("shared", "data", *parts)


def dataset_dir(kind: str, *, must_exist: bool = True) -> Path:
    """The folder of dataset `kind` ("nab", "lean"): its variable, else shared/data/… beside the
    repository (or beside a folder above it).

    Raises FxwatchError naming the variable to set when the folder is missing, unless
    `must_exist` is False (then the path is returned as is, for callers that fall back).
    """
    if kind not in DATASETS:
        raise FxwatchError(f"unknown dataset {kind!r}: choose one of {', '.join(DATASETS)}")
    var, parts = DATASETS[kind]
    value = os.environ.get(var)
    if value:
        path, source = Path(value).expanduser(), f"from ${var}"
    else:
        path, source = _shared_default(parts), "the default"
    if must_exist and not path.is_dir():
        raise FxwatchError(
            f"{kind} dataset not found at {path} ({source}): set {var} to the folder that holds it"
        )
    return path


def nab_dir(*, must_exist: bool = True) -> Path:
    """The Numenta Anomaly Benchmark root (data/, labels/, config/, results/): $FXWATCH_NAB_DIR."""
    return dataset_dir("nab", must_exist=must_exist)


def lean_dir(*, must_exist: bool = True) -> Path:
    """The QuantConnect Lean FX root (<venue>/tick/<pair>/…): $FXWATCH_LEAN_DIR."""
    return dataset_dir("lean", must_exist=must_exist)
