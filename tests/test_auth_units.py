"""Auth and name checks that need no running service: topic names, the secured stack's configs."""

from __future__ import annotations

import secrets
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.stack.auth import cassandra_admin, kafka_sasl_values, write_private
from fxwatch.stack.config import StackConfig
from fxwatch.stack.services import (
    cassandra_service,
    render_cassandra_conf,
    render_kafka_conf,
)

REPO = Path(__file__).resolve().parents[1]
NO_DOTENV = Path("/nonexistent")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def sandbox(tmp_path: Path) -> Path:
    """A project root with the config templates only."""
    shutil.copytree(REPO / "docker" / "conf", tmp_path / "docker" / "conf")
    return tmp_path


# ---- topic names from the environment -------------------------------------------------------


@pytest.mark.parametrize("name", ["fx-quotes", "a", "FX.quotes_2-x", "x" * 249, "..."])
def test_legal_kafka_topic_names_are_accepted(name):
    s = Settings.from_env(env={"FXWATCH_QUOTES_TOPIC": name}, dotenv=NO_DOTENV)
    assert s.quotes_topic == name


@pytest.mark.parametrize(
    "variable", ["FXWATCH_QUOTES_TOPIC", "FXWATCH_DLQ_TOPIC", "FXWATCH_ALERTS_TOPIC"]
)
@pytest.mark.parametrize(
    "name", [".", "..", "fx quotes", "fx/quotes", "x" * 250, "fx-é", "q\n", "fx;drop"]
)
def test_illegal_topic_names_fail_naming_the_variable(variable, name):
    with pytest.raises(FxwatchError) as err:
        Settings.from_env(env={variable: name}, dotenv=NO_DOTENV)
    message = str(err.value)
    assert message.startswith(f"{variable}=") and "\n" not in message
    assert "not a Kafka topic name" in message


def test_a_copy_with_a_bad_topic_is_refused_too():
    with pytest.raises(FxwatchError, match="FXWATCH_ALERTS_TOPIC"):
        Settings(root=REPO).with_(alerts_topic="")


def test_the_cli_prints_the_topic_error_on_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "FXWATCH_HOME": str(REPO), "FXWATCH_DLQ_TOPIC": "bad topic"}
    out = subprocess.run(
        [sys.executable, "-m", "fxwatch.cli", "topics", "ensure"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 1
    expected = (
        "fxwatch: error: FXWATCH_DLQ_TOPIC='bad topic' is not a Kafka topic name: use "
        "1-249 letters, digits, '.', '_' or '-' (not '.' or '..')"
    )
    assert out.stderr.strip().splitlines() == [expected]


# ---- the local Kafka's SASL listener --------------------------------------------------------


def _sasl_settings(root: Path, **env: str) -> Settings:
    base = {
        "FXWATCH_HOME": str(root),
        "FXWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "FXWATCH_KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "fx.app-1",
        "KAFKA_SASL_PASSWORD": "pw-" + secrets.token_hex(8),
    }
    return Settings.from_env(env={**base, **env}, dotenv=NO_DOTENV)


def test_plaintext_kafka_conf_has_no_sasl(sandbox):
    stack = StackConfig(Settings(root=sandbox), sandbox / "home")
    text = render_kafka_conf(stack).read_text()
    assert "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093" in text
    assert "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" in text
    settings_lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert not [ln for ln in settings_lines if "sasl" in ln.lower()]


def test_sasl_kafka_conf_serves_the_settings_user_from_an_owner_only_file(sandbox):
    settings = _sasl_settings(sandbox, FXWATCH_KAFKA_BOOTSTRAP="127.0.0.1:19999")
    stack = StackConfig(settings, sandbox / "home")
    path = render_kafka_conf(stack)
    text = path.read_text()
    assert "listeners=SASL_PLAINTEXT://127.0.0.1:19999,CONTROLLER://" in text
    assert "advertised.listeners=SASL_PLAINTEXT://127.0.0.1:19999" in text
    assert "inter.broker.listener.name=SASL_PLAINTEXT" in text
    assert "sasl.enabled.mechanisms=PLAIN" in text
    pw = settings.kafka_sasl_password
    assert f'username="fx.app-1" password="{pw}" user_fx.app-1="{pw}";' in text
    assert _mode(path) == 0o600
    # an older, world-readable file is tightened when rendered again
    path.chmod(0o644)
    render_kafka_conf(stack)
    assert _mode(path) == 0o600


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"FXWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "FXWATCH_KAFKA_SECURITY_PROTOCOL"),
        ({"FXWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}, "FXWATCH_KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SASL_USERNAME": ""}, "KAFKA_SASL_USERNAME"),
        ({"KAFKA_SASL_USERNAME": "a b"}, "KAFKA_SASL_USERNAME"),
        ({"KAFKA_SASL_PASSWORD": ""}, "KAFKA_SASL_PASSWORD"),
        ({"KAFKA_SASL_PASSWORD": 'with"quote'}, "KAFKA_SASL_PASSWORD"),
        ({"KAFKA_SASL_PASSWORD": "back\\slash"}, "KAFKA_SASL_PASSWORD"),
    ],
)
def test_sasl_settings_the_local_broker_cannot_serve_name_the_variable(sandbox, env, variable):
    stack = StackConfig(_sasl_settings(sandbox, **env), sandbox / "home")
    with pytest.raises(FxwatchError, match=variable):
        kafka_sasl_values(stack)
    assert not (stack.conf_dir / "kafka" / "server.properties").exists()


# ---- the local Cassandra with PasswordAuthenticator -----------------------------------------


def test_cassandra_conf_turns_on_password_auth_with_a_username(sandbox):
    plain = StackConfig(Settings(root=sandbox), sandbox / "a")
    assert "authenticator: AllowAllAuthenticator" in render_cassandra_conf(plain).read_text()
    secured = StackConfig(
        Settings(root=sandbox, cassandra_port=19442, cassandra_username="fx"),
        sandbox / "b",
        cassandra_storage_port=19400,
    )
    text = render_cassandra_conf(secured).read_text()
    assert "authenticator: PasswordAuthenticator" in text
    assert "authorizer: CassandraAuthorizer" in text
    assert "native_transport_port: 19442" in text and "storage_port: 19400" in text
    assert f"{secured.data_dir / 'cassandra'}/commitlog" in text
    assert cassandra_service(secured).extra_ports == (19400,)


def test_the_generated_admin_secret_is_owner_only_and_stable(tmp_path):
    stack = StackConfig(Settings(root=tmp_path), tmp_path / "home")
    name, password = cassandra_admin(stack)
    path = stack.secrets_dir / "cassandra-admin"
    assert name == "fxwatch_admin" and len(password) >= 40
    assert _mode(path) == 0o600 and _mode(stack.secrets_dir) == 0o700
    assert cassandra_admin(stack) == (name, password)


def test_write_private_never_leaves_a_readable_window(tmp_path):
    path = tmp_path / "x" / "secret"
    write_private(path, "s3")
    assert path.read_text() == "s3" and _mode(path) == 0o600


def test_the_default_instance_lives_in_dot_stack():
    s = Settings(root=REPO)
    stack = StackConfig.of(s)
    assert stack.home == s.stack_dir and stack.is_default
    assert stack.data_dir == s.data_dir and stack.logs_dir == s.logs_dir
    assert stack.cassandra_storage_port == 7000 and StackConfig.of(stack) is stack


def test_status_of_a_second_instance_reads_its_own_home(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "FXWATCH_HOME": str(REPO),
        "FXWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{_free_port()}",
        "FXWATCH_CASSANDRA_PORT": str(_free_port()),
    }
    out = subprocess.run(
        [sys.executable, "-m", "fxwatch.cli", "stack", "--home", str(tmp_path), "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3, out.stderr
    lines = out.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["kafka", "stopped"], ["cassandra", "stopped"]]
    assert all(f"log={tmp_path}/logs/" in ln for ln in lines)
