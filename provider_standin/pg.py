"""Connections and the provider's shared statement helpers (LOCK, SU, transactions).

Like the real provider (database/sql over lib/pq): one pool per DSN, up to
`max_connections` connections (upstream default 20), READ COMMITTED, autocommit outside
explicit transactions. The first connection per DSN is pinged and asked `SELECT VERSION()`.
Every statement the stand-in sends, BEGIN/COMMIT/ROLLBACK included, goes through
`Session.run`, which appends it to the JSON-lines file named by
$CONSOLIDATION_STANDIN_STATEMENT_LOG when that is set (the stand-in's tests read it).
"""

import json
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

LOG_VAR = "CONSOLIDATION_STANDIN_STATEMENT_LOG"
DEFAULT_MAX_CONNECTIONS = 20
_log_lock = threading.Lock()


class ProviderError(Exception):
    """A failure reported to the engine as one line (what upstream's fmt.Errorf says)."""


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
            "application_name": "pulumi-resource-postgresql-standin",
        }


class Pool:
    """Connections to one database, at most `size` at a time (blocking beyond that)."""

    def __init__(self, params: dict[str, Any], size: int) -> None:
        self._params = params
        self._free: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, size))
        self._first = True
        self._first_lock = threading.Lock()

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(**self._params, autocommit=True)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ProviderError(
                f"error connecting to PostgreSQL server {self._params['host']}:{self._params['port']} "
                f"(database {self._params['dbname']}): {first}"
            ) from None
        with self._first_lock:
            if self._first:
                _log_statement("ping", "")
                conn.execute("SELECT 1")
                _log_statement("SELECT VERSION()", "")
                conn.execute("SELECT VERSION()")
                self._first = False
        return conn

    @contextmanager
    def session(self, what: str) -> Iterator["Session"]:
        self._slots.acquire()
        try:
            try:
                conn = self._free.get_nowait()
            except queue.Empty:
                conn = self._connect()
            session = Session(conn, what)
            try:
                yield session
            except BaseException:
                session.abandon()
                raise
            if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                session.abandon()
            else:
                self._free.put(conn)
        finally:
            self._slots.release()


def _log_statement(statement: str, what: str) -> None:
    path = os.environ.get(LOG_VAR)
    if not path:
        return
    line = json.dumps({"op": what, "sql": statement, "pid": os.getpid(), "thread": threading.get_ident()})
    with _log_lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Session:
    """One operation on one connection: statements are logged, errors become one line."""

    def __init__(self, conn: psycopg.Connection, what: str) -> None:
        self.conn = conn
        self.what = what

    def abandon(self) -> None:
        try:
            if not self.conn.closed:
                self.conn.rollback()
                self.conn.close()
        except psycopg.Error:
            pass

    def run(self, query: str | sql.Composable, params: Sequence[Any] = (), context: str = "") -> list[tuple]:
        text = query if isinstance(query, str) else query.as_string(self.conn)
        _log_statement(text if not params else f"{text} -- {list(params)!r}", self.what)
        try:
            cur = self.conn.execute(text, tuple(params) if params else None)
            return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            prefix = context or f"error executing {' '.join(text.split()[:4])} ..."
            raise ProviderError(f"{prefix}: pq: {one_line(exc)}") from None

    def one(self, query: str | sql.Composable, params: Sequence[Any] = ()) -> tuple | None:
        rows = self.run(query, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self, rollback: bool = False) -> Iterator[None]:
        """BEGIN ... COMMIT (or ROLLBACK when `rollback`, as the provider's Reads do)."""
        self.run("BEGIN")
        try:
            yield
        except BaseException:
            if not self.conn.closed and self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                try:
                    self.run("ROLLBACK")
                except ProviderError:
                    pass
            raise
        self.run("ROLLBACK" if rollback else "COMMIT", context="could not commit transaction")

    # -- the provider's shared helpers -------------------------------------------------

    def lock_role(self, role: str) -> None:
        """LOCK(r): the role and all its members, no time limit on the wait."""
        self.run("SET statement_timeout = 0")
        self.run("SELECT pg_advisory_xact_lock(oid::bigint) FROM pg_roles WHERE rolname = %s", (role,))
        self.run(
            "SELECT pg_advisory_xact_lock(member::bigint) FROM pg_auth_members"
            " JOIN pg_roles ON roleid = pg_roles.oid WHERE rolname = %s",
            (role,),
        )

    @contextmanager
    def read_scope(self, database: str, role: str, schema: str | None) -> Iterator[bool]:
        """A privilege Read's opening: does the database exist; then, in a transaction rolled
        back at the end, do the role (PUBLIC always does; not looked up) and the schema (not
        looked up when None) exist? Yields whether all do; the caller's reads run inside."""
        if self.one("SELECT datname FROM pg_database WHERE datname = %s", (database,)) is None:
            yield False
            return
        with self.transaction(rollback=True):
            role_found = (
                role.lower() == "public" or self.one("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)) is not None
            )
            yield role_found and (
                schema is None or self.one("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)) is not None
            )

    def role_oid(self, role: str) -> int:
        """The oid of `role`: 0 for PUBLIC (not looked up) or a role that does not exist."""
        if role.lower() == "public":
            return 0
        row = self.one("SELECT oid FROM pg_roles WHERE rolname = %s", (role,))
        return int(row[0]) if row else 0

    def superuser_check(self) -> tuple[str, bool]:
        """SU: who we are and whether we are a superuser (checked live)."""
        row = self.one("SELECT CURRENT_USER")
        current = str(row[0]) if row else ""
        su = self.one("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (current,))
        return current, bool(su and su[0])

    @contextmanager
    def roles_granted(self, roles: Sequence[str]) -> Iterator[None]:
        """For a non-superuser, temporarily grant itself `roles` around the statements."""
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


def grantee(role: str) -> sql.Composable:
    """Role `public` is the PUBLIC keyword, every other role a quoted identifier."""
    return sql.SQL("PUBLIC") if role.lower() == "public" else sql.Identifier(role)


# Keywords allowed in a privilege list (they are composed as SQL keywords, so only these).
PRIVILEGE_KEYWORDS = frozenset(
    {
        "ALL",
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "CREATE",
        "CONNECT",
        "TEMPORARY",
        "EXECUTE",
        "USAGE",
        "MAINTAIN",
    }
)


def privilege_list(privileges: Sequence[str]) -> sql.Composable:
    bad = [p for p in privileges if p.upper() not in PRIVILEGE_KEYWORDS]
    if bad:
        raise ProviderError(f"invalid privileges {bad}: expected some of {sorted(PRIVILEGE_KEYWORDS)}")
    return sql.SQL(",").join(sql.SQL(p.upper()) for p in privileges)
