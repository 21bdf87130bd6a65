"""Phase 1 -> 2: the switch, and what the next transition would change (for `plan`).

Order with a stack:
    python -m data_copy switch --stack S      (then phase 2 + `pulumi up`: the registry flips)
    python -m data_copy rollback --stack S    (then phase 1 + `pulumi up`: the registry flips back)
The database changes first, so the application never writes the new tables while the
database still treats them as a derived copy, nor goes back to legacy before its phase-2
rows are there. The stack's preview refuses phase 1 while un-carried rows exist. The
rollback's engine is carry_back.py.
"""

import psycopg

from catalog.mappings import copy_order
from data_copy.capture import slot
from data_copy.core import lock_retry
from data_copy.errors import SwitchRefused
from data_copy.settings import Settings
from data_copy.state import journal, legacy_activity, ownership, phase_events
from data_copy.switching import carry_back, id_space


def switch(conn: psycopg.Connection, settings: Settings, run_id: object) -> tuple[list[id_space.IdChange], int]:
    """One id space per legacy table and new table, the first copy's rows recorded, phase 2
    recorded: (the changes made to legacy, the rows recorded). Refused (SwitchRefused,
    nothing changed) while a mapping lacks a passing validation."""
    latest = {v.mapping: v.status for v in journal.latest_validations(conn)}
    unvalidated = [m.name for m in copy_order() if latest.get(m.name) != "passed"]
    if unvalidated:
        raise SwitchRefused(
            f"not every mapping has a passing validation: {', '.join(unvalidated)}",
            fix="run `python -m data_copy run` until every mapping passes, then switch",
        )
    legacy_activity.snapshot(conn, run_id, "switch", "start")

    def switch_step() -> tuple[list[id_space.IdChange], int]:
        changes = id_space.apply(conn, run_id)
        # before the application may write: the first copy's rows become recorded rows
        recorded = ownership.materialize_all(conn)
        phase_events.record(conn, 2, phase_events.SWITCHED, run_id, settings.stack)
        return changes, recorded

    # one transaction on purpose (the id space and the phase change together): a lock
    # timeout retries all of it
    # the baseline rows it writes (every row of every table) under our origin: else the next
    # run's slot read decodes them all (83 s of 200 s at the large bench scale)
    with slot.writing_as_ours(conn, settings):
        changes, recorded = lock_retry.in_transaction(
            conn,
            switch_step,
            what="switch refused, still phase 1",
            tables=lambda: [c.legacy_table for c in id_space.planned(conn)],
        )
    legacy_activity.snapshot(conn, run_id, "switch", "end")
    return changes, recorded


def phase_plan(conn: psycopg.Connection) -> list[str]:
    """What the next transition would change (read-only), for `plan`."""
    event = phase_events.current(conn)
    phase = event.phase if event else 1
    if phase == 1:
        changes = id_space.planned(conn)
        head = "phase 1 changes nothing in legacy; `switch` to phase 2 would change in legacy:"
        return [head, *(f"  {c.line()}" for c in changes)] if changes else [head, "  nothing"]
    if phase == 2:
        lines = ["`rollback` to phase 1 would undo in legacy:"]
        lines += [f"  {r[0]}.{r[1]}: DEFAULT nextval('{r[3]}') again" for r in id_space.recorded(conn)]
        lines.append("and carry back the application's rows:")
        for c in carry_back.survey(conn):
            if c.carried or c.deleted or c.refused:
                refused = f", {c.refused} cannot go back ({c.reason})" if c.refused else ""
                lines.append(f"  {c.target} -> {c.source}: {c.carried} written, {c.deleted} deleted{refused}")
        return lines
    return ["phase 3: legacy is dropped (`restore` brings it back)"]
