"""A Spark standalone master and worker on this machine, started from pyspark's own
`spark-class`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fxwatch.errors import FxwatchError
from fxwatch.stack.manager import process_alive

__all__ = [
    "ClusterConfig",
    "spark_home",
    "cluster_up",
    "cluster_down",
    "cluster_status",
    "master_state",
]


@dataclass(frozen=True)
class ClusterConfig:
    """Where the standalone cluster listens and what its one worker offers."""

    host: str = "127.0.0.1"
    port: int = 7077
    webui_port: int = 8090
    worker_webui_port: int = 8091
    worker_cores: int = 2
    worker_memory: str = "3g"

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> ClusterConfig:
        """Ports and sizes from FXWATCH_CLUSTER_* variables, else the defaults."""
        e = os.environ
        return cls(
            host=e.get("FXWATCH_CLUSTER_HOST", cls.host),
            port=int(e.get("FXWATCH_CLUSTER_PORT", cls.port)),
            webui_port=int(e.get("FXWATCH_CLUSTER_WEBUI_PORT", cls.webui_port)),
            worker_webui_port=int(
                e.get("FXWATCH_CLUSTER_WORKER_WEBUI_PORT", cls.worker_webui_port)
            ),
            worker_cores=int(e.get("FXWATCH_CLUSTER_WORKER_CORES", cls.worker_cores)),
            worker_memory=e.get("FXWATCH_CLUSTER_WORKER_MEMORY", cls.worker_memory),
        )


def spark_home() -> Path:
    """The pyspark package folder: it ships bin/spark-class and jars/ (no separate Spark
    install)."""
    # lazy: every `fxwatch` command loads this module (cli/cluster.py); pyspark only here
    import pyspark

    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-class").exists():
        raise FxwatchError(f"{home}/bin/spark-class is missing: reinstall pyspark (`make setup`)")
    return home


def _pid_path(settings, name: str) -> Path:
    return settings.stack_dir / "run" / f"{name}.pid"


def _log_path(settings, name: str) -> Path:
    return settings.logs_dir / f"{name}.log"


def _read_pid(settings, name: str) -> int | None:
    try:
        pid = int(_pid_path(settings, name).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def master_state(cfg: ClusterConfig, timeout_s: float = 2.0) -> dict | None:
    """The master's JSON status (workers, apps), or None when its web UI does not answer."""
    try:
        with urllib.request.urlopen(
            f"http://{cfg.host}:{cfg.webui_port}/json/", timeout=timeout_s
        ) as resp:
            return json.loads(resp.read().decode())
    except (OSError, ValueError):
        return None


def _alive_workers(cfg: ClusterConfig) -> int:
    state = master_state(cfg)
    return sum(1 for w in (state or {}).get("workers", []) if w.get("state") == "ALIVE")


def _launch(settings, name: str, args: list[str], env: dict[str, str]) -> int:
    log = _log_path(settings, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    _pid_path(settings, name).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=settings.stack_dir,
            start_new_session=True,
        )
    _pid_path(settings, name).write_text(str(proc.pid))
    return proc.pid


def _wait(what: str, ok: Callable[[], bool], pid: int, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ok():
        if not process_alive(pid):
            tail = (
                " | ".join(log.read_text(errors="replace").splitlines()[-3:])
                if log.exists()
                else ""
            )
            raise FxwatchError(f"{what} died on start; see {log}: {tail[:400]}")
        if time.monotonic() > deadline:
            raise FxwatchError(f"{what} did not come up within {timeout_s:.0f} s; see {log}")
        time.sleep(0.5)


def cluster_up(
    settings,
    cfg: ClusterConfig | None = None,
    echo: Callable[[str], None] = print,
    timeout_s: float = 90.0,
) -> str:
    """Start master then worker (idempotent), wait until the worker is ALIVE; returns the
    master URL."""
    cfg = cfg or ClusterConfig.from_env()
    home = spark_home()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_NO_DAEMONIZE": "1",
        "SPARK_LOG_DIR": str(settings.logs_dir),
        "SPARK_LOCAL_IP": cfg.host,
    }
    work = settings.stack_dir / "spark-work"
    work.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(settings, "spark-master")
    if pid is None:
        if master_state(cfg) is not None:
            raise FxwatchError(
                f"a Spark master not started by fxwatch answers on {cfg.host}:{cfg.webui_port}: "
                "stop it or set FXWATCH_CLUSTER_WEBUI_PORT"
            )
        pid = _launch(
            settings,
            "spark-master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                cfg.host,
                "--port",
                str(cfg.port),
                "--webui-port",
                str(cfg.webui_port),
            ],
            env,
        )
        echo(f"spark-master: starting (pid {pid})")
    _wait(
        "spark-master",
        lambda: master_state(cfg) is not None,
        pid,
        _log_path(settings, "spark-master"),
        timeout_s,
    )
    echo(f"spark-master: ready at {cfg.master_url} (web UI http://{cfg.host}:{cfg.webui_port})")
    wpid = _read_pid(settings, "spark-worker")
    if wpid is None:
        wpid = _launch(
            settings,
            "spark-worker",
            [
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                cfg.host,
                "--cores",
                str(cfg.worker_cores),
                "--memory",
                cfg.worker_memory,
                "--webui-port",
                str(cfg.worker_webui_port),
                "--work-dir",
                str(work),
                cfg.master_url,
            ],
            env,
        )
        echo(f"spark-worker: starting (pid {wpid})")
    _wait(
        "spark-worker",
        lambda: _alive_workers(cfg) >= 1,
        wpid,
        _log_path(settings, "spark-worker"),
        timeout_s,
    )
    echo(
        f"spark-worker: registered ({cfg.worker_cores} cores, {cfg.worker_memory}); "
        f"use SPARK_MASTER={cfg.master_url}"
    )
    return cfg.master_url


def cluster_down(settings, echo: Callable[[str], None] = print, timeout_s: float = 30.0) -> None:
    """Stop the worker, then the master (only processes fxwatch started)."""
    for name in ("spark-worker", "spark-master"):
        pid = _read_pid(settings, name)
        if pid is None:
            _pid_path(settings, name).unlink(missing_ok=True)
            echo(f"{name}: not running")
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if process_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        _pid_path(settings, name).unlink(missing_ok=True)
        echo(f"{name}: stopped (pid {pid})")


def cluster_status(settings, cfg: ClusterConfig | None = None) -> dict[str, object]:
    """Pids, alive workers and running applications of the local standalone cluster."""
    cfg = cfg or ClusterConfig.from_env()
    state = master_state(cfg) or {}
    return {
        "master_url": cfg.master_url,
        "master_pid": _read_pid(settings, "spark-master"),
        "worker_pid": _read_pid(settings, "spark-worker"),
        "alive_workers": _alive_workers(cfg),
        "cores": state.get("cores"),
        "active_apps": len(state.get("activeapps", [])),
    }
