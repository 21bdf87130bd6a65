"""What data_copy recorded in the database, read by the stack (read-only, ONE connection).

- the recorded phase: the newest row of public.migration_phase_events (data_copy/state/phase_events.py);
  the phase guard refuses a `pulumi up` the recorded phase does not allow (a rollback not
  carried back, a switch not made), and the stack exports it as `recordedPhase`;
- the latest finished validation of each mapping, from public.migration_log
  (data_copy/state/journal.py: one row per step; a validation is a row with step = 'validate'),
  exported as `validation`.

This runs while the Pulumi program runs, so during a preview too: when a table does not
exist yet, the database cannot be reached or a query fails, that part is empty (None / {})
and a warning says why, never an error.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from catalog import MIGRATION_LOG_TABLE, UNQUALIFIED_SCHEMA
from catalog.schemas import LATEST_VALIDATIONS_SQL, PHASE_EVENTS_TABLE
from components import peek
from stack_settings import Connection

APPLICATION_NAME = "consolidation-stack-outputs"
_EVENTS = (UNQUALIFIED_SCHEMA, PHASE_EVENTS_TABLE)  # written by data_copy/state/phase_events.py
_LOG = (UNQUALIFIED_SCHEMA, MIGRATION_LOG_TABLE)
_PHASE_QUERY = sql.SQL("SELECT phase FROM {} ORDER BY id DESC LIMIT 1").format(sql.Identifier(*_EVENTS))
_VALIDATIONS_QUERY = sql.SQL(LATEST_VALIDATIONS_SQL).format(log=sql.Identifier(*_LOG))
_VALIDATION_KEYS = (
    "status",
    "sourceCount",
    "targetCount",
    "sourceChecksum",
    "targetChecksum",
    "completedAt",
    "error",
)

Warn = Callable[[str], None]


@dataclass(frozen=True)
class RecordedState:
    """phase: None when data_copy never ran (nothing to protect); validations: mapping ->
    {status, sourceCount, targetCount, sourceChecksum, targetChecksum, completedAt, error}."""

    phase: int | None = None
    validations: dict[str, dict[str, Any]] = field(default_factory=dict)


class PhaseRefused(RuntimeError):
    """The stack's phase cannot be deployed in the database's recorded phase."""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _first_line(what: str, error: psycopg.Error) -> str:
    # the server's own first line (components may not import data_copy's errors.first_line)
    primary = error.diag.message_primary or str(error).strip() or type(error).__name__
    return f"{what}: {primary}".splitlines()[0]


def _exists(conn: psycopg.Connection, table: tuple[str, str]) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (".".join(table),)).fetchone()
    return row is not None and row[0] is not None


def _phase(conn: psycopg.Connection, warn: Warn) -> int | None:
    try:
        if not _exists(conn, _EVENTS):
            return None
        row = conn.execute(_PHASE_QUERY).fetchone()
    except psycopg.Error as exc:
        conn.rollback()
        warn(_first_line(f"phase check skipped: cannot read {'.'.join(_EVENTS)}", exc))
        return None
    return int(row[0]) if row else None


def _validations(conn: psycopg.Connection, warn: Warn) -> dict[str, dict[str, Any]]:
    try:
        if not _exists(conn, _LOG):
            return {}
        rows = conn.execute(_VALIDATIONS_QUERY).fetchall()
    except psycopg.Error as exc:
        conn.rollback()
        warn(_first_line(f"validation output left empty: cannot read {'.'.join(_LOG)}", exc))
        return {}
    return {mapping: dict(zip(_VALIDATION_KEYS, map(_iso, values), strict=True)) for mapping, *values in rows}


def read_recorded_state(connection: Connection, password: str | None, warn: Warn = lambda _msg: None) -> RecordedState:
    """The recorded phase and the latest validations, over one read-only connection."""
    try:
        with peek.read_only(connection, password, APPLICATION_NAME) as conn:
            return RecordedState(phase=_phase(conn, warn), validations=_validations(conn, warn))
    except psycopg.Error as exc:
        warn(_first_line("phase check skipped and validation output left empty: cannot connect", exc))
        return RecordedState()


def phase_problem(recorded: int | None, deployed: int, stack: str) -> str | None:
    """Why `pulumi up` to `deployed` must not proceed while the database records `recorded`
    (None: data_copy never ran, nothing to protect)."""
    if recorded == 2 and deployed == 1:
        return (
            "the database is in phase 2: the application's phase-2 rows in the new tables have not been"
            f" carried back into legacy; run `python -m data_copy rollback --stack {stack}` first"
        )
    if recorded == 1 and deployed == 2:
        return (
            "the database is still in phase 1 (legacy and new ids do not share one id space yet);"
            f" run `python -m data_copy switch --stack {stack}` first"
        )
    return None


def read_state(
    connection: Connection,
    password: str | None,
    warn: Warn = lambda _msg: None,
    *,
    deployed: int = 1,
    stack: str = "",
) -> RecordedState:
    """The recorded state; PhaseRefused (with the reason and the command to run) when the
    recorded phase does not allow deploying `deployed`."""
    state = read_recorded_state(connection, password, warn)
    problem = phase_problem(state.phase, deployed, stack)
    if problem:
        raise PhaseRefused(problem)
    return state
