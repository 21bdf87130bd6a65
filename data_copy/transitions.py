"""The verbs that move the database between phases: switch (1 -> 2) and rollback (2 -> 1).

Order with a stack:
    python -m data_copy switch --stack S      (then phase 2 + `pulumi up`: the registry flips)
    python -m data_copy rollback --stack S    (then phase 1 + `pulumi up`: the registry flips back)
The database changes first, so the application never writes the new tables while the
database still treats them as a derived copy, nor goes back to legacy before its phase-2
rows are there. The stack's preview refuses phase 1 while un-carried rows exist.
"""

import uuid
from dataclasses import dataclass, field

from catalog.mappings import copy_order
from data_copy import api, id_space, journal, lock_retry, ownership, phase_state, quiet, rollback, run_lock
from data_copy.connection import connect
from data_copy.errors import RollbackRefused, SwitchRefused
from data_copy.settings import Settings


@dataclass
class Transition:
    run_id: str
    lines: list[str] = field(default_factory=list)
    carries: list[rollback.Carry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what else it did (not in legacy)


def switch(dsn: str, settings: Settings) -> Transition:
    """Phase 1 -> 2: one id space per legacy table and new table, phase 2 recorded."""
    run_id = uuid.uuid4()
    with run_lock.locked(dsn, settings, "switch") as conn:
        phase = api.ensure_state(conn, settings, allowed_deployed=(1, 2))
        if phase != 1:
            raise SwitchRefused(f"the database is already in phase {phase}", fix="nothing to do")
        latest = {v.mapping: v.status for v in journal.latest_validations(conn)}
        unvalidated = [m.name for m in copy_order() if latest.get(m.name) != "passed"]
        if unvalidated:
            raise SwitchRefused(
                f"not every mapping has a passing validation: {', '.join(unvalidated)}",
                fix="run `python -m data_copy run` until every mapping passes, then switch",
            )
        quiet.snapshot(conn, run_id, "switch", "start")

        def switch_step() -> tuple[list[id_space.IdChange], int]:
            changes = id_space.apply(conn, run_id)
            # before the application may write: the first copy's rows become recorded rows
            recorded = ownership.materialize_all(conn)
            phase_state.record(conn, 2, phase_state.SWITCHED, run_id, settings.stack)
            return changes, recorded

        # one transaction on purpose (the id space and the phase change together): a lock
        # timeout retries all of it
        changes, recorded = lock_retry.in_transaction(
            conn,
            switch_step,
            what="switch refused, still phase 1",
            tables=lambda: [c.legacy_table for c in id_space.planned(conn)],
        )
        quiet.snapshot(conn, run_id, "switch", "end")
    notes = [f"ownership baseline: {recorded:,} first-copied row(s) recorded"] if recorded else []
    return Transition(str(run_id), [c.line() for c in changes], notes=notes)


def rollback_to_phase1(dsn: str, settings: Settings, accept_loss: tuple[str, ...] = ()) -> Transition:
    """Phase 2 -> 1: the application's rows carried back, the switch undone, phase 1 recorded."""
    run_id = uuid.uuid4()
    with run_lock.locked(dsn, settings, "rollback") as conn:
        phase = api.ensure_state(conn, settings, allowed_deployed=(1, 2))
        if phase != 2:
            raise RollbackRefused(f"the database is in phase {phase}, not 2", fix="nothing to roll back")
        carries, undone = rollback.rollback(conn, run_id, accept_loss, settings.stack)
    return Transition(str(run_id), undone, carries)


def pending_carry_back(dsn: str, settings: Settings) -> list[rollback.Carry]:
    """Read-only: what a rollback would carry back now (for `plan` and `status`)."""
    with connect(dsn, settings) as conn:
        return rollback.survey(conn)


def phase_plan(dsn: str, settings: Settings) -> list[str]:
    """What the next transition would change (read-only), for `plan`."""
    with connect(dsn, settings) as conn:
        event = phase_state.current(conn)
        phase = event.phase if event else 1
        if phase == 1:
            changes = id_space.planned(conn)
            head = "phase 1 changes nothing in legacy; `switch` to phase 2 would change in legacy:"
            return [head, *(f"  {c.line()}" for c in changes)] if changes else [head, "  nothing"]
        if phase == 2:
            lines = ["`rollback` to phase 1 would undo in legacy:"]
            lines += [f"  {r[0]}.{r[1]}: DEFAULT nextval('{r[3]}') again" for r in id_space.recorded(conn)]
            lines.append("and carry back the application's rows:")
            for c in rollback.survey(conn):
                if c.carried or c.deleted or c.refused:
                    refused = f", {c.refused} cannot go back ({c.reason})" if c.refused else ""
                    lines.append(f"  {c.target} -> {c.source}: {c.carried} written, {c.deleted} deleted{refused}")
            return lines
        return ["phase 3: legacy is dropped (`restore` brings it back)"]
