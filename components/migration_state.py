"""The latest validation per mapping, read from public.migration_log (read-only).

data_copy writes migration_log (data_copy/journal.py: one row per step; a validation is a
row with step = 'validate'). The stack exports the newest finished validation of each
mapping as the `validation` output. This runs while the Pulumi program runs, so during
a preview too: when the table does not exist yet, the database cannot be reached or the
query fails, the answer is {} (and a warning says why), never an error.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from catalog import MIGRATION_LOG_TABLE, UNQUALIFIED_SCHEMA
from catalog.schemas import LATEST_VALIDATIONS_SQL
from components import peek
from components.settings import Connection

_EVENTS = "public.migration_phase_events"  # data_copy/phase_state.py: the recorded phase
_QUERY = sql.SQL(LATEST_VALIDATIONS_SQL).format(log=sql.Identifier(UNQUALIFIED_SCHEMA, MIGRATION_LOG_TABLE))
_TABLE = f"{UNQUALIFIED_SCHEMA}.{MIGRATION_LOG_TABLE}"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def read_latest_validations(
    connection: Connection,
    password: str | None,
    warn: Callable[[str], None] = lambda _msg: None,
) -> dict[str, dict[str, Any]]:
    """mapping -> {status, sourceCount, targetCount, sourceChecksum, targetChecksum,
    completedAt, error}; {} when there is nothing (or nothing reachable) to read."""
    try:
        with peek.read_only(connection, password, "consolidation-stack-outputs") as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (_TABLE,)).fetchone()
            if exists is None or exists[0] is None:
                return {}
            rows = conn.execute(_QUERY).fetchall()
    except psycopg.Error as exc:
        warn(f"validation output left empty: cannot read {_TABLE}: {exc}".splitlines()[0])
        return {}
    return {
        mapping: {
            "status": status,
            "sourceCount": source_count,
            "targetCount": target_count,
            "sourceChecksum": source_checksum,
            "targetChecksum": target_checksum,
            "completedAt": _iso(completed_at),
            "error": error,
        }
        for (
            mapping,
            status,
            source_count,
            target_count,
            source_checksum,
            target_checksum,
            completed_at,
            error,
        ) in rows
    }


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
    warn: Callable[[str], None] = lambda _msg: None,
    *,
    deployed: int = 1,
    stack: str = "",
) -> dict[str, dict[str, Any]]:
    """The recorded phase must allow deploying `deployed` (else RuntimeError with the reason
    and the command to run); then the latest validations."""
    recorded = None
    try:
        with peek.read_only(connection, password, "consolidation-stack-outputs") as conn:
            if conn.execute("SELECT to_regclass(%s)", (_EVENTS,)).fetchone()[0] is not None:  # type: ignore[index]
                row = conn.execute(
                    sql.SQL("SELECT phase FROM {} ORDER BY id DESC LIMIT 1").format(sql.Identifier(*_EVENTS.split(".")))
                ).fetchone()
                recorded = row[0] if row else None
    except psycopg.Error as exc:
        warn(f"phase check skipped: cannot read {_EVENTS}: {exc}".splitlines()[0])
    problem = phase_problem(recorded, deployed, stack)
    if problem:
        raise PhaseRefused(problem)
    return read_latest_validations(connection, password, warn)


class PhaseRefused(RuntimeError):
    """The stack's phase cannot be deployed in the database's recorded phase."""
