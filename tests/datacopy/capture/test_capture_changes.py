"""The slot's output decoded into keys, server-side (data_copy/capture/decoding.py), on a real
server: text that looks like a key inside a value is never read as one, a key change
gives both keys, a delete without a primary key gives a NULL key, a batch limit and a
re-pull after a crash buffer nothing twice."""

import psycopg
import pytest

from data_copy.capture import stream
from data_copy.state import schema

SLOT = "capture_changes_test"


@pytest.fixture
def conn(fresh_dsn: str):  # noqa: ANN201
    with psycopg.connect(fresh_dsn, autocommit=True) as c:
        c.execute("SET synchronous_commit = on")
        c.execute(
            'CREATE SCHEMA s; CREATE TABLE s.t (note text, "Id" int, id int PRIMARY KEY, tags text[]);'
            " CREATE TABLE s.txt (code varchar(20) PRIMARY KEY, v text); CREATE TABLE s.nopk (id int, v text);"
            " CREATE TABLE s.other (id int PRIMARY KEY)"
        )
        schema.ensure(c)
        lsn = c.execute("SELECT lsn FROM pg_create_logical_replication_slot(%s, 'test_decoding')", (SLOT,)).fetchone()
        c.execute(
            "INSERT INTO public.migration_capture (slot, created_lsn, pulled_lsn) VALUES (%s, %s, %s)",
            (SLOT, lsn[0], lsn[0]),
        )
        yield c
        c.execute("SELECT pg_drop_replication_slot(%s)", (SLOT,))


def buffered(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT tbl, k FROM public.migration_capture_changes WHERE slot = %s ORDER BY lsn, tbl, k NULLS LAST", (SLOT,)
    ).fetchall()


def test_keys_are_read_token_by_token(conn: psycopg.Connection) -> None:
    cap = stream.Capture(SLOT, tables={"s.t": "id", "s.txt": "code", "s.nopk": "id"})
    conn.execute("INSERT INTO s.t VALUES ('x'' id[integer]:999 y', 998, 5, '{\"a b\",c]}'), (NULL, NULL, 6, NULL)")
    conn.execute("UPDATE s.t SET id = 7 WHERE id = 5")  # the key changes: old and new
    conn.execute("DELETE FROM s.t WHERE id = 6")
    conn.execute("INSERT INTO s.txt VALUES ('a''b c]:', 'id[integer]:1')")
    conn.execute("DELETE FROM s.txt")
    conn.execute("INSERT INTO s.other VALUES (1)")  # not a mapped table: not buffered
    conn.execute("INSERT INTO s.nopk VALUES (3, 'v'); DELETE FROM s.nopk")
    assert stream.pull(conn, cap) is False
    assert buffered(conn) == [
        ("s.t", "5"),
        ("s.t", "6"),
        ("s.t", "5"),
        ("s.t", "7"),
        ("s.t", "6"),
        ("s.txt", "a'b c]:"),
        ("s.txt", "a'b c]:"),
        ("s.nopk", "3"),
        ("s.nopk", None),  # the delete prints no key: its mapping is scanned
    ]
    # a second pull before the slot advanced (as after a kill -9) buffers nothing twice
    assert stream.pull(conn, cap) is False
    assert len(buffered(conn)) == 9
    stream.advance(conn, cap)
    row = conn.execute(
        "SELECT s.confirmed_flush_lsn = c.pulled_lsn FROM pg_replication_slots s JOIN public.migration_capture c"
        " ON c.slot = s.slot_name WHERE s.slot_name = %s",
        (SLOT,),
    ).fetchone()
    assert row == (True,)


def test_a_batch_limit_stops_after_whole_transactions(conn: psycopg.Connection) -> None:
    cap = stream.Capture(SLOT, tables={"s.t": "id"})
    for i in range(10):
        conn.execute("INSERT INTO s.t (id) SELECT g FROM generate_series(%s::int, %s::int) AS g", (i * 3, i * 3 + 2))
    assert stream.pull(conn, cap, limit=12) is True  # 5 rows per transaction: BEGIN, 3 rows, COMMIT
    first = len(buffered(conn))
    assert first % 3 == 0 and 0 < first < 30
    stream.advance(conn, cap)
    while stream.pull(conn, cap, limit=12):
        stream.advance(conn, cap)
    assert sorted(int(k) for _, k in buffered(conn)) == list(range(30))


def test_a_change_committed_after_the_snapshot_is_not_visible_to_it(conn: psycopg.Connection, fresh_dsn: str) -> None:
    """In a REPEATABLE READ settle, a transaction that starts and commits after the snapshot
    is decoded by the pull but must count as invisible (its xid is past the snapshot's xmax):
    its key is then applied by the next sync, not marked applied now."""
    cap = stream.Capture(SLOT, tables={"s.t": "id"})
    conn.execute("INSERT INTO s.t (id) VALUES (1)")
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT 1")  # the snapshot
        with psycopg.connect(fresh_dsn, autocommit=True) as other:
            other.execute("SET synchronous_commit = on")
            with other.transaction():
                other.execute("INSERT INTO s.t (id) VALUES (2)")
                xid = other.execute("SELECT pg_current_xact_id()").fetchone()[0]
        stream.pull(conn, cap)
        seen = conn.execute(
            "SELECT k, pg_visible_in_snapshot(xid, pg_current_snapshot()), CAST(xid AS text) = %s"
            " FROM public.migration_capture_changes"
            " WHERE slot = %s ORDER BY k",
            (str(xid), SLOT),
        ).fetchall()
    assert seen == [("1", True, False), ("2", False, True)]  # its full 64-bit xid, exactly


def test_a_table_printing_its_integer_key_first_has_its_keys_read_by_position(conn: psycopg.Connection) -> None:
    conn.execute(
        'CREATE TABLE s.lead (id int PRIMARY KEY, note text, "Id" int);'
        " CREATE TABLE s.full (id int PRIMARY KEY, v text);"
        " ALTER TABLE s.full REPLICA IDENTITY FULL"  # its old key prints every column: the token scan reads it
    )
    tables = {"s.t": "id", "s.txt": "code", "s.nopk": "id", "s.lead": "id", "s.full": "id"}
    leading = stream._leading(conn, tables)
    assert leading == {"s.nopk", "s.lead"}  # s.t's key is not its first column, s.txt's is text
    cap = stream.Capture(SLOT, tables=tables, leading=leading)
    conn.execute("INSERT INTO s.lead VALUES (5, 'x'' UPDATE: old-key: id[integer]:999 y', 998), (6, NULL, NULL)")
    conn.execute("UPDATE s.lead SET id = 7 WHERE id = 5")  # the key changes: old and new
    conn.execute("UPDATE s.lead SET note = 'id[integer]:1' WHERE id = 7")  # the key stays: printed once
    conn.execute("DELETE FROM s.lead WHERE id = 6")
    conn.execute("INSERT INTO s.lead VALUES (-4, 'new-tuple: id[integer]:3 x', NULL)")  # a negative key
    conn.execute("INSERT INTO s.nopk VALUES (3, 'id[integer]:4'); UPDATE s.nopk SET id = 8; DELETE FROM s.nopk")
    conn.execute("INSERT INTO s.full VALUES (1, 'id[integer]:2'); UPDATE s.full SET id = 9")
    assert stream.pull(conn, cap) is False
    assert buffered(conn) == [
        ("s.lead", "5"),
        ("s.lead", "6"),
        ("s.lead", "5"),
        ("s.lead", "7"),
        ("s.lead", "7"),
        ("s.lead", "6"),
        ("s.lead", "-4"),
        ("s.nopk", "3"),
        ("s.nopk", "8"),  # without a key, the update prints the new row only
        ("s.nopk", None),  # the delete prints no key: one anti-join finds it
        ("s.full", "1"),
        ("s.full", "1"),  # old key (every column) and new
        ("s.full", "9"),
    ]
