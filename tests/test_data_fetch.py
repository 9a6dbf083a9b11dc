"""`fxwatch data fetch nab` against a local HTTP mirror of NAB: checksums, re-runs, failures."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import pandas as pd
import pytest

from fxwatch.errors import FxwatchError
from fxwatch.eval.nab import load_corpus, load_profiles, load_published_scores, load_windows
from fxwatch.fetch import (
    BASE_URL_VAR,
    PINNED_COMMIT,
    fetch_nab,
    load_manifest,
    manifest_path,
    write_manifest,
)
from support.datasets import require_dataset

CORRUPT = "labels/combined_windows.json"


class NabMirror:
    """Serve `root` as `/<commit>/<path>`, like raw.githubusercontent.com; count every request.

    `script[path]` holds one action per request for that path (an HTTP status, or bytes to send
    instead of the file), then the file itself.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.script: dict[str, list[int | bytes]] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                commit, _, rel = self.path.lstrip("/").partition("/")
                with mirror.lock:
                    mirror.requests.append(rel)
                    todo = mirror.script.get(rel)
                    action = todo.pop(0) if todo else None
                if isinstance(action, int):
                    return self.reply(action, b"")
                if isinstance(action, bytes):
                    return self.reply(200, action)
                path = mirror.root / rel
                if commit != PINNED_COMMIT or ".." in rel or not path.is_file():
                    return self.reply(404, b"404: Not Found")
                return self.reply(200, path.read_bytes())

        return Handler


@pytest.fixture(scope="module")
def mirror():
    with NabMirror(
        require_dataset("nab", "data", "labels", "config", "results", "LICENSE.txt")
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(mirror, monkeypatch):
    """Each test starts with no scripted failures, no counted requests, no base-URL variable."""
    mirror.script.clear()
    mirror.requests.clear()
    monkeypatch.delenv(BASE_URL_VAR, raising=False)


@pytest.fixture(scope="module")
def fetched(mirror, tmp_path_factory):
    """One complete fetch from the mirror (shared by the tests that only read it)."""
    dest = tmp_path_factory.mktemp("nab") / "NAB"
    fetch_nab(dest, base_url=mirror.url, progress=False)
    return dest


def _copy(fetched: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "NAB"
    shutil.copytree(fetched, dest)
    return dest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_full_fetch_writes_every_file_with_its_checksum_and_the_source(fetched):
    manifest = load_manifest()
    assert len(manifest) == 172
    assert _files(fetched) == set(manifest) | {"SOURCE.txt"}
    assert all(_sha256(fetched / rel) == sha for rel, sha in manifest.items())
    source = (fetched / "SOURCE.txt").read_text()
    assert "github.com/numenta/NAB" in source and PINNED_COMMIT in source and "MIT" in source


def test_second_run_downloads_nothing(fetched, mirror):
    before = (fetched / "SOURCE.txt").read_text()
    assert fetch_nab(fetched, base_url=mirror.url, progress=False) == fetched
    assert mirror.requests == []
    assert (fetched / "SOURCE.txt").read_text() == before


def test_damaged_or_missing_files_are_downloaded_again(fetched, mirror, tmp_path):
    dest = _copy(fetched, tmp_path)
    (dest / "config/profiles.json").write_text("{}")
    (dest / "data/realKnownCause/nyc_taxi.csv").unlink()
    fetch_nab(dest, base_url=mirror.url, progress=False)
    assert sorted(mirror.requests) == ["config/profiles.json", "data/realKnownCause/nyc_taxi.csv"]
    assert _sha256(dest / "config/profiles.json") == load_manifest()["config/profiles.json"]


def test_base_url_comes_from_the_environment(fetched, mirror, tmp_path, monkeypatch):
    dest = _copy(fetched, tmp_path)
    (dest / CORRUPT).unlink()
    monkeypatch.setenv(BASE_URL_VAR, mirror.url + "/")
    fetch_nab(dest, progress=False)
    assert mirror.requests == [CORRUPT]


def test_transient_errors_are_retried(fetched, mirror, tmp_path):
    dest = _copy(fetched, tmp_path)
    (dest / CORRUPT).unlink()
    mirror.script[CORRUPT] = [503, 500]
    fetch_nab(dest, base_url=mirror.url, progress=False, backoff_s=0.01)
    assert mirror.requests == [CORRUPT] * 3
    assert _sha256(dest / CORRUPT) == load_manifest()[CORRUPT]


def test_persistent_server_errors_give_up_with_a_clear_error(fetched, mirror, tmp_path):
    dest = _copy(fetched, tmp_path)
    (dest / CORRUPT).unlink()
    mirror.script[CORRUPT] = [503] * 3
    with pytest.raises(FxwatchError, match=rf"{CORRUPT}: HTTP 503 .* after 3 attempts"):
        fetch_nab(dest, base_url=mirror.url, progress=False, retries=2, backoff_s=0.01)
    assert not (dest / CORRUPT).exists()


def test_corrupted_file_is_named_and_leaves_nothing_behind(fetched, mirror, tmp_path):
    dest = _copy(fetched, tmp_path)
    (dest / CORRUPT).unlink()
    good = (fetched / CORRUPT).read_bytes()
    mirror.script[CORRUPT] = [b"x" + good[1:]]
    with pytest.raises(FxwatchError) as err:
        fetch_nab(dest, base_url=mirror.url, progress=False)
    message = str(err.value)
    assert CORRUPT in message and "checksum mismatch" in message and "--base-url" in message
    assert "\n" not in message
    assert not (dest / CORRUPT).exists()
    assert _files(dest) == _files(fetched) - {CORRUPT}  # no temporary or partial file


def test_not_found_is_a_clear_error(mirror, tmp_path):
    mirror.script["LICENSE.txt"] = [404]
    with pytest.raises(FxwatchError, match=r"LICENSE.txt: not found at .* \(HTTP 404\)"):
        fetch_nab(tmp_path / "NAB", base_url=mirror.url, progress=False)
    assert _files(tmp_path / "NAB") == set()
    assert mirror.requests == ["LICENSE.txt"]  # a 404 is not retried


def test_unreachable_mirror_is_a_clear_error(tmp_path):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        url = f"http://127.0.0.1:{closed.server_address[1]}"  # bound, never serving, then closed
    with pytest.raises(FxwatchError, match=r"ConnectionError .* after 2 attempts: check your"):
        fetch_nab(tmp_path / "NAB", base_url=url, progress=False, retries=1, backoff_s=0.01)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fxwatch.cli", "data", "fetch", "nab", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_failure_is_one_line_and_exit_code_one(mirror, tmp_path):
    mirror.script["LICENSE.txt"] = [404]
    done = _cli("--dest", str(tmp_path / "NAB"), "--base-url", mirror.url)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("fxwatch: error: LICENSE.txt: not found")


def test_cli_on_a_complete_copy_checks_and_says_so(fetched, mirror, tmp_path):
    dest = _copy(fetched, tmp_path)
    done = _cli("--dest", str(dest), "--base-url", mirror.url)
    assert done.returncode == 0, done.stderr
    assert f"all {len(load_manifest())} files match" in done.stdout
    assert mirror.requests == []


def test_the_fetched_copy_holds_everything_the_nab_scorer_reads(fetched):
    corpus = load_corpus(fetched)
    assert len(corpus) == 58
    windows = load_windows(fetched / "labels/combined_windows.json")
    assert set(windows) == set(corpus)
    assert set(load_profiles(fetched / "config/profiles.json")) == {
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
    }
    scores = load_published_scores(fetched / "results/windowedGaussian", list(corpus))
    assert all(len(scores[n]) == len(corpus[n].values) for n in corpus)
    published = pd.read_csv(
        fetched / "results/windowedGaussian/windowedGaussian_standard_scores.csv"
    )
    assert set(published[published.Detector != "Totals"].File) == set(corpus)
    board = json.loads((fetched / "results/final_results.json").read_text())
    assert "windowedGaussian" in board


def test_manifest_is_what_the_generator_writes_from_the_shared_copy(mirror, tmp_path):
    out = write_manifest(mirror.root, out=tmp_path / "nab.json")
    assert json.loads(out.read_text()) == json.loads(manifest_path().read_text())


def test_an_unknown_commit_has_no_manifest(tmp_path):
    with pytest.raises(FxwatchError, match="use the pinned commit"):
        fetch_nab(tmp_path, base_url="http://127.0.0.1:9", commit="0" * 40)
