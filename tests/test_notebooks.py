"""Every numbered notebook is paired, output-free, documented, and runs end to end with
papermill."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from fxwatch.config import Settings
from fxwatch.notebooks import (
    KERNEL,
    QUICK_PARAMETERS,
    check_notebooks,
    code_cells,
    kernel_installed,
    notebook_parameters,
    numbered_notebooks,
    parameter_names,
    read_py,
    run_notebooks,
    run_one,
    tagged_cells,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PYS = numbered_notebooks(NOTEBOOKS)
# A fake credential planted in the environment of every notebook run of the test suite;
# tests/test_security_runs.py checks that no executed notebook contains it.
PLANTED_SECRET = "planted-Fx-secret-3b1f9c"
# Notebook runs of the suite read and write the test keyspace, never the demo one.
RUN_ENV = {
    "FXWATCH_KEYSPACE": "fxwatch_test",
    **{
        name: os.environ.get(name) or PLANTED_SECRET
        for name in ("TRUEFX_PASSWORD", "CASSANDRA_PASSWORD", "KAFKA_SASL_PASSWORD")
    },
}
RUN_STAMP = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-pytest"


def _ids(paths):
    return [p.stem for p in paths]


# ---- pairing and hygiene (no services) -----------------------------------------------------------
def test_there_are_numbered_notebooks():
    assert PYS, f"no NN-topic.py notebooks in {NOTEBOOKS}"
    assert {"00", "06"} <= {p.name[:2] for p in PYS}


def test_every_notebook_is_paired_in_sync_output_free_and_parameterised():
    problems = check_notebooks(NOTEBOOKS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("py", PYS, ids=_ids(PYS))
def test_ipynb_code_cells_agree_with_py(py):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `fxwatch notebooks sync`"
    nb = nbformat.read(ipynb, as_version=4)
    assert code_cells(nb) == code_cells(read_py(py)), (
        f"{ipynb.name} is stale: run `fxwatch notebooks sync`"
    )
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.parametrize("py", PYS, ids=_ids(PYS))
def test_parameters_are_typed_commented_and_documented(py):
    params = notebook_parameters(py)
    assert params, f"{py.name} declares no parameters"
    unparsed = sorted(set(parameter_names(read_py(py))) - set(params))
    assert not unparsed, (
        f"{py.name}: papermill cannot parse {unparsed} — keep '=' out of the help comment "
        "(papermill skips any line with two '=')"
    )
    for name, p in params.items():
        assert p["inferred_type_name"] not in ("None", None), (
            f"{py.name}: parameter {name} has no type annotation"
        )
        assert p["help"], f"{py.name}: parameter {name} has no comment saying what it is"
    # `papermill --help-notebook` lists them (what a person running the job reads).
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "papermill"),
            "--help-notebook",
            str(py.with_suffix(".ipynb")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    for name in params:
        assert name in res.stdout


@pytest.mark.parametrize("py", PYS, ids=_ids(PYS))
def test_test_parameters_name_declared_parameters(py):
    """A renamed parameter must fail here, not be silently ignored by the test runs."""
    given = QUICK_PARAMETERS.get(py.name[:2], {})
    unknown = sorted(set(given) - set(parameter_names(read_py(py))))
    assert not unknown, f"QUICK_PARAMETERS for {py.name} names {unknown}, which it does not declare"


def test_sync_writes_ipynb_without_outputs(tmp_path):
    from fxwatch.notebooks import sync_notebooks

    (tmp_path / "09-x.py").write_text(
        '# %% tags=["parameters"]\nn: int = 2  # how many\n\n# %%\nprint(n * 2)\n', encoding="utf-8"
    )
    assert [p.name for p in sync_notebooks(tmp_path, echo=lambda s: None)] == ["09-x.ipynb"]
    assert sync_notebooks(tmp_path, echo=lambda s: None) == []  # idempotent
    assert check_notebooks(tmp_path) == []
    (tmp_path / "09-x.py").write_text(
        '# %% tags=["parameters"]\nn: int = 3  # how many\n\n# %%\nprint(n * 2)\n', encoding="utf-8"
    )
    assert any("differ" in p for p in check_notebooks(tmp_path))


# ---- execution -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kernel():
    if not kernel_installed():
        pytest.fail(f"Jupyter kernel {KERNEL!r} missing: run `make setup`")


@pytest.mark.notebooks
def test_runner_stops_at_the_first_failing_cell_and_names_it(tmp_path, kernel):
    nbdir = tmp_path / "nb"
    nbdir.mkdir()
    (nbdir / "01-ok.py").write_text(
        '# %% tags=["parameters"]\nx: int = 1  # a number\n\n# %%\nprint(x)\n'
    )
    (nbdir / "02-bad.py").write_text(
        '# %% tags=["parameters"]\nx: int = 1  # a number\n\n# %%\ny = x + 1\n\n# %%\n'
        'raise RuntimeError("boom")\n'
    )
    (nbdir / "03-never.py").write_text(
        '# %% tags=["parameters"]\nx: int = 1  # a number\n\n# %%\nprint(x)\n'
    )
    lines: list[str] = []
    results = run_notebooks(
        nbdir, tmp_path / "runs", parameters={"01": {"x": 5, "nope": 1}}, echo=lines.append
    )
    assert [r.name for r in results] == ["01-ok", "02-bad"], "must stop at the first failure"
    ok, bad = results
    assert ok.ok and ok.parameters == {"x": 5} and ok.ignored == ["nope"]
    assert (
        not bad.ok
        and "RuntimeError: boom" in bad.error
        and 'raise RuntimeError("boom")' in bad.failed_source
    )
    assert any("FAIL  02-bad" in line and "raise RuntimeError" in line for line in lines)
    executed = nbformat.read(ok.output, as_version=4)
    assert executed.metadata["papermill"]["parameters"] == {"x": 5}  # the audit trail
    assert (ok.output.parent / "summary.json").exists()
    assert ok.output.parent.parent.name == "notebooks"


@pytest.mark.notebooks
@pytest.mark.integration
@pytest.mark.timeout(600)
@pytest.mark.parametrize("py", PYS, ids=_ids(PYS))
def test_notebook_runs(py, stack, kernel):
    out_dir = Settings.from_env().runs_dir / "notebooks" / RUN_STAMP
    res = run_one(py, out_dir, QUICK_PARAMETERS.get(py.name[:2], {}), env=RUN_ENV)
    assert res.ok, res.line()
    assert res.output.exists()


# ---- teaching notebooks: queries written out, exercises with hidden solutions --------------------
TEACHING = [p for p in PYS if p.name[:2] in ("03", "04")]


@pytest.mark.parametrize("py", TEACHING, ids=_ids(TEACHING))
def test_query_cells_only_define(py):
    """Cells tagged `query` hold imports, constants and functions only, so that
    tests/test_notebook_queries.py can execute them beside the library without side effects."""
    cells = tagged_cells(read_py(py), "query")
    assert cells, f"{py.name} has no cell tagged `query`"
    for source in cells:
        for node in ast.parse(source).body:
            assert isinstance(
                node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign, ast.ClassDef)
            ), f"{py.name}: a `query` cell runs code at line {node.lineno}: move it out"
            if isinstance(node, ast.Assign):
                ast.literal_eval(node.value)  # constants only


@pytest.mark.parametrize("py", TEACHING, ids=_ids(TEACHING))
def test_exercises_end_with_collapsed_solutions(py):
    nb = read_py(py)
    headings = [i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises")]
    assert headings, f"{py.name} has no '## Exercises' section"
    solutions = [c for c in nb.cells[headings[-1] :] if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) >= 2, f"{py.name}: each exercise needs a cell tagged `solution`"
    assert all(c.metadata.get("jupyter", {}).get("source_hidden") for c in solutions)
    assert any(c.cell_type == "code" for c in solutions), "papermill must execute a solution"
