"""Our bookkeeping checked against itself and the new tables, before anything is written.

Every verb that reads or writes data passes this after the gate has found the recorded
phase (state/gate.py). In order:

1. the phase record: nothing else of ours says the database was switched while the
   phase record says it never was (a lost migration_phase_events would make a switched
   database run as phase 1);
2. the first copy's transactions: none is from the future (a restore into another server:
   rows written later under the same numbers would pass for ours);
3. each new table is the one our records describe (state/identity.py: its OID), and, in
   phase 1, is not emptied under records that say it holds our rows;
4. a table of ours that went missing, when what the others hold depends on it.

Phase 1 (the new tables are our derived copy): the records of a table dropped and created
again, or emptied, are stale; they are cleared, one line says so, and the table is copied
from scratch. From phase 2 on (the application's rows may have been in it) the command
refuses and names the table: their absence is never taken for the application's deletes.
Other disagreements refuse in one line that names the table and the fix; a lost cache
(chunk checksums, capture positions) is dropped with one line, as it is only rebuilt.

Cost: index probes and counts of our own tables, and at most one row read from each new
table that has records (whether it is empty); never a scan of a new table.
"""

from collections.abc import Callable

import psycopg
from psycopg import sql

from data_copy.errors import StateInconsistent
from data_copy.state import identity, phase_events, schema
from data_copy.state.schema import (
    CAPTURE,
    CAPTURE_CHANGES,
    CAPTURE_POSITIONS,
    CHUNKS,
    CONFLICTS,
    DIRTY,
    LOG,
    OWNED,
    STATE,
    SWITCH_CHANGES,
    XACTS,
)

Note = Callable[[str], None]

RESET = "in phase 1 `python -m data_copy reset --yes` (with --stack or --dsn) starts over: legacy untouched"
RESTORE = "restore {} from the backup the other public.migration_* tables came from"


def _any(conn: psycopg.Connection, query: sql.Composed) -> bool:
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def _exists(table: sql.Identifier, where: str = "TRUE") -> sql.Composed:
    return sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(table, sql.SQL(where))


def switched_evidence(conn: psycopg.Connection) -> str:
    """'' or what of ours says the database was switched to phase 2 although the phase
    record has no switch (it was lost: dropped, emptied, partly restored). Any of our
    tables may be missing."""
    events = phase_events.history(conn)
    if any(e.phase == 2 for e in events):
        return ""
    probes = [
        (SWITCH_CHANGES, "TRUE", "public.migration_switch_changes holds the switch's changes to legacy key defaults"),
        (CONFLICTS, "TRUE", "public.migration_conflicts holds conflicts, which only phase 2 records"),
    ]
    if not events:  # the journal is read only then: it grows with every run
        probes.append((LOG, "migration_phase IN ('Phase2', 'Phase3')", "public.migration_log holds phase-2 steps"))
    for table, where, what in probes:
        if schema.exists(conn, table) and _any(conn, _exists(table, where)):
            return what
    return ""


def _phase_record(conn: psycopg.Connection) -> None:
    evidence = switched_evidence(conn)
    if evidence:
        raise StateInconsistent(
            f"public.migration_phase_events records no switch to phase 2, but {evidence}:"
            " the phase record was lost (dropped, emptied or only partly restored)",
            fix=RESTORE.format("public.migration_phase_events")
            + "; data_copy will not run a switched database as phase 1 (nothing was written)",
        )


def _first_copy_xacts(conn: psycopg.Connection, phase: int) -> None:
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), min(part) FROM {} WHERE CAST(CAST(x AS text) AS numeric)"
            " >= CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS numeric)"
        ).format(XACTS)
    ).fetchone()
    if row and row[0]:
        raise StateInconsistent(
            f"public.migration_owned_xacts names {row[0]} transaction(s) this server has not run yet (part {row[1]}):"
            " they come from another server (a restore?), and rows written later under those numbers would pass"
            " for data_copy's",
            fix=RESET if phase == 1 else RESTORE.format("public.migration_owned_xacts"),
        )


def _tables(conn: psycopg.Connection, phase: int, now: dict[str, int | None], note: Note) -> set[str]:
    """Item 3 of the module doc; returns the new tables whose records were cleared."""
    recorded = identity.recorded(conn)
    held = identity.held(conn)
    moved = {t: oid for t, oid in recorded.items() if now.get(t) != oid}
    gone = [t for t, oid in now.items() if oid is None and held.get(t) and t not in moved]
    if phase >= 2 and (moved or gone):
        first = sorted(moved)[0] if moved else gone[0]
        how = (
            f"was dropped and created again (OID {moved[first]}, now {now[first]})"
            if moved.get(first) and now.get(first)
            else "is gone"
        )
        others = sorted(set(moved) | set(gone) - {first})
        raise StateInconsistent(
            f"{first} {how} since data_copy recorded it"
            + (f" (and {', '.join(others)})" if others else "")
            + f", in phase {phase}: the application's rows may have been in it, and data_copy will not take"
            " their absence for the application's deletes",
            fix="restore it from your backup (not all of its rows are in legacy); if it is the very table"
            f" restored whole from a dump (a new OID), `DELETE FROM public.migration_targets WHERE target = '{first}'`"
            " lets the next run adopt it",
        )
    stale: dict[str, str] = {t: "dropped and created again" for t in moved if now.get(t)}
    stale |= {t: "dropped" for t in moved if not now.get(t)}
    stale |= {t: "dropped" for t in gone}
    if phase == 1:
        candidates = [
            # recorded rows leave with the rows we delete; first-copy transactions do not (a
            # legacy table emptied since): only the former, or checksums of rows, say "emptied"
            t
            for t, oid in now.items()
            if oid and t not in stale and held.get(t, set()) & {"recorded", "checksums"}
        ]
        stale |= {t: "emptied by someone else" for t in identity.empty(conn, candidates)}
    if not stale:
        return set()
    identity.forget(conn, sorted(stale))
    for why in sorted(set(stale.values())):
        named = sorted(t for t, w in stale.items() if w == why and held.get(t))
        if named:
            one = len(named) == 1
            note(
                f"phase 1: {', '.join(named)} {'was' if one else 'were'} {why} since data_copy recorded"
                f" {'it' if one else 'them'}: {'its' if one else 'their'} records (baseline, watermark, checksums)"
                f" are cleared and {'it is' if one else 'they are'} copied from scratch"
            )
    return set(stale)


def _lost_tables(
    conn: psycopg.Connection, phase: int, missing: frozenset[str], now: dict[str, int | None], note: Note
) -> None:
    """Item 4 of the module doc: our tables that were missing before the gate created them."""
    if not missing or missing >= schema.NAMES - {"migration_targets"}:  # nothing of ours yet (or only ours)
        return

    def gone(table: sql.Identifier) -> bool:
        return schema.name(table).split(".", 1)[1] in missing

    held = identity.held(conn)
    occupied = [t for t, oid in now.items() if oid and held.get(t, set()) & {"copied", "recorded", "xacts"}]
    live = sorted(set(occupied) - identity.empty(conn, occupied))
    for table, lost in ((OWNED, gone(OWNED)), (XACTS, gone(XACTS) and not phase_events.ever_switched(conn))):
        if lost and live:
            raise StateInconsistent(
                f"{schema.name(table)} is missing (dropped?) while {', '.join(live[:3])}"
                f"{' ...' if len(live) > 3 else ''} hold rows data_copy copied: the ownership baseline is lost,"
                " so data_copy can no longer tell its rows from anyone else's",
                fix=(RESET + " (the next run copies everything again)")
                if phase == 1
                else RESTORE.format(schema.name(table)) + " (nothing was written)",
            )
    if gone(SWITCH_CHANGES) and phase == 2:
        raise StateInconsistent(
            "public.migration_switch_changes is missing (dropped?) in phase 2: the switch's changes to legacy key"
            " defaults are no longer recorded, so a rollback could not undo them",
            fix=RESTORE.format("public.migration_switch_changes") + " (nothing was written)",
        )
    if gone(STATE) and live:
        note(
            "public.migration_state was missing (dropped?): every mapping with rows is re-synced by one full keyed"
            " pass (rows equal to the ownership baseline are skipped)"
        )
    if gone(DIRTY) and _any(conn, _exists(CHUNKS)):
        conn.execute(sql.SQL("DELETE FROM {}").format(CHUNKS))
        note(
            "public.migration_dirty_keys was missing (dropped?): the keys changed since the last full validation are"
            " unknown, so the stored chunk checksums are dropped (the next validation reads every row)"
        )
    if gone(CAPTURE_CHANGES) and _any(conn, _exists(CAPTURE)):
        conn.execute(sql.SQL("DELETE FROM {}").format(CAPTURE_POSITIONS))
        note(
            "public.migration_capture_changes was missing (dropped?): captured changes not yet applied are lost,"
            " so every mapping re-syncs by a scan once"
        )


def check(conn: psycopg.Connection, phase: int, missing: frozenset[str], note: Note) -> None:
    """Items 1-4 of the module doc (after `schema.ensure`; `missing`: our tables that did
    not exist before it). Raises StateInconsistent; says what it cleared through `note`;
    then records the OID of every new table not recorded yet."""
    _phase_record(conn)
    _first_copy_xacts(conn, phase)
    now = identity.live(conn)
    _tables(conn, phase, now, note)
    _lost_tables(conn, phase, missing, now, note)
    identity.stamp(conn, now)
