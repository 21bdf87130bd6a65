"""build(): create the legacy database and fill it, all inside PostgreSQL."""

from __future__ import annotations

import psycopg
from psycopg import sql

from legacy_fixture import ddl, generate, sqlfx, universe, unmapped
from legacy_fixture import spec as catalog
from legacy_fixture.scales import Scale, resolve


class LegacyFixtureError(Exception):
    """A fixture request that cannot be honoured; the message says how to fix it."""


def _session_settings(conn: psycopg.Connection) -> None:
    """Transaction-local settings: UTC for every timestamp cast, no timeouts, room to sort."""
    for name, value in (
        ("TimeZone", "UTC"),
        ("statement_timeout", "0"),
        ("lock_timeout", "0"),
        ("maintenance_work_mem", "256MB"),
        ("work_mem", "64MB"),
        ("synchronous_commit", "off"),
    ):
        conn.execute("SELECT set_config(%s, %s, true)", (name, value))


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Exact row counts of every legacy table, keyed "schema.table"."""
    parts = [
        sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(t.qualname), sql.Identifier(t.schema, t.name))
        for t in catalog.tables()
    ]
    rows = dict(conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall())
    return {t.qualname: int(rows[t.qualname]) for t in catalog.tables()}


def build_with_rows(conn: psycopg.Connection, rows: str) -> None:
    """The 9 legacy schemas with every table and key but only the caller's rows (`rows`: an
    INSERT script), sequences synced after them: for tests that need a few exact rows."""
    ddl.create_schemas(conn)
    ddl.create_tables(conn)
    ddl.add_keys(conn)
    conn.execute(rows)
    ddl.sync_sequences(conn)


def build(
    conn: psycopg.Connection,
    scale: str | Scale = "tiny",
    seed: int = 42,
    awkward: bool = True,
    *,
    replace: bool = False,
) -> dict[str, int]:
    """Create the 9 legacy schemas with every table and view, fill them, return row counts.

    Runs in one transaction: on any error nothing is left behind. Raises
    LegacyFixtureError when legacy objects already exist, unless replace=True, which
    drops them first (every legacy schema but public, and public's legacy objects).
    """
    size = resolve(scale)
    with conn.transaction():
        _session_settings(conn)
        existing = ddl.existing_objects(conn)
        if existing and not replace:
            raise LegacyFixtureError(
                f"legacy objects already exist in database {conn.info.dbname!r}: "
                f"{', '.join(existing)}; pass replace=True (CLI: --replace) to drop and "
                "recreate them, or use an empty database"
            )
        if existing:
            ddl.drop_legacy(conn)
        ddl.create_schemas(conn)
        ddl.create_tables(conn)
        sqlfx.install(conn, seed)
        universe_size = universe.create(conn, size, awkward)
        generate.load_mapped(conn, size, universe_size, awkward)
        unmapped.load_unmapped(conn, size.unmapped_rows)
        ddl.add_keys(conn)
        ddl.sync_sequences(conn)
        ddl.create_indexes(conn)
        ddl.create_views(conn)
        universe.drop(conn)
        sqlfx.uninstall(conn)
        for table in catalog.tables():
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table.schema, table.name)))
        return row_counts(conn)
