"""Start, stop, inspect and reset the local services, with pid files and health checks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.stack.auth import secure_cassandra
from fxwatch.stack.config import StackConfig
from fxwatch.stack.services import Service, all_services, java_bin, java_major_version
from fxwatch.store.schema import init_schema as create_schema

__all__ = [
    "ServiceStatus",
    "process_alive",
    "stack_down",
    "stack_reset",
    "stack_status",
    "stack_up",
    "wait_until",
]


@dataclass(frozen=True)
class ServiceStatus:
    """What `fxwatch stack status` prints for one service."""

    name: str
    state: str  # running | starting | stopped | foreign (port held by a process we did not start)
    pid: int | None
    port: int
    log: Path

    def line(self) -> str:
        pid = str(self.pid) if self.pid else "-"
        return f"{self.name:<10} {self.state:<9} pid={pid:<8} port={self.port:<6} log={self.log}"


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    interval_s: float = 0.5,
    abort: Callable[[], str | None] | None = None,
) -> bool:
    """Poll `condition` until it is true or the deadline passes; `abort` may end the wait early."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if abort is not None:
            why = abort()
            if why:
                raise FxwatchError(why)
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def _read_pid(svc: Service, stack: StackConfig) -> int | None:
    path = svc.pid_path(stack)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child counts as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _check_java() -> None:
    major = java_major_version(java_bin())
    if major < 17:
        raise FxwatchError(
            f"Java {major} found but Java 17 or newer is needed: "
            "install OpenJDK 17 and set JAVA_HOME"
        )


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(t.strip() for t in text[-lines:])


def _start(svc: Service, target: Settings | StackConfig, echo: Callable[[str], None]) -> None:
    stack = StackConfig.of(target)
    pid = _read_pid(svc, stack)
    if pid:
        echo(f"{svc.name}: already running (pid {pid}, port {svc.port})")
        if not svc.ready(stack):
            if not _wait_ready(svc, stack, pid, echo):
                raise FxwatchError(
                    f"{svc.name} (pid {pid}) runs but does not answer on port "
                    f"{svc.port}; see {svc.log_path(stack)}"
                )
        return
    for port in (svc.port, *svc.extra_ports):
        if _port_in_use(port):
            raise FxwatchError(
                f"port {port} needed by {svc.name} is in use by another process: stop it "
                f"(`ss -ltnp | grep :{port}`) or change the port in .env"
            )
    svc.prepare(stack)
    log = svc.log_path(stack)
    log.parent.mkdir(parents=True, exist_ok=True)
    svc.pid_path(stack).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            svc.command(stack),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=stack.home,
            start_new_session=True,  # own process group: survives the CLI, stopped by `down`
        )
    svc.pid_path(stack).write_text(str(proc.pid))
    echo(f"{svc.name}: starting (pid {proc.pid}), log {log}")
    if not _wait_ready(svc, stack, proc.pid, echo, proc=proc):
        raise FxwatchError(
            f"{svc.name} did not answer on port {svc.port} within "
            f"{svc.start_timeout_s:.0f} s; see {log}"
        )


def _wait_ready(
    svc: Service,
    stack: StackConfig,
    pid: int,
    echo: Callable[[str], None],
    proc: subprocess.Popen | None = None,
) -> bool:
    t0 = time.monotonic()
    log = svc.log_path(stack)

    def died() -> str | None:
        alive = proc.poll() is None if proc is not None else process_alive(pid)
        if not alive:
            svc.pid_path(stack).unlink(missing_ok=True)
            return f"{svc.name} died on start; see {log}: {_tail(log)}"
        return None

    ok = wait_until(lambda: svc.ready(stack), svc.start_timeout_s, interval_s=1.0, abort=died)
    if ok:
        echo(f"{svc.name}: ready on port {svc.port} after {time.monotonic() - t0:.1f} s")
    return ok


def stack_up(
    target: Settings | StackConfig, echo: Callable[[str], None] = print, init_schema: bool = True
) -> None:
    """Start Kafka and Cassandra (idempotent), wait until both answer, then create the schema.

    With CASSANDRA_USERNAME set, Cassandra checks logins and the role is created (see
    `fxwatch.stack.auth.secure_cassandra`); with FXWATCH_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT
    the Kafka listener asks for the SASL/PLAIN user KAFKA_SASL_USERNAME.
    """
    stack = StackConfig.of(target)
    settings = stack.settings
    _check_java()
    for svc in all_services(stack):
        _start(svc, stack, echo)
    if stack.cassandra_auth:
        secure_cassandra(stack, echo)
    if init_schema:
        create_schema(settings)
        echo(f"cassandra: keyspace {settings.keyspace} ready")


def _stop(
    svc: Service, target: Settings | StackConfig, echo: Callable[[str], None], timeout_s: float = 60
) -> None:
    stack = StackConfig.of(target)
    pid = _read_pid(svc, stack)
    if not pid:
        svc.pid_path(stack).unlink(missing_ok=True)
        echo(f"{svc.name}: not running (nothing started by fxwatch)")
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not wait_until(lambda: not process_alive(pid), timeout_s, interval_s=0.3):
        echo(f"{svc.name}: did not stop within {timeout_s:.0f} s, killing")
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: not process_alive(pid), 10, interval_s=0.2)
    svc.pid_path(stack).unlink(missing_ok=True)
    echo(f"{svc.name}: stopped (pid {pid})")


def stack_down(
    target: Settings | StackConfig, echo: Callable[[str], None] = print, only: str | None = None
) -> None:
    """Stop the services this project started (never someone else's process on the same port)."""
    stack = StackConfig.of(target)
    for svc in reversed(all_services(stack)):
        if only and svc.name != only:
            continue
        _stop(svc, stack, echo)


def stack_status(target: Settings | StackConfig) -> list[ServiceStatus]:
    stack = StackConfig.of(target)
    result = []
    for svc in all_services(stack):
        pid = _read_pid(svc, stack)
        if pid:
            state = "running" if svc.ready(stack) else "starting"
        else:
            state = "foreign" if _port_in_use(svc.port) else "stopped"
        result.append(ServiceStatus(svc.name, state, pid, svc.port, svc.log_path(stack)))
    return result


def stack_reset(target: Settings | StackConfig, echo: Callable[[str], None] = print) -> None:
    """Stop the services and delete their local data, logs, configs and generated secrets (and,
    for the default instance, the streaming checkpoints)."""
    stack = StackConfig.of(target)
    stack_down(stack, echo)
    paths = [stack.data_dir, stack.logs_dir, stack.conf_dir, stack.secrets_dir]
    if stack.is_default:
        paths.append(stack.settings.checkpoint_dir)
    for path in paths:
        if path.exists():
            shutil.rmtree(path)
            echo(f"deleted {path}")
