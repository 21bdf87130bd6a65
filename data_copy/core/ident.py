"""The one way data_copy names a table, sequence or other object in SQL."""

from psycopg import sql


def ident(qualified: str) -> sql.Identifier:
    """`schema.name` (or a bare `name`) as a quoted SQL identifier: "schema"."name".

    Split at the first dot only: a table found in the live catalog may have a dot in its
    name (`splits.odd.name` is "splits"."odd.name"); schema names never do."""
    return sql.Identifier(*qualified.split(".", 1))


def column_list(cols: tuple[str, ...] | list[str]) -> sql.Composed:
    """`"a", "b"`: column names as a comma-separated list of identifiers."""
    return sql.SQL(", ").join(sql.Identifier(c) for c in cols)
