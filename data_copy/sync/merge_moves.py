"""The games merge's rows that leave the first part's scope: legacy deleted their
public.games row.

core_betting.games holds two parts' rows (mapping_sql/projection.py): those of a
public.games id (the first part, its baseline keyed by that id) and the splits.games rows
no public game pairs with (the second, keyed by legacy_splits_id, ids of their own). Once
legacy deletes a public game its row is in neither part's legacy rows as it was: the first
part no longer sees it (its scope is the public ids), and the second found it in its scope
but not in its baseline, a foreign row that stopped every phase-1 run. So before the merge
is re-synced, each such row that is still as the first part wrote it (its guard):
- paired with a splits game, which is now unpaired: it becomes the second part's row for
  that game, in place. Its id stays, so the rows that reference it (recommendations found
  by the game's MLB id) still do; the columns only public.games filled go back to their
  defaults, as a new row of the second part has them, and the second part's sync then
  writes the splits game's values;
- paired with nothing: deleted, as any row whose legacy row is gone.
So are the second part's rows whose splits game is gone, or paired now (a new public game
takes its splits key: it must be free before the first part writes that game). The rows
that find a deleted game by its MLB id (a mapping's game_refs: betting_recommendations,
game_outcomes) go first, while data_copy's: to the one other game with that MLB id, as
their legacy rows will find it; with none, deleted (their legacy rows find no game any
more, and are rejected as a fresh copy rejects them). The new tables' foreign keys would
refuse the game's delete while they stay.
A row the application changed since stays where it is, its own (phase 2: a conflict), and
so does a game an application row still points at (the foreign key names it).
"""

import uuid

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS
from data_copy.core.ident import ident
from data_copy.mapping_sql.projection import Part, parts
from data_copy.state import dirty_keys, ownership
from data_copy.state.schema import OWNED
from data_copy.sync import gone_rows


def hand_over(conn: psycopg.Connection, primary: Part, only: Part) -> tuple[int, int]:
    """The primary part's rows out of its scope, handed to `only` or deleted (see the
    module doc); (rows handed over, rows deleted). In the caller's transaction."""
    target = ident(primary.target.qualified)
    left = sql.SQL("NOT ({}) AND {}").format(primary.target_where, ownership.guard(primary))
    other_key = sql.Identifier("t", only.target_key)
    reset = [c for c in primary.columns if c not in only.columns and c not in only.assigned]
    moved = conn.execute(
        sql.SQL(
            "WITH moved AS (UPDATE {t} AS t SET {reset} WHERE {left} AND {key} IS NOT NULL"
            " RETURNING {old} AS old, {k} AS k, {h} AS h, {u} AS u),"
            " forgotten AS (DELETE FROM {o} AS o USING moved WHERE o.part = {a} AND o.k = moved.old)"
            " INSERT INTO {o} (part, k, h, u) SELECT {b}, k, h, u FROM moved"
            " ON CONFLICT (part, k) DO UPDATE SET h = EXCLUDED.h, u = EXCLUDED.u"
        ).format(
            t=target,
            reset=sql.SQL(", ").join(sql.SQL("{} = DEFAULT").format(sql.Identifier(c)) for c in reset),
            left=left,
            key=other_key,
            old=ownership.target_key_text(primary),
            k=ownership.target_key_text(only),
            h=ownership.target_hash(only),
            u=ownership.unmapped_hash(only),
            o=OWNED,
            a=sql.Literal(primary.name),
            b=sql.Literal(only.name),
        )
    ).rowcount
    unpaired = sql.SQL("{} AND {} IS NULL").format(left, other_key)
    # the games to delete, read once (the splits side's through the merge's pairs): none in
    # most syncs, and then nothing else is read
    doomed = sql.Identifier(f"merge_doomed_{uuid.uuid4().hex}")
    found = conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT t.id FROM {} AS t WHERE ({}) OR ({})").format(
            doomed, target, unpaired, _gone(only)
        )
    ).rowcount
    if found <= 0:
        return max(moved, 0), 0
    released = _release_referrers(conn, primary, doomed)
    deleted = sum(  # the guard again: whose own row it is was decided in this snapshot, as here
        max(
            conn.execute(
                ownership.forgetting(
                    part,
                    sql.SQL("DELETE FROM {} AS t WHERE t.id IN (SELECT id FROM {}) AND {}").format(
                        target, doomed, ownership.guard(part)
                    ),
                )
            ).rowcount,
            0,
        )
        for part in (primary, only)
    )
    return max(moved, 0), deleted + released


def _gone(only: Part) -> sql.Composed:
    """The condition (over t) on the second part's rows, still data_copy's, whose splits
    game is gone or paired now (deleted here, before the first part may write a game that
    takes its splits key)."""
    found_gone = gone_rows.select(
        only, sql.SQL("{} = t.{}").format(only.key_expr(), sql.Identifier(only.target_key)), None
    )
    return sql.SQL("({tw}) AND {guard} AND t.{key} IN ({with_}{gone})").format(
        tw=only.target_where,
        guard=ownership.guard(only),
        key=sql.Identifier(only.target_key),
        with_=only.with_clause,
        gone=found_gone,
    )


def _release_referrers(conn: psycopg.Connection, primary: Part, doomed: sql.Identifier) -> int:
    """The rows that find a game of `doomed` (a table of ids) by its MLB id, while
    data_copy's: they point at the one other game with that MLB id, as their legacy rows
    will find then, or, with none (or several: ambiguous), are deleted (a fresh copy
    rejects them); rows written."""
    games = ident(primary.target.qualified)
    ids = sql.SQL("SELECT id FROM {}").format(doomed)
    # each doomed game's successor: the one game left with its MLB id
    successors = sql.SQL(
        "SELECT d.id AS old, (SELECT min(o.id) FROM {g} AS o WHERE o.mlb_stats_api_game_id = d.mlb_stats_api_game_id"
        " AND o.id NOT IN ({ids}) HAVING count(*) = 1) AS new FROM {g} AS d WHERE d.id IN ({ids})"
    ).format(g=games, ids=ids)
    written = 0
    for m in MAPPINGS:
        for part in parts(m) if m.game_refs else ():
            table = ident(part.target.qualified)
            for column in map(sql.Identifier, m.game_refs):
                written += conn.execute(
                    ownership.recording(
                        part,
                        sql.SQL(
                            "UPDATE {t} AS t SET {c} = x.new FROM ({successors}) AS x"
                            " WHERE t.{c} = x.old AND x.new IS NOT NULL AND {guard}"
                        ).format(t=table, c=column, successors=successors, guard=ownership.guard(part)),
                        also=dirty_keys.marking(part, "w"),
                    )
                ).rowcount
                written += conn.execute(
                    ownership.forgetting(
                        part,
                        sql.SQL("DELETE FROM {} AS t WHERE t.{} IN ({}) AND {}").format(
                            table, column, ids, ownership.guard(part)
                        ),
                        also=dirty_keys.marking(part, "d"),
                    )
                ).rowcount
    return max(written, 0)
