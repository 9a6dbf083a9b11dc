"""Notebook 06 where users see it: JupyterLab in headless Chromium, Run All, the inline Dash app.

JupyterLab must open without a dialog (Dash's old-style lab extension used to ask for a build
that fails, see the Makefile's `setup`), and after Run All the Dash iframe must draw the price
chart with no cell having written to stderr.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from fxwatch.dashboard.components import IDS
from fxwatch.dashboard.sample import sample_frames, seed_cassandra
from fxwatch.store.connection import connect
from fxwatch.store.schema import init_schema, truncate_tables
from test_dashboard_browser import driver  # noqa: F401  (the headless Chromium fixture)
from test_dashboard_integration import TABLES, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

KEYSPACE = "fxwatch_test_lab"
NOTEBOOK = "06-dashboard.ipynb"
JUPYTER = str(Path(sys.executable).parent / "jupyter")
STDERR = (
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
)


def test_labextensions_need_no_build():
    """What `make lab` checks at start: no extension waits for `jupyter lab build`."""
    run = subprocess.run(
        [JUPYTER, "labextension", "list"], capture_output=True, text=True, timeout=120
    )
    text = run.stdout + run.stderr
    assert run.returncode == 0, text
    assert "Build recommended" not in text and "needs to be included in build" not in text, (
        f"{text}\nrun `make setup` (it drops Dash's old-style lab extension)"
    )


@pytest.fixture()
def lab_notebooks(stack, tmp_path):
    """A seeded keyspace of this test's own, and notebook 06 in a folder of its own with the
    parameters a production run would inject (keyspace, a free dashboard port)."""
    settings = stack.with_(keyspace=KEYSPACE)
    init_schema(settings)
    cluster, session = connect(settings)
    try:
        truncate_tables(session, KEYSPACE, TABLES)
        seed_cassandra(session, KEYSPACE, sample_frames(datetime.now(UTC), minutes=45))
    finally:
        cluster.shutdown()
    nb = load_notebook_node(str(settings.root / "notebooks" / NOTEBOOK))  # as papermill reads it
    nb.metadata.pop("jupytext", None)  # no paired .py written next to the copy
    nb = parameterize_notebook(nb, {"keyspace": KEYSPACE, "dashboard_port": free_port()})
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(nb, folder / NOTEBOOK)
    return folder


@pytest.fixture()
def lab_url(lab_notebooks, tmp_path):
    """JupyterLab on the copied notebooks, as `make lab` starts it; stopped with its kernels."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        JUPYTER,
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}",
        f"--notebook-dir={lab_notebooks}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands like a user
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log_path = tmp_path / "lab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        # a session of its own: the server and its kernels are stopped together at the end
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:

            def up():
                assert proc.poll() is None, f"jupyter lab exited: {log_path.read_text()}"
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    return r.status == 200

            wait_for(up, 120, "JupyterLab to answer")
            yield base, token
        finally:
            proc.terminate()  # the server shuts its kernels down on SIGTERM
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _dialogs(drv) -> list[str]:
    from selenium.webdriver.common.by import By

    return [d.text for d in drv.find_elements(By.CSS_SELECTOR, ".jp-Dialog") if d.is_displayed()]


def test_notebook_06_runs_in_jupyterlab_and_shows_the_dash_app(
    lab_url,
    driver,  # noqa: F811
    base_settings,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, token = lab_url
    with urllib.request.urlopen(f"{base}/lab/api/build?token={token}", timeout=30) as r:
        build = json.load(r)
    assert build["status"] != "needed", f"JupyterLab asks for a build: {build['message']}"

    shots = base_settings.runs_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"lab-06-dashboard-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.png"
    try:
        driver.set_script_timeout(120)
        driver.get(f"{base}/lab/tree/{NOTEBOOK}?reset&token={token}")
        wait = WebDriverWait(driver, 180, poll_frequency=0.5)
        wait.until(
            lambda d: d.execute_script(
                "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                "return !!(w && w.content && w.content.widgets && w.content.widgets.length"
                " && w.context && w.context.isReady);"
            )
        )
        # Run > Run All Cells, once the kernel is up (the command the menu item calls).
        started = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const app = window.jupyterapp, w = app.shell.currentWidget;"
            "w.sessionContext.ready.then(() => {"
            "  app.commands.execute('notebook:run-all-cells'); done('ok'); },"
            "  e => done('kernel failed: ' + e));"
        )
        assert started == "ok", started

        def all_ran(d):
            prompts = [
                p.text.strip()
                for p in d.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea-prompt")
            ]
            return prompts and all(p.startswith("[") and p[1:-2].isdigit() for p in prompts)

        WebDriverWait(driver, 300, poll_frequency=1).until(
            all_ran, "not every cell of notebook 06 ran (see the screenshot in runs/screenshots)"
        )
        assert not _dialogs(driver), f"a dialog greets the user: {_dialogs(driver)}"
        stderr = [e.text for e in driver.find_elements(By.CSS_SELECTOR, STDERR)]
        assert not stderr, "cells wrote to stderr:\n" + "\n---\n".join(stderr)

        frame = wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output iframe")
        )[0]
        driver.execute_script("arguments[0].scrollIntoView()", frame)
        driver.switch_to.frame(frame)
        try:
            # The price chart has drawn its lines (plotly: one path.js-line per trace).
            wait.until(
                lambda d: (
                    len(
                        d.find_elements(
                            By.CSS_SELECTOR, f"#{IDS.price} .js-plotly-plot path.js-line"
                        )
                    )
                    >= 3
                )
            )
            legend = driver.find_element(By.ID, IDS.price).text
        finally:
            driver.switch_to.default_content()
        assert "mid" in legend and "alert: zscore" in legend, legend
    finally:  # for a person to look at, pass or fail
        driver.switch_to.default_content()
        driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
