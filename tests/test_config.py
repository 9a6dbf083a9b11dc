"""Settings: defaults, environment, .env, and secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from fxwatch.config import _TOPIC_FIELDS, Settings
from fxwatch.errors import FxwatchError


def test_defaults_point_at_the_local_stack(tmp_path: Path):
    s = Settings.from_env(env={"FXWATCH_HOME": str(tmp_path)})
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert (s.cassandra_hosts, s.cassandra_port, s.keyspace) == ("127.0.0.1", 9042, "fxwatch")
    assert s.spark_master == "local[2]"
    assert s.checkpoint_dir == tmp_path / ".stack" / "checkpoints"


def test_environment_beats_dotenv_and_types_are_coerced(tmp_path: Path):
    (tmp_path / ".env").write_text(
        "FXWATCH_CASSANDRA_PORT=9142\nexport FXWATCH_KEYSPACE='fx2'\n# c\n"
    )
    s = Settings.from_env(
        env={
            "FXWATCH_HOME": str(tmp_path),
            "FXWATCH_KEYSPACE": "fx3",
            "SPARK_MASTER": "spark://h:7077",
        }
    )
    assert s.cassandra_port == 9142
    assert s.keyspace == "fx3"
    assert s.spark_master == "spark://h:7077"


def test_bad_integer_says_which_variable(tmp_path: Path):
    with pytest.raises(ValueError, match="FXWATCH_CASSANDRA_PORT"):
        Settings.from_env(env={"FXWATCH_HOME": str(tmp_path), "FXWATCH_CASSANDRA_PORT": "nine"})


def test_secrets_only_from_environment_and_never_in_repr(tmp_path: Path):
    s = Settings.from_env(
        env={"FXWATCH_HOME": str(tmp_path), "TRUEFX_USER": "alice", "TRUEFX_PASSWORD": "s3cr3t-pw"}
    )
    assert s.truefx_user == "alice" and s.truefx_password == "s3cr3t-pw"
    assert "s3cr3t-pw" not in repr(s) and "alice" not in repr(s)


def test_sasl_settings_reach_both_kafka_clients(tmp_path: Path):
    s = Settings.from_env(
        env={
            "FXWATCH_HOME": str(tmp_path),
            "FXWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "FXWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "u",
            "KAFKA_SASL_PASSWORD": "p",
        }
    )
    py = s.kafka_client_config()
    assert (py["security_protocol"], py["sasl_mechanism"], py["sasl_plain_username"]) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "u",
    )
    assert "ScramLoginModule" in s.spark_kafka_options()["kafka.sasl.jaas.config"]


def test_isolated_suffixes_every_topic_and_keeps_the_rest():
    base = Settings.from_env(env={}).with_(keyspace="fxwatch_test")
    iso = base.isolated("nb03-ab12")
    assert iso.topics == tuple(f"{t}-nb03-ab12" for t in base.topics)
    assert len(iso.topics) == len(_TOPIC_FIELDS) and len(set(iso.topics)) == len(iso.topics)
    assert iso.quotes_topic == f"{base.quotes_topic}-nb03-ab12"
    assert iso.keyspace == "fxwatch_test"  # topics only, unless asked
    assert iso.with_(**{f: getattr(base, f) for f in _TOPIC_FIELDS}) == base


def test_isolated_without_a_tag_is_new_each_time_and_can_take_a_keyspace():
    base = Settings.from_env(env={})
    a, b = base.isolated(), base.isolated()
    assert a.quotes_topic != b.quotes_topic and a.quotes_topic.startswith(base.quotes_topic + "-")
    ks = base.isolated("t-1.x", keyspace=True)
    assert ks.keyspace == f"{base.keyspace}_t_1_x" and ks.alerts_topic.endswith("-t-1.x")


@pytest.mark.parametrize("tag", ["", "a/b", "x" * 250])
def test_isolated_rejects_a_tag_kafka_would_reject(tag):
    with pytest.raises(FxwatchError, match="isolation tag|Kafka topic"):
        Settings.from_env(env={}).isolated(tag)


def test_isolated_keyspace_must_fit_cassandra():
    with pytest.raises(FxwatchError, match="shorter tag"):
        Settings.from_env(env={}).isolated("y" * 60, keyspace=True)
