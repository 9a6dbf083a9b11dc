"""No credential may appear in an executed notebook under runs/ (they are kept as an audit
trail)."""

from __future__ import annotations

import os

import nbformat
import pytest

from fxwatch.config import Settings
from fxwatch.notebooks import SECRET_ENV, kernel_installed, run_one, scan_for_secrets, secret_values
from test_notebooks import NOTEBOOKS, PLANTED_SECRET, RUN_ENV, RUN_STAMP

PLANTED_NAME = "FXWATCH_TEST_PLANTED_SECRET"


def _secrets() -> dict[str, str]:
    """The real credentials if set, the values the suite's notebook runs were given, and the
    plant."""
    env = {
        **os.environ,
        **{k: v for k, v in RUN_ENV.items() if k in SECRET_ENV},
        PLANTED_NAME: PLANTED_SECRET,
    }
    return secret_values(env, extra=[PLANTED_NAME])


def test_scanner_finds_a_planted_secret(tmp_path):
    """The scan must be able to fail: a notebook that printed the secret is caught."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(os.environ['X'])")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"password={PLANTED_SECRET}\n")
    ]
    nb.cells.append(cell)
    (tmp_path / "leaky").mkdir()
    nbformat.write(nb, tmp_path / "leaky" / "01-leak.ipynb")
    (tmp_path / "clean.ipynb").write_text('{"cells": []}')
    hits = scan_for_secrets(tmp_path, {PLANTED_NAME: PLANTED_SECRET})
    assert hits == [(tmp_path / "leaky" / "01-leak.ipynb", PLANTED_NAME)]


def test_secret_values_reads_the_credential_variables():
    env = {
        "TRUEFX_PASSWORD": "tfx-pw-1",
        "CASSANDRA_PASSWORD": "",
        "KAFKA_SASL_PASSWORD": "k-pw-22",
        "OTHER": "x",
    }
    assert secret_values(env) == {"TRUEFX_PASSWORD": "tfx-pw-1", "KAFKA_SASL_PASSWORD": "k-pw-22"}


@pytest.mark.notebooks
@pytest.mark.integration
def test_executed_notebooks_carry_no_credentials(stack):
    """Run notebook 06 with the credentials planted in its environment, then scan all of runs/."""
    if not kernel_installed():
        pytest.fail("Jupyter kernel 'fxwatch' missing: run `make setup`")
    runs = Settings.from_env().runs_dir
    env = {**RUN_ENV, PLANTED_NAME: PLANTED_SECRET}
    res = run_one(
        NOTEBOOKS / "06-dashboard.py",
        runs / "notebooks" / RUN_STAMP,
        {"seed_demo": True, "dashboard_port": 18062},
        env=env,
    )
    assert res.ok, res.line()
    executed = list(runs.rglob("*.ipynb"))
    assert res.output in executed
    hits = scan_for_secrets(runs, _secrets())
    assert not hits, "credentials in executed notebooks: " + "; ".join(
        f"{name} in {path}" for path, name in hits
    )
