"""Detection benchmarks that are not circular: generator variants the detectors were not tuned on,
detection curves (recall against event size in noise units), real days per venue, and the
project's own generator for reference. Prints the tables of bench/README_scenarios.md.

Usage: .venv/bin/python bench/scenarios.py [--parts curves,variants,real,own] [--seeds 2001 ...]
           [--curve-seeds 3001 ...] [--hours 2] [--jobs 2] [--lean DIR] [--json F] [--figure F]
           [--at90 F]
(--lean defaults to $FXWATCH_LEAN_DIR, else ../shared/data/fx/quantconnect_lean next to the repo)
Every detector is the default bank; the scorer is fxwatch.eval.scenarios (one rule for all).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import plotly.express as px

from fxwatch.cli.detect import detect_files
from fxwatch.datasets import lean_dir
from fxwatch.detect.incidents import group_alerts
from fxwatch.errors import FxwatchError
from fxwatch.eval.curves import (
    CURVE_GRIDS,
    recall_curve,
    run_curve,
    smallest_at_recall,
)
from fxwatch.eval.scenarios import merge_scores, run_scenario
from fxwatch.eval.variants import UNITS, VARIANTS, run_variant

VARIANT_SEEDS = (2001, 2002, 2003, 2004, 2005)
CURVE_SEEDS = (3001, 3002)
OWN_SEEDS = (101, 102, 103, 104, 105)
CURVE_VARIANT = "garch"
VENUES = ("oanda", "fxcm")
REAL_DAY = "20140508"
TARGETS = {"recall": 0.97, "fa_per_pair_hour": 0.5, "real_per_pair_hour": 0.5}


def md(df: pd.DataFrame, nd: int = 3, index: bool = False) -> str:
    """A DataFrame as a Markdown table (floats with `nd` significant digits)."""
    if index:
        df = df.reset_index()
    cell = lambda x: f"{x:.{nd}g}" if isinstance(x, float) else str(x)  # noqa: E731
    lines = ["| " + " | ".join(map(str, df.columns)) + " |"]
    lines.append("|" + "|".join("---" for _ in df.columns) + "|")
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _variant_job(args):
    name, seed, hours = args
    score, _, res = run_variant(name, seed, hours)
    return name, score, res.labels


def _curve_job(args):
    kind, seeds, hours = args
    score, labels = run_curve(kind, CURVE_VARIANT, seeds, hours)
    return kind, score, labels


def _pool_map(fn, jobs, n):
    if n <= 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(n) as ex:
        return list(ex.map(fn, jobs))


def curves(seeds, hours, n_jobs):
    """Recall per magnitude level and kind on the curve variant; the 90 % magnitudes."""
    got = _pool_map(_curve_job, [(k, seeds, hours) for k in CURVE_GRIDS], n_jobs)
    tables, fa = [], {}
    for kind, score, labels in got:
        tables.append(recall_curve(score, labels))
        s = score.summary()
        fa[kind] = (s["false_alarm_clusters"], s["pair_hours"])
    curve = pd.concat(tables, ignore_index=True)
    at90 = smallest_at_recall(curve, 0.9)
    n_fa = sum(a for a, _ in fa.values())
    hours_total = sum(h for _, h in fa.values())
    print(
        f"## Detection curves: variant {CURVE_VARIANT}, seeds {list(seeds)}, {hours:g} h each, "
        f"default detectors; false-alarm incidents at this operating point: {n_fa} in "
        f"{hours_total:g} pair-hours = {n_fa / hours_total:.2f} per pair-hour"
    )
    print(md(at90))
    print()
    print("Recall per level, `magnitude: recall (events)`:")
    print()
    print("| kind | curve |")
    print("|---|---|")
    for kind, g in curve.groupby("kind"):
        pts = ", ".join(
            f"{m:g}: {r:.2f} ({n})" for m, r, n in zip(g["magnitude"], g["recall"], g["events"])
        )
        print(f"| {kind} | {pts} |")
    print()
    return curve, at90, {"fa_incidents": n_fa, "pair_hours": hours_total}


def variants(seeds, hours, n_jobs, at90=None):
    """Every variant over the seeds: recall per kind, false-alarm incidents per pair-hour."""
    got = _pool_map(_variant_job, [(v, s, hours) for v in VARIANTS for s in seeds], n_jobs)
    rows, kinds_rows, out = [], [], {}
    for name in VARIANTS:
        parts = [(sc, lb) for n, sc, lb in got if n == name]
        m = merge_scores([sc for sc, _ in parts])
        labels = {e.event_id: e for _, lb in parts for e in lb}
        s = m.summary()
        by_kind = m.by_kind()
        fa_det = Counter(d for c in m.false_alarm_clusters for d in c.detectors)
        above = None
        if at90 is not None:
            need = dict(zip(at90["kind"], at90.iloc[:, 1]))
            big = [
                e
                for e in m.events
                if e.kind in need and float(labels[e.event_id].params["magnitude"]) >= need[e.kind]
            ]
            above = (sum(e.detected for e in big), len(big))
        rows.append(
            {
                "variant": name,
                "pair-hours": s["pair_hours"],
                "events": s["events"],
                "recall": s["recall"],
                "worst kind": float(by_kind["recall"].min()),
                "recall >= 90% size": (f"{above[0]}/{above[1]}" if above else "-"),
                "FA incidents": s["false_alarm_clusters"],
                "FA per pair-hour": s["fa_per_pair_hour"],
                "leg-attribution FA": s.get("leg_attribution_false_alarms", "-"),
                "news incidents": s["legit_clusters"],
                "FA by detector": ", ".join(f"{d} {n}" for d, n in fa_det.most_common()),
            }
        )
        kinds_rows.append({"variant": name, **dict(zip(by_kind["kind"], by_kind["recall"]))})
        out[name] = {
            "summary": s,
            "by_kind": by_kind.to_dict("records"),
            "fa_by_detector": dict(fa_det),
            "recall_above_90pct_size": above,
            "events": [
                [e.kind, float(labels[e.event_id].params["magnitude"]), e.detected]
                for e in m.events
            ],
        }
    print(
        f"## Generator variants: seeds {list(seeds)}, {hours:g} h each "
        f"(targets: recall >= {TARGETS['recall']}, <= {TARGETS['fa_per_pair_hour']} false-alarm "
        "incidents per pair-hour)"
    )
    print(md(pd.DataFrame(rows)))
    print()
    print("Recall per kind (event sizes drawn log-uniform down into the noise):")
    print(md(pd.DataFrame(kinds_rows), 2))
    print()
    return out


def own_generator(seeds, hours):
    """The project's own generator (the one the detectors were tuned on), for reference."""
    m = merge_scores([run_scenario(s, hours)[0] for s in seeds])
    s = m.summary()
    print(f"## Own generator (fxwatch.sources.synthetic), held-out seeds {list(seeds)}")
    print(md(m.by_kind()))
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}))
    print()
    return {"summary": s, "by_kind": m.by_kind().to_dict("records")}


def real_days(lean: Path):
    """Incidents per pair-hour per venue on the real 2014-05-08 tick files (no labels)."""
    rows, out = [], {}
    for venue in VENUES:
        files = sorted(lean.glob(f"{venue}/tick/*/{REAL_DAY}_*_tick_quote.csv"))
        if not files:
            print(f"## real day {venue}: no files under {lean}")
            continue
        n, alerts = detect_files(files, "lean")
        incidents = group_alerts(alerts)
        pair_hours = 0.0
        for f in files:
            ms = pd.read_csv(f, header=None, usecols=[0])[0]
            pair_hours += (ms.max() - ms.min()) / 3_600_000
        kinds = Counter(k for i in incidents for k in i.kinds)
        sev = Counter(i.severity for i in incidents)
        rows.append(
            {
                "venue": venue.upper(),
                "pairs": ", ".join(f.parent.name.upper() for f in files),
                "ticks": n,
                "pair-hours": round(pair_hours, 2),
                "alerts": len(alerts),
                "incidents": len(incidents),
                "per pair-hour": len(incidents) / pair_hours,
                "evidence kinds in incidents": ", ".join(
                    f"{k} {c}" for k, c in kinds.most_common()
                ),
                "severity": ", ".join(f"{k} {sev[k]}" for k in ("high", "medium", "low")),
            }
        )
        out[venue] = rows[-1] | {"examples": [i.root_cause for i in incidents[:5]]}
    print(f"## Real days {REAL_DAY} (QuantConnect Lean ticks), default bank + group_alerts")
    print(md(pd.DataFrame(rows)))
    print()
    return out


def figure(curve: pd.DataFrame, path: Path) -> None:
    """Recall against magnitude, one panel per kind (log x), as HTML."""
    fig = px.line(
        curve,
        x="magnitude",
        y="recall",
        facet_col="kind",
        facet_col_wrap=4,
        markers=True,
        log_x=True,
        error_y=curve["hi95"] - curve["recall"],
        error_y_minus=curve["recall"] - curve["lo95"],
        title=f"Recall against event size (noise units), variant {CURVE_VARIANT}, default bank",
    )
    fig.update_xaxes(matches=None)
    fig.add_hline(y=0.9, line_dash="dot")
    fig.write_html(path, include_plotlyjs="cdn")


def main() -> None:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--parts", default="curves,variants,real,own")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(VARIANT_SEEDS))
    ap.add_argument("--curve-seeds", type=int, nargs="+", default=list(CURVE_SEEDS))
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--lean", type=Path, default=None, help="QuantConnect Lean FX root")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--figure", type=Path, default=None, help="write the curves as HTML here")
    ap.add_argument(
        "--at90",
        type=Path,
        default=None,
        help="JSON of an earlier curves run (--json): its 90 %% sizes for the variants table",
    )
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    t = time.perf_counter()
    res: dict = {"units": UNITS}
    at90 = None
    if a.at90:
        at90 = pd.DataFrame(json.loads(a.at90.read_text())["curves"]["at90"])
    if "curves" in parts:
        curve, at90, fa = curves(a.curve_seeds, a.hours, a.jobs)
        res["curves"] = {"points": curve.to_dict("records"), "at90": at90.to_dict("records")}
        res["curves"]["false_alarms"] = fa
        if a.figure:
            figure(curve, a.figure)
    if "variants" in parts:
        res["variants"] = variants(a.seeds, a.hours, a.jobs, at90)
    if "real" in parts:
        try:
            lean = a.lean or lean_dir()
        except FxwatchError as exc:
            ap.error(str(exc))
        res["real"] = real_days(lean)
    if "own" in parts:
        res["own"] = own_generator(OWN_SEEDS, a.hours)
    print(f"# {time.perf_counter() - t:.0f}s")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
