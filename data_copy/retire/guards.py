"""Phase 3's refusals: every reason not to drop the legacy objects, each with its fix.

Each guard returns a list of Problem (refusals.py: empty = nothing stops us);
`check(conn, settings, plan)` runs them all, `problems.refusal` turns them into one
CleanupRefused line that names every reason and every fix. The guards:

(a) validation_problems   a mapping's latest validation is missing, failed, count-only,
                          or older than the latest write to its legacy table(s);
(b) unmapped_problems     a legacy table without a mapping holds rows (and would be lost
                          with its schema) and is not listed in settings.disposable_tables;
(c) dependency_problems   a view, foreign key, trigger, default, function signature, ...
                          that stays depends on something that would be dropped (pg_depend);
    function_body_problems  a function that stays mentions a dropped schema or a dropped
                          public table by qualified name in its body (a text heuristic:
                          PL/pgSQL and SQL bodies are not tracked by pg_depend);
                          both come from data_copy/refs/dependents.py, shared with `refs`;
(d) backup_problems       the dump of this run is missing, changed or unreadable, or lacks
                          a table or schema about to be dropped (it needs the dump: cleanup
                          runs it after pg_dump);
and, from their own modules, the phase guards (phase_guards.py) and the new tables'
structure (guards.structure_problems).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from catalog.legacy import LEGACY_BY_NAME
from catalog.mappings import MAPPINGS, Mapping
from catalog.schemas import LEGACY_SCHEMAS
from catalog.tables import table
from data_copy.core.ident import ident
from data_copy.errors import BackupUnreadable, first_line
from data_copy.mapping_sql import indexes
from data_copy.mapping_sql.row_hash import FORM, FORMS
from data_copy.refs import dependents
from data_copy.retire import guards, live_catalog, pg_tools, phase_guards
from data_copy.retire.backup import sha256
from data_copy.retire.cleanup_plan import CleanupPlan
from data_copy.retire.refusals import SAMPLES, Problem
from data_copy.settings import Settings
from data_copy.state import journal
from data_copy.state.journal import Status
from data_copy.validation import chunks, part_check


def check(conn: psycopg.Connection, settings: Settings, plan: CleanupPlan) -> list[Problem]:
    """Every guard but (d) for `plan` ((d) needs the dump and runs in cleanup)."""
    dropped = plan.dropped_relations
    return [
        *phase_guards.problems(conn, settings),  # first: before this cleanup reads legacy itself
        *validation_problems(conn, settings),
        *unmapped_problems(conn, settings),
        *dependency_problems(conn, dropped, plan.schemas),
        *function_body_problems(conn, dropped, plan.schemas),
        *guards.structure_problems(conn),
    ]


# ------------------------------------------------------------------ (a) validations


def latest_validations(conn: psycopg.Connection) -> dict[str, journal.Validation]:
    return {v.mapping: v for v in journal.latest_validations(conn)}


def latest_write(conn: psycopg.Connection, m: Mapping, settings: Settings) -> tuple[datetime | None, str | None]:
    """(newest changed_at value over the mapping's legacy tables, the table it is in).

    Naive timestamps are read in settings.legacy_timezone, as the copy reads them.
    """
    newest: datetime | None = None
    where: str | None = None
    for source in m.sources:
        types = live_catalog.column_types(conn, source)
        exprs: list[sql.Composable] = []
        for column in m.changed_at:
            kind = types.get(column)
            if kind == "timestamp with time zone":
                exprs.append(sql.SQL("max({})").format(sql.Identifier(column)))
            elif kind in ("timestamp without time zone", "date"):
                exprs.append(
                    sql.SQL("(max({})::timestamp AT TIME ZONE {})").format(
                        sql.Identifier(column), sql.Literal(settings.legacy_timezone)
                    )
                )
        if not exprs:
            continue
        row = conn.execute(
            sql.SQL("SELECT greatest({}) FROM {}").format(sql.SQL(", ").join(exprs), ident(source))
        ).fetchone()
        value = row[0] if row else None
        if value is not None and (newest is None or value > newest):
            newest, where = value, source
    return newest, where


def current_source_state(conn: psycopg.Connection, m: Mapping, recorded: str | None = None) -> tuple[int, str]:
    """(count, checksum) of the mapping's legacy side now, exactly as validation records
    them; when it differs from `recorded`, in the older row hash forms too (a validation
    logged before the form changed: row_hash.FORMS), so an upgrade alone is not a change."""
    count, checksum = part_check.source_state(conn, m)
    if recorded is not None and checksum != recorded:
        for form in FORMS:
            if form != FORM and part_check.source_state(conn, m, form)[1] == recorded:
                return count, recorded
    return count, checksum


def validation_problems(conn: psycopg.Connection, settings: Settings) -> list[Problem]:
    """(a) Every mapping whose legacy table(s) still exist needs a passing, checksummed
    validation that is newer than the last write to its legacy side.

    "Newer" is judged three ways, cheapest first: the newest value of the mapping's
    changed_at columns against the validation's completed_at; the legacy row count
    against the validated source_count; the legacy checksum against the validated one
    (this last one catches updates that do not touch a timestamp, and deletes).
    """
    problems: list[Problem] = []
    present = set(live_catalog.existing_tables(conn, LEGACY_SCHEMAS))
    latest = latest_validations(conn)
    incremental = chunks.not_full(conn)
    with conn.transaction():
        # validation computes checksums with naive timestamps read in this zone
        conn.execute("SELECT set_config('TimeZone', %s, true)", (settings.legacy_timezone,))
        for m in MAPPINGS:
            here = [s for s in m.sources if s in present]
            if not here:
                continue  # nothing of it left to drop (never there, or already cleaned up)
            if len(here) < len(m.sources):
                missing = ", ".join(s for s in m.sources if s not in present)
                problems.append(Problem("source_incomplete", m.name, f"{missing} is missing"))
                continue
            v = latest.get(m.name)
            if v is None:
                problems.append(Problem("validation_missing", m.name, ""))
                continue
            when = f"{v.completed_at:%Y-%m-%d %H:%M:%S%z}"
            if v.status != Status.PASSED:
                reason = (v.error_message or v.status).replace("\n", " ")
                problems.append(Problem("validation_failed", m.name, f"{reason} ({when})"))
                continue
            if m.name in incremental:
                problems.append(Problem("validation_not_full", m.name, when))
                continue
            if v.source_checksum is None:
                problems.append(Problem("validation_count_only", m.name, when))
                continue
            written, table = latest_write(conn, m, settings)
            if written is not None and written > v.completed_at:
                problems.append(
                    Problem(
                        "validation_stale",
                        m.name,
                        f"{table} written at {written:%Y-%m-%d %H:%M:%S%z}, validated at {when}",
                    )
                )
                continue
            try:
                with conn.transaction():  # a savepoint: an error here spoils nothing else
                    count, checksum = current_source_state(conn, m, v.source_checksum)
            except psycopg.Error as error:
                detail = f"cannot recompute its legacy checksum: {first_line(error)}"
                problems.append(Problem("validation_failed", m.name, detail))
                continue
            if count != v.source_count:
                problems.append(
                    Problem("validation_stale", m.name, f"{count} legacy rows now, {v.source_count} at {when}")
                )
            elif checksum != v.source_checksum:
                problems.append(Problem("validation_stale", m.name, f"legacy rows changed since {when}"))
    return problems


# ------------------------------------------------------------- (b) unmapped tables


def unmapped_problems(conn: psycopg.Connection, settings: Settings) -> list[Problem]:
    """(b) An unmapped table that holds rows and would be dropped with its schema.

    Only the droppable legacy schemas count: `public` is never dropped, so its unmapped
    tables stay (with their rows) whatever happens. settings.disposable_tables lists
    "schema.table" names whose rows may go.
    """
    disposable = set(settings.disposable_tables)
    problems: list[Problem] = []
    for qualified in live_catalog.unmapped_tables(conn, live_catalog.droppable_schemas()):
        if qualified in disposable:
            continue
        rows = live_catalog.limited_count(conn, qualified)
        if rows:
            shown = f"{rows:,}+" if rows >= 1_000_000 else f"{rows:,}"
            unknown = "" if qualified in LEGACY_BY_NAME else ", not in the legacy catalog"
            problems.append(Problem("unmapped_rows", qualified, f"{shown} rows{unknown}"))
    return problems


# ------------------------------------------------------------ (c) dependencies


def dependency_problems(conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]) -> list[Problem]:
    """(c) A view, foreign key, trigger, default, function signature... that stays (outside
    the legacy schemas, or in public) depends on a legacy object about to be dropped.

    Views inside the legacy schemas that depend on dropped tables are not problems: the
    caller drops them too (they are in `relations` or in a dropped schema, and in the backup).
    """
    by_dependent: dict[str, list[str]] = {}
    for dependent, referenced in dependents.dependencies_on(conn, relations, schemas):
        by_dependent.setdefault(dependent, []).append(referenced)
    return [
        Problem("dependency", dependent, "depends on " + ", ".join(refs[:3]) + (" ..." if len(refs) > 3 else ""))
        for dependent, refs in by_dependent.items()
    ]


def function_body_problems(conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]) -> list[Problem]:
    """(c, heuristic) A function that stays whose body names a dropped object: the body
    text is searched for `<dropped schema>.` and `<schema>.<dropped table>` (see
    refs.dependents.body_mentions; a mention in a comment counts: erring on refusing)."""
    return [
        Problem("function_body", f"function {m.identity}", f"mentions {m.mention}")
        for m in dependents.body_mentions(conn, relations, schemas)
    ]


# ------------------------------------------------------------------ (d) the backup


def backup_problems(
    dump: Path,
    pg_restore: Path,
    tables: Iterable[str],
    schemas: Iterable[str],
    expected_sha256: str | None = None,
) -> list[Problem]:
    """(d) The dump must exist, be the very file written (sha256), be readable by
    pg_restore --list, and hold the data of every table and every schema to be dropped."""
    subject = f"backup {dump}"
    if not dump.is_file():
        return [Problem("backup", subject, "does not exist")]
    if dump.stat().st_size == 0:
        return [Problem("backup", subject, "is empty")]
    if expected_sha256 is not None and sha256(dump) != expected_sha256:
        return [Problem("backup", subject, "changed since it was written (sha256 differs)")]
    try:
        _, entries = pg_tools.read_toc(dump, pg_restore)
    except BackupUnreadable as error:
        return [Problem("backup", subject, str(error).removeprefix(subject).strip())]
    data = {(e.schema, e.first_word) for e in entries if e.kind == "TABLE DATA"}
    present = {e.first_word for e in entries if e.kind == "SCHEMA"}
    missing = [t for t in tables if tuple(t.split(".", 1)) not in data]
    missing += [f"schema {s}" for s in schemas if s not in present]
    if missing:
        return [Problem("backup", subject, "lacks " + ", ".join(missing[:SAMPLES]))]
    return []


def not_in_dump(conn: psycopg.Connection, schemas: Iterable[str], dump: Path, pg_restore: Path) -> list[str]:
    """(d, under cleanup's locks) Relations of the `schemas` about to go that the dump does
    not hold: created after pg_dump's snapshot, they would go unsaved."""
    _, entries = pg_tools.read_toc(dump, pg_restore)
    in_dump = {(e.schema, e.first_word) for e in entries}
    return [f"{s}.{r}" for s, r in live_catalog.relations_in(conn, schemas) if (s, r) not in in_dump]


def structure_problems(conn: psycopg.Connection) -> list[Problem]:
    """Cleanup guard: every mapped table's missing or invalid keys, indexes and FKs."""
    found: list[Problem] = []
    for m in MAPPINGS:
        gaps = indexes.missing(conn, table(m.target))
        if gaps:
            found.append(Problem("structure", m.target, "lacks " + ", ".join(gaps)))
    return found
