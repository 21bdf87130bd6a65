"""migration_log (the guide's table, unqualified in public): one row per step of a command.

Also the values its `step` and `status` columns take (Step, Status: used everywhere instead
of string literals), and each mapping's newest validation read back from it.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

import psycopg
from psycopg import sql

from catalog.schemas import LATEST_VALIDATIONS_SQL
from data_copy.state import schema
from data_copy.state.schema import LOG


class Step:
    """migration_log.step: what a row is about."""

    COPY: Final = "copy"  # one mapping's copy / re-sync (run)
    VALIDATE: Final = "validate"  # one mapping's validation (run, validate)
    STRUCTURE: Final = "structure"  # keys, indexes, FKs after the load (run)
    GUARD: Final = "guard"  # a phase 3 refusal
    BACKUP: Final = "backup"  # the dump (table_source NULL) and each table's fingerprint in it
    CLEANUP: Final = "cleanup"  # the phase 3 cleanup as a whole
    DROP_TABLE: Final = "drop_table"
    DROP_VIEW: Final = "drop_view"
    DROP_SCHEMA: Final = "drop_schema"
    RESTORE: Final = "restore"  # the restore (table_source NULL) and each table's check


class Status:
    """migration_log.status: how a step ended (RUNNING while it runs)."""

    RUNNING: Final = "running"
    COMPLETED: Final = "completed"
    PASSED: Final = "passed"
    FAILED: Final = "failed"
    SKIPPED: Final = "skipped"
    REFUSED: Final = "refused"
    DROPPED: Final = "dropped"
    ROLLED_BACK: Final = "rolled_back"
    VERIFIED: Final = "verified"  # a restore re-run: everything was back, only checked
    INTERRUPTED: Final = "interrupted"  # its command was killed or stopped (run_lock marks it)


Name = str | None  # a mapping's or a table's name, when the step has one


@dataclass
class Entry:
    id: int
    started: datetime


class Journal:
    """Writes one migration_log row per step; each row is committed on its own."""

    def __init__(self, conn: psycopg.Connection, phase: str, run_id: uuid.UUID | None = None) -> None:
        self.conn = conn
        self.phase = phase
        self.run_id = run_id or uuid.uuid4()

    def start(self, step: str, mapping: Name = None, source: Name = None, destination: Name = None) -> Entry:
        """A `running` row for `step` (of `mapping`, from table `source` to `destination`)."""
        row = self.conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, migration_phase, step, mapping, table_source,"
                " table_destination, status) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " RETURNING id, started_at"
            ).format(LOG),
            (self.run_id, self.phase, step, mapping, source, destination, Status.RUNNING),
        ).fetchone()
        assert row is not None
        return Entry(row[0], row[1])

    def finish(self, entry: Entry, status: str, at: datetime | None = None, **fields: Any) -> None:
        """`at`: when the step ended, if before now (a settle on overlap's second session)."""
        if "details" in fields and fields["details"] is not None:
            fields["details"] = json.dumps(fields["details"], default=str)
        assignments: list[sql.Composable] = [
            sql.SQL("status = %s"),
            sql.SQL("completed_at = coalesce(%s, clock_timestamp())"),
            sql.SQL("duration_ms = (extract(epoch FROM coalesce(%s, clock_timestamp()) - started_at) * 1000)::bigint"),
        ]
        values: list[Any] = [status, at, at]
        for name, value in fields.items():
            assignments.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
            values.append(value)
        self.conn.execute(
            sql.SQL("UPDATE {} SET {} WHERE id = %s").format(LOG, sql.SQL(", ").join(assignments)),
            [*values, entry.id],
        )


class Validation(NamedTuple):
    """A mapping's newest finished validation (migration_log step 'validate')."""

    mapping: str
    status: str
    source_count: int | None
    target_count: int | None
    source_checksum: str | None
    target_checksum: str | None
    completed_at: datetime
    error_message: str | None


def latest_validations(conn: psycopg.Connection) -> list[Validation]:
    """The newest validation row per mapping."""
    if not schema.exists(conn, LOG):
        return []
    return [Validation(*row) for row in conn.execute(sql.SQL(LATEST_VALIDATIONS_SQL).format(log=LOG)).fetchall()]
