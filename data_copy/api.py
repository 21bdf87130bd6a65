"""One flat function per verb (as Alembic's command.py): plan, run, validate, status."""

from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS, Mapping, copy_order
from catalog.schemas import SCHEMA_NAMES
from catalog.tables import table
from data_copy import ddl, drift, history, journal, merge_conflicts, run_lock, structure, validator
from data_copy.connection import connect
from data_copy.copier import Copier
from data_copy.errors import PhaseNotDeployed
from data_copy.projection import Part, ident, parts
from data_copy.settings import Settings

Progress = Callable[[str, int, int], None]
SETTLE_ATTEMPTS = 3  # the application writing the new tables (phase 2) may conflict
SETTLED = "re-synced and validated (counts, checksums)"


@dataclass
class MappingResult:
    name: str
    source: str
    target: str
    status: str  # passed | failed | missing_source
    source_count: int = 0
    target_count: int = 0
    copied: int = 0
    rejected: int = 0
    message: str = ""
    checks: list[validator.PartCheck] = field(default_factory=list)
    conflicts: dict[str, dict] = field(default_factory=dict)  # merge: column -> count, sample keys


@dataclass
class RunReport:
    run_id: str
    results: list[MappingResult]
    created_tables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "passed" for r in self.results)


def _existing_tables(conn: psycopg.Connection) -> set[str]:
    return {f"{s}.{n}" for s, n in conn.execute("SELECT schemaname, tablename FROM pg_tables")}


def _require_structure(conn: psycopg.Connection, settings: Settings) -> None:
    present = {
        r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMA_NAMES),))
    }
    missing = [s for s in SCHEMA_NAMES if s not in present]
    if missing:
        raise PhaseNotDeployed(f"the consolidated schemas are not deployed yet (missing: {', '.join(missing)})")
    role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.owner_role,)).fetchone()
    if not role:
        raise PhaseNotDeployed(f"the owner role {settings.owner_role} does not exist")


def bootstrap_structure(dsn: str, settings: Settings | None = None) -> None:
    """Schemas + owner role without Pulumi: for benchmarks and data-only tests."""
    settings = settings or Settings()
    with connect(dsn, settings) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.owner_role,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(settings.owner_role)))
        for schema in SCHEMA_NAMES:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                    sql.Identifier(schema), sql.Identifier(settings.owner_role)
                )
            )


def _check_mapping(conn: psycopg.Connection, m: Mapping, part_list: list[Part], checksums: bool) -> MappingResult:
    checks = [validator.check(conn, p, checksums) for p in part_list]
    passed = all(c.passed for c in checks)
    return MappingResult(
        name=m.name,
        source=" + ".join(m.sources),
        target=m.target,
        status="passed" if passed else "failed",
        source_count=sum(c.source_count for c in checks),
        target_count=sum(c.target_count for c in checks),
        rejected=sum(c.rejected for c in checks),
        message="; ".join(c.message() for c in checks if not c.passed),
        checks=checks,
    )


def _settle(
    conn: psycopg.Connection, copier: Copier, m: Mapping, part_list: list[Part], checksums: bool
) -> tuple[int, MappingResult]:
    """Re-syncs and validates in ONE repeatable-read snapshot, so rows the application
    writes meanwhile cannot make a correct copy look wrong: they belong to the next run."""
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                copied = sum(copier.copy(part).copied for part in part_list)
                result = _check_mapping(conn, m, part_list, checksums)
                if result.status != "passed":
                    # why rows are missing is worked out only now: a clean copy never pays for it
                    for part in part_list:
                        copier.record_rejects(part)
                    result = _check_mapping(conn, m, part_list, checksums)
                    if not result.rejected or any(c.target_count + c.rejected != c.source_count for c in result.checks):
                        # rows not explained (a change the watermark could not see, an update
                        # without a timestamp, a delete, a constraint refusal whose reject
                        # went with an earlier run): one full keyed pass records them
                        copied += sum(copier.reconcile(part).copied for part in part_list)
                        result = _check_mapping(conn, m, part_list, checksums)
            return copied, result
        except psycopg.errors.SerializationFailure:
            copier.forget_exclusions()  # their temporary tables went with the transaction
            if attempt == SETTLE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _with_structure(conn: psycopg.Connection, result: MappingResult) -> None:
    """Fails the result when its table lacks a catalog key, CHECK, index or foreign key,
    or when creating one recorded refused rows (orphans, duplicates) after the check."""
    gaps = structure.missing(conn, table(result.target))
    names = [result.name, *(c.part for c in result.checks)]
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE mapping = ANY(%s)").format(journal.REJECTS), (names,)
    ).fetchone()
    result.rejected = max(result.rejected, row[0] if row else 0)
    if gaps or result.rejected:
        result.status = "failed"
    if gaps:
        note = f"{result.target} lacks {', '.join(gaps)}"
        result.message = f"{result.message}; {note}" if result.message else note


def _log_validation(j: journal.Journal, result: MappingResult, checksums: bool) -> None:
    entry = j.start("validate", result.name, result.source, result.target)
    src = "+".join(c.source_checksum or "" for c in result.checks) if checksums else None
    tgt = "+".join(c.target_checksum or "" for c in result.checks) if checksums else None
    j.finish(
        entry,
        result.status,
        source_count=result.source_count,
        target_count=result.target_count,
        source_checksum=src,
        target_checksum=tgt,
        error_message=result.message or None,
        details={"checksums": checksums, "rejected": result.rejected}
        | ({"merge_conflicts": result.conflicts} if result.conflicts else {}),
    )


def _absent(m: Mapping, missing: list[str], status: str) -> MappingResult:
    message = f"table does not exist: {', '.join(missing)}"
    return MappingResult(m.name, " + ".join(m.sources), m.target, status, message=message)


def _missing_sources(conn: psycopg.Connection, m: Mapping) -> list[str]:
    existing = _existing_tables(conn)
    return [s for s in m.sources if s not in existing]


def run(
    dsn: str,
    settings: Settings | None = None,
    checksums: bool = True,
    progress: Progress | None = None,
) -> RunReport:
    settings = settings or Settings()
    with run_lock.locked(dsn, settings, "run") as conn:
        _require_structure(conn, settings)
        drift.check(conn)
        journal.ensure(conn)
        j = journal.Journal(conn, f"Phase{settings.phase}")
        created = ddl.create_tables(conn, settings.owner_role)
        copier = Copier(conn, j.run_id, progress)
        results: list[MappingResult] = []
        order = copy_order()
        tick = progress or (lambda name, done, total: None)
        for i, m in enumerate(order):
            tick(SETTLED, i, len(order))
            missing = _missing_sources(conn, m)
            entry = j.start("copy", m.name, " + ".join(m.sources), m.target)
            if missing:  # `failed`, so the guide's `WHERE status = 'failed'` shows it
                result = _absent(m, missing, "missing_source")
                j.finish(entry, "failed", error_message=result.message)
                results.append(result)
                continue
            copied = 0
            part_list = parts(m)
            if any(copier.first_copy(part) for part in part_list):
                for part in part_list:  # the bulk of the rows, in committed chunks
                    copied += copier.copy(part).copied
            caught_up, result = _settle(conn, copier, m, part_list, checksums)
            copied += caught_up
            if m.merge:
                result.conflicts = merge_conflicts.count(conn, m)
            j.finish(entry, "completed", records_migrated=copied)
            result.copied = copied
            results.append(result)
        tick(SETTLED, len(order), len(order))
        entry = j.start("structure")
        problems = structure.finish(conn, settings.owner_role, j.run_id, progress)
        j.finish(entry, "failed" if problems else "completed", details={"problems": problems} if problems else None)
        for result in results:  # validated only with every key, index and FK in place
            if result.status != "missing_source":
                _with_structure(conn, result)
                _log_validation(j, result, checksums)
        return RunReport(str(j.run_id), results, created)


def validate(
    dsn: str, settings: Settings | None = None, checksums: bool = True, progress: Progress | None = None
) -> list[MappingResult]:
    settings = settings or Settings()
    progress = progress or (lambda name, done, total: None)
    with run_lock.locked(dsn, settings, "validate") as conn:
        _require_structure(conn, settings)
        drift.check(conn)
        journal.ensure(conn)
        j = journal.Journal(conn, f"Phase{settings.phase}")
        existing = _existing_tables(conn)
        results = []
        order = copy_order()
        for i, m in enumerate(order):
            progress("validate (counts and checksums)", i, len(order))
            if _missing_sources(conn, m) or m.target not in existing:
                result = _absent(m, [t for t in (*m.sources, m.target) if t not in existing], "failed")
                entry = j.start("validate", m.name, result.source, result.target)
                j.finish(entry, "failed", error_message=result.message)
                results.append(result)
                continue
            result = _check_mapping(conn, m, parts(m), checksums)
            _with_structure(conn, result)
            _log_validation(j, result, checksums)
            results.append(result)
        progress("validate (counts and checksums)", len(order), len(order))
        return results


@dataclass
class PlanRow:
    name: str
    source: str
    target: str
    source_rows: int | None
    target_rows: int | None
    to_copy: int | None


def plan(dsn: str, settings: Settings | None = None) -> list[PlanRow]:
    """Per mapping: legacy rows, new rows, rows still to copy. Changes nothing."""
    settings = settings or Settings()
    rows = []
    with connect(dsn, settings) as conn:
        drift.check(conn)
        existing = _existing_tables(conn)
        for m in MAPPINGS:
            src = None
            if not _missing_sources(conn, m):
                src = sum(validator.legacy_rows(conn, part) for part in parts(m))
            tgt = None
            if m.target in existing:
                r = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(m.target))).fetchone()
                tgt = r[0] if r else 0
            to_copy = None if src is None else max(src - (tgt or 0), 0)
            rows.append(PlanRow(m.name, " + ".join(m.sources), m.target, src, tgt, to_copy))
    return rows


def status(dsn: str, settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    with connect(dsn, settings) as conn:
        latest = journal.latest_validations(conn)
        last_run = None
        if latest:
            row = conn.execute(
                sql.SQL(
                    "SELECT run_id, migration_phase, max(completed_at) FROM {} GROUP BY 1, 2"
                    " ORDER BY 3 DESC NULLS LAST LIMIT 1"
                ).format(journal.LOG)
            ).fetchone()
            last_run = row
        return {
            "phase": settings.phase,
            "last_run": last_run,
            "last": history.last_commands(conn),
            "validations": latest,
        }
