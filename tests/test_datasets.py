"""Dataset folders: the environment variable wins, else ../shared/data next to the repository."""

from __future__ import annotations

import pytest

from fxwatch.datasets import DATASETS, dataset_dir, lean_dir, nab_dir
from fxwatch.errors import FxwatchError
from support.datasets import require_dataset


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    """A repository root at tmp_path/repo (via FXWATCH_HOME) and no dataset variables set."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setenv("FXWATCH_HOME", str(root))
    for var, _ in DATASETS.values():
        monkeypatch.delenv(var, raising=False)
    return root


def test_default_is_shared_data_next_to_the_repository(repo):
    nab = repo.parent / "shared" / "data" / "nab"
    lean = repo.parent / "shared" / "data" / "fx" / "quantconnect_lean"
    nab.mkdir(parents=True)
    lean.mkdir(parents=True)
    assert nab_dir() == nab
    assert lean_dir() == lean


def test_a_checkout_nested_deeper_finds_shared_data_above_it(tmp_path, monkeypatch):
    """A CI work tree like <work>/ci/run-7/repo finds <work>/shared/data; the nearest one wins."""
    for var, _ in DATASETS.values():
        monkeypatch.delenv(var, raising=False)
    repo = tmp_path / "ci" / "run-7" / "repo"
    repo.mkdir(parents=True)
    monkeypatch.setenv("FXWATCH_HOME", str(repo))
    far = tmp_path / "shared" / "data" / "nab"
    far.mkdir(parents=True)
    assert nab_dir() == far
    near = tmp_path / "ci" / "shared" / "data" / "nab"
    near.mkdir(parents=True)
    assert nab_dir() == near
    with pytest.raises(FxwatchError, match="FXWATCH_LEAN_DIR"):
        lean_dir()


def test_environment_variable_wins_over_the_default(repo, tmp_path, monkeypatch):
    (repo.parent / "shared" / "data" / "nab").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere" / "NAB"
    elsewhere.mkdir(parents=True)
    monkeypatch.setenv("FXWATCH_NAB_DIR", str(elsewhere))
    monkeypatch.setenv("FXWATCH_LEAN_DIR", str(elsewhere))
    assert nab_dir() == elsewhere
    assert lean_dir() == elsewhere


@pytest.mark.parametrize("kind, var", [("nab", "FXWATCH_NAB_DIR"), ("lean", "FXWATCH_LEAN_DIR")])
def test_missing_folder_names_the_variable_to_set(repo, kind, var):
    with pytest.raises(FxwatchError) as err:
        dataset_dir(kind)
    message = str(err.value)
    assert var in message and str(repo.parent / "shared" / "data") in message
    assert "\n" not in message
    assert not dataset_dir(kind, must_exist=False).exists()  # callers that fall back get the path


def test_missing_folder_named_by_the_variable_says_so(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("FXWATCH_LEAN_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FxwatchError, match=r"nowhere \(from \$FXWATCH_LEAN_DIR\)"):
        lean_dir()


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(FxwatchError, match="nab, lean"):
        dataset_dir("tick-archive")


def test_require_dataset_returns_the_folder_when_complete(repo, tmp_path, monkeypatch):
    (tmp_path / "nab" / "data").mkdir(parents=True)
    monkeypatch.setenv("FXWATCH_NAB_DIR", str(tmp_path / "nab"))
    assert require_dataset("nab", "data") == tmp_path / "nab"


def test_require_dataset_skips_locally_and_fails_under_ci(repo, tmp_path, monkeypatch):
    (tmp_path / "nab").mkdir()
    monkeypatch.setenv("FXWATCH_NAB_DIR", str(tmp_path / "nab"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="lacks labels: set FXWATCH_NAB_DIR"):
        require_dataset("nab", "labels")
    monkeypatch.setenv("CI", "")  # empty counts as unset
    with pytest.raises(pytest.skip.Exception, match="FXWATCH_LEAN_DIR"):
        require_dataset("lean")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="FXWATCH_LEAN_DIR"):
        require_dataset("lean")
