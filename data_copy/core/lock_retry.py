"""DDL behind the application's locks: every DDL step keeps the session's lock_timeout
(core/connection.py sets it on every connection), so the application never queues behind us for
longer than that, and a step refused with 55P03 (lock_not_available) is retried, whole, after
a growing pause with jitter, so a busy moment does not fail the run.

    retrying(step)                      step() opens and commits its own transaction
    in_transaction(conn, body, ...)     body() inside conn.transaction() (a savepoint when
                                        conn is in a transaction already), retried whole;
                                        after the last refusal TableLocked names the tables
                                        another session holds a conflicting lock on

A retry never leaves half a step: the refused transaction (or savepoint) is rolled back
before the pause, and with it every lock it had taken, so the application is not held up
while we wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import psycopg

from data_copy.errors import TableLocked

T = TypeVar("T")
ATTEMPTS = 6
FIRST_PAUSE_S = 0.2
MAX_PAUSE_S = 5.0
_sleep = time.sleep  # the pause between attempts (tests watch it)

# PostgreSQL's table-level lock conflicts (the manual's "Conflicting Lock Modes")
_MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
CONFLICTS: dict[str, tuple[str, ...]] = {
    "AccessShareLock": _MODES[7:],
    "RowShareLock": _MODES[6:],
    "RowExclusiveLock": _MODES[4:],
    "ShareUpdateExclusiveLock": _MODES[3:],
    "ShareLock": (_MODES[2], _MODES[3], *_MODES[5:]),
    "ShareRowExclusiveLock": _MODES[2:],
    "ExclusiveLock": _MODES[1:],
    "AccessExclusiveLock": _MODES,
}


def retrying(
    step: Callable[[], T],
    attempts: int | None = None,
    sleep: Callable[[float], None] | None = None,
    refused: tuple[type[BaseException], ...] = (psycopg.errors.LockNotAvailable,),
) -> T:
    """Runs `step` (which opens and commits its own transaction, or savepoint) until it is
    not refused by a lock timeout (an exception of `refused`), at most `attempts`
    (ATTEMPTS) times; the last refusal is raised."""
    attempts = attempts or ATTEMPTS
    sleep = sleep or _sleep
    pause = FIRST_PAUSE_S
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except refused:
            if attempt == attempts:
                raise
            sleep(pause + random.uniform(0, pause / 2))
            pause = min(pause * 2, MAX_PAUSE_S)
    raise AssertionError("unreachable")


def in_transaction(
    conn: psycopg.Connection,
    body: Callable[[], T],
    *,
    what: str,
    tables: Iterable[str] | Callable[[], Iterable[str]],
    mode: str = "AccessExclusiveLock",
    fix: str | None = None,
    attempts: int | None = None,
) -> T:
    """`body` in one transaction (or savepoint) of `conn`, retried whole while a lock
    timeout refuses it. After the last refusal: TableLocked, one line naming `what`, the
    tables of `tables` ("schema.table", or a function giving them) on which another session
    holds a lock conflicting with `mode` (all of them when none is held any more), and that
    nothing of the step changed."""
    started = time.monotonic()
    count = attempts or ATTEMPTS

    def once() -> T:
        with conn.transaction():
            return body()

    try:
        return retrying(once, count)
    except psycopg.errors.LockNotAvailable:
        candidates = sorted(set(tables() if callable(tables) else tables))
        raise TableLocked(
            f"{what}: {_holders(conn, candidates, mode)}; refused {count} time(s) over"
            f" {time.monotonic() - started:.1f} s, each after lock_timeout {_lock_timeout(conn)};"
            " this step changed nothing",
            fix=fix,
        ) from None


def holders(conn: psycopg.Connection, tables: list[str], mode: str) -> list[tuple[str, list[int]]]:
    """(table, the other sessions' pids) for each of `tables` on which another session holds
    a lock that conflicts with `mode`."""
    rows = conn.execute(
        "SELECT t, array_agg(DISTINCT l.pid ORDER BY l.pid) FROM unnest(%s::text[]) t"
        " JOIN pg_locks l ON l.locktype = 'relation'"
        " AND l.relation = to_regclass(quote_ident(split_part(t, '.', 1)) || '.' || quote_ident(split_part(t, '.', 2)))"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " WHERE l.granted AND l.pid <> pg_backend_pid() AND l.mode = ANY(%s) GROUP BY t ORDER BY t",
        (tables, list(CONFLICTS[mode])),
    ).fetchall()
    return [(str(t), list(pids)) for t, pids in rows]


def _holders(conn: psycopg.Connection, tables: list[str], mode: str) -> str:
    usable = conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR
    found = holders(conn, tables, mode) if usable and tables else []
    if found:
        return ", ".join(f"{t} is locked by another session (pid {', '.join(map(str, p))})" for t, p in found)
    names = ", ".join(tables[:8]) + (" ..." if len(tables) > 8 else "")
    return f"a table is locked by another session (one of {names})" if names else "a table is locked by another session"


def _lock_timeout(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_setting('lock_timeout')").fetchone()
    return str(row[0]) if row else "?"
