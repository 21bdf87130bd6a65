"""A column among a set of keys read by a subquery, with the client's memory flat.

Two forms, by whether an index can look the keys up:
- indexed: the keys are streamed from a server-side cursor in batches of BATCH, each a
  constant array (`column = ANY('{...}')`): an index scan per batch. (A subquery array,
  `= ANY(ARRAY(subquery))`, hides its size from the planner, which then may scan the whole
  table comparing every row with every key: 147 s for 175,000 keys on 5M rows.)
- not indexed: one `column IN (subquery)`, a hashed pass over the table, however many keys
  (a batch each would read the table once per batch).
A batch of 10,000 keys costs the client about 3 MB to compose (100,000: 26 MB).
"""

import uuid
from collections.abc import Iterator

import psycopg
from psycopg import sql

BATCH = 10_000


def indexed(conn: psycopg.Connection, table: str, column: str) -> bool:
    """An index of `table` starts with `column`."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = i.indkey[0] WHERE i.indrelid = %s::regclass AND a.attname = %s)",
        (table, column),
    ).fetchone()
    return bool(row and row[0])


def batches(conn: psycopg.Connection, keys: sql.Composable) -> Iterator[list]:
    """The rows' first column of `keys` (a SELECT), BATCH at a time, from a server-side
    cursor (inside the caller's transaction)."""
    with conn.transaction(), conn.cursor(name=f"keys_{uuid.uuid4().hex}") as cur:
        cur.itersize = BATCH
        cur.execute(keys)
        while True:
            rows = cur.fetchmany(BATCH)
            if not rows:
                return
            yield [r[0] for r in rows]


def among(column: sql.Composable, batch: list, type_: str) -> sql.Composable:
    """`column = ANY(constant array of type_)`."""
    return sql.SQL("{} = ANY(CAST({} AS {}[]))").format(column, sql.Literal(batch), sql.SQL(type_))


def among_all(column: sql.Composable, keys: sql.Composable) -> sql.Composable:
    """`column IN (keys)`: for a column no index can look up."""
    return sql.SQL("{} IN ({})").format(column, keys)
