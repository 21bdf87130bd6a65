"""The slot's output read into our buffer: (commit lsn, xid, table, key, operation).

The slot is peeked over plain SQL (test_decoding), its lines parsed in Python
(capture/change_lines.py). Every change of a mapped table is kept with every key it touched
(for an UPDATE that changed the key, the old one as a delete and the new one), with its
transaction's commit lsn and full 64-bit xid, so that a settle applies exactly the
transactions its snapshot sees. A change that prints no key (a DELETE or TRUNCATE on a
table without a primary key or replica identity) is kept with a NULL key: its mapping then
finds the rows gone by one anti-join (sync/change_apply.py).
"""

import uuid
from collections.abc import Collection

import psycopg
from psycopg import sql

from data_copy.capture.change_lines import Table, parse, prefixes, table_of
from data_copy.state.schema import CAPTURE_CHANGES

OPTIONS = ("skip-empty-xacts", "1", "only-local", "1")  # only-local: our origin's writes left out
XID_WRAP = 4294967296
FETCH_ROWS = 5_000  # slot output rows parsed per batch: the client's memory stays flat
INCOMING = sql.Identifier("migration_incoming")  # a temporary table: a batch, before its commit is known
# the reorder buffer of our peeks and advances: the application's large transactions spill
# to disk past the server default (64MB); raised for our session only, never lowered
DECODING_WORK_MEM_KB = 262144


def _peek(slot: str, upto: object, limit: int | None) -> sql.Composed:
    return sql.SQL("SELECT lsn, xid, data FROM pg_logical_slot_peek_changes({}, CAST({} AS pg_lsn), {}, {})").format(
        sql.Literal(slot),
        sql.Literal(str(upto)),
        sql.Literal(limit),
        sql.SQL(", ").join(sql.Literal(o) for o in OPTIONS),
    )


def decoding_memory(conn: psycopg.Connection) -> None:
    """logical_decoding_work_mem raised to DECODING_WORK_MEM_KB for this session (its peeks
    and advances, which decode too)."""
    conn.execute(
        "SELECT set_config('logical_decoding_work_mem', %s, false) FROM pg_settings"
        " WHERE name = 'logical_decoding_work_mem' AND CAST(setting AS bigint) < %s",
        (f"{DECODING_WORK_MEM_KB}kB", DECODING_WORK_MEM_KB),
    )


def _commits_sql(slot: str, state: sql.Identifier) -> sql.Composed:
    """Moves the incoming changes of transactions committed after the state's pulled_lsn
    into the buffer, each with its transaction's commit lsn (%(xids)s, %(lsns)s: arrays).

    The slot gives 32-bit xids; their epoch comes from this transaction's own xid, which is
    newer than every decoded one (they all committed before `upto` was read). Not from the
    snapshot: in a REPEATABLE READ settle its xmax is older than transactions that started
    after it and committed before `upto`, and those must count as not visible."""
    full_xid = sql.SQL(
        "CAST(CAST(ref.base + i.xid - CASE WHEN ref.base + i.xid > ref.x THEN {w} ELSE 0 END AS text) AS xid8)"
    ).format(w=sql.Literal(XID_WRAP))
    return sql.SQL(
        "WITH ref AS (SELECT x, x - mod(x, {w}) AS base FROM (SELECT CAST(CAST(pg_current_xact_id()"
        " AS text) AS numeric) AS x) AS r0),"
        " commits AS (SELECT * FROM unnest(CAST(%(xids)s AS bigint[]), CAST(%(lsns)s AS pg_lsn[])) AS c (xid, lsn))"
        " INSERT INTO {changes} (slot, lsn, xid, tbl, k, op, change_lsn)"
        " SELECT {slot}, c.lsn, {full_xid}, i.tbl, i.k, i.op, i.change_lsn"
        " FROM {incoming} AS i JOIN commits AS c USING (xid) CROSS JOIN ref"
        " WHERE c.lsn > (SELECT pulled_lsn FROM {state} WHERE slot = {slot})"
    ).format(
        w=sql.Literal(XID_WRAP),
        changes=CAPTURE_CHANGES,
        slot=sql.Literal(slot),
        full_xid=full_xid,
        incoming=INCOMING,
        state=state,
    )


def buffer(
    conn: psycopg.Connection,
    slot: str,
    state: sql.Identifier,
    tables: Collection[Table],
    upto: object,
    limit: int | None,
) -> tuple[int, str | None]:
    """Peeks the slot up to `upto` (at most `limit` output rows, whole transactions) and
    stores the changes to `tables` committed after the state's pulled_lsn: their keys and
    operations. Returns (output rows seen, commit lsn of the last transaction seen).

    The output is read from a cursor FETCH_ROWS at a time and parsed here; each batch goes by
    COPY into a temporary table (no WAL), then one statement moves the committed ones into
    the buffer: the client's memory stays flat however large one transaction is."""
    by_prefix = prefixes(tables)
    conn.execute(
        sql.SQL(
            'CREATE TEMP TABLE IF NOT EXISTS {} (change_lsn pg_lsn, xid bigint, tbl text, k text, op "char")'
            " ON COMMIT DELETE ROWS"
        ).format(INCOMING)
    )
    conn.execute(sql.SQL("TRUNCATE {}").format(INCOMING))
    seen = 0
    commits: dict[int, str] = {}
    with conn.cursor(name=f"slot_{uuid.uuid4().hex}") as cur:
        cur.execute(_peek(slot, upto, limit))
        while batch := cur.fetchmany(FETCH_ROWS):
            seen += len(batch)
            out: list[tuple[object, ...]] = []
            for lsn, xid, data in batch:
                if data.startswith("COMMIT"):
                    commits[int(xid)] = str(lsn)
                    continue
                found = table_of(data, by_prefix)
                if found is None:
                    continue
                table, rest = found
                change = parse(table, rest)
                if change is None:
                    continue
                keys = tuple(dict.fromkeys(change.keys)) or (None,)  # an unchanged key: once
                for i, k in enumerate(keys):
                    op = change.op if i == len(keys) - 1 else "D"  # a changed key's old one is gone
                    out.append((lsn, int(xid), table.name, k, op))
            if out:
                statement = sql.SQL("COPY {} (change_lsn, xid, tbl, k, op) FROM STDIN").format(INCOMING)
                with conn.cursor().copy(statement) as copy:
                    for record in out:
                        copy.write_row(record)
    if commits:
        xids, lsns = zip(*commits.items(), strict=True)
        conn.execute(_commits_sql(slot, state), {"xids": list(xids), "lsns": list(lsns)})
    last_commit = max(commits.values(), key=_lsn_int) if commits else None
    return seen, last_commit


def _lsn_int(lsn: str) -> int:
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def count_by_table(conn: psycopg.Connection, slot: str, tables: list[str]) -> dict[str, int]:
    """Changed rows per table in the slot (without our origin's), for `tables`, peeked."""
    if not tables:
        return {}
    row = conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()
    assert row is not None
    query = sql.SQL(
        "SELECT tabs.tbl, count(*) FROM ({peek}) AS c JOIN (SELECT t AS tbl, 'table '"
        " || quote_ident(split_part(t, '.', 1)) || '.' || quote_ident(substr(t, strpos(t, '.') + 1)) || ': ' AS prefix"
        " FROM unnest(CAST(%s AS text[])) AS t) AS tabs ON starts_with(c.data, tabs.prefix) GROUP BY tabs.tbl"
    ).format(peek=_peek(slot, row[0], None))
    return {tbl: int(n) for tbl, n in conn.execute(query, (tables,))}
