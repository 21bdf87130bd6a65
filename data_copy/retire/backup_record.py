"""The record of a phase 3 backup in migration_log: cleanup writes it, restore reads it back.

log_backup(journal, record, mapping_of, migrated)   cleanup: the dump's row, one row per table
read_backup(conn, phase, dump, run_id) -> BackupRecord | None
"""

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from data_copy.state.journal import Journal, Status, Step
from data_copy.state.schema import LOG

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
