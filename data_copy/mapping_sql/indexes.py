"""The new tables' secondary indexes and foreign keys, as SQL, and which of them (with the
keys and CHECKs) a live table lacks.

The statements are built here once: the sync builds them after the load (sync/index_builds.py),
validation fails a mapping whose table lacks any (`missing`), phase 3 refuses while one is
missing, and the benchmark's baseline script creates the same ones.
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS_BY_TARGET
from catalog.tables import ForeignKey, Table
from data_copy.core.ident import column_list, ident


def _index_column(spec: str) -> sql.Composed:
    name, _, order = spec.partition(" ")
    return sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL("DESC" if order == "DESC" else ""))


def index_name(t: Table, columns: tuple[str, ...]) -> str:
    return "_".join([t.name, *(c.split(" ")[0] for c in columns), "idx"])[:63]


def index_sql(t: Table) -> list[sql.Composed]:
    statements = []
    for ix in t.indexes:
        name = index_name(t, ix.columns)
        statements.append(
            sql.SQL("CREATE {unique}INDEX IF NOT EXISTS {name} ON {table} ({cols})").format(
                unique=sql.SQL("UNIQUE " if ix.unique else ""),
                name=sql.Identifier(name),
                table=ident(t.qualified),
                cols=sql.SQL(", ").join(_index_column(c) for c in ix.columns),
            )
        )
    return statements


def fk_name(t: Table, fk: ForeignKey) -> str:
    return "_".join([t.name, *fk.columns, "fkey"])[:63]


def fk_sql(t: Table, fk: ForeignKey) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})").format(
        ident(t.qualified),
        sql.Identifier(fk_name(t, fk)),
        column_list(fk.columns),
        ident(fk.references),
        column_list(fk.ref_columns),
    )


@dataclass
class Piece:
    table: Table
    kind: str  # index | foreign key
    name: str
    statement: sql.Composed
    fk: ForeignKey | None = None
    unique: tuple[str, ...] = ()


def pieces(t: Table) -> list[Piece]:
    found = [
        Piece(t, "index", index_name(t, ix.columns), statement, unique=ix.columns if ix.unique else ())
        for ix, statement in zip(t.indexes, index_sql(t), strict=True)
    ]
    found += [Piece(t, "foreign key", fk_name(t, fk), fk_sql(t, fk), fk=fk) for fk in t.foreign_keys]
    return found


def _present(conn: psycopg.Connection, t: Table) -> tuple[dict[str, bool], dict[str, tuple[str, bool, list[str]]]]:
    """(index name -> valid, constraint name -> (type, validated, columns)) on table t."""
    indexes = {
        r[0]: bool(r[1])
        for r in conn.execute(
            "SELECT c.relname, i.indisvalid AND i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = to_regclass(%s)",
            (t.qualified,),
        )
    }
    constraints = {
        r[0]: (r[1], bool(r[2]), list(r[3] or []))
        for r in conn.execute(
            "SELECT k.conname, k.contype, k.convalidated,"
            " (SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_attribute a"
            "  WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey))"
            " FROM pg_constraint k WHERE k.conrelid = to_regclass(%s)",
            (t.qualified,),
        )
    }
    return indexes, constraints


def missing(conn: psycopg.Connection, t: Table) -> list[str]:
    """Every catalog key, CHECK, index and foreign key of `t` that is absent or not valid."""
    exists = conn.execute("SELECT to_regclass(%s)", (t.qualified,)).fetchone()
    if not exists or exists[0] is None:
        return [f"table {t.qualified}"]
    indexes, constraints = _present(conn, t)
    by_columns = {(kind, tuple(cols)): valid for kind, valid, cols in constraints.values()}
    gaps: list[str] = []
    if t.primary_key and not by_columns.get(("p", tuple(sorted(t.primary_key)))):
        gaps.append(f"primary key ({', '.join(t.primary_key)})")
    for unique in t.unique:
        if not by_columns.get(("u", tuple(sorted(unique)))):
            gaps.append(f"unique ({', '.join(unique)})")
    checks = sum(1 for kind, valid, _ in constraints.values() if kind == "c" and valid)
    if checks < len(t.checks):
        gaps.append(f"{len(t.checks) - checks} of {len(t.checks)} CHECK constraints")
    for piece in pieces(t):
        if piece.kind == "index":
            if not indexes.get(piece.name):
                gaps.append(f"index {piece.name}" + (" (invalid)" if piece.name in indexes else ""))
        else:
            found = constraints.get(piece.name)
            if found is None or found[0] != "f" or not found[1]:
                gaps.append(f"foreign key {piece.name}" + (" (not validated)" if found else ""))
    return gaps


def mapping_of(t: Table) -> str:
    m = MAPPINGS_BY_TARGET.get(t.qualified)
    return m.name if m else t.qualified
