"""The owners' opt-in: REPLICA IDENTITY FULL on named legacy tables (consolidation:replicaIdentityFull).

A DELETE on a legacy table without a primary key prints no key in the slot, nor does an
UPDATE that moves a row to another key: the sync then finds the rows gone by one pass over
the whole legacy table (sync/change_apply.py). With REPLICA IDENTITY FULL every such change
carries its old row, key included, and the pass is never needed. ALTER TABLE ... REPLICA
IDENTITY changes only the catalog (no rewrite, a brief ACCESS EXCLUSIVE lock, about 150
bytes more WAL per UPDATE or DELETE), but it changes legacy, so it is only ever done when
the stack asks for it: `plan` and the preview name it first. It is made under lock_timeout
and retried (core/lock_retry.py); what each table had is recorded first, and `undo` (by
`rollback` and `capture-drop`, and by a run for a table no longer asked for) puts it back.
"""

import psycopg
from psycopg import sql

from data_copy.core import lock_retry
from data_copy.core.ident import ident
from data_copy.state.schema import REPLICA_IDENTITY

_MODES = {"d": "DEFAULT", "n": "NOTHING", "f": "FULL", "i": "USING INDEX"}


def _current(conn: psycopg.Connection, table: str) -> tuple[str, str | None] | None:
    """(relreplident, the replica identity index's name) of `table`, None when it is missing."""
    row = conn.execute(
        "SELECT c.relreplident, (SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = c.oid AND x.indisreplident) FROM pg_class c WHERE c.oid = to_regclass(%s)",
        (table,),
    ).fetchone()
    return (str(row[0]), row[1]) if row else None


def recorded(conn: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    """Tables we gave REPLICA IDENTITY FULL -> what they had before."""
    return {
        t: (o, i)
        for t, o, i in conn.execute(
            sql.SQL("SELECT tbl, original, index_name FROM {} ORDER BY tbl").format(REPLICA_IDENTITY)
        )
    }


def planned(conn: psycopg.Connection, tables: tuple[str, ...]) -> list[str]:
    """What `apply` would change now, one line per table (read-only, for `plan`)."""
    lines = []
    for table in tables:
        found = _current(conn, table)
        if found is not None and found[0] != "f":
            lines.append(f"{table}: REPLICA IDENTITY {_MODES.get(found[0], found[0])} -> FULL")
    return lines


def apply(conn: psycopg.Connection, tables: tuple[str, ...]) -> list[str]:
    """Gives each of `tables` REPLICA IDENTITY FULL (recording what it had), and puts back
    the recorded tables no longer asked for; lines saying what changed."""
    done = undo(conn, keep=tables)
    for table in tables:
        found = _current(conn, table)
        if found is None or found[0] == "f":
            continue
        original, index_name = found

        def step(table: str = table, original: str = original, index_name: str | None = index_name) -> None:
            with conn.transaction():
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (tbl, original, index_name) VALUES (%s, %s, %s) ON CONFLICT (tbl) DO NOTHING"
                    ).format(REPLICA_IDENTITY),
                    (table, original, index_name),
                )
                conn.execute(sql.SQL("ALTER TABLE {} REPLICA IDENTITY FULL").format(ident(table)))

        lock_retry.retrying(step)
        done.append(f"{table}: REPLICA IDENTITY FULL (was {_MODES.get(original, original)})")
    return done


def undo(conn: psycopg.Connection, keep: tuple[str, ...] = ()) -> list[str]:
    """Puts back what every recorded table (but those in `keep`) had; lines saying what."""
    done = []
    for table, (original, index_name) in recorded(conn).items():
        if table in keep:
            continue
        mode: sql.Composable
        if original == "i" and index_name:
            mode = sql.SQL("USING INDEX {}").format(sql.Identifier(index_name))
        else:
            mode = sql.SQL(_MODES.get(original, "DEFAULT"))

        def step(table: str = table, mode: sql.Composable = mode) -> None:
            with conn.transaction():
                if _current(conn, table) is not None:  # a table dropped since (phase 3) has nothing to undo
                    conn.execute(sql.SQL("ALTER TABLE {} REPLICA IDENTITY {}").format(ident(table), mode))
                conn.execute(sql.SQL("DELETE FROM {} WHERE tbl = %s").format(REPLICA_IDENTITY), (table,))

        lock_retry.retrying(step)
        done.append(f"{table}: REPLICA IDENTITY {_MODES.get(original, original)} again")
    return done
