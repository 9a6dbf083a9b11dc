"""Open a cassandra-driver session from Settings, with a clear error when the node is down."""

from __future__ import annotations

import logging

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError

__all__ = ["connect"]

# The driver logs every failed reconnect attempt at WARNING; our own error says what to do.
logging.getLogger("cassandra").setLevel(logging.ERROR)


def connect(settings: Settings, keyspace: str | None = "", connect_timeout: float = 10):
    """Return (cluster, session); keyspace '' means Settings.keyspace, None means no keyspace."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
    from cassandra.policies import RoundRobinPolicy

    auth = None
    if settings.cassandra_username:
        auth = PlainTextAuthProvider(settings.cassandra_username, settings.cassandra_password or "")
    cluster = Cluster(
        settings.cassandra_host_list,
        port=settings.cassandra_port,
        auth_provider=auth,
        connect_timeout=connect_timeout,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=30)
        },
        protocol_version=5,
    )
    try:
        session = cluster.connect(settings.keyspace if keyspace == "" else keyspace)
    except NoHostAvailable as exc:
        cluster.shutdown()
        detail = str(exc)
        if "AuthenticationFailed" in detail or "Bad credentials" in detail:
            raise FxwatchError(
                "Cassandra rejected the credentials: check CASSANDRA_USERNAME / CASSANDRA_PASSWORD"
            ) from None
        raise FxwatchError(
            f"Cassandra at {settings.cassandra_hosts}:{settings.cassandra_port} is not reachable: "
            "start it with `fxwatch stack up` (or check FXWATCH_CASSANDRA_HOSTS)"
        ) from None
    except Exception as exc:
        cluster.shutdown()
        if "keyspace" in str(exc).lower():
            raise FxwatchError(
                f"keyspace {settings.keyspace!r} does not exist: run `fxwatch store init`"
            ) from None
        raise
    return cluster, session
