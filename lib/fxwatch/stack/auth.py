"""Credentials of a secured local stack: Kafka's PLAIN user, Cassandra's admin and login roles.

A secret the stack generates itself (the Cassandra admin password) goes to an owner-only file in
the stack's home, never to a log; the user's own credentials come from the environment only.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from fxwatch.errors import FxwatchError
from fxwatch.stack.config import StackConfig
from fxwatch.store.connection import ensure_login_role

__all__ = [
    "ADMIN_ROLE",
    "cassandra_admin",
    "kafka_sasl_values",
    "secure_cassandra",
    "write_private",
]

ADMIN_ROLE = "fxwatch_admin"  # the superuser `fxwatch stack up` creates on a secured Cassandra
# A Kafka user name becomes a JAAS option name (user_<name>), the password a quoted JAAS value.
_KAFKA_USER = re.compile(r"[A-Za-z0-9._-]{1,64}")
_JAAS_UNSAFE = frozenset('"\\\r\n')


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (0600; a new folder gets 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)  # an existing file keeps its old mode through O_TRUNC
        fh.write(text)


def kafka_sasl_values(stack: StackConfig) -> dict[str, str]:
    """{username, password} of the local Kafka's SASL/PLAIN listener; {} for PLAINTEXT.

    The local broker serves what the clients' settings ask for, so a setting it cannot serve is
    an error naming the variable to change.
    """
    s = stack.settings
    if s.kafka_security_protocol == "PLAINTEXT":
        return {}
    if not stack.kafka_sasl:
        raise FxwatchError(
            f"the local Kafka of `fxwatch stack` serves PLAINTEXT or SASL_PLAINTEXT, not "
            f"{s.kafka_security_protocol}: set FXWATCH_KAFKA_SECURITY_PROTOCOL to one of them"
        )
    if s.kafka_sasl_mechanism != "PLAIN":
        raise FxwatchError(
            "the local Kafka's SASL listener uses PLAIN: set FXWATCH_KAFKA_SASL_MECHANISM=PLAIN"
        )
    if not s.kafka_sasl_username or not _KAFKA_USER.fullmatch(s.kafka_sasl_username):
        raise FxwatchError(
            "set KAFKA_SASL_USERNAME to the local Kafka's SASL user: "
            "1-64 letters, digits, '.', '_' or '-'"
        )
    if not s.kafka_sasl_password or _JAAS_UNSAFE & set(s.kafka_sasl_password):
        raise FxwatchError(
            "set KAFKA_SASL_PASSWORD to the SASL user's password "
            "(no double quote, backslash or line break)"
        )
    return {"username": s.kafka_sasl_username, "password": s.kafka_sasl_password}


def cassandra_admin(stack: StackConfig) -> tuple[str, str]:
    """The stack's own superuser and its password, generated once into an owner-only file."""
    path = stack.secrets_dir / "cassandra-admin"
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        password = ""
    if not password:
        password = secrets.token_urlsafe(32)
        write_private(path, password + "\n")
    return ADMIN_ROLE, password


def secure_cassandra(stack: StackConfig, echo: Callable[[str], None] = print) -> None:
    """Make the login role the settings name work on a PasswordAuthenticator node (idempotent).

    First use on a new node: log in as Cassandra's default superuser cassandra/cassandra, create
    the stack's superuser `fxwatch_admin` (password in `<home>/secrets/cassandra-admin`), disable
    the default login, then create the role with CASSANDRA_PASSWORD (LOGIN, not a superuser;
    CREATE on all keyspaces, so it owns the keyspace `fxwatch store init` creates).
    """
    name = stack.settings.cassandra_username
    if name == ADMIN_ROLE:
        raise FxwatchError(
            f"CASSANDRA_USERNAME {ADMIN_ROLE!r} is the stack's own superuser: "
            "choose another role name for the pipeline"
        )
    admin = cassandra_admin(stack)
    secret = stack.secrets_dir / "cassandra-admin"
    for line in ensure_login_role(stack.settings, admin):
        hardened = line.startswith("created superuser")
        echo(f"cassandra: {line}" + (f" (its password: {secret}, owner-only)" if hardened else ""))
