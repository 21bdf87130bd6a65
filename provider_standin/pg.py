"""Connections, statements and their errors, as the real provider's database/sql over lib/pq.

Upstream (postgresql/config.go Connect, at ff936b9): one pool per DSN; the first use of a
DSN pings the server and asks `SELECT VERSION()`, and a failure then reads `error
connecting to PostgreSQL server <host> (scheme: postgres): ...` (the password replaced by
XXXX); no connection is kept idle (`SetMaxIdleConns(0)`), so every transaction, and every
statement outside one, has a connection of its own, closed when it ends; at most
`max_connections` are open at once, 0 or less meaning no limit (`SetMaxOpenConns`); the
connection string says `fallback_application_name=Terraform provider`. sslmode is checked
by the driver when it parses the DSN, so a bad value fails at the first connection.

Every statement the stand-in sends, BEGIN/COMMIT/ROLLBACK included, goes through
`Session.run`, which appends it to the JSON-lines file named by
$CONSOLIDATION_STANDIN_STATEMENT_LOG when that is set (the stand-in's tests read it).
"""

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg import sql

LOG_VAR = "CONSOLIDATION_STANDIN_STATEMENT_LOG"
DEFAULT_MAX_CONNECTIONS = 20
APPLICATION_NAME = "Terraform provider"  # provider.go ApplicationName, sent as fallback_application_name
# lib/pq v1.12.3 connector.go `sslModes`, in its order (its error message lists them so)
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-full", "verify-ca")
_log_lock = threading.Lock()


class ProviderError(Exception):
    """A failure of an upstream resource function: its error text (fmt.Errorf's)."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _go_join(values: Sequence[str]) -> str:
    """lib/pq internal/pqutil Join: "a, b, or c"."""
    return ", ".join(("or " + v) if i == len(values) - 1 and i else v for i, v in enumerate(values))


def sslmode_problem(sslmode: str) -> str | None:
    """lib/pq's refusal of an sslmode it does not know (connector.go setFromTag), or None.
    PGSSLMODE is read by the driver before the DSN, so a bad one is reported as such."""
    env = os.environ.get("PGSSLMODE")
    for what, value in (("$PGSSLMODE", env), ('"sslmode"', sslmode)):
        if value and value not in SSL_MODES:
            return (
                f"pq: wrong value for {what}: {json.dumps(value)} is not supported; "
                f"supported values are {_go_join(SSL_MODES)}"
            )
    return None


def pq_text(exc: psycopg.Error, query: str = "") -> str:
    """lib/pq's Error(): `pq: <message>[ at column N] (<SQLSTATE>)` (lib/pq error.go)."""
    message = exc.diag.message_primary or one_line(exc)
    position = exc.diag.statement_position
    if position and position.isdigit() and query:
        pos, lines, read = int(position), query.split("\n"), 0
        for number, line in enumerate(lines, start=1):
            if read + len(line) + 1 >= pos:
                column = max(pos - read, 1)
                message += f" at column {column}" if len(lines) == 1 else f" at position {number}:{column}"
                break
            read += len(line) + 1
    return f"pq: {message} ({exc.sqlstate})" if exc.sqlstate else f"pq: {message}"


@dataclass(frozen=True)
class ConnConfig:
    host: str
    port: int
    username: str
    password: str | None
    database: str
    sslmode: str
    connect_timeout: int
    max_connections: int
    superuser: bool

    def params(self, database: str | None = None) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.username,
            "password": self.password or None,
            "dbname": database or self.database,
            "sslmode": self.sslmode,
            "connect_timeout": self.connect_timeout,
            "fallback_application_name": APPLICATION_NAME,
        }


def _log_statement(statement: str, what: str, conn: psycopg.Connection | None) -> None:
    path = os.environ.get(LOG_VAR)
    if not path:
        return
    entry = {
        "op": what,
        "sql": statement,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "backend": conn.info.backend_pid if conn is not None and not conn.closed else None,
    }
    with _log_lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


class Pool:
    """One DSN: no idle connection, at most `size` open at once (size <= 0: no limit)."""

    def __init__(self, config: ConnConfig, database: str | None = None) -> None:
        self._params = config.params(database)
        self._host, self._password = config.host, config.password or ""
        size = config.max_connections
        self._slots = threading.BoundedSemaphore(size) if size > 0 else None
        self._connected = False
        self._lock = threading.Lock()
        self.server_version = 0

    def _slot(self) -> AbstractContextManager[Any]:
        return self._slots if self._slots is not None else nullcontext()

    def _open(self) -> psycopg.Connection:
        problem = sslmode_problem(str(self._params["sslmode"]))
        if problem:
            raise ProviderError(problem)
        try:
            return psycopg.connect(**self._params, autocommit=True)
        except psycopg.Error as exc:
            raise ProviderError(one_line(exc)) from None

    def connect(self, what: str) -> None:
        """Connect(): the DSN's first use pings and fingerprints the server; a failure is
        wrapped as upstream's and tried again at the next use."""
        with self._lock:
            if self._connected:
                return
            try:
                for statement in ("ping", "SELECT VERSION()"):
                    with self._slot():
                        conn = self._open()
                        try:
                            _log_statement(statement, what, conn)
                            conn.execute("SELECT 1" if statement == "ping" else statement)
                            self.server_version = conn.info.server_version
                        finally:
                            conn.close()
            except (ProviderError, psycopg.Error) as exc:
                text = one_line(exc)
                if self._password:
                    text = text.replace(self._password, "XXXX", 2)
                raise ProviderError(
                    f"error connecting to PostgreSQL server {self._host} (scheme: postgres): {text}"
                ) from None
            self._connected = True

    @contextmanager
    def connection(self, what: str) -> Iterator[psycopg.Connection]:
        self.connect(what)
        with self._slot():
            conn = self._open()
            try:
                yield conn
            finally:
                conn.close()


class Connections(Protocol):
    """Where a Session's connections come from: database None is the provider's own."""

    def connection(self, database: str | None, what: str) -> AbstractContextManager[psycopg.Connection]: ...

    def server_version(self) -> int: ...


class _Fixed:
    """One connection for everything (a Session made on a psycopg connection, in tests)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    @contextmanager
    def connection(self, database: str | None, what: str) -> Iterator[psycopg.Connection]:
        yield self._conn

    def server_version(self) -> int:
        return self._conn.info.server_version


class Txn:
    """How a transaction ends: COMMIT, or ROLLBACK when `rollback` is set."""

    def __init__(self, rollback: bool) -> None:
        self.rollback = rollback


class Session:
    """One operation's statements on `database` (None: the provider's): logged, and their
    errors raised as ProviderError with lib/pq's text."""

    def __init__(self, source: psycopg.Connection | Connections, what: str, database: str | None = None) -> None:
        self._source: Connections = _Fixed(source) if isinstance(source, psycopg.Connection) else source
        self.what = what
        self.database = database
        self._txn: psycopg.Connection | None = None

    def on(self, database: str | None) -> "Session":
        """The same operation on another database (None: the provider's own)."""
        return Session(self._source, self.what, database)

    def server_version(self) -> int:
        return self._source.server_version()

    def _execute(self, conn: psycopg.Connection, text: str, params: Sequence[Any], context: str) -> list[tuple]:
        _log_statement(text if not params else f"{text} -- {list(params)!r}", self.what, conn)
        try:
            cur = conn.execute(text, tuple(params) if params else None)
            return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            error = pq_text(exc, text)
            raise ProviderError(f"{context}: {error}" if context else error) from None

    def run(self, query: str | sql.Composable, params: Sequence[Any] = (), context: str = "") -> list[tuple]:
        """One statement: in the open transaction, else on a connection of its own.
        `context` prefixes the error as upstream's fmt.Errorf does; none: the bare error."""
        text = query if isinstance(query, str) else query.as_string(None)
        if self._txn is not None:
            return self._execute(self._txn, text, params, context)
        with self._source.connection(self.database, self.what) as conn:
            return self._execute(conn, text, params, context)

    def one(self, query: str | sql.Composable, params: Sequence[Any] = (), context: str = "") -> tuple | None:
        rows = self.run(query, params, context)
        return rows[0] if rows else None

    @contextmanager
    def transaction(
        self, rollback: bool = False, commit_context: str = "could not commit transaction"
    ) -> Iterator[Txn]:
        """BEGIN ... COMMIT on a connection of its own; ROLLBACK when `rollback` (as the
        provider's reads), when the body sets `txn.rollback` (an early return upstream,
        whose deferred rollback ends it) and after an error."""
        txn = Txn(rollback)
        with self._source.connection(self.database, self.what) as conn:
            self._txn = conn
            try:
                self.run("BEGIN", context="could not start transaction")
                try:
                    yield txn
                except BaseException:
                    if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        try:
                            self.run("ROLLBACK")
                        except ProviderError:
                            pass
                    raise
                self.run("ROLLBACK" if txn.rollback else "COMMIT", context="" if txn.rollback else commit_context)
            finally:
                self._txn = None

    # -- the provider's shared helpers (postgresql/helpers.go) ---------------------------

    def lock_role(self, role: str) -> None:
        """pgLockRole: the role and all its members, no time limit on the wait."""
        self.run("SET statement_timeout = 0", context="could not disable statement_timeout")
        self.run(
            "SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_roles WHERE rolname = %s",
            (role,),
            context=f"could not get advisory lock for role {role}",
        )
        self.run(
            "SELECT pg_advisory_xact_lock(member::bigint) FROM pg_auth_members"
            " JOIN pg_roles ON roleid = pg_roles.oid WHERE rolname = %s",
            (role,),
            context=f"could not get advisory lock for members of role {role}",
        )

    def database_exists(self, database: str) -> bool:
        """dbExists, asked on the provider's own database (it may be the missing one's)."""
        row = self.on(None).one(
            "SELECT datname FROM pg_database WHERE datname=%s", (database,), "could not check if database exists"
        )
        return row is not None

    def role_db_schema_exist(self, database: str, role: str, schema: str | None) -> bool:
        """checkRoleDBSchemaExists: the database (on the provider's database); then, in a
        transaction on it, rolled back, the role (not for `public`) and the schema (when
        one is given)."""
        if not self.database_exists(database):
            return False
        on = self.on(database)
        with on.transaction(rollback=True):
            if role != "public" and on.one("SELECT 1 FROM pg_roles WHERE rolname=%s", (role,)) is None:
                return False
            if schema and on.one("SELECT 1 FROM pg_namespace WHERE nspname=%s", (schema,)) is None:
                return False
        return True

    def role_oid(self, role: str) -> int:
        """getRoleOID: 0 for `public` (not looked up)."""
        if role == "public":
            return 0
        row = self.one("SELECT oid FROM pg_roles WHERE rolname = %s", (role,), f"could not find oid for role {role}")
        if row is None:
            raise ProviderError(f"could not find oid for role {role}: sql: no rows in result set")
        return int(row[0])

    def superuser_check(self) -> tuple[str, bool]:
        """SU: who we are and whether we are a superuser (checked live)."""
        row = self.one("SELECT CURRENT_USER", context="error while looking for the current user")
        current = str(row[0]) if row else ""
        su = self.one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s",
            (current,),
            f"could not check if role {current} is superuser",
        )
        return current, bool(su and su[0])

    @contextmanager
    def roles_granted(self, roles: Sequence[str]) -> Iterator[None]:
        """withRolesGranted: a non-superuser temporarily grants itself `roles` around the
        statements (no role asked: no check at all)."""
        if not roles:
            yield
            return
        current, is_super = self.superuser_check()
        granted: list[str] = []
        if not is_super:
            for role in roles:
                if role in ("", "public", current):
                    continue
                member = self.one("SELECT pg_has_role(%s, %s, 'MEMBER')", (current, role))
                if member and member[0]:
                    continue
                self.run(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(current)))
                granted.append(role)
        yield
        for role in granted:
            self.run(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), sql.Identifier(current)))
