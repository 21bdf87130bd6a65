"""`reset`: what starting over drops, and dropping it (phase 1 only: api.reset refuses later).

In phase 1 the new tables are data_copy's derived copy and the application never wrote
them: starting over drops them (the catalog's tables and the merge's id sequences that
exist) and every table of ours (schema.NAMES, the journal and the phase record included),
so the next `run` works as on a database it never saw. Legacy is never touched: the drops
name only the catalog's tables in the consolidated schemas and our public.migration_*
tables. (The replication slot and origins are capture's: api.reset drops them after.)
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from catalog.schemas import UNQUALIFIED_SCHEMA
from catalog.tables import TABLES
from data_copy.core import lock_retry
from data_copy.core.ident import ident
from data_copy.errors import ResetRefused
from data_copy.mapping_sql.target_tables import MERGE_SEQUENCES
from data_copy.state import schema


@dataclass(frozen=True)
class Dropped:
    kind: str  # "new table", "sequence", "table of ours"
    name: str  # schema.name
    rows: int | None = None

    def words(self) -> str:
        rows = "" if self.rows is None else f" ({self.rows:,} rows)"
        return f"{self.kind} {self.name}{rows}"


def _existing(conn: psycopg.Connection, names: list[str], kinds: str) -> list[str]:
    rows = conn.execute(
        "SELECT n FROM unnest(CAST(%s AS text[])) WITH ORDINALITY AS x(n, i) WHERE EXISTS (SELECT 1 FROM pg_class c"
        " JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = split_part(n, '.', 1)"
        " AND c.relname = split_part(n, '.', 2) AND c.relkind = ANY(%s)) ORDER BY i",
        (names, list(kinds)),
    )
    return [r[0] for r in rows]


def _rows(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(name))).fetchone()
    return int(row[0]) if row else 0


def survey(conn: psycopg.Connection) -> list[Dropped]:
    """What `drop` would drop, with each table's rows."""
    found = [Dropped("new table", t, _rows(conn, t)) for t in _existing(conn, [t.qualified for t in TABLES], "rp")]
    found += [Dropped("sequence", s) for s in _existing(conn, list(MERGE_SEQUENCES), "S")]
    ours = [f"{UNQUALIFIED_SCHEMA}.{n}" for n in sorted(schema.NAMES)]
    found += [Dropped("table of ours", t, _rows(conn, t)) for t in _existing(conn, ours, "r")]
    return found


def drop(conn: psycopg.Connection, owner_role: str, items: list[Dropped]) -> None:
    """Drops `items` (a `survey`) in one transaction, retried while a lock timeout refuses
    it: the new tables and sequences as `owner_role` (their owner), then ours."""

    def names(*kinds: str) -> sql.Composed:
        return sql.SQL(", ").join(ident(i.name) for i in items if i.kind in kinds)

    def step() -> None:
        with conn.transaction():
            new = [i for i in items if i.kind != "table of ours"]
            if new:
                role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner_role,)).fetchone()
                if role:
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner_role)))
                if any(i.kind == "new table" for i in new):
                    conn.execute(sql.SQL("DROP TABLE {}").format(names("new table")))
                if any(i.kind == "sequence" for i in new):
                    conn.execute(sql.SQL("DROP SEQUENCE {}").format(names("sequence")))
                conn.execute("RESET ROLE")
            if any(i.kind == "table of ours" for i in items):
                conn.execute(sql.SQL("DROP TABLE {}").format(names("table of ours")))

    try:
        lock_retry.retrying(step)
    except psycopg.errors.DependentObjectsStillExist as error:  # nothing was dropped
        detail = error.diag.message_detail or ""
        raise ResetRefused(
            f"reset refused: other objects depend on what it drops ({' '.join(detail.split()[:24])} ...)",
            fix="those objects are not data_copy's: drop or change them first (nothing was dropped)",
        ) from None
