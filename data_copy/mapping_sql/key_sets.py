"""A column among a set of keys read by a subquery, with the client's memory flat.

Two forms, by whether an index can look the keys up:
- indexed: the keys are streamed from a server-side cursor in batches of BATCH, each a
  constant array (`column = ANY('{...}')`): an index scan per batch. (A subquery array,
  `= ANY(ARRAY(subquery))`, hides its size from the planner, which then may scan the whole
  table comparing every row with every key: 147 s for 175,000 keys on 5M rows.)
- not indexed: one `column IN (subquery)`, a hashed pass over the table, however many keys
  (a batch each would read the table once per batch); inside one REPEATABLE READ snapshot,
  for an INSERT or DELETE (which PostgreSQL never runs in parallel), `located`: the rows'
  ctids read first by a parallel SELECT, then a TID scan.
A batch of 10,000 keys costs the client about 3 MB to compose (100,000: 26 MB).
"""

import uuid
from collections.abc import Generator, Iterator

import psycopg
from psycopg import sql
from psycopg.adapt import PyFormat, Transformer

from data_copy.core.ident import ident

BATCH = 10_000
NUMERIC_KEY = "^-?[0-9]{1,18}$"  # a key that casts to bigint (and smaller, when in range)
_TEXT = Transformer()  # the global adapters, for the array text of keys that are not integers


def indexed(conn: psycopg.Connection, table: str, column: str) -> bool:
    """An index of `table` starts with `column`."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = i.indkey[0] WHERE i.indrelid = %s::regclass AND a.attname = %s)",
        (table, column),
    ).fetchone()
    return bool(row and row[0])


def batches(conn: psycopg.Connection, keys: sql.Composed) -> Generator[list, None, None]:
    """The rows' first column of `keys` (a SELECT), BATCH at a time, from a server-side
    cursor (inside the caller's transaction)."""
    for rows in row_batches(conn, keys):
        yield [r[0] for r in rows]


def row_batches(conn: psycopg.Connection, query: sql.Composed) -> Iterator[list[tuple]]:
    """The rows of `query` (a SELECT), BATCH at a time, from a server-side cursor."""
    with conn.transaction(), conn.cursor(name=f"keys_{uuid.uuid4().hex}") as cur:
        cur.itersize = BATCH
        cur.execute(query)
        while True:
            rows = cur.fetchmany(BATCH)
            if not rows:
                return
            yield rows


def among(column: sql.Composable, batch: list, type_: str) -> sql.Composed:
    """`column = ANY(constant array of type_)`. The array is dumped once, here, into one text
    constant: a statement renders its constants each time it is sent, and one statement
    holds a batch several times (both sides, the baseline), so as a list it was dumped
    element by element again each time (a large re-sync: 5.5 s of the client's time)."""
    return sql.SQL("{} = ANY(CAST({} AS {}[]))").format(column, sql.Literal(_array_text(batch)), sql.SQL(type_))


def _array_text(batch: list) -> str:
    """`batch` in PostgreSQL's array text form (psycopg's own dumper: quoting, NULLs)."""
    if all(type(k) is int for k in batch):  # the common case, 8x faster: digits only
        return "{" + ",".join(map(str, batch)) + "}"
    return bytes(_TEXT.get_dumper(batch, PyFormat.TEXT).dump(batch) or b"{}").decode()


def among_all(column: sql.Composable, keys: sql.Composable) -> sql.Composed:
    """`column IN (keys)`: for a column no index can look up."""
    return sql.SQL("{} IN ({})").format(column, keys)


def located(conn: psycopg.Connection, table: str, alias: str, column: str, keys: sql.Composable) -> sql.Composed:
    """The rows of `table` (aliased `alias` where the condition is used) whose `column` is
    among `keys`, for a statement that cannot run in parallel: their ctids are read first by
    one SELECT, in parallel workers, into a temporary table, and the condition is a TID scan
    of just those rows (5M legacy rows, 97,000 keys: 0.9 s against 1.8 s for the serial
    hashed pass). A ctid names a row version: only within one snapshot do the two
    statements see the same one, so outside a REPEATABLE READ transaction this is among_all."""
    return located_rows(conn, table, alias, column, keys)[0]


def located_rows(
    conn: psycopg.Connection, table: str, alias: str, column: str, keys: sql.Composable
) -> tuple[sql.Composed, sql.Identifier | None]:
    """`located`, and the temporary table of (c: ctid, k: the key as text) it read (None
    outside a REPEATABLE READ transaction)."""
    column_of = sql.Identifier(alias, column)
    row = conn.execute("SELECT current_setting('transaction_isolation')").fetchone()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS or not row or row[0] != "repeatable read":
        return among_all(column_of, keys), None
    tids = sql.Identifier(f"located_{uuid.uuid4().hex}")
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {a}.ctid AS c, CAST({k} AS text) AS k"
            " FROM {t} AS {a} WHERE {k} IN ({keys})"
        ).format(tids, a=sql.Identifier(alias), t=ident(table), k=column_of, keys=keys)
    )
    return sql.SQL("{}.ctid = ANY(ARRAY(SELECT c FROM {}))").format(sql.Identifier(alias), tids), tids
