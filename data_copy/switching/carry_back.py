"""`python -m data_copy rollback`: phase 2 -> 1 without losing the application's writes.

Before the registry points back at legacy, every row the application wrote in a new table
since the switch (created, changed: a row that differs from the ownership baseline; and
deleted: a baseline key the table lost) is carried back into its legacy table. Only where
the mapping inverts exactly (catalog: Mapping.invertible and its reason), and per row only
where the round trip holds: the inverted legacy row, projected forward again, gives the new
row back bit for bit (same hash). Otherwise the rollback refuses, naming tables and counts,
and changes nothing, unless `--accept-loss TABLE` names every such table: their rows are
then saved as JSON in public.migration_rollback_lost (never silently dropped) and adopted
into the baseline, so phase 1 mirrors legacy again. What only the new tables can hold (the
columns no mapping writes, state/ownership.py) stays there, adopted into the baseline.

Each mapping is carried back in one transaction that also updates the baseline, so a
kill -9 leaves each mapping either carried or untouched, and a re-run finishes the rest
without duplicating anything. The last transaction undoes the switch's id-space change
and records the phase as 1.
"""

import functools
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.abc import Query

from catalog.mappings import Mapping, copy_order
from data_copy.capture import replica_identity
from data_copy.core import lock_retry
from data_copy.core.ident import ident
from data_copy.errors import RollbackRefused, first_line
from data_copy.mapping_sql.projection import Part, parts
from data_copy.state import classification, hash_form, legacy_activity, ownership, phase_events, schema
from data_copy.state.schema import LOST
from data_copy.switching import id_space
from data_copy.sync import write_back


@dataclass
class Carry:
    mapping: str
    target: str
    source: str
    carried: int = 0  # rows written back into legacy (inserted or updated)
    deleted: int = 0  # legacy rows deleted because the application deleted them
    refused: int = 0  # rows that cannot go back exactly
    samples: list[str] = field(default_factory=list)
    reason: str = ""
    both_changed: int = 0  # keys old code changed in legacy AND the application in the new table
    both_samples: list[str] = field(default_factory=list)


def _count(conn: psycopg.Connection, query: Query) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _survey(conn: psycopg.Connection, m: Mapping) -> Carry:
    """What a rollback would do for `m` (inside the caller's transaction)."""
    c = Carry(m.name, m.target, " + ".join(m.sources))
    if not m.invertible:
        for part in parts(m):
            c.refused += _count(conn, sql.SQL("SELECT count(*) {}").format(write_back.app_written(part)))
            c.refused += _count(conn, sql.SQL("SELECT count(*) {}").format(write_back.app_deleted(part)))
        c.reason = "mapping does not invert: " + m.inversion
        return c
    part = parts(m)[0]
    # carrying the new row back would overwrite (or delete) what old code wrote in legacy
    # since the last sync: never without the user making the two sides agree first
    classes = classification.classify(conn, part)
    c.both_changed = classes.n(*_OVERWRITES_LEGACY)
    c.both_samples = [k for kind in _OVERWRITES_LEGACY for k in classes.samples.get(kind, [])][:5]
    conn.execute(write_back.round_trip(part, _CARRY))
    c.carried = _count(conn, sql.SQL("SELECT count(*) FROM carry WHERE exact"))
    c.refused = _count(conn, sql.SQL("SELECT count(*) FROM carry WHERE NOT exact"))
    c.deleted = _count(conn, sql.SQL("SELECT count(*) {}").format(write_back.app_deleted(part)))
    c.samples = [r[0] for r in conn.execute("SELECT _k FROM carry WHERE NOT exact ORDER BY _k LIMIT 5")]
    if c.refused:
        c.reason = "rows that do not round-trip (e.g. keys " + ", ".join(map(str, c.samples)) + ")"
    return c


_CARRY = sql.Identifier("carry")  # the temporary table of the rows to carry back (write_back.round_trip)

# conflict kinds where the carry-back would write over a legacy change (a key legacy deleted
# while the application changed it is only re-inserted: nothing of legacy's is lost)
_OVERWRITES_LEGACY = ("conflict_both_changed", "conflict_both_inserted", "conflict_deleted_changed")


def _carry_back(conn: psycopg.Connection, part: Part) -> tuple[int, int]:
    """Writes the exact rows of temp table `carry` into legacy, deletes what the
    application deleted; the baseline follows in the same transaction. Refuses (and the
    caller's transaction rolls back) when a written row did not land exactly."""
    written = write_back.write(conn, part, _CARRY)
    missed = write_back.not_landed(conn, part, _CARRY)
    if missed:
        raise RollbackRefused(
            f"rollback refused for {part.target.qualified}: rows written back into {part.source_table} do not"
            f" give the new rows back (keys {', '.join(missed)}): a trigger, generated column or default"
            " changed them; nothing of this table was changed",
            fix=f"accept that with --accept-loss {part.target.qualified}, or stay in phase 2",
        )
    return written


def _save_lost(conn: psycopg.Connection, m: Mapping, run_id: object) -> None:
    """--accept-loss: the application's rows of `m` are saved as JSON, then adopted (the
    baseline takes them as they are), so phase 1 mirrors legacy over them: changed rows get
    legacy's version back, rows legacy does not have are deleted by the next run."""
    for part in parts(m):
        conn.execute(
            sql.SQL(
                "INSERT INTO {lost} (run_id, mapping, target, k, reason, row_data)"
                " SELECT {run}, {m}, {target}, {k}, 'not carried back (accepted)', to_jsonb(t.*) {app}"
            ).format(
                lost=LOST,
                run=sql.Literal(str(run_id)),
                m=sql.Literal(m.name),
                target=sql.Literal(m.target),
                k=ownership.target_key_text(part),
                app=write_back.app_written(part),
            )
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {o} (part, k, h, u) SELECT {p}, {k}, {h}, {u} {app} AND {k} IS NOT NULL"
                " ON CONFLICT (part, k) DO UPDATE SET h = EXCLUDED.h, u = EXCLUDED.u"
            ).format(
                o=schema.OWNED,
                p=sql.Literal(part.name),
                k=ownership.target_key_text(part),
                h=ownership.target_hash(part),
                u=ownership.unmapped_hash(part),
                app=write_back.app_written(part),
            )
        )
        conn.execute(
            sql.SQL("DELETE FROM {o} AS o WHERE {lost}").format(o=schema.OWNED, lost=write_back.lost_keys(part))
        )
        # rows without a key of the mapping (a game only the new table has) cannot be
        # adopted: they go (saved above), or phase 1 would find them foreign forever
        conn.execute(
            sql.SQL("DELETE FROM {t} AS t WHERE ({tw}) AND {k} IS NULL").format(
                t=ident(part.target.qualified), tw=part.target_where, k=ownership.target_key_text(part)
            )
        )


def survey(conn: psycopg.Connection) -> list[Carry]:
    """Every mapping's carry-back, computed and thrown away (a read-only preview). The
    stored hashes are read as the next gated command will have upgraded them (`status`
    and `plan` pass no gate: state/hash_form.py), also thrown away."""
    found = []
    with conn.transaction(force_rollback=True):
        schema.ensure(conn)
        hash_form.upgrade(conn, lambda _line: None)
        for m in copy_order():
            with conn.transaction(force_rollback=True):
                found.append(_survey(conn, m))
    return found


def rollback(
    conn: psycopg.Connection, run_id: object, accept_loss: tuple[str, ...] = (), stack: str = ""
) -> tuple[list[Carry], list[str]]:
    """Carries every mapping back (refusing first if anything would be lost), undoes the
    switch, records phase 1. The caller has checked that the database is in phase 2."""
    schema.ensure(conn)
    legacy_activity.snapshot(conn, run_id, "rollback", "start")
    surveyed = survey(conn)
    _refuse_both_changed([c for c in surveyed if c.both_changed], "nothing changed")
    _refuse([c for c in surveyed if c.refused and c.target not in accept_loss], "nothing changed")
    done = []
    for m in copy_order():
        try:
            c = lock_retry.in_transaction(
                conn,
                functools.partial(_carry_one, conn, m, run_id, accept_loss),
                what=f"rollback of {m.target} refused (the mappings before it are carried back and stay so)",
                tables=[m.target, *m.sources],
                mode="ExclusiveLock",  # any session writing (or locking rows of) these tables
            )
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as error:
            # e.g. a new row referencing a game only the new tables have: legacy's foreign
            # key, or the new table's when that game would go. The table stays as it was.
            raise RollbackRefused(
                f"rollback refused for {m.target}: a constraint refuses carrying its rows back into"
                f" {m.source} ({first_line(error)}); nothing of this table changed, the tables"
                " before it are carried back and stay so",
                fix=f"fix those rows in {m.target}, then run rollback again; or stay in phase 2",
            ) from None
        done.append(c)

    def undo_switch() -> list[str]:
        undone = id_space.undo(conn)
        phase_events.record(conn, 1, phase_events.ROLLED_BACK, run_id, stack)
        return undone

    undone = lock_retry.in_transaction(
        conn,
        undo_switch,
        what="rollback refused, still phase 2 (every mapping is carried back)",
        tables=lambda: [str(r[0]) for r in id_space.recorded(conn)],
    )
    undone += replica_identity.undo(conn)  # phase 1 again: legacy as it was before the opt-in
    legacy_activity.snapshot(conn, run_id, "rollback", "end")
    return done, undone


def _carry_one(conn: psycopg.Connection, m: Mapping, run_id: object, accept_loss: tuple[str, ...]) -> Carry:
    """One mapping carried back, in the caller's transaction."""
    c = _survey(conn, m)  # again, inside the transaction that acts on it
    _refuse_both_changed([c] if c.both_changed else [], "mappings before it are carried back")
    if c.refused:
        if c.target not in accept_loss:  # the application wrote meanwhile
            _refuse([c], "mappings before it are carried back; run rollback again")
        _save_lost(conn, m, run_id)
    if m.invertible:
        c.carried, c.deleted = _carry_back(conn, parts(m)[0])
    for part in parts(m):  # what only the new table can hold stays there, as phase 1's
        ownership.adopt_unmapped(conn, part)
    return c


def _refuse(refused: list[Carry], state: str) -> None:
    if not refused:
        return
    what = "; ".join(f"{c.target} ({c.refused} row(s): {c.reason})" for c in refused)
    names = " ".join(f"--accept-loss {c.target}" for c in refused)
    raise RollbackRefused(
        f"rollback refused, {state}: the application's rows cannot go back into legacy exactly: {what}",
        fix=f"stay in phase 2, or accept that loss explicitly with {names} (the rows are then saved in"
        " public.migration_rollback_lost)",
    )


def _refuse_both_changed(found: list[Carry], state: str) -> None:
    """Keys both sides changed since the last sync: whichever went back, one side's write
    would be lost, so the user decides (no flag: --accept-loss is for the new tables' rows)."""
    if not found:
        return
    what = "; ".join(
        f"{c.target} / {c.source} ({c.both_changed} key(s), e.g. {', '.join(c.both_samples)})" for c in found
    )
    raise RollbackRefused(
        f"rollback refused, {state}: keys changed on both sides since the last sync, carrying the new"
        f" rows back would overwrite what old code wrote in legacy: {what}",
        fix="make the two sides agree for those keys (public.migration_conflicts lists them after"
        " `python -m data_copy run`), then run rollback again",
    )
