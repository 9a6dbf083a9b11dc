"""What machine a benchmark ran on: cores, memory, Java and the versions of every moving part."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["machine_info"]


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _java() -> str | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (out.stderr or out.stdout).splitlines()
    return first[0].strip() if first else None


def _jar_version(folder: Path, artifact: str) -> str | None:
    for jar in sorted(folder.glob(f"{artifact}-*.jar")) if folder.is_dir() else []:
        m = re.match(rf"{re.escape(artifact)}-(\d[\w.\-]*)\.jar$", jar.name)
        if m:
            return m.group(1)
    return None


def machine_info(settings=None) -> dict[str, object]:
    """nproc, RAM, CPU model, OS, Java and library/service versions as a flat dict."""
    mem_gb = None
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
            mem_gb = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    cpu = None
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")),
                None,
            )
    except OSError:
        pass
    info: dict[str, object] = {
        "nproc": os.cpu_count(),
        "ram_gb": mem_gb,
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": _java(),
        **{
            pkg: _version(pkg)
            for pkg in (
                "pyspark",
                "kafka-python",
                "cassandra-driver",
                "duckdb",
                "pyarrow",
                "pandas",
            )
        },
    }
    if settings is not None:
        info["kafka_broker"] = _jar_version(settings.jars_dir / "kafka", "kafka_2.13")
        info["cassandra"] = _jar_version(settings.jars_dir / "cassandra", "cassandra-all")
        info["spark_master"] = settings.spark_master
    return info
