"""Run every fxwatch benchmark in sequence, keep each JSON result under runs/bench/,
print a summary.

.venv/bin/python bench/run_all.py [--ticks 300000] [--stats-ticks 5000000]
    [--only pipeline,producer,stats]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(name: str, args: list[str], out_dir: Path) -> dict:
    """`fxwatch bench <args>`; stderr to a log file; the last stdout line parsed as JSON."""
    log = out_dir / f"{name}.log"
    t0 = time.monotonic()
    with open(log, "w") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "fxwatch.cli", "bench", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
        )
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"error": f"exit {proc.returncode}, see {log}"}
    result["bench_seconds"] = round(time.monotonic() - t0, 1)
    (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    print(f"{name}: {time.monotonic() - t0:.0f} s -> {out_dir / (name + '.json')}", file=sys.stderr)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("--ticks", type=int, default=300_000)
    p.add_argument("--stats-ticks", type=int, default=5_000_000)
    p.add_argument("--stats-days", type=int, default=30)
    p.add_argument("--latency-seconds", type=float, default=90.0)
    p.add_argument("--only", default="pipeline,producer,stats")
    a = p.parse_args()
    out_dir = ROOT / "runs" / "bench" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = set(a.only.split(","))
    results = {}
    if "pipeline" in parts:
        results["pipeline"] = run(
            "pipeline",
            ["pipeline", "--ticks", str(a.ticks), "--latency-seconds", str(a.latency_seconds)],
            out_dir,
        )
    if "quotes" in parts:
        results["quotes"] = run(
            "quotes",
            [
                "pipeline",
                "--ticks",
                str(a.ticks),
                "--queries",
                "quotes",
                "--max-offsets",
                "50000",
                "--skip",
                "latency,realtime",
            ],
            out_dir,
        )
    if "producer" in parts:
        results["producer"] = run("producer", ["producer"], out_dir)
    if "stats" in parts:
        results["stats"] = run(
            "stats", ["stats", "--ticks", str(a.stats_ticks), "--days", str(a.stats_days)], out_dir
        )
    print(
        json.dumps(
            {k: {kk: vv for kk, vv in v.items() if kk != "machine"} for k, v in results.items()},
            indent=1,
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
