"""Replication slots and origins of ours that are not this database's current ones.

Our slot and origins are named after the database (capture/slot.py: `slot_name`). A
database copied with CREATE DATABASE ... TEMPLATE, or restored under a new name, brings
our records (public.migration_capture*) of the other database's slot; a database renamed
keeps its slot under the old name, holding WAL that nothing reads. Both are found and
named before a run; the other database's records are cleared here (they describe a slot
this database never reads), the slots and origins themselves are left alone: they may be
in use where they belong (`reset` drops this database's own).
"""

import psycopg
from psycopg import sql

from data_copy.capture import slot
from data_copy.settings import Settings
from data_copy.state import schema
from data_copy.state.schema import CAPTURE, CAPTURE_CHANGES, CAPTURE_POSITIONS

MARKERS = "data_copy_mark_"  # stream.mark's temporary slots: never left behind


def existing_origins(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """Our replication origins of the slots `names` that exist."""
    rows = conn.execute(
        "SELECT roname FROM pg_replication_origin WHERE roname = ANY(%s) ORDER BY roname",
        ([o for n in names for o in (slot.origin_name(n), slot.second_origin_name(n))],),
    )
    return [r[0] for r in rows]


def own_slots(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """This database's slots of ours: the current one (if it exists) and any left under
    another name (recorded in public.migration_capture, or named like ours)."""
    current = slot.name_for(conn, settings)
    recorded = (
        sql.SQL(" OR slot_name IN (SELECT slot FROM {})").format(CAPTURE)
        if schema.exists(conn, CAPTURE)
        else sql.SQL("")
    )
    rows = conn.execute(
        sql.SQL(
            "SELECT slot_name FROM pg_replication_slots WHERE database = current_database() AND NOT temporary"
            " AND (slot_name = %s{}"
            " OR starts_with(slot_name, 'data_copy_') AND NOT starts_with(slot_name, %s)) ORDER BY slot_name"
        ).format(recorded),
        (current, MARKERS),
    )
    return [r[0] for r in rows]


def check(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """One line per slot of ours that is not this database's current one; the records of a
    slot that is not this database's are cleared."""
    current = slot.name_for(conn, settings)
    here = conn.execute("SELECT current_database()").fetchone()
    database = here[0] if here else "?"
    recorded = [
        r[0]
        for r in conn.execute(
            sql.SQL("SELECT slot FROM {} WHERE slot <> %s UNION SELECT slot FROM {} WHERE slot <> %s").format(
                CAPTURE, CAPTURE_POSITIONS
            ),
            (current, current),
        )
    ]
    notes = []
    for name in sorted(recorded):
        row = conn.execute("SELECT database FROM pg_replication_slots WHERE slot_name = %s", (name,)).fetchone()
        if row is not None and row[0] == database:
            continue  # this database's own, under another name: named below
        with conn.transaction():
            for table in (CAPTURE, CAPTURE_POSITIONS, CAPTURE_CHANGES):
                conn.execute(sql.SQL("DELETE FROM {} WHERE slot = %s").format(table), (name,))
        where = f'of database "{row[0]}"' if row is not None else "(no longer on this server)"
        origins = existing_origins(conn, [name])
        left = f"; replication origin(s) {', '.join(origins)} left alone" if origins else ""
        notes.append(
            f"change capture: public.migration_capture described replication slot {name} {where}, not this"
            f' database\'s ("{database}": copied with CREATE DATABASE ... TEMPLATE, or restored under a new name):'
            f" its records here are cleared, and this database captures with its own slot {current}{left}"
        )
    for name in own_slots(conn, settings):
        if name != current:
            notes.append(
                f"change capture: replication slot {name} belongs to this database under another name (the database"
                " or consolidation:rolePrefix was renamed?) and keeps WAL nothing reads: if no other stack uses it,"
                f" drop it with `SELECT pg_drop_replication_slot('{name}')` (or `python -m data_copy reset` in phase 1)"
            )
    return notes


def drop_all(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """`reset`: drops this database's slots of ours and their origins; what was dropped."""
    done = []
    names = own_slots(conn, settings)
    for name in names:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (name,))
        done.append(f"replication slot {name}")
    for origin in existing_origins(conn, sorted({*names, slot.name_for(conn, settings)})):
        conn.execute("SELECT pg_replication_origin_drop(%s)", (origin,))
        done.append(f"replication origin {origin}")
    return done
