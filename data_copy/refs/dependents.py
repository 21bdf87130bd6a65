"""What depends on legacy objects inside the database: ONE implementation, used by
`refs --dsn/--stack` (data_copy/refs/db.py) and by phase 3's dependents guard (guards.py).

- `dependents(conn, relations, schemas)`: every object that stays while something it
  depends on goes (pg_depend): views and materialized views (their rewrite rules), rules,
  foreign keys, column defaults, triggers, function signatures, row types, policies...
  "Stays" means: not one of `relations` ("schema.table", with their indexes, owned
  sequences, constraints, rules...) and not in one of `schemas`.
- `body_mentions(conn, relations, schemas)`: functions and procedures that stay whose body
  text names `<schema>.` of one of `schemas` or `<schema>.<table>` of one of `relations`
  (pg_depend does not see inside PL/pgSQL or string SQL bodies): a text search, case-
  insensitive, quoted or not, so a mention in a comment counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Dependent:
    kind: str  # view, materialized view, rule, foreign key, constraint, column default, trigger, function, ...
    dependent: str  # 'view analytics.v', 'table constraint fk on analytics.t', 'function public.f()'
    referenced: str  # 'table splits.games'
    referenced_table: str | None = None  # "schema.table" the referenced object is (part of)


@dataclass(frozen=True)
class BodyMention:
    kind: str  # function | procedure | aggregate | window function
    identity: str  # 'operational.splits_rows()'
    mention: str  # the text matched, e.g. 'splits.' or 'public.games'
    language: str
    body: str
    search_path: str | None  # the function's own SET search_path, if any


def anchor_rel(cls: str, obj: str) -> sql.Composable:
    """SQL: the relation an object belongs to (an index's table, a sequence's owner, a
    rule's view, a constraint's / default's / trigger's / policy's table, a row type's
    table), or NULL for free-standing objects (functions, plain types, schemas...)."""
    text = """CASE {cls}
  WHEN 'pg_class'::regclass THEN coalesce(
    (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = {obj}),
    (SELECT s.refobjid FROM pg_depend s JOIN pg_class q ON q.oid = s.objid AND q.relkind = 'S'
      WHERE s.classid = 'pg_class'::regclass AND s.objid = {obj}
        AND s.refclassid = 'pg_class'::regclass AND s.deptype IN ('a', 'i') LIMIT 1),
    {obj})
  WHEN 'pg_rewrite'::regclass THEN (SELECT w.ev_class FROM pg_rewrite w WHERE w.oid = {obj})
  WHEN 'pg_constraint'::regclass THEN (SELECT nullif(k.conrelid, 0) FROM pg_constraint k WHERE k.oid = {obj})
  WHEN 'pg_attrdef'::regclass THEN (SELECT a.adrelid FROM pg_attrdef a WHERE a.oid = {obj})
  WHEN 'pg_trigger'::regclass THEN (SELECT coalesce((SELECT k.conrelid FROM pg_constraint k
      WHERE k.oid = g.tgconstraint AND g.tgisinternal), g.tgrelid) FROM pg_trigger g WHERE g.oid = {obj})
  WHEN 'pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_policy p WHERE p.oid = {obj})
  WHEN 'pg_type'::regclass THEN (SELECT coalesce(nullif(y.typrelid, 0), nullif(e.typrelid, 0))
    FROM pg_type y LEFT JOIN pg_type e ON e.oid = y.typelem AND e.typarray = y.oid WHERE y.oid = {obj})
END"""
    return sql.SQL(text).format(cls=sql.SQL(cls), obj=sql.SQL(obj))


def anchor_schema(cls: str, obj: str, rel: str) -> sql.Composable:
    """SQL: the schema an object lives in: its relation's (`rel`, from anchor_rel), else its own."""
    text = """coalesce(
  (SELECT rn.nspname FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = {rel}),
  CASE WHEN {cls} = 'pg_namespace'::regclass
    THEN (SELECT ns.nspname FROM pg_namespace ns WHERE ns.oid = {obj})::text
    ELSE (pg_identify_object({cls}, {obj}, 0)).schema END)"""
    return sql.SQL(text).format(cls=sql.SQL(cls), obj=sql.SQL(obj), rel=sql.SQL(rel))


def _description(cls: str, obj: str) -> sql.Composable:
    """'view analytics.v', 'table constraint fk on analytics.t', 'function public.f()'..."""
    text = """CASE WHEN {cls} = 'pg_rewrite'::regclass THEN (
    SELECT CASE WHEN w.rulename <> '_RETURN' THEN format('rule %%I on %%I.%%I', w.rulename, n.nspname, c.relname)
      ELSE CASE c.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END
      || format('%%I.%%I', n.nspname, c.relname) END
    FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE w.oid = {obj})
  ELSE (SELECT o.type || ' ' || o.identity FROM pg_identify_object({cls}, {obj}, 0) AS o) END"""
    return sql.SQL(text).format(cls=sql.SQL(cls), obj=sql.SQL(obj))


def _kind(cls: str, obj: str) -> sql.Composable:
    """'view', 'materialized view', 'rule', 'foreign key', 'column default', 'trigger',
    'function', 'procedure', ... (pg_identify_object's type for anything else)."""
    text = """CASE {cls}
  WHEN 'pg_rewrite'::regclass THEN (SELECT CASE WHEN w.rulename <> '_RETURN' THEN 'rule'
      WHEN c.relkind = 'm' THEN 'materialized view' ELSE 'view' END
    FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class WHERE w.oid = {obj})
  WHEN 'pg_constraint'::regclass THEN (SELECT CASE k.contype WHEN 'f' THEN 'foreign key' ELSE 'constraint' END
    FROM pg_constraint k WHERE k.oid = {obj})
  WHEN 'pg_attrdef'::regclass THEN 'column default'
  WHEN 'pg_trigger'::regclass THEN 'trigger'
  WHEN 'pg_proc'::regclass THEN (SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
      WHEN 'w' THEN 'window function' ELSE 'function' END FROM pg_proc p WHERE p.oid = {obj})
  ELSE (SELECT o.type FROM pg_identify_object({cls}, {obj}, 0) AS o) END"""
    return sql.SQL(text).format(cls=sql.SQL(cls), obj=sql.SQL(obj))


_DEPENDENCIES = """
WITH d AS (
  SELECT DISTINCT classid, objid, refclassid, refobjid FROM pg_depend
  WHERE deptype IN ('n', 'a') AND objid >= 16384 AND refobjid >= 16384
), r AS (
  SELECT d.*, {ref_rel} AS ref_rel, {dep_rel} AS dep_rel FROM d
), a AS (
  SELECT r.*, {ref_schema} AS ref_schema, {dep_schema} AS dep_schema FROM r
), doomed AS (
  SELECT a.*,
    (a.ref_rel = ANY(%(rels)s::oid[]) OR a.ref_schema = ANY(%(schemas)s::text[])) AS ref_doomed,
    (a.dep_rel = ANY(%(rels)s::oid[]) OR a.dep_schema = ANY(%(schemas)s::text[])) AS dep_doomed
  FROM a
)
SELECT DISTINCT {dep_kind} AS kind, {dep_text} AS dependent, {ref_text} AS referenced,
  (SELECT rn.nspname || '.' || rc.relname FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE rc.oid = doomed.ref_rel) AS ref_table
FROM doomed WHERE ref_doomed AND NOT coalesce(dep_doomed, false)
ORDER BY 2, 3, 1
"""


def relation_oids(conn: psycopg.Connection, relations: Iterable[str]) -> list[int]:
    names = [r.partition(".") for r in relations]
    if not names:
        return []
    rows = conn.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN unnest(%s::text[], %s::text[]) AS w(s, r) ON w.s = n.nspname AND w.r = c.relname",
        ([s for s, _, _ in names], [r for _, _, r in names]),
    ).fetchall()
    return [int(r[0]) for r in rows]


def dependents(conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]) -> list[Dependent]:
    """Every object that would stay while something it depends on is dropped: `relations`
    ("schema.table", with their indexes, owned sequences, row types, rules, constraints...)
    and everything in `schemas`."""
    query = sql.SQL(_DEPENDENCIES).format(
        ref_rel=anchor_rel("d.refclassid", "d.refobjid"),
        ref_schema=anchor_schema("r.refclassid", "r.refobjid", "r.ref_rel"),
        dep_rel=anchor_rel("d.classid", "d.objid"),
        dep_schema=anchor_schema("r.classid", "r.objid", "r.dep_rel"),
        dep_kind=_kind("classid", "objid"),
        dep_text=_description("classid", "objid"),
        ref_text=_description("refclassid", "refobjid"),
    )
    rows = conn.execute(query, {"rels": relation_oids(conn, relations), "schemas": list(schemas)}).fetchall()
    return [Dependent(str(kind), str(dep), str(ref), table) for kind, dep, ref, table in rows]


def dependencies_on(
    conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]
) -> list[tuple[str, str]]:
    """(dependent, referenced) of `dependents`."""
    return [(d.dependent, d.referenced) for d in dependents(conn, relations, schemas)]


def _word(name: str) -> str:
    """PostgreSQL ARE for one identifier, quoted ("Name") or not (a whole word, any case)."""
    quoted = '"' + re.escape(name).replace('"', '""') + '"'
    return rf"(?:{quoted}|\m{re.escape(name)}\M)"


def _mention_pattern(relations: Iterable[str], schemas: Iterable[str]) -> str | None:
    """A PostgreSQL regular expression matching `schema.` for a dropped schema, or
    `schema.table` for a dropped table of a schema that stays."""
    schemas = list(schemas)
    alternatives = [rf"{_word(s)}\s*\." for s in schemas]
    alternatives += [
        rf"{_word(s)}\s*\.\s*{_word(t)}" for s, _, t in (r.partition(".") for r in relations) if s not in schemas
    ]
    if not alternatives:
        return None
    return "(" + "|".join(alternatives) + ")"


_FUNCTIONS = """SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
    WHEN 'w' THEN 'window function' ELSE 'function' END,
  o.identity, substring(p.prosrc from %(pattern)s), l.lanname, p.prosrc,
  (SELECT substring(c from length('search_path=') + 1) FROM unnest(p.proconfig) AS c
    WHERE c LIKE 'search\\_path=%%')
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
CROSS JOIN LATERAL pg_identify_object('pg_proc'::regclass, p.oid, 0) AS o
WHERE l.lanname NOT IN ('c', 'internal')
  AND n.nspname <> ALL(%(schemas)s::text[])
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass
                  AND e.objid = p.oid AND e.deptype = 'e')
  AND (%(pattern)s::text IS NULL OR p.prosrc ~* %(pattern)s)
ORDER BY 2"""


def functions(conn: psycopg.Connection, schemas: Iterable[str], pattern: str | None = None) -> list[BodyMention]:
    """User functions and procedures outside `schemas` (no extension's, no C/internal
    ones), with their bodies; only those whose body matches `pattern` when given."""
    rows = conn.execute(_FUNCTIONS, {"pattern": pattern, "schemas": list(schemas)}).fetchall()
    return [
        BodyMention(str(kind), str(ident), str(found or ""), str(lang), str(body or ""), path)
        for kind, ident, found, lang, body, path in rows
    ]


def body_mentions(conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]) -> list[BodyMention]:
    """Functions and procedures outside `schemas` whose body names `<schema>.` of one of
    `schemas` or `<schema>.<table>` of one of `relations` (case-insensitive, quoted or not).

    Unqualified names resolved through search_path are not found here (refs parses the
    bodies for those), and a mention in a comment or string counts. Functions of
    extensions and C/internal functions are skipped.
    """
    schemas = list(schemas)
    pattern = _mention_pattern(relations, schemas)
    if pattern is None:
        return []
    return functions(conn, schemas, pattern)
