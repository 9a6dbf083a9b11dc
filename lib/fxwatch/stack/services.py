"""How to configure, launch and health-check each local service (Kafka broker, Cassandra node)."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import string
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.stack.auth import kafka_sasl_values, write_private
from fxwatch.stack.config import StackConfig
from fxwatch.store.connection import CredentialsRejected, connect

__all__ = [
    "Service",
    "all_services",
    "cassandra_ready",
    "cassandra_service",
    "java_major_version",
    "kafka_ready",
    "kafka_service",
    "render_cassandra_conf",
    "render_kafka_conf",
]

# Cassandra's conf/jvm17-server.options, the parts a single local node needs.
_CASSANDRA_JAVA17_FLAGS = [
    "-Djdk.attach.allowAttachSelf=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    *(
        f"--add-exports={m}=ALL-UNNAMED"
        for m in (
            "java.base/jdk.internal.misc",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi",
            "java.rmi/sun.rmi.registry",
            "java.rmi/sun.rmi.server",
            "java.sql/java.sql",
            "java.base/java.lang.ref",
            "jdk.unsupported/sun.misc",
            "jdk.compiler/com.sun.tools.javac.file",
            "jdk.attach/sun.tools.attach",
            "java.management/com.sun.jmx.remote.security",
            "java.base/sun.nio.ch",
        )
    ),
    *(
        f"--add-opens={m}=ALL-UNNAMED"
        for m in (
            "java.base/java.lang.module",
            "java.base/jdk.internal.loader",
            "java.base/jdk.internal.ref",
            "java.base/jdk.internal.reflect",
            "java.base/jdk.internal.math",
            "java.base/jdk.internal.module",
            "java.base/jdk.internal.util.jar",
            "java.base/sun.nio.ch",
            "java.base/java.io",
            "java.base/java.lang.reflect",
            "java.base/java.lang",
            "java.base/java.util",
            "java.base/java.nio",
            "java.base/java.util.concurrent",
            "java.base/java.util.concurrent.atomic",
            "jdk.management/com.sun.management.internal",
            "jdk.compiler/com.sun.tools.javac",
        )
    ),
]


@dataclass(frozen=True)
class Service:
    """One local service: its ports, how to prepare and launch it, and how to know it is ready."""

    name: str
    port: int
    extra_ports: tuple[int, ...]
    jars_group: str
    prepare: Callable[[StackConfig], None]
    command: Callable[[StackConfig], list[str]]
    ready: Callable[[StackConfig], bool]
    start_timeout_s: float

    def data_dir(self, stack: Settings | StackConfig) -> Path:
        return StackConfig.of(stack).data_dir / self.name

    def log_path(self, stack: Settings | StackConfig) -> Path:
        return StackConfig.of(stack).logs_dir / f"{self.name}.log"

    def pid_path(self, stack: Settings | StackConfig) -> Path:
        return StackConfig.of(stack).run_dir / f"{self.name}.pid"


def java_bin() -> str:
    """The `java` executable, or a clear error saying how to get Java 17."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise FxwatchError(
            "Java not found: install OpenJDK 17 "
            "(e.g. `apt install openjdk-17-jdk-headless`) or set JAVA_HOME"
        )
    return found


def java_major_version(java: str | None = None) -> int:
    """The major version of the java on PATH/JAVA_HOME (17, 21, ...)."""
    out = subprocess.run(
        [java or java_bin(), "-version"], capture_output=True, text=True, timeout=30
    )
    text = out.stderr + out.stdout
    for token in text.replace('"', " ").split():
        head = token.split(".")[0].split("-")[0]
        if head.isdigit() and ("." in token or token.isdigit()) and int(head) >= 8:
            major = int(head)
            return 8 if major == 1 else major
    raise FxwatchError(f"cannot tell the Java version from `java -version`: {text.strip()[:200]}")


def classpath(stack: StackConfig, group: str) -> str:
    folder = stack.jars_dir / group
    jars = sorted(folder.glob("*.jar")) if folder.is_dir() else []
    if not jars:
        raise FxwatchError(f"the {group} jars are not resolved in {folder}: run `make setup` first")
    return ":".join(str(j) for j in jars)


def _render(template: Path, dest: Path, **values: object) -> None:
    """Fill a template's $-placeholders; owner-only, as a rendered config may hold a secret."""
    text = string.Template(template.read_text(encoding="utf-8")).substitute(
        {k: str(v) for k, v in values.items()}
    )
    write_private(dest, text)


def _conf(stack: StackConfig, name: str) -> Path:
    path = stack.templates_dir / name
    if not path.exists():
        raise FxwatchError(f"missing config template {path}: is FXWATCH_HOME the fxwatch checkout?")
    return path


def _port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---- Kafka ---------------------------------------------------------------------------------------


def render_kafka_conf(stack: StackConfig) -> Path:
    """Write the broker's server.properties (owner-only: with SASL it holds the PLAIN user)."""
    settings = stack.settings
    conf = stack.conf_dir / "kafka"
    sasl = kafka_sasl_values(stack)  # {} without SASL; checks the settings it needs first
    sasl_block = ""
    if sasl:
        template = _conf(stack, "kafka-sasl.properties").read_text(encoding="utf-8")
        sasl_block = string.Template(template).substitute(sasl)
    _render(
        _conf(stack, "kafka-server.properties"),
        conf / "server.properties",
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        data_dir=stack.data_dir / "kafka",
        protocol="SASL_PLAINTEXT" if sasl else "PLAINTEXT",
        sasl=sasl_block,
    )
    shutil.copyfile(_conf(stack, "kafka-log4j2.properties"), conf / "log4j2.properties")
    return conf / "server.properties"


def _kafka_prepare(stack: StackConfig) -> None:
    data = stack.data_dir / "kafka"
    conf = render_kafka_conf(stack).parent
    if (data / "meta.properties").exists():
        return  # storage formatted once; formatting again would refuse or wipe the cluster id
    data.mkdir(parents=True, exist_ok=True)
    cid = kafka_cluster_id()
    cmd = [
        java_bin(),
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
        "-cp",
        classpath(stack, "kafka"),
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        cid,
        "-c",
        str(conf / "server.properties"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip()[-400:]
        raise FxwatchError(f"formatting Kafka storage failed: {detail}")


def kafka_cluster_id() -> str:
    """A random cluster id as Kafka makes one: 16 bytes, URL-safe base64, not starting with '-'.

    (An id starting with '-' is read as an option by the storage tool: about 1 start in 64 failed.)
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _kafka_command(stack: StackConfig) -> list[str]:
    conf = stack.conf_dir / "kafka"
    return [
        java_bin(),
        f"-Xms{stack.settings.kafka_heap}",
        f"-Xmx{stack.settings.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
        "-cp",
        classpath(stack, "kafka"),
        "kafka.Kafka",
        str(conf / "server.properties"),
    ]


def kafka_ready(stack: Settings | StackConfig) -> bool:
    """True when the broker answers a metadata request (through SASL when the settings say so)."""
    settings = StackConfig.of(stack).settings
    if not _port_answers("127.0.0.1", settings.kafka_port):
        return False
    try:
        # lazy: every `fxwatch` command loads this module; kafka only for the health check
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            **settings.kafka_client_config(), request_timeout_ms=5000, client_id="fxwatch-health"
        )
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()
    except Exception:
        return False


# ---- Cassandra -----------------------------------------------------------------------------------


def render_cassandra_conf(stack: StackConfig) -> Path:
    """Write cassandra.yaml: PasswordAuthenticator + CassandraAuthorizer with CASSANDRA_USERNAME."""
    conf = stack.conf_dir / "cassandra"
    _render(
        _conf(stack, "cassandra.yaml"),
        conf / "cassandra.yaml",
        port=stack.settings.cassandra_port,
        storage_port=stack.cassandra_storage_port,
        data_dir=stack.data_dir / "cassandra",
        authenticator="PasswordAuthenticator" if stack.cassandra_auth else "AllowAllAuthenticator",
        authorizer="CassandraAuthorizer" if stack.cassandra_auth else "AllowAllAuthorizer",
    )
    shutil.copyfile(_conf(stack, "cassandra-logback.xml"), conf / "logback.xml")
    return conf / "cassandra.yaml"


def _cassandra_prepare(stack: StackConfig) -> None:
    data = stack.data_dir / "cassandra"
    for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    render_cassandra_conf(stack)


def _cassandra_command(stack: StackConfig) -> list[str]:
    settings = stack.settings
    conf = stack.conf_dir / "cassandra"
    cp = classpath(stack, "cassandra")
    jamm = next((p for p in cp.split(":") if Path(p).name.startswith("jamm-")), None)
    data = stack.data_dir / "cassandra"
    cmd = [
        java_bin(),
        f"-Xms{settings.cassandra_heap}",
        f"-Xmx{settings.cassandra_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=100",
        "-Xss512k",
        "-Djava.net.preferIPv4Stack=true",
        "-Djava.awt.headless=true",
        f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
        f"-Dlogback.configurationFile={conf / 'logback.xml'}",
        f"-Dcassandra.storagedir={data}",
        f"-Dcassandra.logdir={stack.logs_dir}",
        "-Dcassandra-foreground=yes",
        "-Dcassandra.ring_delay_ms=0",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.superuser_setup_delay_ms=0",
        "-Dcassandra.migration_task_wait_in_seconds=0",
        *_CASSANDRA_JAVA17_FLAGS,
    ]
    if jamm:
        cmd.append(f"-javaagent:{jamm}")
    cmd += ["-cp", f"{conf}:{cp}", "org.apache.cassandra.service.CassandraDaemon"]
    return cmd


def cassandra_ready(stack: Settings | StackConfig) -> bool:
    """True when the node answers CQL (`SELECT release_version FROM system.local`).

    On a secured node whose login role is not created yet, a refused login counts too: the node
    answered (`fxwatch stack up` then creates the role).
    """
    settings = StackConfig.of(stack).settings
    if not _port_answers("127.0.0.1", settings.cassandra_port):
        return False
    try:
        cluster, session = connect(settings, keyspace=None, connect_timeout=5)
    except CredentialsRejected:
        return True
    except Exception:
        return False
    try:
        session.execute("SELECT release_version FROM system.local", timeout=5)
        return True
    except Exception:
        return False
    finally:
        cluster.shutdown()


def kafka_service(stack: Settings | StackConfig) -> Service:
    settings = StackConfig.of(stack).settings
    return Service(
        name="kafka",
        port=settings.kafka_port,
        extra_ports=(settings.kafka_controller_port,),
        jars_group="kafka",
        prepare=_kafka_prepare,
        command=_kafka_command,
        ready=kafka_ready,
        start_timeout_s=90,
    )


def cassandra_service(stack: Settings | StackConfig) -> Service:
    stack = StackConfig.of(stack)
    return Service(
        name="cassandra",
        port=stack.settings.cassandra_port,
        extra_ports=(stack.cassandra_storage_port,),
        jars_group="cassandra",
        prepare=_cassandra_prepare,
        command=_cassandra_command,
        ready=cassandra_ready,
        start_timeout_s=180,
    )


def all_services(stack: Settings | StackConfig) -> list[Service]:
    return [kafka_service(stack), cassandra_service(stack)]
