"""One data_copy command at a time per database: a session advisory lock.

`run`, `validate`, `cleanup`, `restore` and `rollback` open their connection with
`locked(dsn, settings, command)`. A second one on the same database refuses at once,
naming the holder (pid and host of its process, when it started), or waits for it with
--wait. The lock is the server's: a killed or crashed command loses it with its
connection, and the next command marks that one's `running` migration_log rows
`interrupted` and ends the sessions it left running (end_dead_sessions). Ctrl-C (or
SIGTERM) inside a locked command marks its own running rows `interrupted` and ends as one
line saying what was committed.
"""

import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from data_copy.core.connection import connect
from data_copy.errors import DatabaseBusy, DataCopyError, Interrupted, first_line
from data_copy.settings import Settings
from data_copy.state import faults, schema
from data_copy.state.journal import Status, Step
from data_copy.state.schema import LOG

LOCK_KEY = int.from_bytes(b"datacopy", "big")  # 7233190438162624633: ours alone
WAIT_POLL_SECONDS = 1.0
ORPHAN_WAIT_SECONDS = 30
CTRL_C_RELOCK_SECONDS = 5.0  # for a Ctrl-C'd session, once closed, to let go of the lock
APP_PREFIX = "data_copy "


def short_host() -> str:
    """This machine's name in at most 24 characters (the middle shortened, both ends kept)."""
    host = socket.gethostname() or "?"
    return host if len(host) <= 24 else host[:12] + "~" + host[-11:]


def _tag(command: str) -> str:
    """application_name of a locked session: what, which process, where (63 bytes max)."""
    return f"{APP_PREFIX}{command[:16]} pid={os.getpid()} host={short_host()}"


@dataclass
class Holder:
    backend: int  # the server process of the holding session
    command: str | None  # data_copy's command, when the holder is data_copy
    pid: int | None  # the holder's client process and host, as it told us
    host: str | None
    started: datetime | None
    client: str | None

    def words(self) -> str:
        when = f"{self.started:%Y-%m-%d %H:%M:%S %Z}".strip() if self.started else "?"
        if self.command:
            return (
                f"data_copy {self.command} (pid {self.pid or '?'} on host {self.host or '?'},"
                f" started at {when}, server backend {self.backend})"
            )
        return f"session {self.backend} from {self.client or 'local socket'} (started at {when})"

    def is_dead_here(self) -> bool:
        """The holder ran on this machine and its process is gone (killed, crashed)."""
        if not self.pid or self.host != short_host():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def holder(conn: psycopg.Connection) -> Holder | None:
    """Who holds the lock: its server backend, and the data_copy process behind it."""
    row = conn.execute(
        "SELECT a.application_name, a.pid, host(a.client_addr), a.backend_start"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())"
        " AND l.classid = (%s >> 32)::oid AND l.objid = (%s & 4294967295)::oid AND l.objsubid = 1",
        (LOCK_KEY, LOCK_KEY),
    ).fetchone()
    if row is None:
        return None
    return _holder(*row)


def _holder(app: str | None, backend: int, client: str | None, started: datetime | None) -> Holder:
    """The session `backend` as its application_name (`_tag`) describes it."""
    if app and app.startswith(APP_PREFIX):
        rest = app[len(APP_PREFIX) :].split()
        words = dict(w.split("=", 1) for w in rest[1:] if "=" in w)
        pid = words.get("pid", "")
        return Holder(
            backend, rest[0] if rest else "?", int(pid) if pid.isdigit() else None, words.get("host"), started, client
        )
    return Holder(backend, None, None, None, started, client)


def _release(conn: psycopg.Connection) -> None:
    """Lets go of the lock before the connection closes: closing only asks the server to end
    the session, and a command started right after (a test's `run` then `switch`) found
    the lock still held by the session on its way out, once in a loaded suite."""
    if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return  # a session in a transaction keeps it until it ends
    try:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    except psycopg.Error:
        pass  # the session ends anyway, and the lock with it


def _try(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def _end_orphan(conn: psycopg.Connection, other: Holder) -> bool:
    """A killed data_copy's session may go on with its statement (and keep the lock) until
    the server notices: when its process is gone from this machine, end that session."""
    if not other.is_dead_here():
        return False
    print(f"{other.words()} is gone (killed or crashed): ending its server session", file=sys.stderr, flush=True)
    try:
        conn.execute("SELECT pg_terminate_backend(%s, 10000)", (other.backend,))
    except psycopg.errors.InsufficientPrivilege:
        return False
    deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
    while time.monotonic() < deadline:
        if _try(conn):
            return True
        time.sleep(0.2)
    return False


def end_dead_sessions(conn: psycopg.Connection) -> int:
    """Ends the sessions a data_copy process of this machine left when it was killed: its
    second session (sync/overlap.py) goes on with its statement until the server notices, and
    may hold the slot or a table's lock when the next command needs it. Run with the lock
    held, so no live command's session is among them; sessions ended."""
    rows = conn.execute(
        "SELECT application_name, pid, host(client_addr), backend_start FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid() AND starts_with(application_name, %s)",
        (APP_PREFIX,),
    ).fetchall()
    ended = 0
    for session in rows:
        other = _holder(*session)
        if other.is_dead_here():
            try:
                done = conn.execute("SELECT pg_terminate_backend(%s, 10000)", (other.backend,)).fetchone()
                ended += bool(done and done[0])
            except psycopg.errors.InsufficientPrivilege:
                pass
    return ended


def acquire(conn: psycopg.Connection, command: str, wait: bool = False) -> None:
    conn.execute("SELECT set_config('application_name', %s, false)", (_tag(command),))
    if _try(conn):
        return
    other = holder(conn)
    if other is None and _try(conn):  # the holder's session ended between the two looks
        return
    if other is not None and _end_orphan(conn, other):
        return
    who = other.words() if other else "another data_copy command (it has just finished)"
    database = conn.info.dbname
    if not wait:
        raise DatabaseBusy(
            f"{command} refused: {who} is already working on database {database!r}",
            fix="wait for it to finish, or pass --wait to start when it does",
        )
    print(f"waiting for {who} to finish on database {database!r} ...", file=sys.stderr, flush=True)
    while not _try(conn):
        time.sleep(WAIT_POLL_SECONDS)


def mark_interrupted(conn: psycopg.Connection, message: str, since: datetime | None = None) -> int:
    """`running` rows become `interrupted` (we hold the lock: nobody else is running)."""
    if not schema.exists(conn, LOG):
        return 0
    condition = sql.SQL("status = {}").format(sql.Literal(Status.RUNNING))
    params: list[object] = [message]
    if since is not None:
        condition = sql.SQL("{} AND started_at >= %s").format(condition)
        params.append(since)
    return conn.execute(
        sql.SQL(
            "UPDATE {} SET status = {}, completed_at = clock_timestamp(),"
            " error_message = coalesce(error_message, %s) WHERE {}"
        ).format(LOG, sql.Literal(Status.INTERRUPTED), condition),
        params,
    ).rowcount


def committed_since(conn: psycopg.Connection, since: datetime, command: str) -> str:
    """What a command committed since `since`, in words (for the Ctrl-C line)."""
    if command == "cleanup":
        return "the drops are one transaction: nothing was dropped (migration_log says so if it was)"
    if command == "restore":
        return "a restore is checked table by table: running it again restores what is missing and re-checks"
    if not schema.exists(conn, LOG):
        return "nothing was written"
    row = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE step = %(copy)s AND status = %(completed)s),"
            " coalesce(sum(records_migrated) FILTER (WHERE step = %(copy)s), 0),"
            " count(*) FILTER (WHERE step = %(validate)s AND status IN (%(passed)s, %(failed)s))"
            " FROM {} WHERE started_at >= %(since)s"
        ).format(LOG),
        {
            "copy": Step.COPY,
            "completed": Status.COMPLETED,
            "validate": Step.VALIDATE,
            "passed": Status.PASSED,
            "failed": Status.FAILED,
            "since": since,
        },
    ).fetchone()
    copies, rows, validations = row if row else (0, 0, 0)
    if command != "run":
        return f"{validations} validations logged, nothing else changed"
    return (
        f"{copies} mapping copies finished ({rows:,} rows), {validations} validations logged;"
        " every chunk copied before it is committed, the one in flight was rolled back"
    )


@contextmanager
def locked(dsn: str, settings: Settings, command: str) -> Iterator[psycopg.Connection]:
    """connect() + the exclusive lock; on Ctrl-C, this command's running rows are marked."""
    with connect(dsn, settings) as conn:
        acquire(conn, command, settings.wait_for_lock)
        end_dead_sessions(conn)
        since_row = conn.execute("SELECT statement_timestamp()").fetchone()
        since = since_row[0] if since_row else None
        mark_interrupted(conn, "interrupted: its data_copy process ended without finishing (killed or crashed)")
        try:
            yield conn
            _release(conn)
        except KeyboardInterrupt:
            summary = "nothing was written"
            try:
                with _marking_session(conn, dsn, settings) as marking:
                    mark_interrupted(marking, f"interrupted by Ctrl-C ({command})", since)
                    summary = committed_since(marking, since, command) if since else summary
            except (psycopg.Error, _LockGone):
                summary = "committed chunks are kept; the next command marks the unfinished steps"
            raise Interrupted(f"{command} stopped by Ctrl-C: {summary}") from None
        except DataCopyError as error:
            _mark_quietly(conn, error.line(), since)
            raise
        except psycopg.Error as error:
            state = faults.state_error(error)  # one of our tables failed: exit 13, not a bug
            _mark_quietly(conn, state.line() if state else f"interrupted by an error: {first_line(error)}", since)
            if state is not None:
                raise state from error
            raise


class _LockGone(Exception):
    """Another command took the lock before this one's steps could be marked."""


@contextmanager
def _marking_session(conn: psycopg.Connection, dsn: str, settings: Settings) -> Iterator[psycopg.Connection]:
    """A session holding the lock, to mark a Ctrl-C'd command's steps: its own, when Ctrl-C
    left it idle; else (a statement was running: psycopg cancels it, and may close the
    connection or leave it busy) it is closed and a new session takes the lock over."""
    idle = (
        psycopg.pq.TransactionStatus.IDLE,
        psycopg.pq.TransactionStatus.INTRANS,
        psycopg.pq.TransactionStatus.INERROR,
    )
    if not conn.closed and conn.info.transaction_status in idle:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        yield conn
        return
    conn.close()  # the server ends its session, and the lock with it, once the statement is cancelled
    with connect(dsn, settings) as fresh:
        deadline = time.monotonic() + CTRL_C_RELOCK_SECONDS
        while not _try(fresh):
            if time.monotonic() >= deadline:
                raise _LockGone
            time.sleep(0.1)
        yield fresh


def _mark_quietly(conn: psycopg.Connection, message: str, since: datetime | None) -> None:
    try:
        if not conn.closed:
            with conn.transaction():
                mark_interrupted(conn, message, since)
    except psycopg.Error:
        pass  # the connection is gone: the next command marks them
