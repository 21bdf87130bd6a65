"""The one way data_copy names a table, sequence or other object in SQL."""

from psycopg import sql


def ident(qualified: str) -> sql.Identifier:
    """`schema.name` (or a bare `name`) as a quoted SQL identifier: "schema"."name"."""
    return sql.Identifier(*qualified.split("."))
