"""One flat function per verb (as Alembic's command.py): plan, run, validate, status."""

import contextlib
import functools
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS, Mapping, copy_order
from catalog.schemas import SCHEMA_NAMES
from catalog.tables import table
from data_copy import (
    capture,
    chunk_hashes,
    conflicts,
    ddl,
    drift,
    history,
    journal,
    merge_conflicts,
    overlap,
    ownership,
    pacing,
    parallel,
    phase_state,
    quiet,
    run_lock,
    settle,
    structure,
    validator,
)
from data_copy.connection import connect
from data_copy.copier import CHUNK_KEYS, Copier
from data_copy.errors import ForeignRows, PhaseMismatch, PhaseNotDeployed
from data_copy.ident import ident
from data_copy.journal import Status, Step
from data_copy.projection import Part, parts
from data_copy.settings import Settings
from data_copy.settle import MappingResult

Progress = Callable[[str, int, int], None]
SETTLED = "re-synced and validated (counts, checksums)"


@dataclass
class RunReport:
    run_id: str
    results: list[MappingResult]
    notes: list[str] = field(default_factory=list)  # said once per run (change capture off, ...)
    capture: dict[str, dict] = field(default_factory=dict)  # mapping -> {mode, keys}: how it was re-synced
    pace: dict = field(default_factory=dict)  # a paced run: seconds paused / rested, why it paused

    @property
    def ok(self) -> bool:
        return all(r.status == "passed" for r in self.results)


def _require_structure(conn: psycopg.Connection, settings: Settings) -> None:
    present = {
        r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMA_NAMES),))
    }
    missing = [s for s in SCHEMA_NAMES if s not in present]
    if missing:
        raise PhaseNotDeployed(f"the consolidated schemas are not deployed yet (missing: {', '.join(missing)})")
    role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.owner_role,)).fetchone()
    if not role:
        raise PhaseNotDeployed(f"the owner role {settings.owner_role} does not exist")


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


def run(
    dsn: str,
    settings: Settings | None = None,
    checksums: bool = True,
    progress: Progress | None = None,
    incremental: bool = False,
) -> RunReport:
    """`incremental`: a mapping change capture fed by key is validated on the keys it
    changed only; it then does not see a write into a new table that nobody recorded (a
    phase-1 foreign row), which the default full validation finds (phase_check)."""
    settings = settings or Settings()
    with (
        run_lock.locked(dsn, settings, "run") as conn,
        parallel.Hasher(conn, dsn, settings, parallel.worker_count(conn, settings)) as hasher,
        contextlib.ExitStack() as closing,
    ):
        phase = ensure_state(conn, settings)
        drift.check(conn)
        j = journal.Journal(conn, f"Phase{phase}")
        phase_state.start_if_new(conn, j.run_id, settings.stack)
        aged = ownership.aged_parts(conn)
        if aged:  # their rows' 32-bit xmin must not meet a new transaction of the same number
            ownership.materialize_all(conn, aged)
        quiet.snapshot(conn, j.run_id, "run", "start")
        ddl.create_tables(conn, settings.owner_role)
        notes: list[str] = []
        cap = capture.start(conn, settings, notes.append)  # the slot exists before the first chunk
        if cap:
            closing.callback(capture.close, cap)
            capture.marked(conn, cap, notes.append)  # the catch-up's advance moves restart_lsn here
            capture.catch_up(conn, cap)  # a backlog in bounded batches; each settle reads the tail
        pacer = pacing.pacer(conn, settings.pace, CHUNK_KEYS)
        copier = Copier(conn, j.run_id, progress, phase=phase, pacer=pacer)
        second = overlap.Overlap(conn, dsn, settings, copier, cap, hasher.workers)
        closing.callback(second.close)  # before capture.close: a settle may still use `cap`
        results: list[MappingResult] = []
        foreign: list[str] = []
        queued: list[tuple[Mapping, journal.Entry, int, Future[Indexed]]] = []
        early: dict[str, list[str]] = {}  # indexes the second session could not create
        indexed: set[str] = set()  # targets whose indexes the second session tried

        def record(
            m: Mapping, entry: journal.Entry, copied: int, settled: tuple[int, MappingResult], at: datetime | None
        ) -> None:
            caught_up, result = settled
            copied += caught_up
            if m.merge:
                result.conflicts = merge_conflicts.count(conn, m)
            result.copied = copied
            if result.foreign:  # phase 1: someone else wrote the new table: kept, listed, the run fails
                j.finish(entry, Status.FAILED, at, records_migrated=copied, error_message=result.foreign)
                result.status = "failed"
                result.message = "; ".join(filter(None, (result.message, result.foreign)))
                foreign.append(result.foreign)
            else:
                j.finish(entry, Status.COMPLETED, at, records_migrated=copied)
            results.append(result)

        def collect(wait: bool) -> None:
            """Records the queued settles in copy order: all (`wait`), or those done."""
            while queued and (wait or queued[0][3].done()):
                m, entry, copied, future = queued.pop(0)
                indexed.add(m.target)
                settled, at, problems = future.result()
                record(m, entry, copied, settled, at)
                for name, what in problems.items():
                    early.setdefault(name, []).extend(what)

        order = overlap.order(copy_order())
        tick = progress or (lambda name, done, total: None)
        for i, m in enumerate(order):
            tick(SETTLED, i, len(order))
            if pacer is not None:
                pacer.breathe()
            missing = settle.missing_sources(conn, m)
            entry = j.start(Step.COPY, m.name, " + ".join(m.sources), m.target)
            if missing:  # `failed`, so the guide's `WHERE status = 'failed'` shows it
                collect(wait=True)
                result = settle.absent(m, missing, "missing_source")
                j.finish(entry, Status.FAILED, error_message=result.message)
                results.append(result)
                continue
            copied = 0
            part_list = parts(m)
            second.before_copy(part_list)  # a table it reads may still be settling
            first_copied = any(copier.first_copy(part) for part in part_list)
            if first_copied:
                for part in part_list:  # the bulk of the rows, in committed chunks
                    copied += copier.copy(part).copied
            collect(wait=False)
            if cap:  # the settle's read passes it and the advance after it confirms it; logged
                # here, between two copy transactions of the main session, so that restart_lsn
                # is not held back by one in flight
                capture.marked(conn, cap, notes.append)
            settle_it = functools.partial(
                _settle, m, part_list, checksums, phase, settings.conflict_policy, cap, incremental
            )
            if second.takes(part_list, first_copied):
                work = functools.partial(_settle_and_index, settle_it, m.target, settings.owner_role, j.run_id)
                queued.append((m, entry, copied, second.submit(m.target, work)))
            else:  # after the queued ones: one session reads the slot at a time
                collect(wait=True)
                record(m, entry, copied, settle_it(conn, copier, hasher), None)
        collect(wait=True)
        second.drain()
        tick(SETTLED, len(order), len(order))
        if second.settled:
            notes.append(f"{second.settled} mapping(s) settled on a second session while the next ones copied")
        if cap:
            capture.finish(conn, cap)
            notes.append(capture.summary(cap))
        entry = j.start(Step.STRUCTURE)
        problems = structure.finish(conn, settings.owner_role, j.run_id, progress, pacer, frozenset(indexed))
        for name, what in early.items():
            problems.setdefault(name, []).extend(what)
        j.finish(
            entry, Status.FAILED if problems else Status.COMPLETED, details={"problems": problems} if problems else None
        )
        for result in results:  # validated only with every key, index and FK in place
            if result.status != "missing_source":
                settle.with_structure(conn, result)
                settle.log_validation(j, result, checksums)
        quiet.snapshot(conn, j.run_id, "run", "end")
        if foreign:  # every other mapping was synced (our writes never touch those rows)
            raise ForeignRows(f"phase 1, and {'; '.join(foreign)}: none of them was deleted or changed")
        paced = {"paused_s": pacer.paused_s, "rested_s": pacer.rested_s, "pauses": pacer.pauses} if pacer else {}
        return RunReport(str(j.run_id), results, notes, capture.by_mapping(cap), paced)


def _settle(
    m: Mapping,
    part_list: list[Part],
    checksums: bool,
    phase: int,
    policy: str,
    cap: capture.Capture | None,
    incremental: bool,
    conn: psycopg.Connection,
    copier: Copier,
    hasher: parallel.Hasher,
) -> tuple[int, MappingResult]:
    """One mapping's settle on `conn` (the main session, or overlap's second one)."""
    settled = settle.settle(
        conn, copier, m, part_list, checksums, phase, policy, cap, hasher=hasher, incremental=incremental
    )
    if cap:
        capture.advance(conn, cap)
    return settled


Indexed = tuple[tuple[int, MappingResult], datetime | None, dict[str, list[str]]]


def _settle_and_index(
    settle_it: Callable[[psycopg.Connection, Copier, parallel.Hasher], tuple[int, MappingResult]],
    target: str,
    owner_role: str,
    run_id: object,
    conn: psycopg.Connection,
    copier: Copier,
    hasher: parallel.Hasher,
) -> Indexed:
    """On the second session: the settle, then the target's indexes (its foreign keys wait
    for the end, when every parent is loaded): a large table indexes while the next copy."""
    settled = settle_it(conn, copier, hasher)
    row = conn.execute("SELECT clock_timestamp()").fetchone()  # the settle's end, for the journal
    at = row[0] if row else None
    return settled, at, structure.complete(conn, owner_role, run_id, tables=(table(target),), kinds=("index",))


def ensure_state(conn: psycopg.Connection, settings: Settings, allowed_deployed: tuple[int, ...] = ()) -> int:
    """Structure deployed, our state tables exist; the recorded phase (checked against
    the stack's deployed one, which may also be one of `allowed_deployed`)."""
    _require_structure(conn, settings)
    journal.ensure(conn)
    with conn.transaction():
        ownership.ensure(conn)
        chunk_hashes.ensure(conn)
        conflicts.ensure(conn)
        phase_state.ensure(conn)
        quiet.ensure(conn)
    phase = phase_state.resolve(conn, settings, allowed_deployed)
    if phase == 3:
        raise PhaseMismatch(
            "the database is in phase 3: the legacy tables are dropped",
            fix="`python -m data_copy restore` brings them back",
        )
    return phase


def validate(
    dsn: str,
    settings: Settings | None = None,
    checksums: bool = True,
    progress: Progress | None = None,
    incremental: bool = False,
) -> list[MappingResult]:
    """Checks every mapping in its own repeatable-read snapshot: every row, or with
    `incremental` only the keys recorded as changed since the last full validation
    (chunk_hashes: a change nobody recorded, such as a legacy update without change
    capture, is seen by the full one only)."""
    settings = settings or Settings()
    progress = progress or (lambda name, done, total: None)
    with (
        run_lock.locked(dsn, settings, "validate") as conn,
        parallel.Hasher(conn, dsn, settings, parallel.worker_count(conn, settings)) as hasher,
    ):
        phase = ensure_state(conn, settings)
        drift.check(conn)
        j = journal.Journal(conn, f"Phase{phase}")
        quiet.snapshot(conn, j.run_id, "validate", "start")
        existing = settle.existing_tables(conn)
        results = []
        order = copy_order()
        for i, m in enumerate(order):
            progress("validate (counts and checksums)", i, len(order))
            if settle.missing_sources(conn, m) or m.target not in existing:
                result = settle.absent(m, [t for t in (*m.sources, m.target) if t not in existing], "failed")
                entry = j.start(Step.VALIDATE, m.name, result.source, result.target)
                j.finish(entry, Status.FAILED, error_message=result.message)
                results.append(result)
                continue
            part_list = parts(m)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                result = settle.check_mapping(conn, m, part_list, checksums, phase, hasher, incremental)
                if phase == 1:
                    result.foreign = settle.foreign(conn, m, part_list, result)
                    if result.foreign:
                        result.status = "failed"
                        result.message = "; ".join(filter(None, (result.message, result.foreign)))
            settle.with_structure(conn, result)
            settle.log_validation(j, result, checksums)
            results.append(result)
        progress("validate (counts and checksums)", len(order), len(order))
        quiet.snapshot(conn, j.run_id, "validate", "end")
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
        existing = settle.existing_tables(conn)
        bracket = "public.migration_table_stats" in existing  # our reads of legacy are not others'
        run_id = uuid.uuid4()
        if bracket:
            quiet.snapshot(conn, run_id, "plan", "start")
        for m in MAPPINGS:
            src = None
            if not settle.missing_sources(conn, m):
                src = sum(validator.legacy_rows(conn, part) for part in parts(m))
            tgt = None
            if m.target in existing:
                r = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(m.target))).fetchone()
                tgt = r[0] if r else 0
            to_copy = None if src is None else max(src - (tgt or 0), 0)
            rows.append(PlanRow(m.name, " + ".join(m.sources), m.target, src, tgt, to_copy))
        if bracket:
            quiet.snapshot(conn, run_id, "plan", "end")
    return rows


@dataclass
class StatusReport:
    """`status`: the phase the database records, its history, the last commands, and per
    mapping the latest validation (with the application's figures) and open conflicts."""

    phase: int  # as recorded in the database (1 before anything is recorded)
    events: list[phase_state.PhaseEvent]
    deployed: int | None  # the stack's deployed phase (None with --dsn)
    last: dict[str, history.LastCommand]  # "run" / "validate" -> the last one
    validations: list[journal.Validation]
    figures: dict[str, dict] = field(default_factory=dict)  # mapping -> its validation's details
    conflicts: list[tuple] = field(default_factory=list)  # (part, key, kind, policy), open ones
    capture: dict | None = None  # the change capture slot's lag (capture.lag), None without a slot

    @property
    def passing(self) -> int:
        return sum(1 for v in self.validations if v.status == Status.PASSED)


def capture_drop(dsn: str, settings: Settings | None = None) -> list[str]:
    """Teardown of change capture: the slot (and the WAL it keeps), our origin, its state.
    The next `run` scans once, then captures again from a new slot."""
    settings = settings or Settings()
    with run_lock.locked(dsn, settings, "capture-drop") as conn:
        return capture.drop(conn, settings)


def status(dsn: str, settings: Settings | None = None, lag_warn_bytes: int = capture.LAG_WARN_BYTES) -> StatusReport:
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
                    ).format(journal.LOG),
                    (Step.VALIDATE,),
                )
            }
        events = phase_state.history(conn)
        return StatusReport(
            phase=events[-1].phase if events else 1,
            events=events,
            deployed=settings.phase if settings.stack else None,
            last=history.last_commands(conn),
            validations=latest,
            figures=figures,
            conflicts=conflicts.open_conflicts(conn),
            capture=capture.lag(conn, settings, lag_warn_bytes),
        )
