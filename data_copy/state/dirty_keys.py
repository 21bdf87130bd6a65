"""The keys written since the last full validation (`public.migration_dirty_keys`).

The copier's upserts and deletes record their keys in the same statement (`marking`); the
change capture's apply calls mark_dirty for every legacy change it applies. An incremental
validation re-hashes only these keys (validation/incremental.py); a full one clears them.
"""

from collections.abc import Iterable

import psycopg
from psycopg import sql

from data_copy.mapping_sql.projection import Part
from data_copy.state.schema import CHUNKS, DIRTY


def mark_dirty(conn: psycopg.Connection, part: Part | str, keys: Iterable[object]) -> int:
    """Records that these target keys of `part` changed (on either side) since the last
    validation; the next incremental validation re-hashes them. Returns keys recorded."""
    name = part if isinstance(part, str) else part.name
    values = sorted({str(k) for k in keys if k is not None})
    if not values:
        return 0
    return conn.execute(
        sql.SQL(
            "INSERT INTO {} (part, k) SELECT %s, unnest(%s::text[])"
            " ON CONFLICT (part, k) DO UPDATE SET marked_at = clock_timestamp()"
        ).format(DIRTY),
        (name, values),
    ).rowcount


def mark_selected(conn: psycopg.Connection, part: Part, texts: sql.Composable) -> int:
    """mark_dirty for the key texts a SELECT returns (the application's changes a phase-2
    sync read from the stream), without bringing them to the client."""
    return conn.execute(
        sql.SQL(
            "INSERT INTO {} (part, k) SELECT DISTINCT {}, k FROM ({}) AS x WHERE k IS NOT NULL"
            " ON CONFLICT (part, k) DO UPDATE SET marked_at = clock_timestamp()"
        ).format(DIRTY, sql.Literal(part.name), texts)
    ).rowcount


def forget(conn: psycopg.Connection, part: Part) -> None:
    """A full validation that passed covers every key: the marks start again from it (in its
    transaction: marks by transactions its snapshot cannot see stay)."""
    conn.execute(sql.SQL("DELETE FROM {} WHERE part = %s").format(DIRTY), (part.name,))


def marking(part: Part, written: str, gone: bool = False) -> sql.Composed:
    """A CTE (`, name AS (...)`) recording the keys (column k) of the data-modifying CTE
    `written` as dirty, in the statement that writes them; `gone`: it deleted their rows
    (and the legacy rows are gone), else where a key's legacy row is is not known."""
    return sql.SQL(
        ", dirty_marks AS (INSERT INTO {d} (part, k, gone) SELECT DISTINCT {p}, k, CAST({g} AS boolean) FROM {w}"
        " WHERE k IS NOT NULL"
        " ON CONFLICT (part, k) DO UPDATE SET marked_at = clock_timestamp(), tid = NULL, gone = EXCLUDED.gone)"
    ).format(d=DIRTY, p=sql.Literal(part.name), g=sql.Literal(True if gone else None), w=sql.Identifier(written))


def tracked(conn: psycopg.Connection, part: Part) -> bool:
    """True once a full validation stored this part's chunks (only then are marks useful)."""
    row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE part = %s)").format(CHUNKS), (part.name,))
    found = row.fetchone()
    return bool(found and found[0])
