"""Phase 3's backup: the dump cleanup writes before it drops, and where restore finds it.

    take_backup(conn, settings, dsn, plan, snapshot, run_id) -> Backup
    record(backup, plan, run_id) -> journal.BackupRecord   (what migration_log keeps of it)
    latest_dump(settings) -> Path                           (restore's default)

The dump is `<backupDir>/<UTC time>-<run id>.dump` (custom format, mode 0600: it holds every
legacy row), written as `.partial` and renamed when pg_dump succeeded. It holds exactly the
rows whose fingerprints were taken: both read the same exported snapshot.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from data_copy.errors import BackupUnreadable, RestoreFailed
from data_copy.retire import live_catalog, pg_tools
from data_copy.retire.backup_record import BackupRecord, Fingerprints
from data_copy.retire.cleanup_plan import CleanupPlan
from data_copy.retire.fingerprint import table_fingerprint
from data_copy.settings import Settings

DUMP_SUFFIX = ".dump"
_RUN_ID = re.compile(r"-(?P<run>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.dump$")


@dataclass(frozen=True)
class Backup:
    path: Path
    sha256: str
    pg_dump: Path
    pg_restore: Path
    tables: Fingerprints  # "schema.table" -> (count, checksum) at dump time


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dump_path(settings: Settings, run_id: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.backup_dir).expanduser().absolute() / f"{stamp}-{run_id}{DUMP_SUFFIX}"


def run_id_of(dump: Path) -> str | None:
    """The cleanup run that wrote `dump`, from its file name."""
    match = _RUN_ID.search(dump.name)
    return match.group("run") if match else None


def latest_dump(settings: Settings) -> Path:
    """The newest dump cleanup wrote in settings.backup_dir; RestoreFailed when there is none."""
    directory = Path(settings.backup_dir).expanduser().absolute()
    dumps = sorted(p for p in directory.glob(f"*{DUMP_SUFFIX}") if _RUN_ID.search(p.name)) if directory.is_dir() else []
    if not dumps:
        raise RestoreFailed(
            f"no backup found in {directory}",
            fix="pass --dump FILE, or point consolidation:backupDir at the directory cleanup wrote to",
        )
    return dumps[-1]


def _dump_scope(conn: psycopg.Connection, plan: CleanupPlan) -> tuple[list[str], list[str]]:
    """(schemas to dump, relations of them to leave out): the dropped schemas whole, and of
    the schemas that stay only what the plan drops there (its relations, their indexes and
    sequences)."""
    kept_parts = {n.partition(".")[0] for n in plan.kept_schema_names}
    schemas = [*plan.schemas, *(s for s in live_catalog.kept_legacy_schemas() if s in kept_parts)]
    exclude = live_catalog.excluded_relations(conn, set(plan.kept_schema_names)) if kept_parts else []
    return schemas, exclude


def take_backup(
    conn: psycopg.Connection, settings: Settings, dsn: str, plan: CleanupPlan, snapshot: str, run_id: str
) -> Backup:
    """Fingerprint every table to be dropped and pg_dump the legacy objects, both on the
    exported `snapshot` (so the dump holds exactly the fingerprinted rows)."""
    major = pg_tools.server_major(conn)
    pg_dump = pg_tools.pg_tool("pg_dump", major)
    pg_restore = pg_tools.pg_tool("pg_restore", major)
    tables = {t: table_fingerprint(conn, t) for t in plan.dropped_tables}
    path = dump_path(settings, run_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise BackupUnreadable(f"cannot create backup directory {path.parent}: {error.strerror}") from None
    partial = path.with_name(path.name + ".partial")
    schemas, exclude = _dump_scope(conn, plan)
    try:
        pg_tools.pg_dump(
            pg_dump,
            dsn,
            partial,
            snapshot=snapshot,
            lock_timeout=settings.lock_timeout,
            schemas=schemas,
            exclude=exclude,
        )
        partial.chmod(0o600)  # the dump holds every legacy row
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(path, sha256(path), pg_dump, pg_restore, tables)


def record(backup: Backup, plan: CleanupPlan, run_id: str) -> BackupRecord:
    """What migration_log keeps of `backup` (journal.log_backup writes it, restore reads it)."""
    what = (plan.schemas, plan.kept_schema_names, plan.views)  # what restore brings back
    return BackupRecord(run_id, backup.path, backup.sha256, *what, backup.tables, str(backup.pg_dump), plan.as_dict())
