"""What the live database holds, read from its catalog (pg_class, pg_namespace, pg_depend...).

Phase 3 asks these questions of the database it is about to change; they change nothing:
which legacy tables and schemas exist, which tables no mapping copies, which views of the
schemas that stay depend on what goes, what else a dropped schema holds, and, for the
last check before the drops, every object of the database (to prove none outside the
plan went with them).
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from catalog.mappings import MAPPED_SOURCES
from catalog.schemas import LEGACY_SCHEMAS, NEVER_DROPPED_SCHEMAS
from data_copy.core.ident import ident
from data_copy.refs.dependents import anchor_rel, anchor_schema, relation_oids
from data_copy.state import schema

OUR_TABLES = schema.NAMES  # data_copy's own tables in public: never legacy data

_RELKINDS = ("r", "p", "v", "m", "S", "f")  # tables, views, sequences, foreign tables


# ----------------------------------------------------------------- the legacy objects


def droppable_schemas() -> tuple[str, ...]:
    return tuple(s for s in LEGACY_SCHEMAS if s not in NEVER_DROPPED_SCHEMAS)


def kept_legacy_schemas() -> list[str]:
    """The legacy schemas that are never dropped (public)."""
    return [s for s in LEGACY_SCHEMAS if s in NEVER_DROPPED_SCHEMAS]


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


def relations_in(conn: psycopg.Connection, schemas: Iterable[str]) -> list[tuple[str, str]]:
    """(schema, name) of every table, view, sequence and foreign table in `schemas`."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s) AND c.relkind = ANY(%s) ORDER BY 1, 2",
        (list(schemas), list(_RELKINDS)),
    ).fetchall()
    return [(str(s), str(r)) for s, r in rows]


def relkind(conn: psycopg.Connection, relation: str) -> str | None:
    """pg_class.relkind of "schema.name", None when it does not exist."""
    row = conn.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        tuple(relation.split(".", 1)),
    ).fetchone()
    return str(row[0]) if row else None


def column_types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    schema, _, name = table.partition(".")
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (schema, name),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def limited_count(conn: psycopg.Connection, table: str, limit: int = 1_000_000) -> int:
    """count(*) of `table`, stopping at `limit`."""
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {}) AS t").format(ident(table), sql.Literal(limit))
    ).fetchone()
    return int(row[0]) if row else 0


def unmapped_tables(conn: psycopg.Connection, schemas: Iterable[str]) -> list[str]:
    """Tables in `schemas` no mapping copies from (the catalog's unmapped ones and any
    the catalog does not know), data_copy's own tables excepted."""
    mapped = set(MAPPED_SOURCES)
    return [t for t in existing_tables(conn, schemas) if t not in mapped and t.partition(".")[2] not in OUR_TABLES]


# ------------------------------------------------------- what goes with the drops


def views_depending(conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]) -> list[str]:
    """Views and materialized views in the schemas that stay (public) that depend, directly or
    through other views, on `relations` or on anything in `schemas`."""
    oids = relation_oids(conn, relations)
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
        {"rels": oids, "schemas": list(schemas), "kept": kept_legacy_schemas()},
    ).fetchall()
    return [str(r[0]) for r in rows]


def schema_objects(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
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


def kept_schema_names(conn: psycopg.Connection, relations: list[str]) -> list[str]:
    """For dropped relations in schemas that stay: their names, their indexes' and their
    owned sequences' names, "schema.name" (what restore takes from the dump there)."""
    oids = relation_oids(conn, relations)
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


def excluded_relations(conn: psycopg.Connection, keep: set[str]) -> list[str]:
    """Relations of the schemas that stay that the dump must leave out (all but `keep`)."""
    return [f"{s}.{r}" for s, r in relations_in(conn, kept_legacy_schemas()) if f"{s}.{r}" not in keep]


# -------------------------------------------------- every object (the survivors check)

Object = tuple[int, int]  # (pg_class oid of its catalog, its oid)

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


def objects(conn: psycopg.Connection) -> set[Object]:
    """Every user object of the database (relations, functions, types, constraints, ...)."""
    return {(int(c), int(o)) for c, o in conn.execute(sql.SQL(_OBJECTS), {}).fetchall()}


def describe(conn: psycopg.Connection, found: Iterable[Object]) -> dict[Object, str]:
    """Each object's "type identity" (pg_identify_object), e.g. "view public.v"."""
    pairs = list(found)
    rows = conn.execute(
        "SELECT c, o, (SELECT i.type || ' ' || i.identity FROM pg_identify_object(c, o, 0) AS i)"
        " FROM unnest(%s::oid[], %s::oid[]) AS u(c, o)",
        ([c for c, _ in pairs], [o for _, o in pairs]),
    ).fetchall()
    return {(int(c), int(o)): str(text) for c, o, text in rows}


def doomed_objects(conn: psycopg.Connection, relations: Iterable[str], schemas: Iterable[str]) -> set[Object]:
    """Objects dropping `relations` and `schemas` takes with them: in a dropped schema, or
    belonging to a dropped relation (its indexes, owned sequences, row types, constraints,
    rules, defaults...)."""
    rels = relation_oids(conn, relations)
    rows = conn.execute(
        sql.SQL(
            "SELECT classid::oid, objid FROM (SELECT w.classid, w.objid, w.rel, {schema} AS nsp FROM"
            " (SELECT x.classid, x.objid, {rel} AS rel"
            " FROM (SELECT DISTINCT y.cls AS classid, y.oid AS objid FROM ({objects}) AS y(cls, oid)) AS x) AS w) AS z"
            " WHERE z.rel = ANY(%(rels)s::oid[]) OR z.nsp = ANY(%(schemas)s::text[])"
        ).format(
            rel=anchor_rel("x.classid", "x.objid"),
            schema=anchor_schema("w.classid", "w.objid", "w.rel"),
            objects=sql.SQL(_OBJECTS),
        ),
        {"rels": rels, "schemas": list(schemas)},
    ).fetchall()
    return {(int(c), int(o)) for c, o in rows}
