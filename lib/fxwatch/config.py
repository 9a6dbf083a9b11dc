"""One frozen Settings object, read from the environment and an optional `.env` file."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from fxwatch.errors import FxwatchError

__all__ = ["Settings", "project_root", "load_dotenv_file"]

_PREFIX = "FXWATCH_"
# Kafka's legal topic names: 1-249 ASCII letters, digits, '.', '_', '-'; not '.' or '..'.
_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")
_TOPIC_FIELDS = ("quotes_topic", "dlq_topic", "alerts_topic", "incidents_topic")
# Cassandra's legal keyspace names: a letter, then letters, digits, '_'; 48 at most.
_KEYSPACE = re.compile(r"[A-Za-z]\w{0,47}", re.ASCII)


def project_root() -> Path:
    """The repository root: FXWATCH_HOME, else the checkout this package lives in, else cwd."""
    home = os.environ.get("FXWATCH_HOME")
    if home:
        return Path(home).resolve()
    here = Path(__file__).resolve()
    candidate = here.parents[2]  # lib/fxwatch/config.py -> repo root
    if (candidate / "pyproject.toml").exists() and (candidate / "lib" / "fxwatch").is_dir():
        return candidate
    return Path.cwd().resolve()


def load_dotenv_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines of a .env file (comments, blank lines and `export ` allowed)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _secret() -> object:
    # Secrets never appear in repr(), logs, or notebook parameters.
    return field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Settings:
    """Every knob of fxwatch, with defaults that run against the local stack.

    Environment variable for a field: ``FXWATCH_<FIELD>`` upper-cased
    (e.g. FXWATCH_KAFKA_BOOTSTRAP), except the credentials, which use their conventional names
    (TRUEFX_USER, TRUEFX_PASSWORD, CASSANDRA_USERNAME, CASSANDRA_PASSWORD, KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD) and the Spark master, which also honours SPARK_MASTER.
    """

    root: Path = field(default_factory=project_root)
    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str | None = None  # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    kafka_ssl_cafile: str | None = None
    kafka_sasl_username: str | None = _secret()
    kafka_sasl_password: str | None = _secret()
    quotes_topic: str = "fx-quotes"
    dlq_topic: str = "fx-quotes-dlq"
    alerts_topic: str = "fx-alerts"
    incidents_topic: str = "fx-incidents"  # incidents: alerts grouped per pair/triangle
    quotes_partitions: int = 4
    # Cassandra
    cassandra_hosts: str = "127.0.0.1"  # comma-separated
    cassandra_port: int = 9042
    keyspace: str = "fxwatch"
    cassandra_replication: int = 1
    cassandra_username: str | None = _secret()
    cassandra_password: str | None = _secret()
    # Spark
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"
    # one shuffle (and state store) partition per core of local[2]: every stateful query pays per
    # partition and batch; the backlog with every output on went 4 257 -> 4 904 ticks/s (means of
    # two paired `bench pipeline` runs, 2026-11-29; same rows). A checkpoint keeps the number it
    # was started with.
    spark_shuffle_partitions: int = 2
    spark_ui: bool = False
    # Local stack (ports are also the ones the stack manager binds)
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    cassandra_heap: str = "1G"
    # TrueFX
    truefx_url: str = "https://webrates.truefx.com/rates/connect.html"
    truefx_user: str | None = _secret()
    truefx_password: str | None = _secret()

    def __post_init__(self) -> None:
        for name in _TOPIC_FIELDS:  # a bad name fails here, not deep inside a Kafka client
            topic = getattr(self, name)
            if not (isinstance(topic, str) and _TOPIC.fullmatch(topic)) or topic in (".", ".."):
                raise FxwatchError(
                    f"{_PREFIX}{name.upper()}={topic!r} is not a Kafka topic name: use 1-249 "
                    "letters, digits, '.', '_' or '-' (not '.' or '..')"
                )

    # ---- derived paths -------------------------------------------------------------------
    @property
    def stack_dir(self) -> Path:
        return self.root / ".stack"

    @property
    def jars_dir(self) -> Path:
        return self.stack_dir / "jars"

    @property
    def data_dir(self) -> Path:
        return self.stack_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def checkpoint_dir(self) -> Path:
        return self.stack_dir / "checkpoints"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def samples_dir(self) -> Path:
        return self.root / "data" / "samples"

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])

    @property
    def cassandra_host_list(self) -> list[str]:
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        """Read settings: defaults < `.env` at the project root (or `dotenv`) < the environment."""
        environ = dict(os.environ if env is None else env)
        root = Path(environ.get("FXWATCH_HOME") or project_root())
        merged = load_dotenv_file(dotenv or root / ".env")
        merged.update(environ)
        kwargs: dict[str, object] = {"root": root}
        special = {
            "truefx_user": "TRUEFX_USER",
            "truefx_password": "TRUEFX_PASSWORD",
            "cassandra_username": "CASSANDRA_USERNAME",
            "cassandra_password": "CASSANDRA_PASSWORD",
            "kafka_sasl_username": "KAFKA_SASL_USERNAME",
            "kafka_sasl_password": "KAFKA_SASL_PASSWORD",
        }
        for f in fields(cls):
            if f.name == "root":
                continue
            key = special.get(f.name, _PREFIX + f.name.upper())
            raw = merged.get(key)
            if f.name == "spark_master" and raw is None:
                raw = merged.get("SPARK_MASTER")
            if raw is None or raw == "":
                continue
            kwargs[f.name] = _coerce(f.name, f.type, raw)
        return cls(**kwargs)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (Settings is frozen)."""
        return replace(self, **changes)

    def isolated(self, tag: str | None = None, keyspace: bool = False) -> Settings:
        """A copy apart from every other run: each Kafka topic name ends in `-<tag>` and, with
        `keyspace`, the keyspace name in `_<tag>` ('-' and '.' become '_').

        `tag` defaults to a new random one (8 hex digits), so a rerun starts on empty topics; a
        fixed tag (a timestamp, a test name) makes a run reproducible.
        """
        tag = uuid.uuid4().hex[:8] if tag is None else tag
        if not _TOPIC.fullmatch(tag):
            raise FxwatchError(
                f"isolation tag {tag!r}: use letters, digits, '.', '_' or '-' (None: a random one)"
            )
        changes: dict[str, object] = {
            name: f"{getattr(self, name)}-{tag}" for name in _TOPIC_FIELDS
        }
        if keyspace:
            name = f"{self.keyspace}_{re.sub(r'[^A-Za-z0-9_]', '_', tag)}"
            if not _KEYSPACE.fullmatch(name):
                raise FxwatchError(
                    f"keyspace {name!r} is not a Cassandra keyspace name (at most 48 letters, "
                    "digits or '_'): use a shorter tag"
                )
            changes["keyspace"] = name
        return replace(self, **changes)

    @property
    def topics(self) -> tuple[str, ...]:
        """Every Kafka topic these settings name (quotes, dead letters, alerts, ...)."""
        return tuple(getattr(self, name) for name in _TOPIC_FIELDS)

    # ---- client configuration ----------------------------------------------------------------
    def kafka_client_config(self) -> dict[str, object]:
        """kafka-python keyword arguments for security settings (empty for PLAINTEXT)."""
        cfg: dict[str, object] = {"bootstrap_servers": self.kafka_bootstrap.split(",")}
        if self.kafka_security_protocol != "PLAINTEXT":
            cfg["security_protocol"] = self.kafka_security_protocol
        if self.kafka_sasl_mechanism:
            cfg["sasl_mechanism"] = self.kafka_sasl_mechanism
            cfg["sasl_plain_username"] = self.kafka_sasl_username
            cfg["sasl_plain_password"] = self.kafka_sasl_password
        if self.kafka_ssl_cafile:
            cfg["ssl_cafile"] = self.kafka_ssl_cafile
        return cfg

    def spark_kafka_options(self) -> dict[str, str]:
        """Options for Spark's Kafka source/sink (`kafka.`-prefixed client settings)."""
        opts = {"kafka.bootstrap.servers": self.kafka_bootstrap}
        if self.kafka_security_protocol != "PLAINTEXT":
            opts["kafka.security.protocol"] = self.kafka_security_protocol
        if self.kafka_sasl_mechanism:
            opts["kafka.sasl.mechanism"] = self.kafka_sasl_mechanism
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if self.kafka_sasl_mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            opts["kafka.sasl.jaas.config"] = (
                f'{module} required username="{self.kafka_sasl_username}" '
                f'password="{self.kafka_sasl_password}";'
            )
        if self.kafka_ssl_cafile:
            opts["kafka.ssl.truststore.type"] = "PEM"
            opts["kafka.ssl.truststore.location"] = self.kafka_ssl_cafile
        return opts


def _coerce(name: str, annotation: object, raw: str) -> object:
    text = str(annotation)
    if "bool" in text:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if text.startswith("int") or text == "<class 'int'>":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"FXWATCH_{name.upper()} must be an integer, got {raw!r}") from None
    return raw
