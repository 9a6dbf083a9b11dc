"""docker-compose.yml is valid YAML and consistent with Settings (no Docker engine needed)."""

from __future__ import annotations

import re
import secrets
from dataclasses import fields
from pathlib import Path

import pytest

from fxwatch.config import Settings, project_root

yaml = pytest.importorskip("yaml")
ROOT = project_root()
SPECIAL_ENV = {
    "TRUEFX_USER",
    "TRUEFX_PASSWORD",
    "CASSANDRA_USERNAME",
    "CASSANDRA_PASSWORD",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "SPARK_MASTER",
}
SECRET_ENV = {"TRUEFX_PASSWORD", "CASSANDRA_PASSWORD", "KAFKA_SASL_PASSWORD"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _app_env(compose) -> dict[str, str]:
    return compose["services"]["stream"]["environment"]


def test_services_and_images(compose):
    services = compose["services"]
    assert {"kafka", "cassandra", "spark-master", "spark-worker", "jupyter", "dashboard"} <= set(
        services
    )
    assert re.fullmatch(r"apache/kafka:4\.1(\.\d+)?", services["kafka"]["image"])
    assert services["cassandra"]["image"].startswith("cassandra:5.0")
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_spark_roles_use_spark_class(compose):
    master = compose["services"]["spark-master"]["command"]
    worker = compose["services"]["spark-worker"]["command"]
    assert master[:2] == ["spark-class", "org.apache.spark.deploy.master.Master"]
    assert worker[:2] == ["spark-class", "org.apache.spark.deploy.worker.Worker"]
    port = master[master.index("--port") + 1]
    assert worker[-1] == f"spark://spark-master:{port}"
    assert _app_env(compose)["SPARK_MASTER"] == f"spark://spark-master:{port}"


def test_env_names_are_settings_names(compose):
    valid = {f"FXWATCH_{f.name.upper()}" for f in fields(Settings)} | SPECIAL_ENV
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        for key in env:
            if key.startswith("FXWATCH_") or key in SPECIAL_ENV:
                assert key in valid, f"{name}: {key} is not a Settings variable"


def test_settings_read_from_compose_env_reach_the_services(compose):
    env = {
        k: (re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v))) for k, v in _app_env(compose).items()
    }
    s = Settings.from_env(env=env, dotenv=Path("/nonexistent"))
    host, port = s.kafka_bootstrap.split(":")
    kafka = compose["services"]["kafka"]["environment"]
    assert f"//{host}:{port}" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert s.cassandra_host_list == ["cassandra"] and s.cassandra_port == 9042
    assert s.spark_master == "spark://spark-master:7077"
    assert s.keyspace == "fxwatch" and s.quotes_partitions == int(kafka["KAFKA_NUM_PARTITIONS"])


def test_secrets_only_by_reference_and_ports_on_localhost(compose):
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        for key in SECRET_ENV & set(env):
            assert re.fullmatch(r"\$\{[A-Z_]+(:-)?\}", str(env[key])), (
                f"{name}: {key} must come from the environment"
            )
        for mapping in svc.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), (
                f"{name} publishes {mapping} beyond this machine"
            )


def test_dockerfile_builds_what_compose_runs(compose):
    build = compose["services"]["stream"]["build"]
    dockerfile = ROOT / build["dockerfile"]
    text = dockerfile.read_text(encoding="utf-8")
    assert "openjdk-17" in text and "pip install" in text and "-Pspark-kafka" in text
    for copied in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.M):
        assert (ROOT / copied).exists(), f"{dockerfile.name} copies missing {copied}"
    assert "spark-kafka" in (ROOT / "docker" / "pom.xml").read_text()


# Compose's variable substitution (compose-spec "Interpolation"): $$, ${X}, ${X:-d}, ${X-d},
# ${X:?err} (unset or empty: error), ${X?err} (unset: error), applied to the parsed values.
_VAR = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\})")


def _interpolate(value, env: dict[str, str]):
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        if m.group(1) == "$":
            return "$"
        name, op, arg = m.group(2), m.group(3), m.group(4)
        missing = name not in env or (op is not None and op.startswith(":") and not env[name])
        if op and op.endswith("?") and missing:
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        if op and op.endswith("-") and missing:
            return arg
        return env.get(name, "")

    return _VAR.sub(one, value)


def test_jupyterlab_requires_a_token_from_the_environment(compose):
    jupyter = compose["services"]["jupyter"]
    assert re.fullmatch(r"\$\{JUPYTER_TOKEN:\?[^}]+\}", jupyter["environment"]["JUPYTER_TOKEN"])
    assert not any("token" in str(arg).lower() for arg in jupyter["command"]), (
        "the token belongs in the environment (JupyterLab reads JUPYTER_TOKEN), not in argv"
    )
    assert jupyter["environment"]["FXWATCH_KAFKA_BOOTSTRAP"] == "kafka:19092"  # still the app env
    # Compose refuses to start without a token, or with an empty one ...
    for env in ({}, {"JUPYTER_TOKEN": ""}):
        with pytest.raises(ValueError, match="JUPYTER_TOKEN"):
            _interpolate(compose, env)
    # ... and hands the one from the environment to JupyterLab
    token = secrets.token_hex(12)
    services = _interpolate(compose, {"JUPYTER_TOKEN": token})["services"]
    assert services["jupyter"]["environment"]["JUPYTER_TOKEN"] == token
    assert all(
        "JUPYTER_TOKEN" not in (svc.get("environment") or {})
        for name, svc in services.items()
        if name != "jupyter"
    ), "only JupyterLab needs it"


def test_no_service_publishes_a_server_without_authentication(compose):
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert not re.search(r"(?i)token=\$\{[A-Z_]+:-\}|token=[\"']?[\"' \]]", text), (
        "an empty default token turns JupyterLab's login off"
    )
