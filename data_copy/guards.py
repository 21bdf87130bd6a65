"""Phase 3's refusals: every reason not to drop the legacy objects, each with its fix.

Each guard returns a list of Problem (empty = nothing stops us); `refuse(problems)` turns
them into one CleanupRefused line that names every reason and every fix. The guards:

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
                          a table or schema about to be dropped.

Also here, because restore and cleanup both need them: table_fingerprint (count and
order-independent checksum of a whole table), the PostgreSQL client tools lookup and
the dump's table of contents.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from catalog.legacy import LEGACY_BY_NAME
from catalog.mappings import MAPPINGS, Mapping
from catalog.schemas import LEGACY_SCHEMAS, MIGRATION_LOG_TABLE, NEVER_DROPPED_SCHEMAS
from data_copy import chunk_hashes, journal, validator
from data_copy.errors import CleanupRefused, DataCopyError
from data_copy.refs import dependents
from data_copy.refs.dependents import anchor_rel as _anchor_rel  # noqa: F401 - cleanup.py uses it
from data_copy.refs.dependents import anchor_schema as _anchor_schema  # noqa: F401 - cleanup.py uses it
from data_copy.refs.dependents import relation_oids as relation_oids  # used by cleanup and its tests
from data_copy.settings import Settings

# --------------------------------------------------------------------------- problems

FIXES: dict[str, str] = {
    "validation_missing": "run `python -m data_copy run` for this stack until every mapping passes",
    "validation_failed": "fix what the validation reports, then `python -m data_copy run` again",
    "validation_count_only": "run `python -m data_copy validate` without --count-only",
    "validation_not_full": "run `python -m data_copy validate` (without --incremental: it hashes every row)",
    "validation_stale": "re-sync and re-validate with `python -m data_copy run`, then cleanup again",
    "source_incomplete": "restore the missing legacy table (`python -m data_copy restore`) or investigate",
    "unmapped_rows": "move that data elsewhere, or list the tables in consolidation:disposableTables "
    "to drop them with their schema",
    "dependency": "drop those objects or point them at the new tables (the registry), then cleanup again",
    "function_body": "change those functions to use the new tables (or drop them), then cleanup again",
    "backup": "check that consolidation:backupDir is writable with room for the dump, then cleanup again",
    "phase": "`python -m data_copy switch`, deploy phase 2, let the application run on the new tables first",
    "legacy_written": "something still writes legacy: point it at the new tables, `python -m data_copy run`,"
    " then cleanup again",
    "legacy_read": "point those readers at the new tables (the registry), or pass --accept-legacy-reads",
    "structure": "run `python -m data_copy run` (it creates what is missing and lists the rows that prevent it)",
}

OUR_TABLES = frozenset(
    {
        MIGRATION_LOG_TABLE,
        "migration_rejects",
        "migration_state",
        "migration_owned_rows",
        "migration_conflicts",
        "migration_phase_events",
        "migration_table_stats",
        "migration_switch_changes",
        "migration_rollback_lost",
    }
)
"""data_copy's own tables in public: never legacy data."""

_SAMPLES = 8


@dataclass(frozen=True)
class Problem:
    kind: str  # a key of FIXES
    subject: str  # the mapping or object concerned
    detail: str  # what is wrong, in a few words

    def text(self) -> str:
        return f"{self.subject}: {self.detail}" if self.detail else self.subject


_HEADLINES = {
    "validation_missing": "never validated",
    "validation_failed": "latest validation failed",
    "validation_count_only": "latest validation compared counts only",
    "validation_not_full": "latest validation re-hashed only the changed keys",
    "validation_stale": "legacy data written after the latest validation",
    "source_incomplete": "legacy tables partly missing",
    "unmapped_rows": "unmapped legacy tables hold rows",
    "dependency": "objects that stay depend on legacy objects",
    "function_body": "functions that stay mention legacy objects",
    "backup": "backup missing or unreadable",
    "phase": "not in phase 2",
    "legacy_written": "legacy written since the last sync",
    "legacy_read": "legacy read by others since phase 2 began",
    "structure": "new tables lack keys, indexes or foreign keys",
}


def summary(problems: Sequence[Problem]) -> tuple[str, str]:
    """(what, fix): one line each, grouped by kind in a stable order."""
    whats: list[str] = []
    fixes: list[str] = []
    for kind in FIXES:
        items = [p for p in problems if p.kind == kind]
        if not items:
            continue
        shown = "; ".join(p.text() for p in items[:_SAMPLES])
        more = f"; and {len(items) - _SAMPLES} more" if len(items) > _SAMPLES else ""
        whats.append(f"{_HEADLINES[kind]}: {shown}{more}")
        fixes.append(FIXES[kind])
    return " | ".join(whats), "; ".join(fixes)


def refusal(problems: Sequence[Problem]) -> CleanupRefused:
    what, fix = summary(problems)
    message = f"cleanup refused, nothing dropped: {what}"
    return CleanupRefused(" ".join(message.split()), fix=fix)


def refuse(problems: Sequence[Problem]) -> None:
    """Raise CleanupRefused (one line: every reason, every fix) when there are problems."""
    if problems:
        raise refusal(problems)


# ----------------------------------------------------------------------- fingerprints

# Output settings that change `row::text`; pinned so that a checksum recorded in one
# session compares equal in another (the restore runs days later, maybe elsewhere).
_PINNED = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
)


@contextmanager
def _pinned_output(conn: psycopg.Connection) -> Iterator[None]:
    """Pin the output settings for the block, then put back what the session had."""
    with conn.transaction():
        saved = [(name, _setting(conn, name)) for name, _ in _PINNED]
        for name, value in _PINNED:
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        yield
        for name, value in saved:
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))


def _setting(conn: psycopg.Connection, name: str) -> str:
    row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
    assert row is not None
    return str(row[0])


def qualified_ident(qualified: str) -> sql.Identifier:
    schema, _, name = qualified.partition(".")
    return sql.Identifier(schema, name)


def table_fingerprint(conn: psycopg.Connection, table: str) -> tuple[int, str]:
    """(row count, order-independent checksum of every column) of `table` ("schema.table").

    Server-side: count(*) and sum(hashtextextended(row::text, 0)); an empty table has
    checksum "0". Output settings are pinned so the value does not depend on the session.
    """
    query = sql.SQL("SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM {} AS t").format(
        qualified_ident(table)
    )
    with _pinned_output(conn):
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


# ----------------------------------------------------------------- the legacy objects


def droppable_schemas() -> tuple[str, ...]:
    return tuple(s for s in LEGACY_SCHEMAS if s not in NEVER_DROPPED_SCHEMAS)


def mapped_sources() -> tuple[str, ...]:
    """Every legacy table some mapping copies from, in MAPPINGS order."""
    seen: list[str] = []
    for m in MAPPINGS:
        for source in m.sources:
            if source not in seen:
                seen.append(source)
    return tuple(seen)


def existing_tables(conn: psycopg.Connection, schemas: Iterable[str]) -> list[str]:
    """Ordinary and partitioned tables (not partitions) in `schemas`, "schema.table"."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " ORDER BY 1, 2",
        (list(schemas),),
    ).fetchall()
    return [f"{s}.{t}" for s, t in rows]


def existing_schemas(conn: psycopg.Connection, schemas: Iterable[str]) -> list[str]:
    wanted = list(schemas)
    present = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (wanted,))}
    return [s for s in wanted if s in present]


# ------------------------------------------------------------------ (a) validations


@dataclass(frozen=True)
class Validation:
    mapping: str
    status: str
    source_count: int | None
    target_count: int | None
    source_checksum: str | None
    target_checksum: str | None
    completed_at: datetime
    error_message: str | None


def latest_validations(conn: psycopg.Connection) -> dict[str, Validation]:
    return {row[0]: Validation(*row) for row in journal.latest_validations(conn)}


def _column_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    schema, _, name = table.partition(".")
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (schema, name),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def latest_write(conn: psycopg.Connection, m: Mapping, settings: Settings) -> tuple[datetime | None, str | None]:
    """(newest changed_at value over the mapping's legacy tables, the table it is in).

    Naive timestamps are read in settings.legacy_timezone, as the copy reads them.
    """
    newest: datetime | None = None
    where: str | None = None
    for source in m.sources:
        types = _column_types(conn, source)
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
            sql.SQL("SELECT greatest({}) FROM {}").format(sql.SQL(", ").join(exprs), qualified_ident(source))
        ).fetchone()
        value = row[0] if row else None
        if value is not None and (newest is None or value > newest):
            newest, where = value, source
    return newest, where


def current_source_state(conn: psycopg.Connection, m: Mapping) -> tuple[int, str]:
    """(count, checksum) of the mapping's legacy side now, exactly as validation records them."""
    return validator.source_state(conn, m)


def validation_problems(conn: psycopg.Connection, settings: Settings) -> list[Problem]:
    """(a) Every mapping whose legacy table(s) still exist needs a passing, checksummed
    validation that is newer than the last write to its legacy side.

    "Newer" is judged three ways, cheapest first: the newest value of the mapping's
    changed_at columns against the validation's completed_at; the legacy row count
    against the validated source_count; the legacy checksum against the validated one
    (this last one catches updates that do not touch a timestamp, and deletes).
    """
    problems: list[Problem] = []
    present = set(existing_tables(conn, LEGACY_SCHEMAS))
    latest = latest_validations(conn)
    incremental = chunk_hashes.not_full(conn)
    with conn.transaction():
        # the validator computes checksums with naive timestamps read in this zone
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
            if v.status != "passed":
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
                    count, checksum = current_source_state(conn, m)
            except psycopg.Error as error:
                first = str(error).splitlines()[0] if str(error) else type(error).__name__
                problems.append(Problem("validation_failed", m.name, f"cannot recompute its legacy checksum: {first}"))
                continue
            if count != v.source_count:
                problems.append(
                    Problem("validation_stale", m.name, f"{count} legacy rows now, {v.source_count} at {when}")
                )
            elif checksum != v.source_checksum:
                problems.append(Problem("validation_stale", m.name, f"legacy rows changed since {when}"))
    return problems


# ------------------------------------------------------------- (b) unmapped tables


def _limited_count(conn: psycopg.Connection, table: str, limit: int = 1_000_000) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {}) AS t").format(
            qualified_ident(table), sql.Literal(limit)
        )
    ).fetchone()
    return int(row[0]) if row else 0


def unmapped_tables(conn: psycopg.Connection, schemas: Iterable[str]) -> list[str]:
    """Tables in `schemas` no mapping copies from (the catalog's unmapped ones and any
    the catalog does not know), data_copy's own tables excepted."""
    mapped = set(mapped_sources())
    return [t for t in existing_tables(conn, schemas) if t not in mapped and t.partition(".")[2] not in OUR_TABLES]


def unmapped_problems(conn: psycopg.Connection, settings: Settings) -> list[Problem]:
    """(b) An unmapped table that holds rows and would be dropped with its schema.

    Only the droppable legacy schemas count: `public` is never dropped, so its unmapped
    tables stay (with their rows) whatever happens. settings.disposable_tables lists
    "schema.table" names whose rows may go.
    """
    disposable = set(settings.disposable_tables)
    problems: list[Problem] = []
    for table in unmapped_tables(conn, droppable_schemas()):
        if table in disposable:
            continue
        rows = _limited_count(conn, table)
        if rows:
            shown = f"{rows:,}+" if rows >= 1_000_000 else f"{rows:,}"
            unknown = "" if table in LEGACY_BY_NAME else ", not in the legacy catalog"
            problems.append(Problem("unmapped_rows", table, f"{shown} rows{unknown}"))
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


class PgToolMissing(DataCopyError):
    fix = "install Debian's PostgreSQL client for the server's version (apt-get install postgresql-client-N)"


def server_major(conn: psycopg.Connection) -> int:
    return int(conn.info.server_version) // 10000


def _tool_major(path: Path) -> int | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\s(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def _candidate_bindirs() -> list[Path]:
    dirs = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
        reverse=True,
    )
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            dirs.append(Path(out))
    return dirs


def pg_tool(name: str, major: int) -> Path:
    """The path of `name` (pg_dump, pg_restore) for a server of version `major`: the same
    major from /usr/lib/postgresql/<major>/bin first, else the newest newer one, else
    pg_config --bindir or PATH if new enough (pg_dump cannot dump a newer server)."""
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin") / name]
    candidates += [d / name for d in _candidate_bindirs()]
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    seen: set[Path] = set()
    too_old: list[str] = []
    for path in candidates:
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        version = _tool_major(path)
        if version is not None and version >= major:
            return path
        too_old.append(f"{path} ({version})")
    detail = f"; found only older ones: {', '.join(too_old)}" if too_old else ""
    raise PgToolMissing(f"{name} for PostgreSQL {major} not found{detail}")


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    kind: str  # "TABLE", "TABLE DATA", "FK CONSTRAINT", ...
    schema: str  # "-" for objects without one (schemas, extensions...)
    tag: str  # the rest of the line, owner included
    line: str

    @property
    def first_word(self) -> str:
        return self.tag.split(" ", 1)[0] if self.tag else ""


# longest first, so "TABLE DATA" is not read as "TABLE"
_TOC_KINDS = sorted(
    (
        "ACCESS METHOD",
        "ACL",
        "AGGREGATE",
        "BLOB",
        "BLOB METADATA",
        "BLOBS",
        "CAST",
        "CHECK CONSTRAINT",
        "COLLATION",
        "COMMENT",
        "CONSTRAINT",
        "CONVERSION",
        "DATABASE",
        "DATABASE PROPERTIES",
        "DEFAULT",
        "DEFAULT ACL",
        "DOMAIN",
        "ENCODING",
        "EVENT TRIGGER",
        "EXTENSION",
        "FK CONSTRAINT",
        "FOREIGN DATA WRAPPER",
        "FOREIGN SERVER",
        "FOREIGN TABLE",
        "FUNCTION",
        "INDEX",
        "INDEX ATTACH",
        "LARGE OBJECT",
        "MATERIALIZED VIEW",
        "MATERIALIZED VIEW DATA",
        "OPERATOR",
        "OPERATOR CLASS",
        "OPERATOR FAMILY",
        "POLICY",
        "PROCEDURE",
        "PROCEDURAL LANGUAGE",
        "PUBLICATION",
        "PUBLICATION TABLE",
        "PUBLICATION TABLES IN SCHEMA",
        "ROW SECURITY",
        "RULE",
        "SCHEMA",
        "SEARCHPATH",
        "SECURITY LABEL",
        "SEQUENCE",
        "SEQUENCE OWNED BY",
        "SEQUENCE SET",
        "SERVER",
        "SHELL TYPE",
        "STATISTICS",
        "STDSTRINGS",
        "SUBSCRIPTION",
        "TABLE",
        "TABLE ATTACH",
        "TABLE DATA",
        "TEXT SEARCH CONFIGURATION",
        "TEXT SEARCH DICTIONARY",
        "TEXT SEARCH PARSER",
        "TEXT SEARCH TEMPLATE",
        "TRANSFORM",
        "TRIGGER",
        "TYPE",
        "USER MAPPING",
        "VIEW",
    ),
    key=len,
    reverse=True,
)
_TOC_LINE = re.compile(r"^(?P<id>\d+);\s+\d+\s+\d+\s+(?P<rest>.*)$")


def parse_toc(text: str) -> list[TocEntry]:
    entries: list[TocEntry] = []
    for line in text.splitlines():
        match = _TOC_LINE.match(line)
        if not match:
            continue
        rest = match.group("rest")
        kind = next((k for k in _TOC_KINDS if rest.startswith(k + " ")), rest.split(" ", 1)[0])
        schema, _, tag = rest[len(kind) + 1 :].partition(" ")
        entries.append(TocEntry(int(match.group("id")), kind, schema, tag, line))
    return entries


class BackupUnreadable(DataCopyError):
    fix = FIXES["backup"]


def read_toc(dump: Path, pg_restore: Path) -> tuple[str, list[TocEntry]]:
    """(the raw `pg_restore --list` output, its entries); BackupUnreadable if it fails."""
    if not dump.is_file():
        raise BackupUnreadable(f"backup {dump} does not exist")
    proc = subprocess.run(
        [str(pg_restore), "--list", str(dump)], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[:300]
        raise BackupUnreadable(f"backup {dump} is unreadable: {detail}")
    return proc.stdout, parse_toc(proc.stdout)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        _, entries = read_toc(dump, pg_restore)
    except BackupUnreadable as error:
        return [Problem("backup", subject, str(error).removeprefix(subject).strip())]
    data = {(e.schema, e.first_word) for e in entries if e.kind == "TABLE DATA"}
    present = {e.first_word for e in entries if e.kind == "SCHEMA"}
    missing = [t for t in tables if tuple(t.split(".", 1)) not in data]
    missing += [f"schema {s}" for s in schemas if s not in present]
    if missing:
        return [Problem("backup", subject, "lacks " + ", ".join(missing[:_SAMPLES]))]
    return []
