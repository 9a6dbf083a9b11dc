"""Where one local stack instance lives and listens: its home folder, its ports, its security."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fxwatch.config import Settings

__all__ = ["DEFAULT_CASSANDRA_STORAGE_PORT", "StackConfig"]

DEFAULT_CASSANDRA_STORAGE_PORT = 7000


@dataclass(frozen=True)
class StackConfig:
    """One instance of the local stack, derived from the Settings its clients use.

    The default instance lives in `.stack/` and listens on the Settings' ports. A second instance
    (e.g. the secured stack of the auth tests) gets a home and ports of its own, so that it never
    touches the default one. The security follows the Settings: `CASSANDRA_USERNAME` set turns on
    Cassandra's PasswordAuthenticator, `FXWATCH_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT` makes the
    Kafka client listener SASL/PLAIN.
    """

    settings: Settings
    home: Path  # pid files, rendered configs, data, logs and generated secrets of this instance
    cassandra_storage_port: int = DEFAULT_CASSANDRA_STORAGE_PORT

    @classmethod
    def of(cls, target: Settings | StackConfig) -> StackConfig:
        """`target` itself, or the default instance of these Settings."""
        if isinstance(target, StackConfig):
            return target
        return cls(target, target.stack_dir)

    @property
    def is_default(self) -> bool:
        return self.home.resolve() == self.settings.stack_dir.resolve()

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def secrets_dir(self) -> Path:
        """Generated local secrets (owner-only files), e.g. the Cassandra admin password."""
        return self.home / "secrets"

    @property
    def jars_dir(self) -> Path:
        return self.settings.jars_dir  # resolved once per checkout, shared by every instance

    @property
    def templates_dir(self) -> Path:
        return self.settings.root / "docker" / "conf"

    @property
    def cassandra_auth(self) -> bool:
        return bool(self.settings.cassandra_username)

    @property
    def kafka_sasl(self) -> bool:
        return self.settings.kafka_security_protocol == "SASL_PLAINTEXT"
