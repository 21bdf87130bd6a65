"""Rollback after phase 3: bring back what cleanup dropped, from its backup, and prove it.

    restore(conn, settings, journal, dsn, dump=None) -> RestoreReport

The dump (default: the newest in settings.backup_dir) must be one cleanup wrote: its
migration_log 'backup' rows (same run id, which is in the file name) say which schemas
and which objects of `public` were dropped, and each table's count and checksum before
the drop. pg_restore brings back exactly those (the dump also holds `public`'s other
objects, which never went away and are left alone), in one transaction; then every
restored table's count and checksum must equal the recorded ones, else RestoreFailed.

Re-running after a successful restore only re-verifies (nothing is restored twice).
Every step is logged in migration_log as Phase3 'restore'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from data_copy.core import lock_retry
from data_copy.errors import PgToolMissing, RestoreFailed, first_line
from data_copy.retire import backup, live_catalog, pg_tools
from data_copy.retire.backup_record import BackupRecord, read_backup
from data_copy.retire.cleanup import PHASE
from data_copy.retire.fingerprint import table_fingerprint
from data_copy.retire.pg_tools import TocEntry
from data_copy.settings import Settings
from data_copy.state import schema
from data_copy.state.journal import Journal, Status, Step

# TOC entries that belong to one relation, named first in their tag ("games games_pkey")
_RELATION_KINDS = frozenset(
    {
        "TABLE",
        "TABLE DATA",
        "VIEW",
        "MATERIALIZED VIEW",
        "MATERIALIZED VIEW DATA",
        "FOREIGN TABLE",
        "SEQUENCE",
        "SEQUENCE OWNED BY",
        "SEQUENCE SET",
        "DEFAULT",
        "CONSTRAINT",
        "FK CONSTRAINT",
        "CHECK CONSTRAINT",
        "INDEX",
        "TRIGGER",
        "RULE",
        "POLICY",
        "ROW SECURITY",
    }
)
_ABOUT_KINDS = frozenset({"COMMENT", "ACL", "SECURITY LABEL"})  # tag: "<object kind> <name>"
_OBJECT_WORDS = (
    "MATERIALIZED VIEW",
    "FOREIGN TABLE",
    "TABLE",
    "VIEW",
    "SEQUENCE",
    "COLUMN",
    "INDEX",
    "CONSTRAINT",
    "TRIGGER",
    "RULE",
    "POLICY",
)
_ALWAYS = frozenset({"ENCODING", "STDSTRINGS", "SEARCHPATH"})


def _bare(name: str) -> str:
    return name.strip().strip('"')


def _about(entry: TocEntry) -> tuple[str, str] | None:
    """(object kind, relation name) a COMMENT / ACL / SECURITY LABEL entry is about."""
    for word in _OBJECT_WORDS:
        if entry.tag.startswith(word + " "):
            rest = entry.tag[len(word) + 1 :]
            if " ON " in rest:
                return word, _bare(rest.split(" ON ", 1)[1].split(" ", 1)[0])
            name = rest.split(" ", 1)[0]
            if word == "COLUMN":
                name = name.rsplit(".", 1)[0]
            return word, _bare(name)
    return None


def restore_entries(
    entries: list[TocEntry], schemas: set[str], kept_names: set[str], existing_schemas: set[str]
) -> list[TocEntry]:
    """The dump's entries for what cleanup dropped: everything of the dropped `schemas`
    (their CREATE SCHEMA only if the schema is absent), and in the schemas that stay only
    the entries of the relations in `kept_names` ("public.games", their indexes...)."""
    chosen: list[TocEntry] = []
    for e in entries:
        if e.kind in _ALWAYS or e.schema in schemas:
            chosen.append(e)
        elif e.schema == "-":
            if e.kind == "SCHEMA" and e.first_word in schemas and e.first_word not in existing_schemas:
                chosen.append(e)
            elif e.kind in _ABOUT_KINDS and e.tag.startswith("SCHEMA ") and _bare(e.tag.split(" ")[1]) in schemas:
                chosen.append(e)
        elif e.kind in _RELATION_KINDS and f"{e.schema}.{_bare(e.first_word)}" in kept_names:
            chosen.append(e)
        elif e.kind in _ABOUT_KINDS:
            about = _about(e)
            if about is not None and f"{e.schema}.{about[1]}" in kept_names:
                chosen.append(e)
    return chosen


# --------------------------------------------------------------------------- records


def backup_record(conn: psycopg.Connection, dump: Path) -> BackupRecord:
    """What cleanup logged in migration_log when it wrote `dump`."""
    found = read_backup(conn, PHASE, dump, backup.run_id_of(dump))
    if found is None:
        raise RestoreFailed(
            f"migration_log has no record of backup {dump.name}",
            fix="give the dump cleanup wrote for this database (--dump), or restore it by hand with pg_restore",
        )
    return found


# --------------------------------------------------------------------------- restore


@dataclass
class RestoreReport:
    run_id: str
    dump: Path
    restored: bool  # False when everything was already there (a re-run): verified only
    tables: dict[str, tuple[int, str]] = field(default_factory=dict)  # as found after the restore
    seconds: float = 0.0


def _present(conn: psycopg.Connection, tables: list[str]) -> set[str]:
    return set(live_catalog.existing_tables(conn, {t.partition(".")[0] for t in tables})) & set(tables)


class _Locked(Exception):
    """pg_restore waited longer than lock_timeout for a lock: cancelled, rolled back whole."""


class LockWatch:
    """lock_timeout for pg_restore's session, which sets `lock_timeout = 0` itself (every
    dump starts so): called while it runs, it cancels the statement once the session has
    waited for a lock longer than `conn`'s lock_timeout, and keeps what it waited for."""

    def __init__(self, conn: psycopg.Connection, application_name: str) -> None:
        self.conn, self.name = conn, application_name
        row = conn.execute("SELECT extract(epoch FROM current_setting('lock_timeout')::interval)").fetchone()
        self.limit = float(row[0]) if row else 0.0
        self.since: float | None = None
        self.cancelled = ""  # "public.t (held by pid 12)" once it cancelled

    def __call__(self) -> None:
        if self.cancelled or self.limit <= 0:
            return
        row = self.conn.execute(
            "SELECT a.pid, (SELECT string_agg(DISTINCT n.nspname || '.' || c.relname, ', ')"
            "  FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace"
            "  WHERE l.pid = a.pid AND NOT l.granted AND l.locktype = 'relation'),"
            " pg_blocking_pids(a.pid) FROM pg_stat_activity a"
            " WHERE a.application_name = %s AND a.wait_event_type = 'Lock' LIMIT 1",
            (self.name,),
        ).fetchone()
        if row is None:
            self.since = None
            return
        if self.since is None:
            self.since = time.monotonic()
        if time.monotonic() - self.since < self.limit:
            return
        pid, table, blockers = row
        held = f" (held by pid {', '.join(map(str, blockers))})" if blockers else ""
        self.cancelled = f"{table or 'a lock'}{held}"
        self.conn.execute("SELECT pg_cancel_backend(%s)", (pid,))


def _pg_restore_retried(
    conn: psycopg.Connection,
    dsn: str,
    record: BackupRecord,
    pg_restore: Path,
    chosen: list[TocEntry],
    lock_timeout: str,
) -> str | None:
    """pg_restore (one transaction), cancelled when it waits for a lock longer than the
    session's lock_timeout (LockWatch) and run again whole after lock_retry's pauses: it
    only waits on objects that stayed (a restored table's foreign key references a table
    of `public`, say), where the application must not queue behind us. RestoreFailed
    naming the table after the last refusal; nothing is restored then."""
    name = f"data_copy_restore_{record.run_id}"[:63]

    def attempt() -> str | None:
        watch = LockWatch(conn, name)
        failed = pg_tools.pg_restore(pg_restore, dsn, record.dump, chosen, application_name=name, watch=watch)
        if failed is not None and watch.cancelled:
            raise _Locked(watch.cancelled)
        return failed

    started = time.monotonic()
    try:
        return lock_retry.retrying(attempt, refused=(_Locked,))
    except _Locked as error:
        raise RestoreFailed(
            f"restore refused, nothing restored: pg_restore waited longer than lock_timeout {lock_timeout}"
            f" for a lock on {error}, {lock_retry.ATTEMPTS} time(s) over {time.monotonic() - started:.1f} s",
            fix="end or wait out that session's transaction, then run restore again"
            " (or raise consolidation:lockTimeout)",
        ) from None


def _pg_restore(conn: psycopg.Connection, dsn: str, record: BackupRecord, pg_restore: Path, settings: Settings) -> int:
    _, entries = pg_tools.read_toc(record.dump, pg_restore)
    existing = set(live_catalog.existing_schemas(conn, record.schemas))
    chosen = restore_entries(entries, set(record.schemas), set(record.kept_names), existing)
    failed = _pg_restore_retried(conn, dsn, record, pg_restore, chosen, settings.lock_timeout)
    if failed is not None:
        raise RestoreFailed(
            f"pg_restore of {record.dump.name} failed, nothing restored: {failed}",
            fix="fix the cause (missing role, object in the way) and run restore again",
        )
    return len(chosen)


def restore(
    conn: psycopg.Connection, settings: Settings, journal: Journal, dsn: str, dump: Path | None = None
) -> RestoreReport:
    """Restore the legacy objects cleanup dropped and check every table's count and
    checksum against the ones recorded before the drop. RestoreFailed, one line, otherwise."""
    started = time.monotonic()
    schema.ensure(conn)
    path = Path(dump).expanduser().absolute() if dump is not None else backup.latest_dump(settings)
    if not path.is_file():
        raise RestoreFailed(f"backup {path} does not exist", fix="pass the dump cleanup wrote (--dump FILE)")
    record = backup_record(conn, path)
    entry = journal.start(Step.RESTORE, None, str(path), None)
    try:
        if record.sha256 is not None and backup.sha256(path) != record.sha256:
            raise RestoreFailed(
                f"backup {path.name} changed since cleanup wrote it (sha256 differs)",
                fix="use an intact copy of the dump",
            )
        names = sorted(record.tables)
        present = _present(conn, names)
        restored = False
        pieces = 0
        if not present:
            pg_restore = pg_tools.pg_tool("pg_restore", pg_tools.server_major(conn))
            pieces = _pg_restore(conn, dsn, record, pg_restore, settings)
            restored = True
        elif present != set(names):
            missing = sorted(set(names) - present)
            raise RestoreFailed(
                f"legacy tables are partly back ({len(present)} of {len(names)};"
                f" missing e.g. {', '.join(missing[:5])})",
                fix="drop the ones that are back (they are in the dump) and run restore again",
            )
        report = RestoreReport(record.run_id, path, restored)
        mismatches = _verify(conn, journal, record, report)
        missing_views = [v for v in record.views if live_catalog.relkind(conn, v) is None]
        if missing_views:
            mismatches.append(f"views not restored: {', '.join(missing_views)}")
        if mismatches:
            raise RestoreFailed(
                "restored data differs from what was recorded before the drop: " + "; ".join(mismatches[:8]),
                fix="keep the dump; compare it with `pg_restore --list` and migration_log step 'backup'",
            )
    except RestoreFailed as error:
        journal.finish(entry, Status.FAILED, error_message=str(error))
        raise
    except PgToolMissing as error:
        journal.finish(entry, Status.FAILED, error_message=str(error))
        raise RestoreFailed(str(error), fix=error.fix) from None
    except psycopg.errors.QueryCanceled as error:
        first = first_line(error)
        journal.finish(entry, Status.FAILED, error_message=first)
        raise RestoreFailed(
            f"verifying the restored tables hit statement_timeout {settings.statement_timeout} ({first})",
            fix="raise consolidation:statementTimeout and run restore again (it only re-verifies)",
        ) from None
    report.seconds = time.monotonic() - started
    journal.finish(
        entry,
        Status.COMPLETED if restored else Status.VERIFIED,
        records_migrated=sum(c for c, _ in report.tables.values()),
        details={"dump": str(path), "backup_run": record.run_id, "toc_entries": pieces, "restored": restored},
    )
    return report


def _verify(conn: psycopg.Connection, journal: Journal, record: BackupRecord, report: RestoreReport) -> list[str]:
    mismatches: list[str] = []
    for table in sorted(record.tables):
        count, checksum = record.tables[table]
        step = journal.start(Step.RESTORE, None, str(record.dump), table)
        now = table_fingerprint(conn, table)
        report.tables[table] = now
        same = now == (count, checksum)
        journal.finish(
            step,
            Status.PASSED if same else Status.FAILED,
            source_count=count,
            source_checksum=checksum,
            target_count=now[0],
            target_checksum=now[1],
            details={"backup_run": record.run_id},
        )
        if not same:
            what = f"{now[0]} rows vs {count} recorded" if now[0] != count else "checksum differs"
            mismatches.append(f"{table}: {what}")
    return mismatches
