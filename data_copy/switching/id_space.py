"""One id space per legacy table and its new table from the switch to phase 2.

Why a shared sequence (and not disjoint ranges): the new ids are `integer` identities, so
ranges would have to be cut out of 2^31 and the legacy serial could still run into the new
range one day; one sequence hands out every id once, whoever asks. At the switch, the
legacy key column's default (nextval of its own serial) is changed to draw from the new
table's identity sequence, which is first moved past every id either side holds; the
roles that insert into the legacy table get USAGE on that sequence. Old code inserting
into legacy and new code inserting into the new table then can never get the same id.

That is the only change the switch makes to legacy; `plan` lists it before, the rollback
undoes it (original default back, the legacy serial moved past every id handed out,
grants we added revoked). Phase 1 changes nothing in legacy. Every change is recorded in
`public.migration_switch_changes` inside the switch's transaction.
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from catalog.mappings import copy_order
from data_copy.core.ident import ident
from data_copy.mapping_sql.projection import parts
from data_copy.state import schema
from data_copy.state.schema import SWITCH_CHANGES


@dataclass(frozen=True)
class IdChange:
    mapping: str
    legacy_table: str
    legacy_column: str
    original_default: str
    legacy_sequence: str
    shared_sequence: str  # the new table's identity sequence
    target_table: str
    target_column: str
    grantees: tuple[str, ...]  # roles that may insert into legacy and lack USAGE on it

    def line(self) -> str:
        grants = (
            f"; GRANT USAGE ON SEQUENCE {self.shared_sequence} TO {', '.join(self.grantees)}" if self.grantees else ""
        )
        return (
            f"{self.legacy_table}.{self.legacy_column}: DEFAULT {self.original_default}"
            f" -> DEFAULT nextval('{self.shared_sequence}'){grants}"
        )


def _default(conn: psycopg.Connection, table: str, column: str) -> tuple[str, str | None] | None:
    """(the column default as text, the one sequence it draws from) or None."""
    row = conn.execute(
        "SELECT pg_get_expr(d.adbin, d.adrelid),"
        " (SELECT CASE WHEN count(*) = 1 THEN min(CAST(CAST(dep.refobjid AS regclass) AS text)) END"
        "  FROM pg_depend dep JOIN pg_class c ON c.oid = dep.refobjid AND c.relkind = 'S'"
        "  WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid)"
        " FROM pg_attrdef d JOIN pg_attribute a"
        " ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = to_regclass(%s) AND a.attname = %s",
        (table, column),
    ).fetchone()
    return (row[0], row[1]) if row else None


def planned(conn: psycopg.Connection) -> list[IdChange]:
    """What the switch would change in legacy now (tables already switched are left out)."""
    done = {(r[0], r[1]) for r in recorded(conn)}
    changes = []
    for m in copy_order():
        part = parts(m)[0]  # the games merge: public.games keeps its ids; splits-only rows get negative ones
        if not part.source_key_is_int or not part.target.column(part.target_key).identity:
            continue
        present = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
            (part.source_table, part.target.qualified),
        ).fetchone()
        if (part.source_table, part.source_key) in done or not (present and present[0]):
            continue  # switched already, or a table missing (the new one is created by `run`)
        found = _default(conn, part.source_table, part.source_key)
        default, legacy_seq = found or ("", None)
        if legacy_seq is None or not default.startswith("nextval("):
            continue  # legacy ids are given by the application itself: nothing draws from a sequence
        seq_row = conn.execute(
            "SELECT pg_get_serial_sequence(%s, %s)", (part.target.qualified, part.target_key)
        ).fetchone()
        shared = seq_row[0] if seq_row else None
        if shared is None:
            continue
        grantees = conn.execute(
            "SELECT r.rolname FROM pg_roles r WHERE has_table_privilege(r.oid, to_regclass(%s), 'INSERT')"
            " AND NOT r.rolsuper AND r.rolname NOT LIKE 'pg\\_%%'"
            " AND NOT has_sequence_privilege(r.oid, to_regclass(%s), 'USAGE') ORDER BY 1",
            (part.source_table, shared),
        ).fetchall()
        changes.append(
            IdChange(
                m.name,
                part.source_table,
                part.source_key,
                default,
                legacy_seq,
                shared,
                part.target.qualified,
                part.target_key,
                tuple(r[0] for r in grantees),
            )
        )
    return changes


def recorded(conn: psycopg.Connection) -> list[tuple]:
    if not schema.exists(conn, SWITCH_CHANGES):
        return []
    return conn.execute(
        sql.SQL(
            "SELECT legacy_table, legacy_column, original_default, legacy_sequence, shared_sequence, granted_to"
            " FROM {} ORDER BY 1"
        ).format(SWITCH_CHANGES)
    ).fetchall()


def _move_past(conn: psycopg.Connection, sequence: str, tables: list[tuple[str, str]], others: list[str]) -> None:
    """setval(sequence) past every id in `tables` and every value `others` handed out."""
    candidates: list[sql.Composable] = [
        sql.SQL("(SELECT max({}) FROM {})").format(sql.Identifier(c), ident(t)) for t, c in tables
    ]
    candidates += [sql.SQL("pg_sequence_last_value({})").format(sql.Literal(s)) for s in [sequence, *others]]
    conn.execute(
        sql.SQL("SELECT setval({}, greatest({}, 1))").format(sql.Literal(sequence), sql.SQL(", ").join(candidates))
    )


def apply(conn: psycopg.Connection, run_id: object) -> list[IdChange]:
    """In the caller's transaction: every planned change, recorded."""
    schema.ensure(conn)
    changes = planned(conn)
    for c in changes:
        # the short ACCESS EXCLUSIVE lock of ALTER TABLE waits at most lock_timeout
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(ident(c.legacy_table)))
        _move_past(
            conn,
            c.shared_sequence,
            [(c.legacy_table, c.legacy_column), (c.target_table, c.target_column)],
            [c.legacy_sequence],
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT nextval({}::regclass)").format(
                ident(c.legacy_table), sql.Identifier(c.legacy_column), sql.Literal(c.shared_sequence)
            )
        )
        for role in c.grantees:
            conn.execute(
                sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(ident(c.shared_sequence), sql.Identifier(role))
            )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (legacy_table, legacy_column, original_default, legacy_sequence, shared_sequence,"
                " granted_to, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ).format(SWITCH_CHANGES),
            (
                c.legacy_table,
                c.legacy_column,
                c.original_default,
                c.legacy_sequence,
                c.shared_sequence,
                list(c.grantees),
                str(run_id),
            ),
        )
    return changes


def undo(conn: psycopg.Connection) -> list[str]:
    """In the caller's transaction: every recorded change undone; lines saying what."""
    lines = []
    for table, column, original, legacy_seq, shared, granted in recorded(conn):
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if not exists or not exists[0]:
            continue
        conn.execute(  # the original default was nextval of exactly this sequence (see planned)
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT nextval({}::regclass)").format(
                ident(table), sql.Identifier(column), sql.Literal(legacy_seq)
            )
        )
        _move_past(conn, legacy_seq, [(table, column)], [shared])
        for role in granted:
            conn.execute(sql.SQL("REVOKE USAGE ON SEQUENCE {} FROM {}").format(ident(shared), sql.Identifier(role)))
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE legacy_table = %s AND legacy_column = %s").format(SWITCH_CHANGES),
            (table, column),
        )
        lines.append(f"{table}.{column}: DEFAULT {original} again")
    return lines
