"""Open a cassandra-driver session from Settings, with a one-line error when the node is down or
refuses the login; create the pipeline's login role on a node with PasswordAuthenticator."""

from __future__ import annotations

import logging
import secrets
import time

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.store.names import cql_identifier

__all__ = ["CredentialsRejected", "connect", "ensure_login_role"]

# The driver logs every failed reconnect attempt at WARNING; our own error says what to do.
logging.getLogger("cassandra").setLevel(logging.ERROR)

# Cassandra's built-in superuser: its password is its name until someone changes it.
_DEFAULT_SUPERUSER = "cassandra"


class CredentialsRejected(FxwatchError):
    """Cassandra refused the login: missing or wrong CASSANDRA_USERNAME / CASSANDRA_PASSWORD."""


def connect(
    settings: Settings,
    keyspace: str | None = "",
    connect_timeout: float = 10,
    request_timeout: float = 30,
):
    """Return (cluster, session); keyspace '' means Settings.keyspace, None means no keyspace.

    `request_timeout` (s) is the session's default per-request timeout. A refused login raises
    CredentialsRejected naming the variable to fix; an unreachable node FxwatchError.
    """
    keyspace = settings.keyspace if keyspace == "" else keyspace
    if keyspace is not None:
        cql_identifier(keyspace, "keyspace")  # before connecting: a bad name is not a network error
    # lazy: importing the driver costs start-up time that commands without Cassandra should not pay
    from cassandra import AuthenticationFailed
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import (
        EXEC_PROFILE_DEFAULT,
        Cluster,
        ExecutionProfile,
        NoHostAvailable,
    )
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
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=RoundRobinPolicy(), request_timeout=request_timeout
            )
        },
        protocol_version=5,
    )
    where = f"Cassandra at {settings.cassandra_hosts}:{settings.cassandra_port}"
    try:
        session = cluster.connect(keyspace)
    except NoHostAvailable as exc:
        cluster.shutdown()
        # the driver wraps the server's refusal, per host, in NoHostAvailable
        if any(isinstance(e, AuthenticationFailed) for e in (exc.errors or {}).values()):
            if not settings.cassandra_username:
                raise CredentialsRejected(
                    f"{where} requires a login: set CASSANDRA_USERNAME and CASSANDRA_PASSWORD"
                ) from None
            raise CredentialsRejected(
                f"{where} refused the login of role {settings.cassandra_username!r}: "
                "fix CASSANDRA_PASSWORD (or CASSANDRA_USERNAME)"
            ) from None
        raise FxwatchError(
            f"{where} is not reachable: "
            "start it with `fxwatch stack up` (or check FXWATCH_CASSANDRA_HOSTS)"
        ) from None
    except Exception as exc:
        cluster.shutdown()
        if "keyspace" in str(exc).lower():
            raise FxwatchError(
                f"keyspace {keyspace!r} does not exist: run `fxwatch store init`"
            ) from None
        raise
    return cluster, session


# ---- the login role on a secured node ------------------------------------------------------------


def ensure_login_role(
    settings: Settings, admin: tuple[str, str], timeout_s: float = 60.0
) -> list[str]:
    """Make the role the settings name able to log in; return what was done, one line per step.

    Nothing to do when it already logs in. Otherwise, as the superuser `admin` (name, password):
    on a new node first created with the default cassandra/cassandra login, whose login and
    superuser status it then removes (the hardening Cassandra's documentation asks for), create
    the role: LOGIN, not a superuser, CREATE on all keyspaces (it owns what it creates) and ALL on
    settings.keyspace if that exists already. A role that exists with another password is an error
    naming CASSANDRA_PASSWORD, never silently changed.
    """
    name, password = settings.cassandra_username, settings.cassandra_password or ""
    if not name:
        raise FxwatchError("set CASSANDRA_USERNAME and CASSANDRA_PASSWORD: the node checks logins")
    if _login(settings, 0) is True:
        if _login(settings.with_(cassandra_username=None, cassandra_password=None), 0) is True:
            return [
                "this node does not check logins (started without CASSANDRA_USERNAME): "
                "restart it (`fxwatch stack down --only cassandra`, then `up`) to turn "
                "authentication on"
            ]
        return [f"login role {name!r} ready"]
    lines: list[str] = []
    cluster, session = _admin_session(settings, admin, timeout_s, lines)
    try:
        role = _text(name)
        known = session.prepare("SELECT role FROM system_auth.roles WHERE role = ?")
        if session.execute(known, (name,)).one() is not None:
            raise CredentialsRejected(
                f"Cassandra role {name!r} exists with another password: fix CASSANDRA_PASSWORD"
            )
        _ddl(
            session,
            f"CREATE ROLE {role} WITH PASSWORD = {_text(password)} "
            "AND LOGIN = true AND SUPERUSER = false",
            "create the login role",
            secret=True,
        )
        _ddl(session, f"GRANT CREATE ON ALL KEYSPACES TO {role}", "grant CREATE to the role")
        keyspace = cql_identifier(settings.keyspace, "keyspace")
        exists = session.prepare(
            "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?"
        )
        grants = "CREATE on all keyspaces"
        if session.execute(exists, (keyspace,)).one() is not None:
            _ddl(
                session,
                f"GRANT ALL PERMISSIONS ON KEYSPACE {keyspace} TO {role}",
                "grant the keyspace to the role",
            )
            grants += f", ALL on keyspace {keyspace}"
    finally:
        cluster.shutdown()
    if _login(settings, timeout_s) is not True:
        raise FxwatchError(
            f"Cassandra role {name!r} was created but cannot log in after "
            f"{timeout_s:g} s: see the Cassandra log"
        )
    lines.append(f"created login role {name!r} ({grants})")
    return lines


def _admin_session(settings: Settings, admin: tuple[str, str], timeout_s: float, lines: list[str]):
    """(cluster, session) of the superuser `admin`, created first on a node that is new."""
    as_admin = settings.with_(cassandra_username=admin[0], cassandra_password=admin[1])
    opened = _login(as_admin, 0, keep=True)
    if opened is not None:
        return opened
    default = settings.with_(
        cassandra_username=_DEFAULT_SUPERUSER, cassandra_password=_DEFAULT_SUPERUSER
    )
    # a new node creates its default superuser a moment after it starts answering
    opened = _login(default, timeout_s, keep=True)
    if opened is None:
        raise CredentialsRejected(
            f"Cassandra refused role {settings.cassandra_username!r}, and neither the stack's "
            "admin nor the default superuser can log in: fix CASSANDRA_PASSWORD, or create the "
            "role with a superuser of that node"
        )
    cluster, session = opened
    try:
        role, pw = _text(admin[0]), _text(admin[1])
        _ddl(
            session,
            f"CREATE ROLE IF NOT EXISTS {role} WITH PASSWORD = {pw} "
            "AND LOGIN = true AND SUPERUSER = true",
            "create the admin role",
            secret=True,
        )
        _ddl(
            session,
            f"ALTER ROLE {role} WITH PASSWORD = {pw}",
            "set the admin password",
            secret=True,
        )
    finally:
        cluster.shutdown()
    opened = _login(as_admin, timeout_s, keep=True)
    if opened is None:
        raise FxwatchError(
            f"the new Cassandra superuser {admin[0]!r} cannot log in after "
            f"{timeout_s:g} s: see the Cassandra log"
        )
    cluster, session = opened
    unknown = _text(secrets.token_urlsafe(32))  # nobody will know it: the login is off anyway
    _ddl(
        session,
        f"ALTER ROLE {_DEFAULT_SUPERUSER} WITH PASSWORD = {unknown} "
        "AND SUPERUSER = false AND LOGIN = false",
        "disable the default superuser",
        secret=True,
    )
    lines.append(
        f"created superuser {admin[0]!r} and disabled the default {_DEFAULT_SUPERUSER!r} login"
    )
    return cluster, session


def _login(settings: Settings, timeout_s: float, keep: bool = False):
    """Try to log in until `timeout_s` passes: (cluster, session) if `keep`, else True; None
    when the login is still refused at the deadline (other failures raise)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cluster, session = connect(settings, keyspace=None, connect_timeout=5)
        except CredentialsRejected:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)
            continue
        if keep:
            return cluster, session
        cluster.shutdown()
        return True


def _text(value: str) -> str:
    """A CQL string literal (role names and passwords cannot be bind markers in role DDL)."""
    return "'" + value.replace("'", "''") + "'"


def _ddl(session, statement: str, what: str, secret: bool = False) -> None:
    """Run one role statement; an error never repeats a statement that holds a password."""
    try:
        session.execute(statement)
    except Exception as exc:
        detail = type(exc).__name__ if secret else f"{type(exc).__name__}: {exc}"
        raise FxwatchError(
            f"Cassandra refused to {what} ({detail}): see the Cassandra log"
        ) from None
