"""A column among a set of keys read by a subquery, without the keys passing through Python.

`column = ANY(ARRAY(keys))` where an index on the column can look each key up: the planner
cannot see how many keys a subquery gives and would otherwise hash the whole table;
`column IN (keys)` where no index can (one hashed pass over the table). A constant array
of the keys did the same, but 100,000 keys cost the client 26 MB of memory to compose.
"""

import psycopg
from psycopg import sql


def indexed(conn: psycopg.Connection, table: str, column: str) -> bool:
    """An index of `table` starts with `column`."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = i.indkey[0] WHERE i.indrelid = %s::regclass AND a.attname = %s)",
        (table, column),
    ).fetchone()
    return bool(row and row[0])


def among(column: sql.Composable, keys: sql.Composable, is_indexed: bool) -> sql.Composable:
    """`column` is one of `keys` (a SELECT of one column of the column's type)."""
    if is_indexed:
        return sql.SQL("{} = ANY(ARRAY({}))").format(column, keys)
    return sql.SQL("{} IN ({})").format(column, keys)
