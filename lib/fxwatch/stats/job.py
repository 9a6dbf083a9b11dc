"""`fxwatch job stats`: run notebooks/05-historical-stats.py with papermill into
runs/stats/<date>/.

The notebook's computation is `stats_from_store`: the per-minute features the tick store keeps
beside each chunk are read (`spark_io.load_minutes`, one task per pair and UTC day), so Spark
reads ~1 row per pair-minute and no tick is decoded, then `compute.compute_stats_from_minutes`.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.stats.compute import as_of_range, compute_stats_from_minutes
from fxwatch.stats.spark_io import load_minutes

__all__ = ["NOTEBOOK", "KERNEL", "run_stats_job", "stats_from_store"]

NOTEBOOK = "05-historical-stats"
KERNEL = "fxwatch"


def stats_from_store(
    spark,
    settings: Settings,
    as_of: str | date,
    lookback_days: int,
    pairs=None,
    slices: int = 4,
    from_ticks: bool = False,
):
    """The stats job's computation on the tick store of `settings.keyspace` -> (minutes, stats).

    `minutes` is the per-minute DataFrame (spark_io.load_minutes over the `lookback_days` days
    before `as_of`: the chunks' minute summaries, or with `from_ticks` the ticks reduced to
    minutes; cache and count it to time the read), `stats` the STATS_COLUMNS DataFrame computed
    from it — the same rows compute_stats gives on the ticks themselves."""
    start_ms, end_ms = as_of_range(as_of, lookback_days)
    minutes = load_minutes(spark, settings, start_ms, end_ms, pairs, slices, from_ticks)
    return minutes, compute_stats_from_minutes(spark, minutes, as_of, lookback_days, pairs)


def run_stats_job(
    as_of: str,
    lookback_days: int = 28,
    k: float = 4.0,
    settings: Settings | None = None,
    pairs: str = "",
    output_dir: Path | None = None,
    kernel: str = KERNEL,
    timeout_s: int = 1800,
) -> Path:
    """Execute the stats notebook for `as_of`; returns the executed notebook's path.

    The executed notebook (with its parameters in the metadata) is left in place even when a cell
    fails; the failure is raised as FxwatchError naming it. Credentials stay in the environment.
    """
    import jupytext
    import papermill as pm

    settings = settings or Settings.from_env()
    try:
        date.fromisoformat(as_of)
    except ValueError:
        raise FxwatchError(f"--date {as_of!r} is not a date: use YYYY-MM-DD") from None
    source = settings.root / "notebooks" / f"{NOTEBOOK}.py"
    if not source.is_file():
        raise FxwatchError(f"{source} is missing: restore it from git")
    out_dir = Path(output_dir) if output_dir else settings.runs_dir / "stats" / as_of
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{NOTEBOOK}.ipynb"
    params = {
        "as_of": as_of,
        "lookback_days": int(lookback_days),
        "k": float(k),
        "keyspace": settings.keyspace,
        "pairs": pairs,
    }
    with tempfile.TemporaryDirectory() as tmp:
        nb_in = Path(tmp) / f"{NOTEBOOK}.ipynb"
        jupytext.write(jupytext.read(source), nb_in)
        try:
            pm.execute_notebook(
                str(nb_in),
                str(output),
                parameters=params,
                kernel_name=kernel,
                language="python",
                cwd=str(settings.root),
                progress_bar=False,
                execution_timeout=timeout_s,
                # the kernel's start-up warning (local TCP, no encryption) is not the user's concern
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except pm.PapermillExecutionError as exc:
            raise FxwatchError(
                f"stats job failed in cell {exc.exec_count}: {exc.ename}: {str(exc.evalue)[:300]} "
                f"— see the executed notebook {output}"
            ) from None
        except Exception as exc:
            if "No such kernel" in str(exc) or "NoSuchKernel" in type(exc).__name__:
                raise FxwatchError(
                    f"Jupyter kernel {kernel!r} is not installed: run `make setup`"
                ) from None
            raise
    return output
