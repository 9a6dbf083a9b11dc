"""The stack manager's error paths and bookkeeping, without touching the running services."""

from __future__ import annotations

import shutil
import socket
import stat
import sys
from pathlib import Path

import pytest

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.stack import manager
from fxwatch.stack.config import StackConfig
from fxwatch.stack.services import Service, java_major_version, kafka_service

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def sandbox(tmp_path: Path) -> Settings:
    """Settings rooted in an empty folder with the config templates but no jars, on free ports."""
    shutil.copytree(REPO / "docker" / "conf", tmp_path / "docker" / "conf")
    return Settings(
        root=tmp_path,
        kafka_bootstrap=f"127.0.0.1:{_free_port()}",
        kafka_controller_port=_free_port(),
    )


def test_port_held_by_another_process_is_named_with_the_fix(sandbox: Settings):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", sandbox.kafka_port))
        holder.listen()
        with pytest.raises(
            FxwatchError, match=rf"port {sandbox.kafka_port} .* in use by another process"
        ):
            manager._start(kafka_service(sandbox), sandbox, echo=lambda _: None)
        assert manager.stack_status(sandbox)[0].state == "foreign"


def test_unresolved_jars_tell_to_run_make_setup(sandbox: Settings):
    with pytest.raises(FxwatchError, match="run `make setup`"):
        manager._start(kafka_service(sandbox), sandbox, echo=lambda _: None)


def test_service_dying_on_start_names_its_log(sandbox: Settings):
    svc = Service(
        name="dier",
        port=_free_port(),
        extra_ports=(),
        jars_group="none",
        prepare=lambda s: None,
        command=lambda s: [sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"],
        ready=lambda s: False,
        start_timeout_s=30,
    )
    with pytest.raises(
        FxwatchError, match=r"dier died on start; see .*dier\.log.*boom: bad config"
    ):
        manager._start(svc, sandbox, echo=lambda _: None)
    assert not svc.pid_path(sandbox).exists()


def test_up_is_idempotent_and_down_stops_only_what_it_started(sandbox: Settings):
    port = _free_port()
    server = (
        f"import socket,time\ns=socket.socket();s.bind(('127.0.0.1',{port}));s.listen()\n"
        "while True: time.sleep(1)"
    )
    svc = Service(
        name="toy",
        port=port,
        extra_ports=(),
        jars_group="none",
        prepare=lambda s: None,
        command=lambda s: [sys.executable, "-c", server],
        ready=lambda s: manager._port_in_use(port),
        start_timeout_s=30,
    )
    lines: list[str] = []
    manager._start(svc, sandbox, echo=lines.append)
    pid = int(svc.pid_path(sandbox).read_text())
    manager._start(svc, sandbox, echo=lines.append)  # second `up`: says so, starts nothing
    assert any("already running" in line for line in lines)
    assert int(svc.pid_path(sandbox).read_text()) == pid
    manager._stop(svc, sandbox, echo=lines.append)
    assert not manager.process_alive(pid)
    manager._stop(svc, sandbox, echo=lines.append)  # nothing left to stop
    assert "not running" in lines[-1]


def test_old_java_is_refused_with_the_fix(tmp_path: Path, monkeypatch):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert java_major_version() == 11
    with pytest.raises(FxwatchError, match="Java 17"):
        manager._check_java()


def test_missing_java_says_how_to_install(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FxwatchError, match="OpenJDK 17"):
        manager._check_java()


def test_status_of_the_running_local_stack_is_reported_per_service():
    statuses = manager.stack_status(Settings.from_env())
    assert [s.name for s in statuses] == ["kafka", "cassandra"]
    for s in statuses:
        assert s.state in {"running", "starting", "stopped", "foreign"}
        assert str(s.port) in s.line() and str(s.log) in s.line()


def test_kafka_cluster_ids_never_look_like_an_option():
    from fxwatch.stack.services import kafka_cluster_id

    ids = [kafka_cluster_id() for _ in range(5000)]  # ~78 would start with '-' without the guard
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)


def test_reset_of_a_second_instance_keeps_the_default_ones_checkpoints(sandbox: Settings):
    second = StackConfig(sandbox, sandbox.root / "second", cassandra_storage_port=_free_port())
    mine = [second.data_dir, second.logs_dir, second.conf_dir, second.secrets_dir]
    for folder in (*mine, sandbox.checkpoint_dir, sandbox.data_dir):
        folder.mkdir(parents=True)
    manager.stack_reset(second, echo=lambda _: None)
    assert not any(folder.exists() for folder in mine)
    assert sandbox.checkpoint_dir.is_dir() and sandbox.data_dir.is_dir()
    manager.stack_reset(sandbox, echo=lambda _: None)  # the default instance: checkpoints too
    assert not sandbox.checkpoint_dir.exists() and not sandbox.data_dir.exists()
