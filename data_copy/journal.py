"""migration_log (the guide's table, unqualified in public) and the rejects of each run.

Also the values its `step` and `status` columns take (Step, Status: used everywhere instead
of string literals) and the record of a phase 3 backup, which cleanup writes and restore
reads back (BackupRecord).
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

import psycopg
from psycopg import sql

from catalog.schemas import LATEST_VALIDATIONS_SQL, MIGRATION_LOG_TABLE, UNQUALIFIED_SCHEMA

LOG = sql.Identifier(UNQUALIFIED_SCHEMA, MIGRATION_LOG_TABLE)
REJECTS = sql.Identifier(UNQUALIFIED_SCHEMA, "migration_rejects")
STATE = sql.Identifier(UNQUALIFIED_SCHEMA, "migration_state")


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


_DDL = [
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
        id bigserial PRIMARY KEY,
        run_id uuid NOT NULL,
        migration_phase varchar(20) NOT NULL,
        step varchar(40) NOT NULL,
        mapping varchar(100),
        table_source text,
        table_destination text,
        records_migrated bigint DEFAULT 0,
        source_count bigint,
        target_count bigint,
        source_checksum text,
        target_checksum text,
        status varchar(20) NOT NULL,
        error_message text,
        details jsonb,
        started_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        duration_ms bigint)"""
    ).format(LOG),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
        run_id uuid NOT NULL,
        mapping varchar(100) NOT NULL,
        legacy_key text,
        reason text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now())"""
    ).format(REJECTS),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS {} (
        part varchar(100) PRIMARY KEY,
        max_key bigint,
        changed_since timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now())"""
    ).format(STATE),
]


def ensure(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for statement in _DDL:
            conn.execute(statement)


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
        assignments = [
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
    exists = conn.execute("SELECT to_regclass('public.migration_log')").fetchone()
    if not exists or exists[0] is None:
        return []
    return [Validation(*row) for row in conn.execute(sql.SQL(LATEST_VALIDATIONS_SQL).format(log=LOG)).fetchall()]


# ------------------------------------------------------------------ phase 3's backup

Fingerprints = dict[str, tuple[int, str]]  # "schema.table" -> (row count, checksum)
_OWN_PLAN_KEYS = ("schemas", "kept_schema_names", "views")  # the plan's keys the record holds itself


@dataclass(frozen=True)
class BackupRecord:
    """A phase 3 dump as migration_log keeps it: cleanup writes it (step 'backup': one row
    for the dump, whose details are to_json(), and one per table with its fingerprint),
    restore reads it back (from_json) to know what to restore and what to compare."""

    run_id: str
    dump: Path
    sha256: str | None
    schemas: tuple[str, ...]  # legacy schemas dropped with everything in them
    kept_names: tuple[str, ...]  # "public.name" the dump restores: relations, indexes, sequences
    views: tuple[str, ...]  # views of the schemas that stay, dropped with the tables
    tables: Fingerprints = field(default_factory=dict)  # every dropped table, before the drop
    pg_dump: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)  # the rest of the plan, for whoever reads the log

    def to_json(self) -> dict[str, Any]:
        """The details of the dump's row (the tables' fingerprints have rows of their own)."""
        plan = {
            **self.plan,
            "schemas": list(self.schemas),
            "kept_schema_names": list(self.kept_names),
            "views": list(self.views),
        }
        return {
            "dump": str(self.dump),
            "file": self.dump.name,
            "sha256": self.sha256,
            "pg_dump": self.pg_dump,
            "plan": plan,
        }

    @classmethod
    def from_json(
        cls, run_id: str, details: dict[str, Any], tables: Fingerprints, dump: Path | None = None
    ) -> "BackupRecord":
        """The record from the dump row's details and the tables' rows (`dump`: where the
        file is now, when it moved since)."""
        plan: dict[str, Any] = details.get("plan", {})
        rest = {k: v for k, v in plan.items() if k not in _OWN_PLAN_KEYS}
        return cls(
            run_id=run_id,
            dump=dump if dump is not None else Path(details["dump"]),
            sha256=details.get("sha256"),
            schemas=tuple(plan.get("schemas", ())),
            kept_names=tuple(plan.get("kept_schema_names", ())),
            views=tuple(plan.get("views", ())),
            tables=tables,
            pg_dump=details.get("pg_dump"),
            plan=rest,
        )


def log_backup(journal: Journal, record: BackupRecord, mapping_of: dict[str, str], migrated: set[str]) -> None:
    """Cleanup: the dump's row, then one row per table with its fingerprint."""
    entry = journal.start(Step.BACKUP, None, None, str(record.dump))
    journal.finish(
        entry,
        Status.COMPLETED,
        records_migrated=sum(count for count, _ in record.tables.values()),
        details=record.to_json(),
    )
    for table, (count, checksum) in record.tables.items():
        entry = journal.start(Step.BACKUP, mapping_of.get(table), table, str(record.dump))
        journal.finish(
            entry,
            Status.COMPLETED,
            source_count=count,
            source_checksum=checksum,
            details={"file": record.dump.name, "kind": "migrated" if table in migrated else "unmapped"},
        )


def read_backup(conn: psycopg.Connection, phase: str, dump: Path, run_id: str | None) -> BackupRecord | None:
    """Restore: what cleanup logged when it wrote `dump` (found by its run id, which is in
    the file name, or by the file name), None when migration_log has no record of it."""
    query = sql.SQL(
        "SELECT run_id::text, details FROM {} WHERE migration_phase = %s AND step = %s"
        " AND table_source IS NULL AND status = %s"
        " AND (run_id::text = %s OR details->>'file' = %s) ORDER BY id DESC LIMIT 1"
    ).format(LOG)
    row = conn.execute(query, (phase, Step.BACKUP, Status.COMPLETED, run_id, dump.name)).fetchone()
    if row is None:
        return None
    found_run, details = row
    tables = {
        str(t): (int(c), str(s))
        for t, c, s in conn.execute(
            sql.SQL(
                "SELECT DISTINCT ON (table_source) table_source, source_count, source_checksum FROM {}"
                " WHERE run_id = %s AND step = %s AND table_source IS NOT NULL ORDER BY table_source, id DESC"
            ).format(LOG),
            (uuid.UUID(found_run), Step.BACKUP),
        )
    }
    return BackupRecord.from_json(found_run, details, tables, dump)
