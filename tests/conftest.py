"""Shared fixtures: settings for an isolated test keyspace, the real local stack, one
SparkSession."""

from __future__ import annotations

import pytest

from fxwatch.config import Settings


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """Settings of the local stack, with a keyspace of its own so tests never touch demo data."""
    return Settings.from_env().with_(keyspace="fxwatch_test")


@pytest.fixture()
def unique_topics(base_settings: Settings) -> Settings:
    """Settings whose three topics are new for this test (no cross-test interference)."""
    return base_settings.isolated()


@pytest.fixture(scope="session")
def stack(base_settings: Settings) -> Settings:
    """The real Kafka and Cassandra started by `fxwatch stack up`; fails (not skips) when absent."""
    from fxwatch.stack.services import cassandra_ready, kafka_ready
    from fxwatch.store.schema import init_schema

    missing = [
        name
        for name, ok in (("Kafka", kafka_ready), ("Cassandra", cassandra_ready))
        if not ok(base_settings)
    ]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not running: start the local stack with `fxwatch stack up`"
        )
    init_schema(base_settings)
    return base_settings


@pytest.fixture(scope="session")
def spark(base_settings: Settings):
    """One SparkSession for the whole test session (starting one takes 5-15 s)."""
    from fxwatch.stream.session import get_spark

    session = get_spark(base_settings, app_name="fxwatch-tests")
    yield session
    session.stop()


@pytest.fixture()
def cassandra_session(stack: Settings):
    """A driver session on the test keyspace."""
    from fxwatch.store.connection import connect

    cluster, session = connect(stack)
    yield session
    cluster.shutdown()
