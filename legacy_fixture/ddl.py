"""DDL of the legacy database, built from the legacy catalog.

Column types, defaults, generated expressions, CHECKs and index bodies are the catalog's
own SQL text (trusted, read-only input); every identifier is composed with
psycopg.sql.Identifier.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from legacy_fixture import spec as catalog
from legacy_fixture.spec import Column, TableSpec


def _sequence_name(table: TableSpec, column: Column) -> tuple[str, str] | None:
    seq = column.sequence
    if seq is None:
        return None
    if "." in seq:
        schema, name = seq.split(".", 1)
        return schema, name
    return table.schema, seq  # unqualified: the application created it in public


def sequences() -> list[tuple[TableSpec, Column, tuple[str, str]]]:
    """(table, column, (schema, sequence)) for every serial column."""
    result = []
    for table in catalog.tables():
        for column in table.columns:
            name = _sequence_name(table, column)
            if name is not None:
                result.append((table, column, name))
    return result


def existing_objects(conn: psycopg.Connection) -> list[str]:
    """The legacy schemas (other than public) and public's legacy objects that exist."""
    schemas = [s for s in catalog.LEGACY_SCHEMAS if s != "public"]
    public_objects = [s.name for s in catalog.load_specs() if s.schema == "public"]
    public_objects += [seq for _, _, (schema, seq) in sequences() if schema == "public"]
    rows = conn.execute(
        """
        SELECT nspname FROM pg_namespace WHERE nspname = ANY(%(schemas)s)
        UNION ALL
        SELECT 'public.' || c.relname FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relname = ANY(%(objects)s)
        ORDER BY 1
        """,
        {"schemas": schemas, "objects": public_objects},
    ).fetchall()
    return [r[0] for r in rows]


def drop_legacy(conn: psycopg.Connection) -> None:
    """Drop every legacy schema except public, and public's legacy objects."""
    for schema in catalog.LEGACY_SCHEMAS:
        if schema != "public":
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    for view in catalog.views():
        if view.schema == "public":
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(sql.Identifier(view.schema, view.name)))
    for table in catalog.tables():
        if table.schema == "public":
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table.schema, table.name)))
    for _, _, (schema, seq) in sequences():
        if schema == "public":
            conn.execute(sql.SQL("DROP SEQUENCE IF EXISTS {} CASCADE").format(sql.Identifier(schema, seq)))


def create_schemas(conn: psycopg.Connection) -> None:
    for schema in catalog.LEGACY_SCHEMAS:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def _column_ddl(conn: psycopg.Connection, table: TableSpec, column: Column) -> sql.Composable:
    parts: list[sql.Composable] = [sql.Identifier(column.name), sql.SQL(column.type)]
    seq = _sequence_name(table, column)
    if seq is not None:
        regclass = sql.Identifier(*seq).as_string(conn)
        parts.append(sql.SQL("DEFAULT nextval({}::regclass)").format(sql.Literal(regclass)))
    elif column.generated:
        parts.append(sql.SQL("GENERATED ALWAYS AS ({}) STORED").format(sql.SQL(column.default or "")))
    elif column.default is not None:
        parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(column.default)))
    if not column.nullable:
        parts.append(sql.SQL("NOT NULL"))
    return sql.SQL(" ").join(parts)


def create_tables(conn: psycopg.Connection) -> None:
    """Sequences, then every table with its columns, defaults and CHECKs.

    Keys, foreign keys and secondary indexes come after the load (add_keys,
    create_indexes), which is much faster for the large scales.
    """
    for _, _, seq in sequences():
        conn.execute(sql.SQL("CREATE SEQUENCE {}").format(sql.Identifier(*seq)))
    for table in catalog.tables():
        items: list[sql.Composable] = [_column_ddl(conn, table, c) for c in table.columns]
        items += [sql.SQL(check) for check in table.checks]
        conn.execute(
            sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table.schema, table.name), sql.SQL(", ").join(items))
        )
    for table, column, seq in sequences():
        conn.execute(
            sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                sql.Identifier(*seq), sql.Identifier(table.schema, table.name, column.name)
            )
        )


def _idents(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def add_keys(conn: psycopg.Connection) -> None:
    """Primary keys and UNIQUE constraints, then the foreign keys that resolve."""
    for table in catalog.tables():
        target = sql.Identifier(table.schema, table.name)
        if table.primary_key:
            conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(target, _idents(table.primary_key)))
        for unique in table.unique:
            conn.execute(sql.SQL("ALTER TABLE {} ADD UNIQUE ({})").format(target, _idents(unique)))
    known = {(t.schema, t.name) for t in catalog.tables()}
    for table in catalog.tables():
        for fk in table.foreign_keys:
            if (fk.ref_schema, fk.ref_table) not in known:
                continue
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({}){}").format(
                    sql.Identifier(table.schema, table.name),
                    _idents(fk.columns),
                    sql.Identifier(fk.ref_schema, fk.ref_table),
                    _idents(fk.ref_columns),
                    sql.SQL(fk.tail),
                )
            )


def sync_sequences(conn: psycopg.Connection) -> None:
    """Set every serial sequence past the largest id already in its table."""
    for table, column, seq in sequences():
        conn.execute(
            sql.SQL("SELECT setval({seq}, coalesce((SELECT max({col}) FROM {tab}), 0) + 1, false)").format(
                seq=sql.Literal(sql.Identifier(*seq).as_string(conn)),
                col=sql.Identifier(column.name),
                tab=sql.Identifier(table.schema, table.name),
            )
        )


def create_indexes(conn: psycopg.Connection) -> None:
    for table in catalog.tables():
        for index in table.secondary_indexes():
            conn.execute(
                sql.SQL("CREATE INDEX ON {} USING {} {}").format(
                    sql.Identifier(table.schema, table.name),
                    sql.SQL(index.method),
                    sql.SQL(index.body),
                )
            )


def view_plan(view: TableSpec) -> tuple[TableSpec | None, list[tuple[str, str, bool]]]:
    """The base table a view selects from and, per view column, (name, type, from_base).

    The catalog keeps only a view's columns, not its definition. The view selects from
    the base table of its own schema that shares the most columns (same name and type),
    preferring unmapped tables on a tie; a column the base lacks is a typed NULL. With
    fewer than two shared columns the view is an empty typed SELECT ... WHERE false.
    """
    best: TableSpec | None = None
    best_key: tuple[int, int] = (1, 0)
    for table in catalog.tables():
        if table.schema != view.schema:
            continue
        types = {c.name: c.type for c in table.columns}
        shared = sum(1 for c in view.columns if types.get(c.name) == c.type)
        key = (shared, 0 if table.mapped_to else 1)
        if key > best_key:
            best, best_key = table, key
    base_types = {c.name: c.type for c in best.columns} if best else {}
    columns = [(c.name, c.type, base_types.get(c.name) == c.type) for c in view.columns]
    return best, columns


def create_views(conn: psycopg.Connection) -> None:
    for view in catalog.views():
        base, columns = view_plan(view)
        items = [
            sql.SQL("{}").format(sql.Identifier(name))
            if from_base
            else sql.SQL("NULL::{} AS {}").format(sql.SQL(type_), sql.Identifier(name))
            for name, type_, from_base in columns
        ]
        if base is not None:
            body = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(items), sql.Identifier(base.schema, base.name)
            )
        else:
            body = sql.SQL("SELECT {} WHERE false").format(sql.SQL(", ").join(items))
        conn.execute(sql.SQL("CREATE VIEW {} AS {}").format(sql.Identifier(view.schema, view.name), body))
