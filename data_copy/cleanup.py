"""Phase 3: back up, then drop the migrated legacy tables and the legacy schemas left.

    plan_cleanup(conn, settings) -> CleanupPlan          what would be dropped (changes nothing)
    cleanup(conn, settings, journal, dsn) -> CleanupReport

`cleanup` re-checks every guard itself (data_copy.guards), whatever the stack says:
first without locks (a refusal never blocks the application), then again inside the one
transaction that drops, after SHARE locks have frozen every table to be dropped. In that
transaction it exports its snapshot, fingerprints every table (count + checksum, logged in
migration_log as Phase3 'backup'), runs pg_dump on that very snapshot, checks the dump
with pg_restore --list, and only then drops:

  1. the migrated legacy tables (every mapping's source);
  2. views in `public` that depend on them (in the backup too);
  3. every legacy schema but `public`, with what is left in it: unmapped tables that are
     empty or listed in settings.disposable_tables, views, functions, sequences, types.

`public` itself, its unmapped tables, migration_log and the permission functions stay.
Right before the drops, the dependency guard runs once more and the set of objects that
must survive is recorded; if any of them is gone after the drops, everything rolls back.
A table created concurrently in a legacy schema while we run is not in the dump: that
too rolls back. Each drop is logged (Phase3 'drop_table' / 'drop_view' / 'drop_schema').
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS
from catalog.schemas import LEGACY_SCHEMAS, NEVER_DROPPED_SCHEMAS
from data_copy import capture, disposable, guards, phase_guards, phase_state, quiet, run_lock, structure
from data_copy import journal as journal_mod
from data_copy.connection import connect
from data_copy.errors import CleanupRefused, LegacyTableMissing
from data_copy.guards import Problem, qualified_ident
from data_copy.journal import Journal
from data_copy.settings import Settings

PHASE = "Phase3"
DUMP_SUFFIX = ".dump"
_PLAN_ATTEMPTS = 3


class CleanupTimedOut(CleanupRefused):
    fix = "raise consolidation:statementTimeout (the guards and the backup read every legacy table)"


def _timed_out(settings: Settings, error: psycopg.Error) -> CleanupTimedOut:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return CleanupTimedOut(
        f"cleanup refused, nothing dropped: statement_timeout {settings.statement_timeout} reached ({first})"
    )


class LegacyTablesBusy(CleanupRefused):
    fix = (
        "the application (or another session) still uses the legacy tables: stop it or wait, "
        "then cleanup again (or raise consolidation:lockTimeout)"
    )


# ------------------------------------------------------------------------------ plan


@dataclass(frozen=True)
class CleanupPlan:
    tables: tuple[str, ...] = ()  # migrated legacy tables ("schema.table") that exist
    views: tuple[str, ...] = ()  # views in the schemas that stay (public) that depend on them
    schemas: tuple[str, ...] = ()  # legacy schemas dropped with everything left in them
    schema_tables: tuple[str, ...] = ()  # unmapped tables going with their schema
    schema_objects: tuple[str, ...] = ()  # other objects going with their schema ("view splits.v")
    holding: tuple[str, ...] = ()  # schema_tables that hold rows
    disposable: tuple[str, ...] = ()  # those of them listed in settings.disposable_tables
    kept: tuple[str, ...] = ()  # unmapped tables of `public`, which stay
    kept_schema_names: tuple[str, ...] = ()  # "public.name" the backup restores: relations, indexes, sequences
    mapping_of: dict[str, str] = field(default_factory=dict)  # legacy table -> mapping name

    @property
    def dropped_tables(self) -> tuple[str, ...]:
        """Every table whose rows go (and are in the backup)."""
        return self.tables + self.schema_tables

    @property
    def empty(self) -> bool:
        return not (self.tables or self.views or self.schemas)

    def lines(self) -> list[str]:
        """What will happen, one line per object (for `--dry-run` and `pulumi preview`)."""
        if self.empty:
            return ["nothing to drop: no migrated legacy table and no legacy schema left"]
        out = []
        for t in self.tables:
            target = next((m.target for m in MAPPINGS if t in m.sources), "?")
            out.append(f"drop table {t} (migrated to {target})")
        out += [f"drop view {v} (depends on dropped tables)" for v in self.views]
        for s in self.schemas:
            inside = [t for t in self.schema_tables if t.startswith(s + ".")]
            others = [o for o in self.schema_objects if re.search(rf"\b{re.escape(s)}\.", o)]
            what = [f"{t} ({self._state(t)})" for t in inside] + others
            out.append(f"drop schema {s}" + (f" with {', '.join(what)}" if what else " (empty)"))
        stays = ", ".join(self.kept) if self.kept else "no unmapped tables"
        out.append(f"keep schema {', '.join(sorted(NEVER_DROPPED_SCHEMAS))} ({stays}; migration_log)")
        return out

    def _state(self, table: str) -> str:
        if table in self.disposable:
            return "holds rows, disposable"
        return "holds rows: cleanup refuses" if table in self.holding else "empty"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _views_depending(conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]) -> list[str]:
    """Views and materialized views in the schemas that stay (public) that depend, directly or
    through other views, on `relations` or on anything in `schemas`."""
    oids = guards.relation_oids(conn, relations)
    rows = conn.execute(
        """WITH RECURSIVE doomed(oid) AS (
             SELECT unnest(%(rels)s::oid[])
             UNION
             SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY(%(schemas)s::text[])
             UNION
             SELECT w.ev_class FROM doomed
             JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = doomed.oid
             JOIN pg_rewrite w ON d.classid = 'pg_rewrite'::regclass AND w.oid = d.objid
             WHERE w.ev_class <> doomed.oid
           )
           SELECT n.nspname || '.' || c.relname FROM doomed
           JOIN pg_class c ON c.oid = doomed.oid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = ANY(%(kept)s::text[]) AND c.relkind IN ('v', 'm')
           ORDER BY 1""",
        {"rels": oids, "schemas": list(schemas), "kept": _kept_legacy_schemas()},
    ).fetchall()
    return [str(r[0]) for r in rows]


def _kept_legacy_schemas() -> list[str]:
    return [s for s in LEGACY_SCHEMAS if s in NEVER_DROPPED_SCHEMAS]


def _schema_objects(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Objects in `schemas` other than tables (and their indexes, owned sequences, row types)."""
    rows = conn.execute(
        """SELECT o.type || ' ' || o.identity FROM (
             SELECT 'pg_class'::regclass AS cls, c.oid FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY(%(s)s) AND c.relkind IN ('v', 'm', 'f', 'S')
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                               AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
             UNION ALL
             SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = ANY(%(s)s)
             UNION ALL
             SELECT 'pg_type'::regclass, t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = ANY(%(s)s) AND t.typrelid = 0
               AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
           ) AS x CROSS JOIN LATERAL pg_identify_object(x.cls, x.oid, 0) AS o
           ORDER BY 1""",
        {"s": schemas},
    ).fetchall()
    return [str(r[0]) for r in rows]


def _kept_schema_names(conn: psycopg.Connection, relations: list[str]) -> list[str]:
    """For dropped relations in schemas that stay: their names, their indexes' and their
    owned sequences' names, "schema.name" (what restore takes from the dump there)."""
    oids = guards.relation_oids(conn, relations)
    rows = conn.execute(
        """SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.oid = ANY(%(o)s::oid[])
              OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = ANY(%(o)s::oid[]))
              OR c.oid IN (SELECT d.objid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY(%(o)s::oid[])
                           AND d.deptype IN ('a', 'i'))
           ORDER BY 1""",
        {"o": oids},
    ).fetchall()
    return [str(r[0]) for r in rows]


def plan_cleanup(conn: psycopg.Connection, settings: Settings) -> CleanupPlan:
    """What cleanup would drop now (guards not applied: see check_guards). Changes nothing."""
    present = set(guards.existing_tables(conn, LEGACY_SCHEMAS))
    tables = tuple(t for t in guards.mapped_sources() if t in present)
    schemas = tuple(guards.existing_schemas(conn, guards.droppable_schemas()))
    schema_tables = tuple(guards.unmapped_tables(conn, schemas))
    holding = tuple(t for t in schema_tables if guards._limited_count(conn, t, 1))
    views = tuple(_views_depending(conn, tables, schemas))
    in_kept = [r for r in (*tables, *views) if r.partition(".")[0] not in schemas]
    return CleanupPlan(
        tables=tables,
        views=views,
        schemas=schemas,
        schema_tables=schema_tables,
        schema_objects=tuple(_schema_objects(conn, list(schemas))) if schemas else (),
        holding=holding,
        disposable=tuple(t for t in holding if t in settings.disposable_tables),
        kept=tuple(guards.unmapped_tables(conn, _kept_legacy_schemas())),
        kept_schema_names=tuple(_kept_schema_names(conn, in_kept)),
        mapping_of={s: m.name for m in MAPPINGS for s in m.sources if s in tables},
    )


def check_guards(conn: psycopg.Connection, settings: Settings, plan: CleanupPlan) -> list[Problem]:
    """Guards (a), (b) and (c) for `plan`; (d) needs the dump and runs in cleanup()."""
    dropped = [*plan.tables, *plan.views]
    return [
        *phase_guards.problems(conn, settings),  # first: before this cleanup reads legacy itself
        *guards.validation_problems(conn, settings),
        *guards.unmapped_problems(conn, settings),
        *guards.dependency_problems(conn, dropped, plan.schemas),
        *guards.function_body_problems(conn, dropped, plan.schemas),
        *structure.problems(conn),
    ]


# ---------------------------------------------------------------------------- backup


@dataclass(frozen=True)
class Backup:
    path: Path
    sha256: str
    pg_dump: Path
    pg_restore: Path
    tables: dict[str, tuple[int, str]]  # "schema.table" -> (count, checksum) at dump time


def _pattern(*parts: str) -> str:
    """A pg_dump name pattern matching exactly these identifiers (quoted: no wildcards)."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def libpq_args(dsn: str) -> tuple[list[str], dict[str, str]]:
    """(--dbname argument, environment) for a client tool: the password goes in the
    environment, not on the command line where `ps` would show it."""
    env = dict(os.environ)
    if not dsn:
        return [], env
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return [f"--dbname={psycopg.conninfo.make_conninfo(**params)}"], env


def _excluded_relations(conn: psycopg.Connection, keep: set[str]) -> list[str]:
    """Relations of the schemas that stay that the dump must leave out (all but `keep`)."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY 1, 2",
        (_kept_legacy_schemas(),),
    ).fetchall()
    return [f"{s}.{r}" for s, r in rows if f"{s}.{r}" not in keep]


def dump_path(settings: Settings, run_id: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.backup_dir).expanduser().absolute() / f"{stamp}-{run_id}{DUMP_SUFFIX}"


def _run_pg_dump(
    conn: psycopg.Connection,
    dsn: str,
    plan: CleanupPlan,
    snapshot: str,
    path: Path,
    pg_dump: Path,
    lock_timeout: str,
) -> None:
    args = [
        str(pg_dump),
        "--format=custom",
        f"--snapshot={snapshot}",
        "--no-password",
        f"--file={path}",
        f"--lock-wait-timeout={lock_timeout}",
    ]
    for schema in plan.schemas:
        args.append(f"--schema={_pattern(schema)}")
    kept_parts = {n.partition(".")[0] for n in plan.kept_schema_names}
    for schema in _kept_legacy_schemas():
        if schema in kept_parts:
            args.append(f"--schema={_pattern(schema)}")
    if kept_parts:
        for name in _excluded_relations(conn, set(plan.kept_schema_names)):
            schema, _, rel = name.partition(".")
            args.append(f"--exclude-table={_pattern(schema, rel)}")
    db_args, env = libpq_args(dsn)
    proc = subprocess.run(args + db_args, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split())[:400]
        raise guards.BackupUnreadable(f"pg_dump failed (exit {proc.returncode}): {detail}")


def take_backup(
    conn: psycopg.Connection, settings: Settings, dsn: str, plan: CleanupPlan, snapshot: str, run_id: str
) -> Backup:
    """Fingerprint every table to be dropped and pg_dump the legacy objects, both on the
    exported `snapshot` (so the dump holds exactly the fingerprinted rows)."""
    major = guards.server_major(conn)
    pg_dump = guards.pg_tool("pg_dump", major)
    pg_restore = guards.pg_tool("pg_restore", major)
    tables = {t: guards.table_fingerprint(conn, t) for t in plan.dropped_tables}
    path = dump_path(settings, run_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise guards.BackupUnreadable(f"cannot create backup directory {path.parent}: {error.strerror}") from None
    partial = path.with_name(path.name + ".partial")
    try:
        _run_pg_dump(conn, dsn, plan, snapshot, partial, pg_dump, settings.lock_timeout)
        partial.chmod(0o600)  # the dump holds every legacy row
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(path, guards.sha256(path), pg_dump, pg_restore, tables)


def _log_backup(journal: Journal, plan: CleanupPlan, backup: Backup) -> None:
    summary = journal.start("backup", None, None, str(backup.path))
    journal.finish(
        summary,
        "completed",
        records_migrated=sum(count for count, _ in backup.tables.values()),
        details={
            "dump": str(backup.path),
            "file": backup.path.name,
            "sha256": backup.sha256,
            "pg_dump": str(backup.pg_dump),
            "plan": plan.as_dict(),
        },
    )
    for table, (count, checksum) in backup.tables.items():
        entry = journal.start("backup", plan.mapping_of.get(table), table, str(backup.path))
        journal.finish(
            entry,
            "completed",
            source_count=count,
            source_checksum=checksum,
            details={"file": backup.path.name, "kind": "migrated" if table in plan.tables else "unmapped"},
        )


# ---------------------------------------------------------------------------- drops


@dataclass
class CleanupReport:
    run_id: str
    plan: CleanupPlan
    dump: Path | None = None
    dropped_tables: list[str] = field(default_factory=list)
    dropped_views: list[str] = field(default_factory=list)
    dropped_schemas: list[str] = field(default_factory=list)
    fingerprints: dict[str, tuple[int, str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def nothing_done(self) -> bool:
        return not (self.dropped_tables or self.dropped_views or self.dropped_schemas)


_OBJECTS = """
SELECT x.cls::oid, x.oid FROM (
  SELECT 'pg_class'::regclass AS cls, c.oid, c.oid AS rel, c.relnamespace AS nsp FROM pg_class c
  UNION ALL SELECT 'pg_proc'::regclass, p.oid, NULL, p.pronamespace FROM pg_proc p
  UNION ALL SELECT 'pg_type'::regclass, t.oid, nullif(t.typrelid, 0), t.typnamespace FROM pg_type t
  UNION ALL SELECT 'pg_constraint'::regclass, k.oid, nullif(k.conrelid, 0), k.connamespace FROM pg_constraint k
  UNION ALL SELECT 'pg_trigger'::regclass, g.oid, g.tgrelid, NULL FROM pg_trigger g
  UNION ALL SELECT 'pg_rewrite'::regclass, w.oid, w.ev_class, NULL FROM pg_rewrite w
  UNION ALL SELECT 'pg_attrdef'::regclass, a.oid, a.adrelid, NULL FROM pg_attrdef a
  UNION ALL SELECT 'pg_policy'::regclass, p.oid, p.polrelid, NULL FROM pg_policy p
  UNION ALL SELECT 'pg_namespace'::regclass, n.oid, NULL, n.oid FROM pg_namespace n
) AS x
LEFT JOIN pg_class r ON r.oid = x.rel
JOIN pg_namespace s ON s.oid = coalesce(r.relnamespace, x.nsp)
WHERE x.oid >= 16384 AND s.nspname NOT LIKE 'pg\\_toast%%' AND s.nspname NOT LIKE 'pg\\_temp\\_%%'
"""


def _objects(conn: psycopg.Connection) -> set[tuple[int, int]]:
    return {(int(c), int(o)) for c, o in conn.execute(sql.SQL(_OBJECTS), {}).fetchall()}


def _describe(conn: psycopg.Connection, objects: Iterable[tuple[int, int]]) -> dict[tuple[int, int], str]:
    pairs = list(objects)
    rows = conn.execute(
        "SELECT c, o, (SELECT i.type || ' ' || i.identity FROM pg_identify_object(c, o, 0) AS i)"
        " FROM unnest(%s::oid[], %s::oid[]) AS u(c, o)",
        ([c for c, _ in pairs], [o for _, o in pairs]),
    ).fetchall()
    return {(int(c), int(o)): str(text) for c, o, text in rows}


def _doomed_objects(conn: psycopg.Connection, plan: CleanupPlan) -> set[tuple[int, int]]:
    """Objects the drops take with them: in a dropped schema, or belonging to a dropped
    relation (its indexes, owned sequences, row types, constraints, rules, defaults...)."""
    rels = guards.relation_oids(conn, [*plan.tables, *plan.views])
    rows = conn.execute(
        sql.SQL(
            "SELECT classid::oid, objid FROM (SELECT w.classid, w.objid, w.rel, {schema} AS nsp FROM"
            " (SELECT x.classid, x.objid, {rel} AS rel"
            " FROM (SELECT DISTINCT y.cls AS classid, y.oid AS objid FROM ({objects}) AS y(cls, oid)) AS x) AS w) AS z"
            " WHERE z.rel = ANY(%(rels)s::oid[]) OR z.nsp = ANY(%(schemas)s::text[])"
        ).format(
            rel=guards._anchor_rel("x.classid", "x.objid"),
            schema=guards._anchor_schema("w.classid", "w.objid", "w.rel"),
            objects=sql.SQL(_OBJECTS),
        ),
        {"rels": rels, "schemas": list(plan.schemas)},
    ).fetchall()
    return {(int(c), int(o)) for c, o in rows}


def _new_in_dropped_schemas(conn: psycopg.Connection, plan: CleanupPlan, backup: Backup) -> list[str]:
    """Relations in the schemas about to go that the dump does not hold (created meanwhile)."""
    _, entries = guards.read_toc(backup.path, backup.pg_restore)
    in_dump = {(e.schema, e.first_word) for e in entries}
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
        (list(plan.schemas),),
    ).fetchall()
    return [f"{s}.{r}" for s, r in rows if (s, r) not in in_dump]


def _lock(conn: psycopg.Connection, tables: Iterable[str]) -> None:
    names = list(tables)
    if names:
        conn.execute(
            sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.SQL(", ").join(qualified_ident(t) for t in names))
        )


def _drop(conn: psycopg.Connection, plan: CleanupPlan) -> None:
    for table in plan.tables:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(qualified_ident(table)))
    for view in plan.views:
        kind = conn.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s",
            tuple(view.split(".", 1)),
        ).fetchone()
        if kind is None:
            continue  # went with a table it depends on
        what = sql.SQL("MATERIALIZED VIEW" if kind[0] == "m" else "VIEW")
        conn.execute(sql.SQL("DROP {} {} CASCADE").format(what, qualified_ident(view)))
    for schema in plan.schemas:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _refuse_logged(journal: Journal, problems: list[Problem], plan: CleanupPlan) -> CleanupRefused:
    error = guards.refusal(problems)
    entry = journal.start("guard")
    journal.finish(
        entry,
        "refused",
        error_message=str(error),
        details={"problems": [asdict(p) for p in problems], "plan": plan.lines()},
    )
    return error


def _previous_cleanup(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        sql.SQL(
            "SELECT 1 FROM {} WHERE migration_phase = %s AND step LIKE 'drop%%' AND status = 'dropped' LIMIT 1"
        ).format(journal_mod.LOG),
        (PHASE,),
    ).fetchone()
    return row is not None


def cleanup(
    conn: psycopg.Connection,
    settings: Settings,
    journal: Journal,
    dsn: str,
    *,
    after_backup: Callable[[Backup], None] | None = None,
) -> CleanupReport:
    """Check every guard, back up, drop; refuse (CleanupRefused, nothing dropped) otherwise.

    `conn` (autocommit) reads and writes migration_log through `journal`; the locks, the
    backup and the drops happen on a second connection opened from `dsn` ("" = PG*
    variables). `after_backup` is called with the backup before it is checked (a test hook).
    """
    quiet.ensure(conn)
    quiet.snapshot(conn, journal.run_id, "cleanup", "start")  # before this cleanup reads legacy
    try:
        report = _cleanup(conn, settings, journal, dsn, after_backup)
    except psycopg.errors.QueryCanceled as error:
        raise _logged(journal, _timed_out(settings, error)) from None
    finally:
        quiet.snapshot(conn, journal.run_id, "cleanup", "end")
    if report.dropped_tables or report.dropped_schemas:
        phase_state.record(conn, 3, phase_state.CLEANED_UP, journal.run_id, settings.stack)
        capture.drop(conn, settings)  # the legacy tables are gone: a slot left would keep WAL forever
    return report


def _cleanup(
    conn: psycopg.Connection,
    settings: Settings,
    journal: Journal,
    dsn: str,
    after_backup: Callable[[Backup], None] | None,
) -> CleanupReport:
    started = time.monotonic()
    journal_mod.ensure(conn)
    run_id = str(journal.run_id)
    plan = plan_cleanup(conn, settings)
    if plan.empty:
        if not _previous_cleanup(conn):
            raise LegacyTableMissing(
                f"database {conn.info.dbname!r} has no legacy table or schema and no earlier cleanup is logged"
            )
        entry = journal.start("cleanup")
        journal.finish(entry, "skipped", details={"reason": "nothing left to drop (cleaned up before)"})
        return CleanupReport(run_id, plan, seconds=time.monotonic() - started)

    problems = check_guards(conn, settings, plan)  # without locks: refusing never blocks anyone
    if problems:
        raise _refuse_logged(journal, problems, plan)

    report = CleanupReport(run_id, plan)
    entries: list[tuple[journal_mod.Entry, str]] = []
    with connect(dsn, settings) as work:
        try:
            with work.transaction():
                for name, value in (
                    ("lock_timeout", settings.lock_timeout),
                    ("statement_timeout", settings.statement_timeout),
                    ("idle_in_transaction_session_timeout", "0"),  # idle while pg_dump runs
                ):
                    work.execute("SELECT set_config(%s, %s, true)", (name, value))
                locked: set[str] = set()
                for _ in range(_PLAN_ATTEMPTS):
                    _lock(work, [t for t in plan.dropped_tables if t not in locked])
                    locked.update(plan.dropped_tables)
                    plan = plan_cleanup(work, settings)
                    if set(plan.dropped_tables) <= locked:
                        break
                else:
                    raise CleanupRefused(
                        "cleanup refused, nothing dropped: tables keep appearing in the legacy schemas",
                        fix="stop whatever creates them, then cleanup again",
                    )
                report.plan = plan
                snapshot_row = work.execute("SELECT pg_export_snapshot()").fetchone()
                assert snapshot_row is not None
                problems = check_guards(work, settings, plan)  # again, now that nothing can write
                if problems:
                    raise _refuse_logged(journal, problems, plan)

                try:
                    backup = take_backup(work, settings, dsn, plan, str(snapshot_row[0]), run_id)
                except (guards.BackupUnreadable, guards.PgToolMissing) as error:
                    raise _refuse_logged(journal, [Problem("backup", "backup", str(error))], plan) from None
                report.dump, report.fingerprints = backup.path, backup.tables
                _log_backup(journal, plan, backup)
                if after_backup is not None:
                    after_backup(backup)
                problems = guards.backup_problems(
                    backup.path, backup.pg_restore, plan.dropped_tables, plan.schemas, backup.sha256
                )
                if problems:
                    raise _refuse_logged(journal, problems, plan)
                created = _new_in_dropped_schemas(work, plan, backup)
                if created:
                    problem = Problem(
                        "backup",
                        f"backup {backup.path}",
                        "lacks " + ", ".join(created[:8]) + " (created during cleanup)",
                    )
                    raise _refuse_logged(journal, [problem], plan)

                # the last look, right before the drops
                dropped = [*plan.tables, *plan.views]
                problems = guards.dependency_problems(work, dropped, plan.schemas)
                if problems:
                    raise _refuse_logged(journal, problems, plan)
                survivors = _objects(work) - _doomed_objects(work, plan)
                names = _describe(work, survivors)

                for table in plan.tables:
                    mapping = plan.mapping_of.get(table)
                    entries.append((journal.start("drop_table", mapping, table, None), table))
                for view in plan.views:
                    entries.append((journal.start("drop_view", None, view, None), view))
                for schema in plan.schemas:
                    entries.append((journal.start("drop_schema", None, schema, None), schema))
                _drop(work, plan)
                gone = survivors - _objects(work)
                if gone:
                    lost = sorted(names.get(o, str(o)) for o in gone)
                    raise CleanupRefused(
                        "cleanup refused, nothing dropped: the drops would also remove "
                        + ", ".join(lost[:8])
                        + (" ..." if len(lost) > 8 else ""),
                        fix=guards.FIXES["dependency"],
                    )
        except psycopg.errors.LockNotAvailable as error:
            _fail(journal, entries, str(error))
            busy = LegacyTablesBusy(
                f"cleanup refused, nothing dropped: a legacy table is in use "
                f"(lock_timeout {settings.lock_timeout}): {str(error).splitlines()[0]}"
            )
            raise _logged(journal, busy) from None
        except psycopg.errors.QueryCanceled as error:
            _fail(journal, entries, str(error))
            raise _logged(journal, _timed_out(settings, error)) from None
        except Exception as error:
            _fail(journal, entries, str(error).splitlines()[0] if str(error) else type(error).__name__)
            raise
    for entry, name in entries:
        details: dict[str, Any] = {"dump": str(report.dump)}
        if name in plan.schemas:
            details["with"] = [t for t in plan.schema_tables if t.startswith(name + ".")] + [
                o for o in plan.schema_objects if re.search(rf"\b{re.escape(name)}\.", o)
            ]
        count = report.fingerprints.get(name, (None, None))
        journal.finish(entry, "dropped", source_count=count[0], source_checksum=count[1], details=details)
    report.dropped_tables = list(plan.tables)
    report.dropped_views = list(plan.views)
    report.dropped_schemas = list(plan.schemas)
    report.seconds = time.monotonic() - started
    done = journal.start("cleanup")
    journal.finish(
        done,
        "completed",
        records_migrated=sum(c for c, _ in report.fingerprints.values()),
        details={"dump": str(report.dump), "dropped": plan.lines()},
    )
    return report


def _fail(journal: Journal, entries: list[tuple[journal_mod.Entry, str]], message: str) -> None:
    for entry, _ in entries:
        journal.finish(entry, "rolled_back", error_message=message)


def _logged(journal: Journal, error: CleanupRefused) -> CleanupRefused:
    entry = journal.start("guard")
    journal.finish(entry, "refused", error_message=str(error))
    return error


def preview(dsn: str, settings: Settings) -> list[str]:
    """What cleanup would drop, one line each, for `pulumi preview` of phase 3 (catalog
    queries only: the guards, which read every legacy row, run in cleanup / --dry-run)."""
    with connect(dsn, settings) as conn:
        return plan_cleanup(conn, settings).lines()


# ------------------------------------------------------------------------------- CLI


def main(dsn: str, settings: Settings, dry_run: bool = False) -> CleanupReport | None:
    """`python -m data_copy cleanup`: print the plan (and, with --dry-run, the refusals
    without changing anything), or clean up and print what was dropped."""
    from data_copy.report import console, step

    with run_lock.locked(dsn, settings, "cleanup") as conn:
        disposable.check(conn, settings.disposable_tables)
        plan = plan_cleanup(conn, settings)
        console.print("[bold]phase 3 cleanup plan[/bold]" + (" (dry run, nothing changes)" if dry_run else ""))
        for line in plan.lines():
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
        if dry_run:
            if plan.empty:
                return None
            quiet.ensure(conn)
            run_id = Journal(conn, PHASE).run_id
            quiet.snapshot(conn, run_id, "cleanup", "start")  # before the guards read legacy
            try:
                with step("checking every guard (reads every legacy table)"):
                    problems = check_guards(conn, settings, plan)
            finally:
                quiet.snapshot(conn, run_id, "cleanup", "end")
            guards.refuse(problems)
            console.print("all guards pass: cleanup would back up and drop the above")
            return None
        journal_mod.ensure(conn)
        with step("cleanup: guards, backup (pg_dump), drops"):
            report = cleanup(conn, settings, Journal(conn, PHASE), dsn)
    if report.nothing_done:
        console.print("nothing to drop: the legacy objects were dropped by an earlier cleanup")
    else:
        console.print(f"backup: {report.dump}", highlight=False, markup=False, soft_wrap=True)
        console.print(
            f"dropped {len(report.dropped_tables)} tables, {len(report.dropped_views)} views, "
            f"{len(report.dropped_schemas)} schemas in {report.seconds:.1f}s (logged in migration_log as {PHASE})"
        )
    return report
