"""The database records its own phase: every transition, with time, run id and who.

`public.migration_phase_events` is append-only: one row per transition (phase 1 started,
switched to phase 2, rolled back to phase 1, phase 3). The current phase is the newest
row's. Every data_copy command works from it, with --dsn or --stack alike; with --stack,
a deployed phase that disagrees stops the command with one line saying what to run.
"""

import getpass
import socket
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from data_copy.errors import PhaseMismatch
from data_copy.settings import Settings
from data_copy.state import schema
from data_copy.state.schema import EVENTS

STARTED = "phase 1 started"
SWITCHED = "switched to phase 2"
ROLLED_BACK = "rolled back to phase 1"
CLEANED_UP = "phase 3 (legacy dropped)"
RESTORED = "legacy restored, phase 2 again"


@dataclass(frozen=True)
class PhaseEvent:
    phase: int
    event: str
    run_id: str
    db_user: str
    os_user: str | None
    recorded_at: datetime


def history(conn: psycopg.Connection) -> list[PhaseEvent]:
    if not schema.exists(conn, EVENTS):
        return []
    rows = conn.execute(
        sql.SQL("SELECT phase, event, run_id::text, db_user, os_user, recorded_at FROM {} ORDER BY id").format(EVENTS)
    ).fetchall()
    return [PhaseEvent(*r) for r in rows]


def current(conn: psycopg.Connection) -> PhaseEvent | None:
    events = history(conn)
    return events[-1] if events else None


def ever_switched(conn: psycopg.Connection) -> bool:
    return any(e.phase == 2 for e in history(conn))


def record(conn: psycopg.Connection, phase: int, event: str, run_id: object, stack: str = "") -> None:
    """Appends a transition (call inside the transaction that makes it, so both or neither)."""
    schema.ensure(conn)
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (phase, event, run_id, os_user, client_host, stack) VALUES (%s, %s, %s, %s, %s, %s)"
        ).format(EVENTS),
        (phase, event, str(run_id), getpass.getuser(), socket.gethostname(), stack or None),
    )


def _what_to_run(stack: str, deployed: int, recorded: int) -> str:
    s = f"--stack {stack}"
    if deployed == 2 and recorded == 1:
        return (
            f"run `python -m data_copy switch {s}` before the application uses the new tables, or set"
            " `consolidation:phase` back to 1 and `pulumi up`"
        )
    if deployed == 1 and recorded == 2:
        return (
            f"to roll back run `python -m data_copy rollback {s}` first, then `pulumi up`;"
            " to stay in phase 2 run `pulumi config set consolidation:phase 2` and `pulumi up`"
        )
    if deployed == 3 and recorded == 1:
        return f"phase 3 needs phase 2 first: `python -m data_copy switch {s}`, phase 2 deployed and synced"
    if recorded == 3:
        return f"legacy tables were dropped: `python -m data_copy restore {s}` to go back"
    return f"set `consolidation:phase` to {recorded} and `pulumi up`"


def resolve(conn: psycopg.Connection, settings: Settings, allowed_deployed: tuple[int, ...] = ()) -> int:
    """The phase to work in: the recorded one (1 when nothing is recorded yet). With a
    stack, its deployed phase must agree (or be one of `allowed_deployed`, for the verbs
    that move between phases)."""
    event = current(conn)
    recorded = event.phase if event else 1
    if settings.stack and settings.phase != recorded and settings.phase not in allowed_deployed:
        since = f" since {event.recorded_at:%Y-%m-%d %H:%M:%S %Z} ({event.event})" if event else ""
        raise PhaseMismatch(
            f"stack {settings.stack!r} is deployed at phase {settings.phase}"
            f" but the database is in phase {recorded}{since}",
            fix=_what_to_run(settings.stack, settings.phase, recorded),
        )
    return recorded


def start_if_new(conn: psycopg.Connection, run_id: object, stack: str = "") -> None:
    """The first run records phase 1 started."""
    if current(conn) is None:
        record(conn, 1, STARTED, run_id, stack)
