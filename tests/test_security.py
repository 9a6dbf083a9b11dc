"""Security: no credentials in code or logs, auth settings reach the clients, localhost by default,
CQL only through prepared statements."""

from __future__ import annotations

import ast
import logging
import re
import secrets
from pathlib import Path

from fxwatch.config import Settings, project_root

ROOT = project_root()
SKIP_DIRS = {
    ".venv",
    ".stack",
    ".git",
    "runs",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    "tests",
}
TEXT_SUFFIXES = {
    ".py",
    ".ipynb",
    ".md",
    ".yml",
    ".yaml",
    ".toml",
    ".cfg",
    ".ini",
    ".properties",
    ".sh",
    ".env",
    ".json",
    ".txt",
    "",
}

# name that looks secret = "a literal" (an f-string placeholder or an empty value is not a
# literal secret)
SECRET_ASSIGN = re.compile(
    r"""(?ix)\b[\w.]*(password|passwd|secret|token|api_?key|credential)s?\w*["']?\s*[:=]\s*
        (?P<q>["'])(?P<value>[^"'{}$<>\s][^"'{}$<>]*)(?P=q)"""
)
TRUEFX_PW_URL = re.compile(r"(?i)truefx[^\s\"']*[?&]p=(?!\*\*\*)[^&\s\"']+")
# placeholders a doc or template may show
PLACEHOLDER = re.compile(r"(?i)^(change-?me|your[-_ ].*|xxx+|\*+|none|null|example|\.\.\.)$")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")  # the name of an environment variable, not a value


def _repo_files():
    """Text files of the repository outside tests/ (tests plant fake secrets on purpose)."""
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS for part in rel.parts[:-1]) or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES and path.stat().st_size < 2_000_000:
            yield rel, path


def test_no_literal_credentials_in_the_repository():
    hits = []
    for rel, path in _repo_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in SECRET_ASSIGN.finditer(text):
            if not PLACEHOLDER.match(m.group("value")) and not ENV_NAME.match(m.group("value")):
                hits.append(f"{rel}: {m.group(0)[:80]}")
        hits += [f"{rel}: {m.group(0)[:80]}" for m in TRUEFX_PW_URL.finditer(text)]
    assert not hits, (
        "credentials written in files (put them in the environment / .env):\n" + "\n".join(hits)
    )


def test_the_scanner_finds_planted_credentials(tmp_path):
    planted = (
        'cassandra_password = "'
        + "hunter"
        + '2"\nurl = "https://webrates.truefx.com/rates/connect.html?u=a&p='
        + "pw1"
        + '"\n'
    )
    assert SECRET_ASSIGN.search(planted)
    assert TRUEFX_PW_URL.search(planted)
    assert not SECRET_ASSIGN.search(
        'password = os.environ.get("X")\npassword: str | None = _secret()'
    )
    assert not SECRET_ASSIGN.search("f'password=\"{self.kafka_sasl_password}\";'")


def test_secrets_stay_out_of_settings_repr():
    s = Settings.from_env(
        env={
            "CASSANDRA_PASSWORD": "cass-pw-x1",
            "KAFKA_SASL_PASSWORD": "sasl-pw-x2",
            "TRUEFX_PASSWORD": "tfx-pw-x3",
            "TRUEFX_USER": "someone",
        },
        dotenv=Path("/nonexistent"),
    )
    text = repr(s) + str(s)
    for pw in ("cass-pw-x1", "sasl-pw-x2", "tfx-pw-x3"):
        assert pw not in text


def _run_truefx_with_planted_password(monkeypatch, caplog, fxwatch_level, root_level):
    from fxwatch.sources.truefx import TrueFXClient
    from support.flaky_http import FlakyTrueFX

    user, password = "trader7", "pw-" + secrets.token_hex(6)
    # every failure kind once, then healthy polls: warnings and debug lines are all produced
    script = [None, "500", "garbage", None, "expire", None, "timeout", None, None]
    with FlakyTrueFX(user, password, script, timeout_sleep_s=0.6) as server:
        monkeypatch.setenv("TRUEFX_USER", user)
        monkeypatch.setenv("TRUEFX_PASSWORD", password)
        monkeypatch.setenv("FXWATCH_TRUEFX_URL", server.url)
        settings = Settings.from_env()
        caplog.set_level(root_level)
        caplog.set_level(fxwatch_level, logger="fxwatch")
        client = TrueFXClient.from_settings(
            settings,
            interval_s=0.05,
            timeout_s=0.3,
            backoff_base_s=0.05,
            backoff_cap_s=0.2,
            max_failures=20,
        )
        items = list(client.stream(duration_s=4.0))
    assert any(type(i).__name__ == "Quote" for i in items), "the client never recovered"
    assert client.reconnects >= 1 and len(server.queries) >= 8
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "fxwatch.sources.truefx" in logged, (
        "the client logged nothing: the test would prove nothing"
    )
    leaks = [ln for ln in logged.splitlines() if password in ln]
    assert not leaks, leaks[:3]
    assert password not in repr(client)
    for item in items:
        assert password not in str(item)


def test_truefx_client_never_logs_the_password(monkeypatch, caplog):
    """fxwatch's own loggers at DEBUG, libraries at INFO (how the CLI and notebooks log)."""
    _run_truefx_with_planted_password(monkeypatch, caplog, logging.DEBUG, logging.INFO)


def test_truefx_password_absent_even_with_every_library_at_debug(monkeypatch, caplog):
    _run_truefx_with_planted_password(monkeypatch, caplog, logging.DEBUG, logging.DEBUG)


def test_settings_pass_cassandra_auth_and_kafka_sasl_tls_through(monkeypatch):
    env = {
        "CASSANDRA_USERNAME": "cass-user",
        "CASSANDRA_PASSWORD": "cass-pw",
        "FXWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "FXWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "kuser",
        "KAFKA_SASL_PASSWORD": "kpw",
        "FXWATCH_KAFKA_SSL_CAFILE": "/etc/ca.pem",
        "FXWATCH_KAFKA_BOOTSTRAP": "broker1:9094,broker2:9094",
    }
    s = Settings.from_env(env=env, dotenv=Path("/nonexistent"))
    kc = s.kafka_client_config()
    assert kc == {
        "bootstrap_servers": ["broker1:9094", "broker2:9094"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "kuser",
        "sasl_plain_password": "kpw",
        "ssl_cafile": "/etc/ca.pem",
    }
    so = s.spark_kafka_options()
    assert so["kafka.security.protocol"] == "SASL_SSL"
    assert so["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert (
        "ScramLoginModule" in so["kafka.sasl.jaas.config"]
        and 'password="kpw"' in so["kafka.sasl.jaas.config"]
    )
    assert so["kafka.ssl.truststore.location"] == "/etc/ca.pem"

    # the Cassandra connection gets a PlainTextAuthProvider with exactly these credentials
    import cassandra.cluster

    seen = {}

    class FakeCluster:
        def __init__(self, hosts, **kwargs):
            seen.update(kwargs, hosts=hosts)

        def connect(self, keyspace=None):
            return "session"

        def shutdown(self):
            pass

    monkeypatch.setattr(cassandra.cluster, "Cluster", FakeCluster)
    from fxwatch.store.connection import connect

    connect(s, keyspace=None)
    auth = seen["auth_provider"]
    assert (auth.username, auth.password) == ("cass-user", "cass-pw")


def test_plaintext_settings_add_no_security_options():
    s = Settings.from_env(env={}, dotenv=Path("/nonexistent"))
    assert set(s.kafka_client_config()) == {"bootstrap_servers"}
    assert set(s.spark_kafka_options()) == {"kafka.bootstrap.servers"}


def test_dashboard_binds_localhost_by_default():
    from fxwatch.cli import build_parser

    args = build_parser().parse_args(["dashboard"])
    assert args.host in ("127.0.0.1", "localhost")


def _unprepared_executes(path: Path) -> list[str]:
    """`.execute(`/`.execute_async(` calls whose statement is built as text with values in it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "execute_async")
            and node.args
        ):
            continue
        if "session" not in ast.unparse(node.func.value).lower():
            continue  # Cassandra driver sessions only (a DuckDB connection runs SQL on local files)
        stmt = node.args[0]
        built = (
            isinstance(stmt, ast.JoinedStr)
            or (isinstance(stmt, ast.BinOp) and isinstance(stmt.op, (ast.Mod, ast.Add)))
            or (
                isinstance(stmt, ast.Call)
                and isinstance(stmt.func, ast.Attribute)
                and stmt.func.attr == "format"
            )
        )
        # a literal with bind values is a simple (unprepared) statement too
        literal_with_values = (
            isinstance(stmt, ast.Constant) and isinstance(stmt.value, str) and len(node.args) > 1
        )
        if built or literal_with_values:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(stmt)[:70]}")
    return found


ALLOWED_TEXT_CQL = {"lib/fxwatch/store/schema.py"}  # DDL: CREATE/ALTER are not prepared


def _text_cql_by_file() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "lib" / "fxwatch").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel not in ALLOWED_TEXT_CQL:
            hits = _unprepared_executes(path)
            if hits:
                found[rel] = hits
    return found


def test_all_cql_goes_through_prepared_statements():
    new = _text_cql_by_file()
    assert not new, (
        "CQL built as text: use session.prepare(...) once and execute(prepared, values):\n"
        + "\n".join(h for hits in new.values() for h in hits)
    )


def test_the_cql_scanner_catches_text_statements(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        'def f(session, ks, p):\n    session.execute(f"SELECT * FROM {ks}.t WHERE p=%s", (p,))\n'
        '    session.execute("SELECT * FROM t WHERE p=%s", (p,))\n'
        "    session.execute(stmt, (p,))\n"
        '    con.execute(f"SET threads = {p}")\n'
    )
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        assert len(_unprepared_executes(bad)) == 2
    finally:
        ROOT = old
