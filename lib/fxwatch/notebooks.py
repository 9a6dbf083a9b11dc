"""Numbered notebooks as tested jobs: pair .py/.ipynb with jupytext, check them, run them with
papermill.

The jupytext `py:percent` file is the source of truth (it is what reviews read); its `.ipynb`
twin is generated from it without outputs, with the project's kernel (`fxwatch`) in its metadata
and a jupytext pairing, so JupyterLab opens either and saves both. `run_notebooks` executes the
notebooks in order with papermill into `runs/notebooks/<timestamp>/`, stops at the first failing
cell and names it.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jupytext
import nbformat
import papermill
from jupyter_client.kernelspec import KernelSpecManager
from papermill.exceptions import PapermillExecutionError

from fxwatch.errors import FxwatchError

__all__ = [
    "KERNEL",
    "KERNELSPEC",
    "NotebookResult",
    "QUICK_PARAMETERS",
    "check_notebooks",
    "code_cells",
    "tagged_cells",
    "tagged_namespace",
    "kernel_installed",
    "notebook_parameters",
    "numbered_notebooks",
    "parameter_names",
    "read_py",
    "run_notebooks",
    "run_one",
    "scan_for_secrets",
    "secret_values",
    "sync_notebooks",
]

KERNEL = "fxwatch"
KERNELSPEC = {"display_name": "Python (fxwatch)", "language": "python", "name": KERNEL}
NUMBERED = re.compile(r"^(\d\d)-[\w.-]+\.py$")

# Quick-run parameters for `fxwatch notebooks run` (`make notebooks`), per notebook number: each
# run takes a minute or two on the local stack (`--full` runs each notebook's own defaults instead).
# The test suite executes the notebooks with the same table. Names a notebook does not declare are
# dropped (with a note), so a renamed parameter shows up in the run log instead of failing silently.
QUICK_PARAMETERS: dict[str, dict[str, object]] = {
    "00": {
        "keyspace": "fxwatch_test_qs",
        "max_ticks": 6000,
        "dashboard_port": 18060,
        "pipeline_timeout": 300.0,
    },
    "01": {"synthetic_hours": 0.1, "truefx_seconds": 1.0},
    "02": {"limit": 2000},
    "03": {"minutes": 2.0, "rate": 2.0, "keyspace": "fxwatch_test_nb03", "batch_ticks": 600},
    "04": {"minutes": 3.0, "rate": 2.0, "history_weeks": 1, "keyspace": "fxwatch_test"},
    # over the ticks 00-quickstart's test run replayed into fxwatch_test_qs (2024-01-15)
    "05": {"keyspace": "fxwatch_test_qs", "as_of": "2024-01-16", "lookback_days": 2},
    "06": {"dashboard_port": 18061, "seed_demo": True},
    "07": {"seeds": [101], "hours": 1.2, "nab_detectors": ["classic", "fxwatch"]},
}


def numbered_notebooks(directory: Path, only: Iterable[str] | None = None) -> list[Path]:
    """The `NN-topic.py` files of `directory`, in order; `only` keeps those whose NN or stem
    match."""
    paths = sorted(p for p in Path(directory).glob("*.py") if NUMBERED.match(p.name))
    if only:
        wanted = set(only)
        paths = [p for p in paths if p.stem in wanted or p.name[:2] in wanted or p.name in wanted]
    return paths


def read_py(path: Path):
    """The notebook of a py:percent file, with the fxwatch kernel and the jupytext pairing set."""
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    for i, cell in enumerate(nb.cells):
        cell["id"] = (
            f"cell-{i:03d}"  # deterministic ids: `sync` rewrites nothing that did not change
        )
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def code_cells(nb) -> list[str]:
    """The sources of a notebook's code cells, stripped (what must agree between .py and .ipynb)."""
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


def tagged_cells(nb, tag: str) -> list[str]:
    """The sources of the code cells tagged `tag` (`# %% tags=["query"]`), in notebook order."""
    return [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and tag in c.get("metadata", {}).get("tags", [])
    ]


def tagged_namespace(py: Path, tag: str = "query") -> dict[str, object]:
    """Execute a notebook's cells tagged `tag` and return what they define.

    This is how the tests run the queries a notebook writes out (cells tagged `query`: imports and
    functions only) against the library's own, on the same data: the test runs the notebook's text,
    not a copy of it.
    """
    cells = tagged_cells(read_py(Path(py)), tag)
    if not cells:
        raise FxwatchError(f"{Path(py).name} has no cell tagged {tag!r}: tag the query cells")
    namespace: dict[str, object] = {"__name__": f"notebook_{Path(py).stem.replace('-', '_')}"}
    for i, source in enumerate(cells):
        exec(compile(source, f"{py}[{tag} cell {i}]", "exec"), namespace)  # noqa: S102
    return namespace


def sync_notebooks(directory: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Write every `NN-*.ipynb` from its `.py` (outputs stripped); returns the files that
    changed."""
    changed = []
    for py in numbered_notebooks(directory):
        ipynb = py.with_suffix(".ipynb")
        nb = read_py(py)
        text = jupytext.writes(nb, fmt="ipynb")
        if not ipynb.exists() or ipynb.read_text(encoding="utf-8") != text:
            ipynb.write_text(text, encoding="utf-8")
            changed.append(ipynb)
            echo(f"wrote {ipynb.name}")
    return changed


def check_notebooks(directory: Path) -> list[str]:
    """Problems that would make the notebooks rot or leak: empty list when all is well."""
    problems: list[str] = []
    pys = numbered_notebooks(directory)
    if not pys:
        problems.append(f"no numbered notebooks (NN-topic.py) in {directory}")
    for py in pys:
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.exists():
            problems.append(f"{py.name} has no {ipynb.name}: run `fxwatch notebooks sync`")
            continue
        nb = nbformat.read(ipynb, as_version=4)
        if code_cells(nb) != code_cells(read_py(py)):
            problems.append(f"{ipynb.name} and {py.name} differ: run `fxwatch notebooks sync`")
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")):
                problems.append(
                    f"{ipynb.name} cell {i} carries outputs: run `fxwatch notebooks sync`"
                )
                break
        if nb.metadata.get("kernelspec", {}).get("name") != KERNEL:
            problems.append(
                f"{ipynb.name} does not use the {KERNEL!r} kernel: run `fxwatch notebooks sync`"
            )
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        if len(tagged) != 1:
            problems.append(
                f"{py.name} has {len(tagged)} cells tagged `parameters` (needs exactly one: "
                '`# %% tags=["parameters"]`)'
            )
        else:
            unseen = sorted(set(parameter_names(nb)) - set(notebook_parameters(ipynb)))
            if unseen:
                problems.append(
                    f"{py.name}: papermill cannot parse parameter(s) {', '.join(unseen)} (so "
                    "`papermill --help-notebook` omits them): one `name: type = value  # help` per "
                    "line, with no '=' in the help comment"
                )
    for ipynb in sorted(Path(directory).glob("[0-9][0-9]-*.ipynb")):
        if not ipynb.with_suffix(".py").exists():
            problems.append(
                f"{ipynb.name} has no {ipynb.with_suffix('.py').name}: pair it "
                "(`jupytext --to py:percent`) or delete it"
            )
    return problems


def parameter_names(nb) -> list[str]:
    """Names assigned in the notebook's `parameters` cell, read with Python's own parser."""
    names: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = (
                    [node.target]
                    if isinstance(node, ast.AnnAssign)
                    else getattr(node, "targets", [])
                )
                names.extend(t.id for t in targets if isinstance(t, ast.Name))
    return names


def notebook_parameters(path: Path) -> dict[str, dict]:
    """The parameters a notebook (.py or .ipynb) declares: name -> papermill's name, type,
    default, help."""
    if Path(path).suffix != ".py":
        return dict(papermill.inspect_notebook(str(path)))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_nb = Path(tmp) / Path(path).with_suffix(".ipynb").name
        jupytext.write(read_py(path), tmp_nb, fmt="ipynb")
        return dict(papermill.inspect_notebook(str(tmp_nb)))


def kernel_installed(name: str = KERNEL) -> bool:
    return name in KernelSpecManager().find_kernel_specs()


@dataclass
class NotebookResult:
    """The outcome of one notebook run."""

    name: str
    output: Path
    ok: bool
    seconds: float
    parameters: dict = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    failed_cell: int | None = None
    failed_source: str = ""
    error: str = ""

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.name}  {self.seconds:6.1f} s  -> {self.output}"
        first = self.failed_source.strip().splitlines()[0] if self.failed_source.strip() else ""
        where = (
            f"cell {self.failed_cell} (`{first[:70]}`)"
            if self.failed_cell is not None
            else "start-up"
        )
        return (
            f"FAIL  {self.name}  {self.seconds:6.1f} s  at {where}: {self.error}  -> {self.output}"
        )


@contextmanager
def _environ(overrides: Mapping[str, str] | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (overrides or {})}
    os.environ.update(overrides or {})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _NoFrontendComms(logging.Filter):
    """Drop "No handler found for comm target 'dash'": an inline Dash app asks the front end
    for a comm, and papermill is no front end (the app itself runs; JupyterLab shows it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No handler found for comm target")


@contextmanager
def _quiet_frontend_warnings() -> Iterator[None]:
    log = logging.getLogger("papermill")
    quiet = _NoFrontendComms()
    log.addFilter(quiet)
    try:
        yield
    finally:
        log.removeFilter(quiet)


def run_one(
    py: Path,
    out_dir: Path,
    parameters: Mapping[str, object] | None = None,
    kernel: str = KERNEL,
    cell_timeout: float = 600,
    env: Mapping[str, str] | None = None,
    log_output: bool = False,
) -> NotebookResult:
    """Execute one notebook (converted from its .py) with papermill into `out_dir/<name>.ipynb`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / py.with_suffix(".ipynb").name
    declared = set(parameter_names(read_py(py)))
    given = dict(parameters or {})
    used = {k: v for k, v in given.items() if k in declared}
    ignored = sorted(set(given) - set(used))
    result = NotebookResult(
        py.stem, output, ok=False, seconds=0.0, parameters=used, ignored=ignored
    )
    t0 = time.monotonic()
    try:
        with _environ(env), _quiet_frontend_warnings():
            papermill.execute_notebook(
                read_py(py),
                str(output),
                parameters=used,
                kernel_name=kernel,
                language="python",
                progress_bar=False,
                log_output=log_output,
                cwd=str(py.parent),
                execution_timeout=cell_timeout,
                start_timeout=120,
                # the kernel's start-up warning (local TCP, no encryption) is not the user's concern
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        result.ok = True
    except PapermillExecutionError as exc:
        result.failed_cell = exc.cell_index
        result.failed_source = exc.source or ""
        result.error = f"{exc.ename}: {str(exc.evalue)[:300]}"
    except Exception as exc:  # kernel died, timeout, missing kernel
        result.error = f"{type(exc).__name__}: {str(exc)[:300]}"
        if "No such kernel" in str(exc) or "NoSuchKernel" in type(exc).__name__:
            result.error += (
                f" — install the kernel: {Path(os.sys.executable).parent}/python -m ipykernel "
                f'install --sys-prefix --name {KERNEL} --display-name "Python (fxwatch)"'
            )
    result.seconds = time.monotonic() - t0
    return result


def run_notebooks(
    directory: Path,
    runs_dir: Path,
    only: Iterable[str] | None = None,
    parameters: Mapping[str, Mapping[str, object]] | None = None,
    keep_going: bool = False,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] = print,
    stamp: str | None = None,
) -> list[NotebookResult]:
    """Execute the numbered notebooks in order into `runs_dir/notebooks/<timestamp>/`.

    Stops at the first failure unless `keep_going`. `parameters` maps a notebook number ("03") to
    its parameters; the default is QUICK_PARAMETERS.
    """
    if not kernel_installed():
        raise FxwatchError(
            f"the Jupyter kernel {KERNEL!r} is not installed: "
            "run `make setup` (or `.venv/bin/python -m "
            f'ipykernel install --sys-prefix --name {KERNEL} --display-name "Python (fxwatch)"`)'
        )
    notebooks = numbered_notebooks(directory, only)
    if not notebooks:
        raise FxwatchError(
            f"no notebooks matched {list(only or [])} in {directory}: "
            "names are NN-topic.py, select them by NN or stem"
        )
    params = QUICK_PARAMETERS if parameters is None else parameters
    stamp = stamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(runs_dir) / "notebooks" / stamp
    results = []
    for py in notebooks:
        echo(f"run   {py.stem} …")
        res = run_one(py, out_dir, params.get(py.name[:2], {}), env=env)
        if res.ignored:
            echo(f"note  {py.stem} does not declare {', '.join(res.ignored)}: ignored")
        echo(res.line())
        results.append(res)
        if not res.ok and not keep_going:
            break
    leaks = scan_for_secrets(out_dir, secret_values(env={**os.environ, **(env or {})}))
    for path, name in leaks:
        echo(
            f"LEAK  the value of {name} appears in {path}: "
            "remove what prints it, then delete the file"
        )
        for r in results:
            if r.output == path:
                r.ok, r.error = False, f"the value of {name} appears in the executed notebook"
    (out_dir / "summary.json").write_text(
        json.dumps(
            [
                {
                    "name": r.name,
                    "ok": r.ok,
                    "seconds": round(r.seconds, 1),
                    "parameters": r.parameters,
                    "failed_cell": r.failed_cell,
                    "error": r.error,
                }
                for r in results
            ],
            indent=2,
            default=str,
        )
    )
    return results


# --------------------------------------------------------------------------------------------
# Secrets must never reach an executed notebook (they are kept as an audit trail)
# --------------------------------------------------------------------------------------------
SECRET_ENV = ("TRUEFX_PASSWORD", "CASSANDRA_PASSWORD", "KAFKA_SASL_PASSWORD")


def secret_values(
    env: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> dict[str, str]:
    """name -> value of the credentials set in `env` (default os.environ), plus `extra` names."""
    env = os.environ if env is None else env
    found = {}
    for name in (*SECRET_ENV, *extra):
        value = env.get(name)
        if value and len(value) >= 4:  # shorter values would match by chance
            found[name] = value
    return found


def scan_for_secrets(root: Path, secrets: Mapping[str, str]) -> list[tuple[Path, str]]:
    """(file, secret name) for every file under `root` that contains a secret's value."""
    hits = []
    if not secrets or not Path(root).exists():
        return hits
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file() or path.suffix.lower() in {
            ".png",
            ".jpg",
            ".jpeg",
            ".gif",
            ".parquet",
        }:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        hits.extend((path, name) for name, value in secrets.items() if value in text)
    return hits
