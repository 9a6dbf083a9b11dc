"""NAB scoring (v1.1 sweeper semantics): windows, scaled sigmoid, corpus-wide threshold,
normalisation."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fxwatch.errors import FxwatchError

__all__ = [
    "PROBATION_PERCENT",
    "NabFile",
    "ProfileResult",
    "scaled_sigmoid",
    "probation_length",
    "load_corpus",
    "load_windows",
    "load_profiles",
    "load_published_scores",
    "sweep_file",
    "optimise_threshold",
    "score_at_threshold",
    "score_corpus",
]

PROBATION_PERCENT = 0.15


@dataclass
class NabFile:
    """One corpus file: relative path ('realKnownCause/nyc_taxi.csv'), timestamps, values."""

    name: str
    timestamps: np.ndarray  # datetime64[ns]
    values: np.ndarray  # float64

    @property
    def ts_ms(self) -> np.ndarray:
        """Timestamps as epoch milliseconds (int64)."""
        return self.timestamps.astype("datetime64[ms]").astype(np.int64)


@dataclass
class ProfileResult:
    """Outcome for one profile: threshold, raw and normalised score, per-file rows."""

    profile: str
    threshold: float
    raw: float
    normalised: float
    null_raw: float
    perfect_raw: float
    files: list[dict] = field(default_factory=list)


def scaled_sigmoid(x: float | np.ndarray) -> np.ndarray:
    """NAB's 2*sigmoid(-5x)-1, clamped to -1 beyond 3 window widths past the window."""
    x = np.asarray(x, dtype=float)
    val = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, val)


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> float:
    """Rows at the start of a file that are never scored: min(floor(p*n), p*5000)."""
    return min(math.floor(percent * n_rows), percent * 5000)


def load_corpus(data_dir: str | os.PathLike) -> dict[str, NabFile]:
    """Read every data/<category>/<name>.csv below `data_dir` (the NAB root or its data/)."""
    root = Path(data_dir)
    if (root / "data").is_dir():
        root = root / "data"
    if not root.is_dir():
        raise FxwatchError(f"NAB data folder not found: {root} (pass --data /path/to/nab)")
    corpus: dict[str, NabFile] = {}
    for path in sorted(root.glob("*/*.csv")):
        rel = f"{path.parent.name}/{path.name}"
        df = pd.read_csv(path)
        ts = pd.to_datetime(df["timestamp"]).to_numpy(dtype="datetime64[ns]")
        corpus[rel] = NabFile(rel, ts, df["value"].to_numpy(dtype=float))
    if not corpus:
        raise FxwatchError(
            f"no NAB csv files under {root}/<category>/ (is this the NAB data folder?)"
        )
    return corpus


def load_windows(path: str | os.PathLike) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Read labels/combined_windows.json into {relative path: [(start, end), ...]}."""
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FxwatchError(
            f"windows file not found: {path} (use labels/combined_windows.json)"
        ) from None
    return {
        k: [(np.datetime64(pd.Timestamp(a)), np.datetime64(pd.Timestamp(b))) for a, b in v]
        for k, v in raw.items()
    }


def load_profiles(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """Read config/profiles.json into {profile: cost matrix}."""
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FxwatchError(f"profiles file not found: {path} (use config/profiles.json)") from None
    return {name: dict(p["CostMatrix"]) for name, p in raw.items()}


def load_published_scores(
    results_dir: str | os.PathLike, names: list[str]
) -> dict[str, np.ndarray]:
    """Read anomaly_score per record from a published results/<detector>/ folder."""
    root = Path(results_dir)
    det = root.name
    out = {}
    for rel in names:
        cat, fname = rel.split("/")
        path = root / cat / f"{det}_{fname}"
        if not path.exists():
            raise FxwatchError(
                f"missing per-record results file {path} "
                "(is --scores-from a results/<detector> folder?)"
            )
        out[rel] = pd.read_csv(path, usecols=["anomaly_score"])["anomaly_score"].to_numpy(
            dtype=float
        )
    return out


@dataclass
class _Sweep:
    """Per-file sweep: window id per row (-1 outside, -2 probationary) and sweep score per row."""

    window: np.ndarray
    sweep: np.ndarray
    n_windows: int


def _window_indices(ts: np.ndarray, windows) -> list[tuple[int, int]]:
    out = []
    for a, b in windows:
        lo = int(np.searchsorted(ts, a, side="left"))
        hi = int(np.searchsorted(ts, b, side="right")) - 1
        if hi >= lo:
            out.append((lo, hi))
    return out


def sweep_file(
    ts: np.ndarray, windows, cost: Mapping[str, float], percent: float = PROBATION_PERCENT
) -> _Sweep:
    """Label each row with its window and its NAB weight if it were a detection
    (sweeper.calcSweepScore)."""
    with np.errstate(
        divide="ignore", invalid="ignore"
    ):  # a one-row window divides by zero, as in NAB
        return _sweep_file(ts, windows, cost, percent)


def _sweep_file(ts, windows, cost, percent) -> _Sweep:
    n = len(ts)
    idx = np.arange(n)
    win = np.full(n, -1, dtype=np.int64)
    sweep = np.empty(n, dtype=float)
    max_tp = float(scaled_sigmoid(-1.0))
    spans = _window_indices(ts, windows)
    # Rows before any window: plain -fpWeight.
    prev_right, prev_width = None, None
    cursor = 0
    for w, (lo, hi) in enumerate(spans):
        if cursor < lo:
            seg = idx[cursor:lo]
            if prev_right is None:
                sweep[cursor:lo] = -1.0 * cost["fpWeight"]
            else:
                sweep[cursor:lo] = (
                    scaled_sigmoid(np.abs(prev_right - seg) / (prev_width - 1.0)) * cost["fpWeight"]
                )
        width = float(hi - lo + 1)
        seg = idx[lo : hi + 1]
        sweep[lo : hi + 1] = scaled_sigmoid(-(hi - seg + 1) / width) * cost["tpWeight"] / max_tp
        win[lo : hi + 1] = w
        prev_right, prev_width = hi, width
        cursor = hi + 1
    if cursor < n:
        seg = idx[cursor:]
        if prev_right is None:
            sweep[cursor:] = -1.0 * cost["fpWeight"]
        else:
            sweep[cursor:] = (
                scaled_sigmoid(np.abs(prev_right - seg) / (prev_width - 1.0)) * cost["fpWeight"]
            )
    prob = probation_length(n, percent)
    win[idx < prob] = -2
    return _Sweep(win, sweep, len(spans))


def optimise_threshold(
    scores: Mapping[str, np.ndarray], sweeps: Mapping[str, _Sweep], cost: Mapping[str, float]
) -> tuple[float, float]:
    """Return (threshold, raw corpus score) maximising the summed NAB score over all files at
    once."""
    all_s, all_sw, all_w = [], [], []
    offset = 0
    for name, sw in sweeps.items():
        keep = sw.window != -2
        s = np.asarray(scores[name], dtype=float)[keep]
        w = sw.window[keep]
        all_s.append(s)
        all_sw.append(sw.sweep[keep])
        all_w.append(np.where(w >= 0, w + offset, -1))
        offset += sw.n_windows
    s = np.concatenate(all_s)
    sw = np.concatenate(all_sw)
    w = np.concatenate(all_w)
    s = np.nan_to_num(s, nan=0.0)
    order = np.argsort(-s, kind="stable")
    s, sw, w = s[order], sw[order], w[order]
    fn = cost["fnWeight"]
    delta = np.where(w == -1, sw, 0.0)
    # For each window, a detection improves the window's value only if it beats the best so far.
    in_win = np.flatnonzero(w >= 0)
    if in_win.size:
        wid = w[in_win]
        by_win = np.argsort(wid, kind="stable")
        pos = in_win[by_win]
        wsorted = wid[by_win]
        vals = sw[pos]
        starts = np.flatnonzero(np.r_[True, wsorted[1:] != wsorted[:-1]])
        for k, st in enumerate(starts):
            en = starts[k + 1] if k + 1 < len(starts) else len(pos)
            run = np.maximum.accumulate(np.r_[-fn, vals[st:en]])
            delta[pos[st:en]] = np.diff(run)
    total = -fn * offset + np.cumsum(delta)
    # A threshold can only sit at the last row of a block of equal scores.
    last = np.r_[s[1:] != s[:-1], True]
    cand_scores = total[last]
    cand_thr = s[last]
    best = int(np.argmax(cand_scores)) if cand_scores.size else 0
    none_score = -fn * offset
    if not cand_scores.size or none_score >= cand_scores[best]:
        return 1.1, float(none_score)
    return float(cand_thr[best]), float(cand_scores[best])


def score_at_threshold(
    score: np.ndarray, sw: _Sweep, cost: Mapping[str, float], threshold: float
) -> dict:
    """NAB raw score and TP/TN/FP/FN counts of one file at `threshold` (score >= threshold
    detects)."""
    keep = sw.window != -2
    det = (np.nan_to_num(np.asarray(score, dtype=float), nan=0.0) >= threshold) & keep
    outside = sw.window == -1
    inside = sw.window >= 0
    raw = float(sw.sweep[det & outside].sum())
    for wid in range(sw.n_windows):
        hit = np.flatnonzero(det & (sw.window == wid))
        raw += float(sw.sweep[hit[0]]) if hit.size else -cost["fnWeight"]
    return {
        "score": raw,
        "tp": int((det & inside).sum()),
        "fp": int((det & outside).sum()),
        "fn": int((~det & inside).sum()),
        "tn": int((~det & outside).sum()),
        "total": int(len(sw.window)),
    }


def score_corpus(
    corpus: Mapping[str, NabFile],
    windows: Mapping[str, list],
    profiles: Mapping[str, Mapping[str, float]],
    scores: Mapping[str, np.ndarray] | Callable[[NabFile], np.ndarray],
) -> dict[str, ProfileResult]:
    """Optimise one threshold per profile over the corpus and normalise: 0 = null, 100 = perfect."""
    names = [n for n in corpus if n in windows]
    if callable(scores):
        scores = {n: np.asarray(scores(corpus[n]), dtype=float) for n in names}
    missing = [n for n in names if n not in scores]
    if missing:
        raise FxwatchError(f"no anomaly scores for {len(missing)} files, e.g. {missing[0]}")
    n_windows = sum(len(windows[n]) for n in names)
    out = {}
    for profile, cost in profiles.items():
        sweeps = {n: sweep_file(corpus[n].timestamps, windows[n], cost) for n in names}
        thr, _ = optimise_threshold(scores, sweeps, cost)
        rows = []
        raw = 0.0
        for n in names:
            r = score_at_threshold(scores[n], sweeps[n], cost, thr)
            r["file"] = n
            rows.append(r)
            raw += r["score"]
        null_raw = -cost["fnWeight"] * n_windows
        perfect = cost["tpWeight"] * n_windows
        norm = 100.0 * (raw - null_raw) / (perfect - null_raw)
        out[profile] = ProfileResult(profile, thr, raw, norm, null_raw, perfect, rows)
    return out
