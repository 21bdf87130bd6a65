"""Target rows whose legacy row is gone, deleted only while they are data_copy's.

The rows gone are found first, by key (`gone`, its own scope of t); the guard
(ownership.guard) is a CASE over both sides, so it is checked on those rows only, never
pushed down to hash every row of the table. Over a whole table the keys gone are first
read into a temporary table: a SELECT may run in parallel where a DELETE may not (5M rows:
2.0 s against 4.6 s), and when none is gone nothing is deleted at all. Both statements run
in the settle's REPEATABLE READ transaction (change_apply.py, settle.py): the keys read and the
rows deleted are of one snapshot.
"""

import uuid

import psycopg
from psycopg import sql

from data_copy.core.ident import ident
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.projection import Part
from data_copy.state import dirty_keys, ownership


def select(part: Part, legacy_condition: sql.Composable, target_keys: sql.Composable | None) -> sql.Composed:
    """SELECT the keys (k) of the target rows (of `target_keys`, or all) for which no legacy
    row meets `legacy_condition` (over the legacy row s and the target row t)."""
    return sql.SQL("SELECT t.{key} AS k FROM {target} AS t WHERE ({tw}) AND ({tk}) AND NOT EXISTS ({legacy})").format(
        key=sql.Identifier(part.target_key),
        target=ident(part.target.qualified),
        tw=part.target_where,
        tk=target_keys or sql.SQL("TRUE"),
        legacy=part.select(sql.SQL("1"), legacy_condition, with_=False),
    )


def delete(
    conn: psycopg.Connection,
    part: Part,
    legacy_condition: sql.Composable,
    target_keys: sql.Composable | None,
    whole_table: bool,
    mark: bool,
) -> int:
    """Deletes the guarded target rows `select` finds; rows deleted. `whole_table`: the keys
    gone are read into a temporary table first (else a keyed pass, in one statement).
    `mark`: the deleted keys are recorded as dirty (dirty_keys.marking)."""
    found_gone = select(part, legacy_condition, target_keys)
    gone: sql.Composable = sql.SQL("({})").format(found_gone)
    lookup = target_keys or sql.SQL("TRUE")  # the target rows by index, not by a hash join of all
    key = sql.Identifier(part.target_key)
    with conn.transaction():
        if whole_table:
            gone = sql.Identifier(f"gone_keys_{uuid.uuid4().hex}")
            found = conn.execute(
                sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS {}{}").format(gone, part.with_clause, found_gone)
            ).rowcount
            if found <= 0:
                return 0
            if key_sets.indexed(conn, part.target.qualified, part.target_key):  # its rows by index
                lookup = sql.SQL("t.{} = ANY(ARRAY(SELECT k FROM {}))").format(key, gone)
        deleted = conn.execute(
            ownership.forgetting(
                part,
                sql.SQL(
                    "{with_}DELETE FROM {target} AS t USING {gone} AS gone WHERE t.{key} = gone.k AND {lookup}"
                    " AND CASE WHEN gone.k IS NOT NULL THEN {guard} ELSE false END"
                ).format(
                    key=key,
                    guard=ownership.guard(part),
                    with_=part.with_clause,
                    target=ident(part.target.qualified),
                    gone=gone,
                    lookup=lookup,
                ),
                also=dirty_keys.marking(part, "d") if mark else sql.SQL(""),
            )
        ).rowcount
    return max(deleted, 0)
