"""The row hash: how validation and the ownership baseline both hash a row.

Each type's own hash function: no text conversion, and independent of session settings
such as TimeZone or DateStyle. Validation (validation/) and the ownership baseline
(state/ownership.py) hash and select rows exactly the same way, so this is their one place.
"""

from psycopg import sql

from data_copy.mapping_sql.projection import Part


def row_hash(values: sql.Composable) -> sql.Composed:
    return sql.SQL("hash_record_extended(ROW({}), 0)").format(values)


def target_columns(part: Part, alias: str = "t") -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(alias, c) for c in part.hashed_columns())
