"""--disposable / consolidation:disposableTables: each name must be an unmapped legacy table."""

import psycopg

from catalog.mappings import MAPPED_SOURCES
from catalog.schemas import LEGACY_SCHEMAS
from data_copy.errors import BadDisposable
from data_copy.retire import live_catalog


def check(conn: psycopg.Connection, names: tuple[str, ...]) -> None:
    """Refuses (one line, every bad name) unless every name is an unmapped legacy table."""
    mapped = set(MAPPED_SOURCES)
    existing = set(live_catalog.existing_tables(conn, LEGACY_SCHEMAS))
    bad: list[str] = []
    for name in dict.fromkeys(names):
        schema, dot, table = name.partition(".")
        if not dot or not schema or not table or "." in table:
            bad.append(f"{name!r} is not schema.table")
        elif schema not in LEGACY_SCHEMAS:
            bad.append(f"{name!r} is not in a legacy schema ({', '.join(LEGACY_SCHEMAS)})")
        elif name in mapped:
            bad.append(f"{name!r} is mapped (its rows are copied, cleanup drops it after validation anyway)")
        elif name not in existing:
            bad.append(f"{name!r} does not exist")
    if bad:
        raise BadDisposable("--disposable / consolidation:disposableTables refused: " + "; ".join(bad))
