"""One real headless-browser test: seeded Cassandra -> `fxwatch dashboard` -> Chromium ->
screenshot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fxwatch.dashboard.components import IDS
from fxwatch.dashboard.sample import sample_frames, seed_cassandra
from test_dashboard_integration import KEYSPACE, TABLES, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture()
def seeded(stack):
    from fxwatch.store.connection import connect
    from fxwatch.store.schema import init_schema, truncate_tables

    settings = stack.with_(keyspace=KEYSPACE)
    init_schema(settings)
    cluster, session = connect(settings)
    try:
        truncate_tables(session, KEYSPACE, TABLES)
        seed_cassandra(session, KEYSPACE, sample_frames(datetime.now(UTC), minutes=45))
    finally:
        cluster.shutdown()
    return settings


@pytest.fixture()
def dashboard_url(seeded, tmp_path):
    port = free_port()
    env = dict(os.environ, FXWATCH_KEYSPACE=KEYSPACE)
    log_path = tmp_path / "dashboard.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "fxwatch"),
                "dashboard",
                "--port",
                str(port),
                "--refresh-ms",
                "3000",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:

            def up():
                assert proc.poll() is None, f"dashboard exited: {log_path.read_text()}"
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_dash-layout", timeout=2
                ) as r:
                    return r.status == 200

            wait_for(up, 120, "the dashboard to answer")
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture()
def driver(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("headless Chromium is missing: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1700",
        f"--user-data-dir={tmp_path / 'chrome'}",
    ):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(tmp_path / "chrome", ignore_errors=True)


def test_dashboard_renders_graph_and_alert_table(dashboard_url, driver, base_settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(dashboard_url)
    wait = WebDriverWait(driver, 60, poll_frequency=0.25)
    # The price chart has drawn lines (plotly puts one path.js-line per trace).
    wait.until(
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, f"#{IDS.price} .js-plotly-plot path.js-line")) >= 3
        )
    )
    # The alert table has rows from the seeded alerts.
    wait.until(lambda d: "anomaly (sample)" in d.find_element(By.ID, IDS.alerts).text)
    wait.until(lambda d: "query lag" in d.find_element(By.ID, IDS.health_note).text)
    # The incident list leads; a click on an incident shows its alerts and rings them on the chart.
    wait.until(lambda d: "price spike" in d.find_element(By.ID, IDS.incidents).text)
    driver.find_element(By.CSS_SELECTOR, f"#{IDS.incidents} tbody tr").click()
    wait.until(
        lambda d: "Evidence of the high incident" in d.find_element(By.ID, IDS.evidence_title).text
    )
    wait.until(lambda d: "evidence" in d.find_element(By.ID, IDS.price).text)

    shots = base_settings.runs_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / f"dashboard-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.png"
    assert driver.save_screenshot(str(path)), "screenshot not written"
    assert path.stat().st_size > 20_000

    legend = driver.find_element(By.ID, IDS.price).text
    assert "mid" in legend and "avg 1m (window end)" in legend and "alert: zscore" in legend
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{IDS.alerts} tbody tr")
    assert len(rows) == 2 and {"zscore", "spread"} <= {
        r.find_elements(By.TAG_NAME, "td")[2].text for r in rows
    }
    pairs_text = driver.find_element(By.ID, IDS.health).text
    assert "EUR/USD" in pairs_text and "USD/JPY" in pairs_text
    # No error banner, and the browser saw no failed callback.
    assert not driver.find_element(By.ID, IDS.empty).is_displayed()
    errors = (
        [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if hasattr(driver, "get_log")
        else []
    )
    assert not errors, json.dumps(errors)[:1000]
