"""One flat function per verb (as Alembic's command.py): each opens the database (taking the
one-command-per-database lock where it changes anything), passes the state gate, and calls
one engine: sync (run), validation (validate), switching (switch, rollback), retire
(cleanup, restore); `reset` (phase 1: start over) drops what state and capture list.
cli.py parses the command line and prints what these return (report.py).
"""

import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import sql

from catalog.mappings import MAPPINGS, copy_order
from catalog.schemas import SCHEMA_NAMES
from data_copy.capture import leftovers, replica_identity, slot
from data_copy.core.connection import connect
from data_copy.core.ident import ident
from data_copy.core.progress import Progress, silent
from data_copy.errors import ResetRefused, RollbackRefused, SwitchRefused
from data_copy.mapping_sql import drift
from data_copy.mapping_sql.projection import parts
from data_copy.retire import cleanup as retire_cleanup
from data_copy.retire import disposable, guards
from data_copy.retire import restore as retire_restore
from data_copy.retire.cleanup import PHASE, CleanupReport
from data_copy.retire.cleanup_plan import CleanupPlan, plan_cleanup
from data_copy.retire.refusals import refuse
from data_copy.retire.restore import RestoreReport
from data_copy.settings import Settings
from data_copy.state import (
    command_history,
    conflicts,
    consistency,
    gate,
    journal,
    legacy_activity,
    phase_events,
    run_lock,
    schema,
    start_over,
)
from data_copy.state.journal import Journal, Status, Step
from data_copy.switching import carry_back
from data_copy.switching import switch as switching
from data_copy.sync import runner
from data_copy.sync.runner import RunReport
from data_copy.validation import mapping_check, part_check
from data_copy.validation.hasher import Hasher, worker_count
from data_copy.validation.mapping_check import MappingResult


def bootstrap_structure(dsn: str, settings: Settings | None = None) -> None:
    """Schemas + owner role without Pulumi: for benchmarks and data-only tests."""
    settings = settings or Settings()
    with connect(dsn, settings) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.owner_role,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(settings.owner_role)))
        for schema in SCHEMA_NAMES:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                    sql.Identifier(schema), sql.Identifier(settings.owner_role)
                )
            )


def _unsaid(line: str) -> None:
    return None


def run(
    dsn: str,
    settings: Settings | None = None,
    checksums: bool = True,
    progress: Progress | None = None,
    incremental: bool = False,
) -> RunReport:
    """`python -m data_copy run`: every mapping copied or re-synced, and validated
    (`incremental`: sync/runner.py says what that leaves out)."""
    settings = settings or Settings()
    with run_lock.locked(dsn, settings, "run") as conn:
        said: list[str] = []
        phase = gate.ensure_state(conn, settings, note=said.append)
        drift.check(conn)
        said += leftovers.check(conn, settings)
        report = runner.run(conn, dsn, settings, phase, checksums, progress, incremental)
        report.notes[:0] = said
        return report


@dataclass
class FollowCycle:
    """One sync of `run --follow`: how long it took (every change committed before it
    started is applied: the lag is at most this plus the interval), what it did, and the
    WAL the slot still holds after it."""

    number: int
    seconds: float
    report: RunReport
    slot_lag_bytes: int | None


def follow(
    dsn: str,
    settings: Settings,
    interval_s: float,
    stopped: Callable[[], bool],
    on_cycle: Callable[[FollowCycle], None],
    checksums: bool = True,
) -> int:
    """`python -m data_copy run --follow`: one sync after another (incremental validation;
    both ways for the mappings of settings.carry_back in phase 2), `interval_s` apart,
    until `stopped()`; holds the one-command-per-database lock the whole time. Returns the
    syncs made. Each sync is its own transactions, as a `run`'s: a kill -9 loses nothing."""
    cycles = 0
    with run_lock.locked(dsn, settings, "follow") as conn:  # the holder says `data_copy follow`
        while not stopped():
            began = time.monotonic()
            said: list[str] = []
            phase = gate.ensure_state(conn, settings, note=said.append)
            drift.check(conn)
            said += leftovers.check(conn, settings)
            report = runner.run(conn, dsn, settings, phase, checksums, None, incremental=True)
            report.notes[:0] = said
            cycles += 1
            info = slot.lag(conn, settings)
            on_cycle(FollowCycle(cycles, time.monotonic() - began, report, info["lag_bytes"] if info else None))
            while not stopped() and time.monotonic() - began < interval_s:
                time.sleep(min(0.1, interval_s))
    return cycles


def validate(
    dsn: str,
    settings: Settings | None = None,
    checksums: bool = True,
    progress: Progress | None = None,
    incremental: bool = False,
    note: gate.Note = _unsaid,
) -> list[MappingResult]:
    """Checks every mapping in its own repeatable-read snapshot: every row, or with
    `incremental` only the keys recorded as changed since the last full validation
    (validation/chunks.py: a change nobody recorded, such as a legacy update without change
    capture, is seen by the full one only)."""
    settings = settings or Settings()
    progress = progress or silent
    with (
        run_lock.locked(dsn, settings, "validate") as conn,
        Hasher(conn, dsn, settings, worker_count(conn, settings)) as hasher,
    ):
        phase = gate.ensure_state(conn, settings, note=note)
        drift.check(conn)
        j = journal.Journal(conn, f"Phase{phase}")
        legacy_activity.snapshot(conn, j.run_id, "validate", "start")
        existing = drift.existing_tables(conn)
        results = []
        order = copy_order()
        for i, m in enumerate(order):
            progress("validate (counts and checksums)", i, len(order))
            if drift.missing_sources(conn, m) or m.target not in existing:
                result = mapping_check.absent(m, [t for t in (*m.sources, m.target) if t not in existing], "failed")
                entry = j.start(Step.VALIDATE, m.name, result.source, result.target)
                j.finish(entry, Status.FAILED, error_message=result.message)
                results.append(result)
                continue
            part_list = parts(m)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                result = mapping_check.check_mapping(conn, m, part_list, checksums, phase, hasher, incremental)
                if phase == 1:
                    result.foreign = mapping_check.foreign(conn, m, part_list, result)
                    if result.foreign:
                        result.status = "failed"
                        result.message = "; ".join(filter(None, (result.message, result.foreign)))
            mapping_check.with_structure(conn, result)
            mapping_check.log_validation(j, result, checksums)
            results.append(result)
        progress("validate (counts and checksums)", len(order), len(order))
        legacy_activity.snapshot(conn, j.run_id, "validate", "end")
        return results


@dataclass
class PlanRow:
    name: str
    source: str
    target: str
    source_rows: int | None
    target_rows: int | None
    to_copy: int | None


def plan(dsn: str, settings: Settings | None = None) -> list[PlanRow]:
    """Per mapping: legacy rows, new rows, rows still to copy. Changes nothing."""
    settings = settings or Settings()
    rows = []
    with connect(dsn, settings) as conn:
        drift.check(conn)
        existing = drift.existing_tables(conn)
        bracket = schema.exists(conn, schema.STATS)  # our reads of legacy are not others'
        run_id = uuid.uuid4()
        if bracket:
            legacy_activity.snapshot(conn, run_id, "plan", "start")
        for m in MAPPINGS:
            src = None
            if not drift.missing_sources(conn, m):
                src = sum(part_check.legacy_rows(conn, part) for part in parts(m))
            tgt = None
            if m.target in existing:
                r = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(m.target))).fetchone()
                tgt = r[0] if r else 0
            to_copy = None if src is None else max(src - (tgt or 0), 0)
            rows.append(PlanRow(m.name, " + ".join(m.sources), m.target, src, tgt, to_copy))
        if bracket:
            legacy_activity.snapshot(conn, run_id, "plan", "end")
    return rows


@dataclass
class StatusReport:
    """`status`: the phase the database records, its history, the last commands, and per
    mapping the latest validation (with the application's figures) and open conflicts."""

    phase: int  # as recorded in the database (1 before anything is recorded)
    events: list[phase_events.PhaseEvent]
    deployed: int | None  # the stack's deployed phase (None with --dsn)
    last: dict[str, command_history.LastCommand]  # "run" / "validate" -> the last one
    validations: list[journal.Validation]
    figures: dict[str, dict] = field(default_factory=dict)  # mapping -> its validation's details
    conflicts: list[tuple] = field(default_factory=list)  # (part, key, kind, policy), open ones
    capture: dict | None = None  # the change capture slot's lag (slot.lag), None without a slot

    @property
    def passing(self) -> int:
        return sum(1 for v in self.validations if v.status == Status.PASSED)


def capture_drop(dsn: str, settings: Settings | None = None) -> list[str]:
    """Teardown of change capture: the slot (and the WAL it keeps), our origin, its state,
    and the replica identities it asked for. The next `run` scans once, then captures again
    from a new slot."""
    settings = settings or Settings()
    with run_lock.locked(dsn, settings, "capture-drop") as conn:
        dropped = slot.drop(conn, settings)
        if schema.exists(conn, schema.REPLICA_IDENTITY):
            dropped += replica_identity.undo(conn)
        return dropped


def status(dsn: str, settings: Settings | None = None, lag_warn_bytes: int = slot.LAG_WARN_BYTES) -> StatusReport:
    settings = settings or Settings()
    with connect(dsn, settings) as conn:
        latest = journal.latest_validations(conn)
        figures: dict[str, dict] = {}
        if latest:
            figures = {
                name: details or {}
                for name, details in conn.execute(
                    sql.SQL(
                        "SELECT DISTINCT ON (mapping) mapping, details FROM {} WHERE step = %s"
                        " AND completed_at IS NOT NULL ORDER BY mapping, completed_at DESC, id DESC"
                    ).format(schema.LOG),
                    (Step.VALIDATE,),
                )
            }
        events = phase_events.history(conn)
        return StatusReport(
            phase=events[-1].phase if events else 1,
            events=events,
            deployed=settings.phase if settings.stack else None,
            last=command_history.last_commands(conn),
            validations=latest,
            figures=figures,
            conflicts=conflicts.open_conflicts(conn),
            capture=slot.lag(conn, settings, lag_warn_bytes),
        )


@dataclass
class Transition:
    run_id: str
    lines: list[str] = field(default_factory=list)
    carries: list[carry_back.Carry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what else it did (not in legacy)


def switch(dsn: str, settings: Settings) -> Transition:
    """`python -m data_copy switch`: phase 1 -> 2 (switching/switch.py)."""
    run_id = uuid.uuid4()
    notes: list[str] = []
    with run_lock.locked(dsn, settings, "switch") as conn:
        phase = gate.ensure_state(conn, settings, allowed_deployed=(1, 2), note=notes.append)
        if phase != 1:
            raise SwitchRefused(f"the database is already in phase {phase}", fix="nothing to do")
        if notes:  # the gate found our records stale: the latest validations predate that
            raise SwitchRefused(
                f"switch refused: {notes[0]}",
                fix="run `python -m data_copy run` first (it validates them), then switch",
            )
        changes, recorded = switching.switch(conn, settings, run_id)
    notes += [f"ownership baseline: {recorded:,} first-copied row(s) recorded"] if recorded else []
    return Transition(str(run_id), [c.line() for c in changes], notes=notes)


def rollback(dsn: str, settings: Settings, accept_loss: tuple[str, ...] = ()) -> Transition:
    """`python -m data_copy rollback`: phase 2 -> 1, the application's rows carried back into
    legacy, the switch undone (switching/carry_back.py)."""
    run_id = uuid.uuid4()
    with run_lock.locked(dsn, settings, "rollback") as conn:
        phase = gate.ensure_state(conn, settings, allowed_deployed=(1, 2))
        if phase != 2:
            raise RollbackRefused(f"the database is in phase {phase}, not 2", fix="nothing to roll back")
        carries, undone = carry_back.rollback(conn, run_id, accept_loss, settings.stack)
    return Transition(str(run_id), undone, carries)


def pending_carry_back(dsn: str, settings: Settings) -> list[carry_back.Carry]:
    """Read-only: what a rollback would carry back now (for `plan` and `status`)."""
    with connect(dsn, settings) as conn:
        return carry_back.survey(conn)


def both_ways_lines(carry_back: tuple[str, ...]) -> list[str]:
    """Which mappings phase 2 syncs both ways (consolidation:carryBack), and why the others
    go one way only."""
    lines = ["phase 2 both ways (consolidation:carryBack): " + ", ".join(carry_back)]
    for m in MAPPINGS:
        if m.name not in carry_back:
            why = "not asked for" if m.invertible else f"it does not invert: {m.inversion}"
            lines.append(f"  one way only: {m.name} ({why})")
    return lines


def phase_plan(dsn: str, settings: Settings) -> list[str]:
    """Read-only: what the next transition would change, and the replica identities the
    next run would set (consolidation:replicaIdentityFull), for `plan`."""
    with connect(dsn, settings) as conn:
        lines = switching.phase_plan(conn)
        if settings.carry_back:
            lines += both_ways_lines(settings.carry_back)
        identities = replica_identity.planned(conn, settings.replica_identity_full)
        if identities:
            lines += ["the next `run` would change in legacy (consolidation:replicaIdentityFull):"]
            lines += [f"  {line}" for line in identities]
        return lines


Announce = Callable[[str], AbstractContextManager[object]]

PlanShown = Callable[[CleanupPlan, bool], None]


def _quietly(label: str) -> AbstractContextManager[object]:
    return nullcontext()


def _unseen(plan: CleanupPlan, dry_run: bool) -> None:
    return None


@dataclass
class CleanupOutcome:
    plan: CleanupPlan  # what was (or, in a dry run, would be) dropped
    dry_run: bool
    report: CleanupReport | None = None  # None in a dry run (nothing_done when an earlier cleanup dropped all)

    @property
    def guards_passed(self) -> bool:
        """A dry run that went through every guard (with something to drop)."""
        return self.dry_run and not self.plan.empty


def cleanup(
    dsn: str,
    settings: Settings,
    dry_run: bool = False,
    *,
    on_plan: PlanShown = _unseen,
    step: Announce = _quietly,
) -> CleanupOutcome:
    """`python -m data_copy cleanup`: the plan (shown first), then with `dry_run` every guard
    (CleanupRefused if one refuses, nothing changed), else the cleanup itself."""
    with run_lock.locked(dsn, settings, "cleanup") as conn:
        disposable.check(conn, settings.disposable_tables)
        plan = plan_cleanup(conn, settings)
        on_plan(plan, dry_run)
        if dry_run:
            if not plan.empty:
                schema.ensure(conn)
                run_id = Journal(conn, PHASE).run_id
                legacy_activity.snapshot(conn, run_id, "cleanup", "start")  # before the guards read legacy
                try:
                    with step("checking every guard (reads every legacy table)"):
                        problems = guards.check(conn, settings, plan)
                finally:
                    legacy_activity.snapshot(conn, run_id, "cleanup", "end")
                refuse(problems)
            return CleanupOutcome(plan, dry_run=True)
        schema.ensure(conn)
        with step("cleanup: guards, backup (pg_dump), drops"):
            report = retire_cleanup.cleanup(conn, settings, Journal(conn, PHASE), dsn)
    return CleanupOutcome(report.plan, dry_run=False, report=report)


def restore(dsn: str, settings: Settings, dump: str | None = None, *, step: Announce = _quietly) -> RestoreReport:
    """`python -m data_copy restore`: restore and verify; phase 2 recorded again when the
    legacy objects came back."""
    with run_lock.locked(dsn, settings, "restore") as conn:
        schema.ensure(conn)
        with step("restore: pg_restore, then every table's count and checksum"):
            report = retire_restore.restore(conn, settings, Journal(conn, PHASE), dsn, Path(dump) if dump else None)
        if report.restored:  # legacy is back as it was at the drop: phase 2 again
            phase_events.record(conn, 2, phase_events.RESTORED, uuid.uuid4(), settings.stack)
    return report


@dataclass
class ResetReport:
    """`reset`: what it drops (or, without `yes`, would drop), and whether it did."""

    items: list[str]
    dropped: bool


def reset(dsn: str, settings: Settings, yes: bool = False) -> ResetReport:
    """`python -m data_copy reset`: phase 1 only. Lists what starting over drops (the new
    tables, every table of ours, this database's replication slots and origins); drops it
    only with `yes`. Legacy is never touched (state/start_over.py)."""
    with run_lock.locked(dsn, settings, "reset") as conn:
        phase = phase_events.resolve(conn, settings)
        evidence = consistency.switched_evidence(conn)
        if phase >= 2 or evidence:
            why = f"the database is in phase {phase}" if phase >= 2 else f"the database was switched ({evidence})"
            raise ResetRefused(
                f"reset refused: {why}, and the new tables hold the application's rows",
                fix="reset starts over in phase 1 only: `python -m data_copy rollback` first (phase 2)",
            )
        items = start_over.survey(conn)
        slots = leftovers.own_slots(conn, settings)
        origins = leftovers.existing_origins(conn, sorted({*slots, slot.name_for(conn, settings)}))
        words = [i.words() for i in items] + [f"replication slot {s}" for s in slots]
        words += [f"replication origin {o}" for o in origins]
        if not yes:
            return ResetReport(words, dropped=False)
        start_over.drop(conn, settings.owner_role, items)
        leftovers.drop_all(conn, settings)
    return ResetReport(words, dropped=True)
