"""Schema drift: the live legacy tables against what the catalog maps, before anything is copied.

Every column of a mapped legacy table is read by its mapping (catalog.mappings: "every
legacy column lands in a target column"), so a column dropped, added or retyped since
the catalog was written would break the copy or lose data. `plan`, `run` and `validate`
call check() first; a difference stops them, naming table, column, expected and found.
"""

from dataclasses import dataclass

import psycopg

from catalog.legacy import legacy_table
from catalog.mappings import MAPPED_SOURCES, Mapping
from data_copy.errors import SchemaDrift

SHOWN = 6
UNMAPPED = "absent (not in the catalog: its values would not be copied)"


@dataclass(frozen=True)
class Drift:
    table: str
    column: str
    expected: str  # the catalog's type, or "absent"
    found: str  # the live type, or "absent"

    def text(self) -> str:
        return f"{self.table}.{self.column}: expected {self.expected}, found {self.found}"


def live_columns(conn: psycopg.Connection, tables: list[str]) -> dict[str, dict[str, str]]:
    """table -> {column: type} for the tables that exist (format_type with the typmod)."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname || '.' || c.relname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        " AND a.attnum > 0 AND NOT a.attisdropped",
        (tables,),
    ).fetchall()
    found: dict[str, dict[str, str]] = {}
    for table, column, type_ in rows:
        found.setdefault(table, {})[column] = type_
    return found


def differences(conn: psycopg.Connection) -> list[Drift]:
    """Every difference between the catalog's mapped legacy tables and the live ones
    (a table that is missing altogether is reported elsewhere: the mapping fails)."""
    sources = sorted(MAPPED_SOURCES)
    live = live_columns(conn, sources)
    drifts: list[Drift] = []
    for source in sources:
        if source not in live:
            continue
        have = live[source]
        want = {c.name: c.type for c in legacy_table(source).columns}
        for column, type_ in want.items():
            if column not in have:
                drifts.append(Drift(source, column, type_, "absent"))
            elif have[column] != type_:
                drifts.append(Drift(source, column, type_, have[column]))
        for column in sorted(set(have) - set(want)):
            drifts.append(Drift(source, column, UNMAPPED, have[column]))
    return drifts


def check(conn: psycopg.Connection) -> None:
    drifts = differences(conn)
    if not drifts:
        return
    shown = "; ".join(d.text() for d in drifts[:SHOWN])
    more = f" (and {len(drifts) - SHOWN} more)" if len(drifts) > SHOWN else ""
    raise SchemaDrift(f"the legacy schema differs from the catalog, nothing copied: {shown}{more}")


def existing_tables(conn: psycopg.Connection) -> set[str]:
    return {f"{s}.{n}" for s, n in conn.execute("SELECT schemaname, tablename FROM pg_tables")}


def missing_sources(conn: psycopg.Connection, m: Mapping) -> list[str]:
    existing = existing_tables(conn)
    return [s for s in m.sources if s not in existing]
