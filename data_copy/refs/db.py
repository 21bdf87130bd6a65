"""`refs --dsn/--stack`: what inside the database still references a mapped legacy table.

- pg_depend (refs.dependents, shared with phase 3's guard): views, materialized views,
  rules, foreign keys, column defaults, function signatures... outside the legacy tables;
- triggers and rules attached to a legacy table (they stop firing once the application
  writes the new tables);
- function and procedure bodies: SQL and PL/pgSQL bodies parsed (sqlscan.scan_body, with
  the function's own `SET search_path` or else --search-path); bodies in other languages
  or that do not parse are searched as text (refs.dependents.body_mentions);
- pg_stat_statements, when installed: statements that touched legacy tables, with calls
  and role. It is history (kept until pg_stat_statements_reset()), so it is listed but
  does not decide the exit status; data_copy's own reads of the legacy tables show there
  under the role it ran as.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.legacy import LEGACY_BY_NAME
from catalog.schemas import LEGACY_SCHEMAS, NEVER_DROPPED_SCHEMAS
from data_copy.errors import first_line
from data_copy.refs import dependents, sqlscan, targets


@dataclass(frozen=True)
class DbFinding:
    kind: str  # view, materialized view, rule, trigger, foreign key, column default, function, procedure...
    object: str  # 'view analytics.games_by_day'
    legacy_table: str  # "schema.table"
    via: str  # pg_depend | attached | body | body text
    detail: str = ""

    @property
    def schema(self) -> str | None:
        """The schema the object lives in (its table's, for constraints, triggers, rules)."""
        words = [w for w in self.object.split() if "." in w]
        if not words:
            return None
        word = words[-1] if " on " in self.object else words[0]
        return word.split(".", 1)[0].strip('"')

    @property
    def legacy_object(self) -> bool:
        """A legacy object itself: in a schema phase 3 drops, attached to a legacy table, or
        a view of the legacy catalog. Still a reference (it reads or acts on legacy data
        after the switch); phase 3 drops it with the legacy objects."""
        if self.via == "attached" or (self.schema in LEGACY_SCHEMAS and self.schema not in NEVER_DROPPED_SCHEMAS):
            return True
        name = self.object.split()[-1]
        return self.kind in ("view", "materialized view") and name in LEGACY_BY_NAME

    def as_json(self) -> dict[str, builtins.object]:  # `object` is a field here
        r = targets.replacements()[self.legacy_table]
        return {
            "object": self.object,
            "kind": self.kind,
            "legacy_object": self.legacy_object,
            "legacy_table": self.legacy_table,
            "via": self.via,
            "detail": self.detail,
            "logical_name": r.logical,
            "registry_call": r.registry_call,
            "new_table": r.new_table,
        }


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int
    role: str
    legacy_tables: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "kind": "statement",
            "statement": self.query,
            "calls": self.calls,
            "role": self.role,
            "legacy_tables": list(self.legacy_tables),
            "new_tables": [targets.replacements()[t].new_table for t in self.legacy_tables],
        }


@dataclass
class DbReport:
    findings: list[DbFinding] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    dynamic: list[str] = field(default_factory=list)  # functions that EXECUTE SQL built at run time
    statements_note: str = ""  # why statements were not read, if they were not
    present: tuple[str, ...] = ()  # the mapped legacy tables that exist


def _qualified(conn: psycopg.Connection, relations: Sequence[str]) -> list[str]:
    """The relations of `relations` that exist, in the given order."""
    return [r for r in relations if dependents.relation_oids(conn, [r])]


def _table_of(description: str, present: Sequence[str]) -> str | None:
    """The legacy table a pg_depend 'referenced' description is about."""
    words = description.split()
    for word in reversed(words):
        name = word.split("(")[0].rstrip(",")
        if name in present:
            return name
    for table in present:  # an index, sequence or type of the table: its name starts so
        schema, _, rel = table.partition(".")
        if any(w.startswith(f"{schema}.{rel}") for w in words):
            return table
    return None


def _depend_findings(conn: psycopg.Connection, present: Sequence[str]) -> list[DbFinding]:
    found: list[DbFinding] = []
    for dep in dependents.dependents(conn, present, ()):
        table = dep.referenced_table if dep.referenced_table in present else _table_of(dep.referenced, present)
        if table is not None:
            found.append(DbFinding(dep.kind, dep.dependent, table, "pg_depend", f"depends on {dep.referenced}"))
    return found


_ATTACHED = """
SELECT 'trigger', format('trigger %%I on %%I.%%I', t.tgname, n.nspname, c.relname),
  n.nspname || '.' || c.relname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgrelid = ANY(%(oids)s::oid[])
UNION ALL
SELECT 'rule', format('rule %%I on %%I.%%I', r.rulename, n.nspname, c.relname),
  n.nspname || '.' || c.relname, pg_get_ruledef(r.oid)
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN' AND r.ev_class = ANY(%(oids)s::oid[])
ORDER BY 2
"""


def _attached_findings(conn: psycopg.Connection, present: Sequence[str]) -> list[DbFinding]:
    rows = conn.execute(_ATTACHED, {"oids": dependents.relation_oids(conn, present)}).fetchall()
    return [
        DbFinding(str(kind), str(obj), str(table), "attached", " ".join(str(d).split())) for kind, obj, table, d in rows
    ]


def _body_findings(
    conn: psycopg.Connection, present: Sequence[str], search_path: Sequence[str], database: str, dynamic: list[str]
) -> list[DbFinding]:
    """Parsed SQL / PL/pgSQL bodies; the text search for bodies that cannot be parsed.
    Functions that run SQL built at run time are added to `dynamic`."""
    found: list[DbFinding] = []
    by_text = {m.identity: m for m in dependents.body_mentions(conn, present, ())}
    for fn in dependents.functions(conn, ()):
        path = targets.parse_search_path(fn.search_path) if fn.search_path else tuple(search_path)
        subject = f"{fn.kind} {fn.identity}"
        if fn.language in ("sql", "plpgsql"):
            result = sqlscan.scan_body(fn.body, fn.language, path, database)
            dynamic.extend(f"{subject}: {reason}" for reason in dict.fromkeys(d.reason for d in result.dynamic))
            tables = list(dict.fromkeys(r.qualified for r in result.refs if r.qualified in present))
            for table in tables:
                found.append(DbFinding(fn.kind, subject, table, "body", f"{fn.language} body"))
            if not result.unparsed:
                continue
        mention = by_text.get(fn.identity)
        if mention is not None:
            named = _table_of(mention.mention.replace('"', "").replace(" ", ""), present)
            if named is not None and not any(f.object == subject and f.legacy_table == named for f in found):
                found.append(DbFinding(fn.kind, subject, named, "body text", f"mentions {mention.mention}"))
    return found


def _statements_source(conn: psycopg.Connection) -> tuple[str | None, str]:
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_stat_statements'"
    ).fetchone()
    if row is None:
        return None, "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements)"
    return str(row[0]), ""


def statements(
    conn: psycopg.Connection, present: Sequence[str], search_path: Sequence[str], database: str
) -> tuple[list[Statement], str]:
    """Statements pg_stat_statements saw in this database that touch a legacy table."""
    schema, note = _statements_source(conn)
    if schema is None:
        return [], note
    query = sql.SQL(
        "SELECT s.query, sum(s.calls)::bigint, coalesce(r.rolname, s.userid::text) FROM {} AS s"
        " LEFT JOIN pg_roles r ON r.oid = s.userid"
        " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " GROUP BY 1, 3 ORDER BY 2 DESC, 1"
    ).format(sql.Identifier(schema, "pg_stat_statements"))
    try:
        with conn.transaction():
            rows = conn.execute(query).fetchall()
    except psycopg.Error as error:
        return [], f"pg_stat_statements cannot be read: {first_line(error)}"
    found: list[Statement] = []
    for text, calls, role in rows:
        result = sqlscan.scan(str(text), search_path, database=database)
        # a statement the parser cannot read (cut at track_activity_query_size...): its tokens
        named = [r.qualified for r in result.refs] + [
            t.qualified for u in result.unparsed for t in u.mentions if t.other_database is None
        ]
        tables = tuple(dict.fromkeys(t for t in named if t in present))
        if tables:
            found.append(Statement(" ".join(str(text).split()), int(calls), str(role), tables))
    return found, ""


def _merged(findings: Sequence[DbFinding]) -> list[DbFinding]:
    """One finding per (object, legacy table, via); their details joined."""
    details: dict[tuple[str, str, str, str], list[str]] = {}
    for f in findings:
        items = details.setdefault((f.object, f.legacy_table, f.via, f.kind), [])
        if f.detail and f.detail not in items:
            items.append(f.detail)
    return [DbFinding(kind, obj, table, via, "; ".join(d)) for (obj, table, via, kind), d in sorted(details.items())]


def scan_database(
    conn: psycopg.Connection, search_path: Sequence[str] = targets.DEFAULT_SEARCH_PATH, database: str | None = None
) -> DbReport:
    """Everything in the database that references a mapped legacy table that exists."""
    if database is None:
        row = conn.execute("SELECT current_database()").fetchone()
        database = str(row[0]) if row else ""
    present = _qualified(conn, list(targets.replacements()))
    report = DbReport(present=tuple(present))
    if not present:
        report.statements_note = "no mapped legacy table exists in this database"
        return report
    findings = [
        *_depend_findings(conn, present),
        *_attached_findings(conn, present),
        *_body_findings(conn, present, search_path, database, report.dynamic),
    ]
    report.findings = _merged(findings)
    report.statements, report.statements_note = statements(conn, present, search_path, database)
    return report
