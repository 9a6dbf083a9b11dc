"""Download the NAB corpus at a pinned commit, each file checked against a shipped SHA-256 list."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import requests
from tqdm import tqdm

from fxwatch.datasets import dataset_dir
from fxwatch.errors import FxwatchError

__all__ = [
    "BASE_URL_VAR",
    "DEFAULT_BASE_URL",
    "NAB_FILES",
    "NAB_REPOSITORY",
    "PINNED_COMMIT",
    "fetch_nab",
    "load_manifest",
    "manifest_path",
    "write_manifest",
]

NAB_REPOSITORY = "numenta/NAB"
PINNED_COMMIT = "ea702d75cc2258d9d7dd35ca8e5e2539d71f3140"  # 2024-12-03, relicensed to MIT
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/numenta/NAB"  # {base}/{commit}/{path}
BASE_URL_VAR = "FXWATCH_NAB_BASE_URL"
MANIFEST_DIR = Path(__file__).parent / "data_manifests"

# What the project reads from a NAB root (eval/nab.py, `fxwatch nab`, tests/test_nab_*.py),
# as globs relative to it; `write_manifest` lists the files matching them.
NAB_FILES = (
    "LICENSE.txt",
    "data/README.md",
    "data/*/*.csv",  # the corpus: 58 files
    "labels/*.json",  # combined_labels, combined_windows(_tiny)
    "config/*.json",  # profiles, thresholds
    "results/final_results.json",  # the published scoreboard
    "results/*/*_scores.csv",  # per-detector, per-profile raw scores
    "results/windowedGaussian/*/*.csv",  # per-record output the scorer must reproduce
)

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_CHUNK = 1 << 16


def manifest_path(commit: str = PINNED_COMMIT) -> Path:
    """The manifest shipped for `commit`: data_manifests/nab-<first 8 hex digits>.json."""
    return MANIFEST_DIR / f"nab-{commit[:8]}.json"


def load_manifest(commit: str = PINNED_COMMIT) -> dict[str, str]:
    """{relative path: SHA-256 hex} of the NAB files at `commit`."""
    path = manifest_path(commit)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FxwatchError(
            f"no NAB manifest for commit {commit} ({path.name}): "
            f"use the pinned commit {PINNED_COMMIT}"
        ) from None
    if raw.get("commit") != commit:
        raise FxwatchError(
            f"{path} is for commit {raw.get('commit')}, not {commit}: "
            f"regenerate it with `fxwatch data manifest nab --from DIR`"
        )
    return {rel: entry["sha256"] for rel, entry in raw["files"].items()}


def write_manifest(
    src: str | os.PathLike, commit: str = PINNED_COMMIT, out: str | os.PathLike | None = None
) -> Path:
    """Developer tool: list the NAB_FILES under `src` (a copy of NAB at `commit`) with SHA-256."""
    root = Path(src)
    found = sorted({p for pattern in NAB_FILES for p in root.glob(pattern) if p.is_file()})
    missing = [pattern for pattern in NAB_FILES if not any(root.glob(pattern))]
    if missing:
        raise FxwatchError(f"{root} lacks {', '.join(missing)}: point --from at a NAB checkout")
    files = {
        p.relative_to(root).as_posix(): {"sha256": _sha256(p), "size": p.stat().st_size}
        for p in found
    }
    doc = {"repository": NAB_REPOSITORY, "commit": commit, "licence": "MIT", "files": files}
    target = Path(out) if out else manifest_path(commit)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


def fetch_nab(
    dest: str | os.PathLike | None = None,
    base_url: str | None = None,
    commit: str = PINNED_COMMIT,
    *,
    retries: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: bool | None = None,
) -> Path:
    """Download NAB at `commit` into `dest` (default: where fxwatch looks for it) and return it.

    Each file comes from `{base_url}/{commit}/{path}` (base_url: the argument, else
    $FXWATCH_NAB_BASE_URL, else raw.githubusercontent.com), goes to a temporary file, and is moved
    into place only when its SHA-256 matches the manifest. Files already present with the right
    checksum are kept, so a re-run downloads only what is missing or damaged. Transient HTTP
    errors are retried with back-off; a 404, another client error or a checksum mismatch raises
    FxwatchError.
    `progress=None` shows a bar only on a terminal.
    """
    manifest = load_manifest(commit)
    root = Path(dest) if dest is not None else dataset_dir("nab", must_exist=False)
    base = (base_url or os.environ.get(BASE_URL_VAR) or DEFAULT_BASE_URL).rstrip("/")
    with (
        requests.Session() as session,
        tqdm(
            manifest.items(),
            desc="nab",
            unit="file",
            file=sys.stderr,
            disable=None if progress is None else not progress,
        ) as bar,
    ):
        for rel, sha in bar:
            target = root / rel
            if target.is_file() and _sha256(target) == sha:
                continue
            url = f"{base}/{commit}/{rel}"
            _download(session, url, rel, target, sha, retries, backoff_s, timeout_s)
    _write_source(root, base, commit, len(manifest))
    return root


def _download(
    session: requests.Session,
    url: str,
    rel: str,
    target: Path,
    sha: str,
    retries: int,
    backoff_s: float,
    timeout_s: float,
) -> None:
    """GET `url` into a temporary file beside `target`; move it there when the SHA-256 matches."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
    except OSError as exc:
        raise FxwatchError(
            f"cannot write {target.parent} ({exc.strerror}): "
            "choose a writable folder with --dest or FXWATCH_NAB_DIR"
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = _get(session, url, rel, out, retries, backoff_s, timeout_s)
        if got != sha:
            raise FxwatchError(
                f"{rel}: checksum mismatch (sha256 {got[:12]}…, expected "
                f"{sha[:12]}…) from {url}: the server sent a different file; "
                "re-run, or point --base-url at an unmodified mirror of "
                f"{NAB_REPOSITORY}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _get(
    session: requests.Session,
    url: str,
    rel: str,
    out,
    retries: int,
    backoff_s: float,
    timeout_s: float,
) -> str:
    """Stream `url` into the open file `out` (from the start on each attempt); its SHA-256."""
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff_s * 2 ** (attempt - 1))
        out.seek(0)
        out.truncate()
        digest = hashlib.sha256()
        try:
            with session.get(url, stream=True, timeout=(10.0, timeout_s)) as resp:
                if resp.status_code in _RETRY_STATUS:
                    problem = f"HTTP {resp.status_code}"
                    continue
                if resp.status_code == 404:
                    raise FxwatchError(
                        f"{rel}: not found at {url} (HTTP 404): check that "
                        f"--base-url / ${BASE_URL_VAR} serves {NAB_REPOSITORY} "
                        "as <base>/<commit>/<path>"
                    )
                if resp.status_code != 200:
                    raise FxwatchError(
                        f"{rel}: HTTP {resp.status_code} from {url}: check "
                        f"--base-url / ${BASE_URL_VAR} and your network access"
                    )
                for chunk in resp.iter_content(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            out.flush()
            return digest.hexdigest()
        except _TRANSIENT as exc:
            problem = type(exc).__name__
    raise FxwatchError(
        f"{rel}: {problem} from {url} after {retries + 1} attempts: check your "
        f"network, or set --base-url / ${BASE_URL_VAR} to a reachable mirror"
    )


def _write_source(root: Path, base: str, commit: str, n_files: int) -> None:
    """SOURCE.txt naming repository, commit and licence; an existing one naming `commit` stays."""
    path = root / "SOURCE.txt"
    if path.is_file() and commit in path.read_text(encoding="utf-8", errors="replace"):
        return
    path.write_text(
        "Numenta Anomaly Benchmark (NAB): corpus, labels, configuration and published results.\n"
        f"Repository: https://github.com/{NAB_REPOSITORY}\n"
        f"Commit:     {commit}\n"
        "Licence:    MIT (Copyright 2014-2024 Numenta Inc.) - full text in LICENSE.txt here.\n"
        f"Fetched by `fxwatch data fetch nab` from {base}/{commit}/: {n_files} files, each\n"
        f"checked against its SHA-256 in fxwatch's {manifest_path(commit).name}.\n",
        encoding="utf-8",
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
