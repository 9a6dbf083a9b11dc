"""The Kafka topics fxwatch uses, in one spec, and idempotent creation of them."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from fxwatch.errors import FxwatchError

__all__ = [
    "TopicSpec",
    "topic_specs",
    "ensure_topics",
    "broker_unreachable_message",
    "admin_client",
]

log = logging.getLogger(__name__)


class RedactSecrets(logging.Filter):
    """kafka-python's admin client logs its whole configuration at DEBUG, the SASL password with
    it: such a record is logged with the secret values replaced by '***'."""

    SECRET_KEYS = ("sasl_plain_password", "ssl_password", "sasl_oauth_token_provider")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, dict) for a in args):
            record.args = tuple(self._redacted(a) if isinstance(a, dict) else a for a in args)
        elif isinstance(args, dict):
            record.args = self._redacted(args)
        return True

    def _redacted(self, config: dict) -> dict:
        return {k: ("***" if k in self.SECRET_KEYS and v else v) for k, v in config.items()}


logging.getLogger("kafka.admin.client").addFilter(RedactSecrets())

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    """Name, partitions, replication factor and topic-level configs of one topic."""

    name: str
    partitions: int
    replication: int = 1
    configs: dict[str, str] = field(default_factory=dict)
    key: str = ""  # what the record key is (documentation)


def topic_specs(settings) -> list[TopicSpec]:
    """fx-quotes (key=pair, 7 days), fx-quotes-dlq (30 days), fx-alerts (30 days), fx-incidents
    (30 days)."""
    return [
        TopicSpec(
            settings.quotes_topic,
            settings.quotes_partitions,
            1,
            {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"},
            key="pair",
        ),
        TopicSpec(
            settings.dlq_topic,
            1,
            1,
            {"retention.ms": str(30 * DAY_MS), "cleanup.policy": "delete"},
            key="source",
        ),
        TopicSpec(
            settings.alerts_topic,
            settings.quotes_partitions,
            1,
            {"retention.ms": str(30 * DAY_MS), "cleanup.policy": "delete"},
            key="pair",
        ),
        TopicSpec(
            settings.incidents_topic,
            1,
            1,
            {"retention.ms": str(30 * DAY_MS), "cleanup.policy": "delete"},
            key="pair or triangle",
        ),
    ]


def broker_unreachable_message(settings, timeout_s: float) -> str:
    """Why no broker let the client in, and the fix.

    With SASL, a broker that accepts TCP connections but not the client refused the login:
    kafka-python sees only a closed socket, so the open port tells the two cases apart.
    """
    if "SASL" in settings.kafka_security_protocol and _port_open(settings.kafka_bootstrap):
        return (
            f"Kafka at {settings.kafka_bootstrap} accepts connections but not the SASL "
            f"login of user {settings.kafka_sasl_username!r} after {timeout_s:g} s — fix "
            "KAFKA_SASL_PASSWORD (or KAFKA_SASL_USERNAME, FXWATCH_KAFKA_SASL_MECHANISM)"
        )
    return (
        f"Kafka at {settings.kafka_bootstrap} is not reachable after {timeout_s:g} s — "
        "start it with `fxwatch stack up` (or set FXWATCH_KAFKA_BOOTSTRAP)"
    )


def _port_open(bootstrap: str) -> bool:
    """True if the first bootstrap server accepts a TCP connection."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def admin_client(settings, timeout_s: float = 10.0):
    """A KafkaAdminClient, or FxwatchError after `timeout_s` if no broker answers."""
    try:
        return KafkaAdminClient(
            **settings.kafka_client_config(),
            bootstrap_timeout_ms=int(timeout_s * 1000),
            request_timeout_ms=int(max(timeout_s, 5) * 1000),
            client_id="fxwatch-admin",
        )
    except (KafkaError, OSError) as exc:
        log.debug("admin bootstrap failed: %r", exc)
        raise FxwatchError(broker_unreachable_message(settings, timeout_s)) from None


def ensure_topics(
    settings, timeout_s: float = 10.0, specs: list[TopicSpec] | None = None
) -> dict[str, str]:
    """Create missing topics; existing ones are fine. Returns {topic: 'created' | 'existing'}."""
    specs = topic_specs(settings) if specs is None else specs
    admin = admin_client(settings, timeout_s)
    try:
        existing = set(admin.list_topics())
        result = {s.name: "existing" for s in specs if s.name in existing}
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:  # one at a time: a concurrent creator makes only its topic "existing"
            try:
                admin.create_topics(
                    {
                        spec.name: {
                            "num_partitions": spec.partitions,
                            "replication_factor": spec.replication,
                            "configs": spec.configs,
                        }
                    },
                    timeout_ms=int(timeout_s * 1000),
                    wait_for_metadata=True,
                )
                result[spec.name] = "created"
            except TopicAlreadyExistsError:
                result[spec.name] = "existing"
        return {s.name: result[s.name] for s in specs}
    finally:
        admin.close()
