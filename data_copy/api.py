"""One flat function per verb (as Alembic's command.py): plan, run, validate, status."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS, Mapping, copy_order
from catalog.phases import DEFAULT_CONFLICT_POLICY
from catalog.schemas import SCHEMA_NAMES
from catalog.tables import table
from data_copy import (
    apply_changes,
    capture,
    chunk_hashes,
    conflicts,
    ddl,
    drift,
    history,
    journal,
    merge_conflicts,
    ownership,
    pacing,
    parallel,
    phase_check,
    phase_state,
    quiet,
    run_lock,
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

Progress = Callable[[str, int, int], None]
SETTLE_ATTEMPTS = 3  # the application writing the new tables (phase 2) may conflict
SETTLED = "re-synced and validated (counts, checksums)"


@dataclass
class MappingResult:
    name: str
    source: str
    target: str
    status: str  # passed | failed | missing_source
    source_count: int = 0
    target_count: int = 0
    copied: int = 0
    rejected: int = 0
    message: str = ""
    checks: list = field(default_factory=list)  # validator.PartCheck | phase_check.Phase2Check
    conflicts: dict[str, dict] = field(default_factory=dict)  # merge: column -> count, sample keys
    figures: dict[str, int] = field(default_factory=dict)  # phase 2: app rows, conflicts, ...
    foreign: str = ""  # phase 1: rows data_copy did not write (the run stops)


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


def _existing_tables(conn: psycopg.Connection) -> set[str]:
    return {f"{s}.{n}" for s, n in conn.execute("SELECT schemaname, tablename FROM pg_tables")}


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


def _check_part(
    conn: psycopg.Connection,
    part: Part,
    checksums: bool,
    phase: int,
    hasher: parallel.Hasher | None,
    incremental: bool,
) -> object:
    """Phase 2: the three-way check. Phase 1: counts only, or checksums by chunk: only the
    dirty keys when `incremental` and a passing full validation stands, else every chunk."""
    if phase == 2:
        return phase_check.check_phase2(conn, part, checksums)
    if not checksums:
        return validator.check(conn, part, checksums)
    if incremental:
        found = chunk_hashes.incremental_check(conn, part)
        if found is not None:
            return found
    return chunk_hashes.full_check(conn, part, hasher)


def _incremental(result: "MappingResult") -> bool:
    return bool(result.checks) and all(getattr(c, "incremental", False) for c in result.checks)


def _check_mapping(
    conn: psycopg.Connection,
    m: Mapping,
    part_list: list[Part],
    checksums: bool,
    phase: int = 1,
    hasher: parallel.Hasher | None = None,
    incremental: bool = False,
) -> MappingResult:
    checks: list = [_check_part(conn, p, checksums, phase, hasher, incremental) for p in part_list]
    passed = all(c.passed for c in checks)
    figures: dict[str, int] = {}
    for c in checks:
        for name, n in (c.figures() if phase == 2 else {}).items():
            figures[name] = figures.get(name, 0) + n
    return MappingResult(
        name=m.name,
        source=" + ".join(m.sources),
        target=m.target,
        status="passed" if passed else "failed",
        source_count=sum(c.source_count for c in checks),
        target_count=sum(c.target_count for c in checks),
        rejected=sum(c.rejected for c in checks),
        message="; ".join(c.message() for c in checks if c.message()),
        checks=checks,
        figures=figures,
    )


def _foreign(conn: psycopg.Connection, m: Mapping, part_list: list[Part], result: MappingResult) -> str:
    """Phase 1: '' or what the new table holds that data_copy did not write."""
    found = []
    for part, c in zip(part_list, result.checks, strict=True):
        if getattr(c, "incremental", False):  # only the keys changed since the last validation
            n, keys = chunk_hashes.dirty_foreign(conn, part)
            if n:
                found.append(
                    f"{n} row(s) in {m.target} ({part.name}) differ from what data_copy wrote: keys {', '.join(keys)}"
                )
            continue
        classes = phase_check.foreign_in_phase1(conn, part, c.target_count, c.target_checksum)
        if classes.counts:
            kinds = tuple(classes.counts)
            found.append(f"{classes.n(*kinds)} row(s) in {m.target} ({part.name}): {classes.describe(kinds)}")
    return "; ".join(found)


def _settle(
    conn: psycopg.Connection,
    copier: Copier,
    m: Mapping,
    part_list: list[Part],
    checksums: bool,
    phase: int = 1,
    policy: str = DEFAULT_CONFLICT_POLICY,
    cap: capture.Capture | None = None,
    hasher: parallel.Hasher | None = None,
    incremental: bool = False,
) -> tuple[int, MappingResult]:
    """Re-syncs and validates in ONE repeatable-read snapshot, so rows the application
    writes meanwhile cannot make a correct copy look wrong: they belong to the next run.
    The hasher's connections share that snapshot but not its writes: used only while this
    transaction has written no row of the mapping's tables."""
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                copied = apply_changes.sync(conn, copier, cap, m, part_list)
                pool = hasher if copied == 0 else None
                result = _check_mapping(
                    conn, m, part_list, checksums, phase, pool, incremental and _captured(cap, m, copier)
                )
                if result.status != "passed":
                    # why rows are missing is worked out only now: a clean copy never pays for it
                    for part in part_list:
                        copier.record_rejects(part)
                    result = _check_mapping(conn, m, part_list, checksums, phase, pool)
                    unexplained = (
                        any(c.target_count + c.rejected != c.source_count for c in result.checks)
                        if phase == 1
                        else result.status != "passed"  # phase 2: legacy changes still to bring over
                    )
                    if not result.rejected or unexplained:
                        # rows not explained (a change the watermark could not see, an update
                        # without a timestamp, a delete, a constraint refusal whose reject
                        # went with an earlier run): one full keyed pass records them
                        copied += sum(copier.reconcile(part).copied for part in part_list)
                        result = _check_mapping(conn, m, part_list, checksums, phase)
                        if cap and m.name in cap.modes:  # the report says the keyed apply was not enough
                            cap.modes[m.name] += ", then a full reconcile"
                if phase == 1:
                    result.foreign = _foreign(conn, m, part_list, result)
                else:
                    for part, check in zip(part_list, result.checks, strict=True):
                        if check.classes.n(*ownership.UNRECORDED):
                            ownership.repair_baseline(conn, part)
                        if check.classes.n(*ownership.CONFLICTS) or conflicts.any_open(conn, part):
                            conflicts.record(conn, part, copier.run_id, policy)
            return copied, result
        except psycopg.errors.SerializationFailure:
            copier.forget_exclusions()  # their temporary tables went with the transaction
            if attempt == SETTLE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _captured(cap: capture.Capture | None, m: Mapping, copier: Copier) -> bool:
    """True when change capture brought every change of `m` over by key, so the keys it
    recorded are all that changed: only then may the validation re-hash just those. A
    re-sync that scanned legacy cannot see deletes, and a legacy table whose deletes carry
    no key is not captured at all: their validation stays full (and finds what they miss)."""
    if cap is None or cap.modes.get(m.name) != "capture":
        return False
    part_list = parts(m)
    return all(
        p.source_table in cap.tables and p.source_table not in cap.unkeyable and p.name not in copier.scanned
        for p in part_list
    )


def _with_structure(conn: psycopg.Connection, result: MappingResult) -> None:
    """Fails the result when its table lacks a catalog key, CHECK, index or foreign key,
    or when creating one recorded refused rows (orphans, duplicates) after the check."""
    gaps = structure.missing(conn, table(result.target))
    names = [result.name, *(c.part for c in result.checks)]
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE mapping = ANY(%s)").format(journal.REJECTS), (names,)
    ).fetchone()
    result.rejected = max(result.rejected, row[0] if row else 0)
    if gaps or result.rejected:
        result.status = "failed"
    if gaps:
        note = f"{result.target} lacks {', '.join(gaps)}"
        result.message = f"{result.message}; {note}" if result.message else note


def _log_validation(j: journal.Journal, result: MappingResult, checksums: bool) -> None:
    entry = j.start(Step.VALIDATE, result.name, result.source, result.target)
    incremental = _incremental(result)
    # an incremental validation re-hashed only the changed keys: it has no whole-table checksum
    src = "+".join(c.source_checksum or "" for c in result.checks) if checksums and not incremental else None
    tgt = "+".join(c.target_checksum or "" for c in result.checks) if checksums and not incremental else None
    how: dict = {}
    if any(isinstance(c, chunk_hashes.ChunkedCheck) for c in result.checks):
        how = {"incremental": incremental, "verified_keys": sum(getattr(c, "verified_keys", 0) for c in result.checks)}
        if incremental:
            how["counts_as_of"] = str(min(c.full_at for c in result.checks))
    j.finish(
        entry,
        result.status,
        source_count=result.source_count,
        target_count=result.target_count,
        source_checksum=src,
        target_checksum=tgt,
        error_message=result.message or None,
        details={"checksums": checksums, "rejected": result.rejected, **how, **result.figures}
        | ({"merge_conflicts": result.conflicts} if result.conflicts else {}),
    )


def _absent(m: Mapping, missing: list[str], status: str) -> MappingResult:
    message = f"table does not exist: {', '.join(missing)}"
    return MappingResult(m.name, " + ".join(m.sources), m.target, status, message=message)


def _missing_sources(conn: psycopg.Connection, m: Mapping) -> list[str]:
    existing = _existing_tables(conn)
    return [s for s in m.sources if s not in existing]


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
    ):
        phase = ensure_state(conn, settings)
        drift.check(conn)
        j = journal.Journal(conn, f"Phase{phase}")
        phase_state.start_if_new(conn, j.run_id, settings.stack)
        quiet.snapshot(conn, j.run_id, "run", "start")
        ddl.create_tables(conn, settings.owner_role)
        notes: list[str] = []
        cap = capture.start(conn, settings, notes.append)  # the slot exists before the first chunk
        if cap:
            capture.catch_up(conn, cap)  # a backlog in bounded batches; each settle reads the tail
        pacer = pacing.pacer(conn, settings.pace, CHUNK_KEYS)
        copier = Copier(conn, j.run_id, progress, phase=phase, pacer=pacer)
        results: list[MappingResult] = []
        foreign: list[str] = []
        order = copy_order()
        tick = progress or (lambda name, done, total: None)
        for i, m in enumerate(order):
            tick(SETTLED, i, len(order))
            if pacer is not None:
                pacer.breathe()
            missing = _missing_sources(conn, m)
            entry = j.start(Step.COPY, m.name, " + ".join(m.sources), m.target)
            if missing:  # `failed`, so the guide's `WHERE status = 'failed'` shows it
                result = _absent(m, missing, "missing_source")
                j.finish(entry, Status.FAILED, error_message=result.message)
                results.append(result)
                continue
            copied = 0
            part_list = parts(m)
            if any(copier.first_copy(part) for part in part_list):
                for part in part_list:  # the bulk of the rows, in committed chunks
                    copied += copier.copy(part).copied
            caught_up, result = _settle(
                conn,
                copier,
                m,
                part_list,
                checksums,
                phase,
                settings.conflict_policy,
                cap,
                hasher=hasher,
                incremental=incremental,
            )
            if cap:
                capture.advance(conn, cap)
            copied += caught_up
            if m.merge:
                result.conflicts = merge_conflicts.count(conn, m)
            result.copied = copied
            if result.foreign:  # phase 1: someone else wrote the new table: kept, listed, the run fails
                j.finish(entry, Status.FAILED, records_migrated=copied, error_message=result.foreign)
                result.status = "failed"
                result.message = "; ".join(filter(None, (result.message, result.foreign)))
                foreign.append(result.foreign)
            else:
                j.finish(entry, Status.COMPLETED, records_migrated=copied)
            results.append(result)
        tick(SETTLED, len(order), len(order))
        if cap:
            capture.finish(conn, cap)
            notes.append(capture.summary(cap))
        entry = j.start(Step.STRUCTURE)
        problems = structure.finish(conn, settings.owner_role, j.run_id, progress, pacer)
        j.finish(
            entry, Status.FAILED if problems else Status.COMPLETED, details={"problems": problems} if problems else None
        )
        for result in results:  # validated only with every key, index and FK in place
            if result.status != "missing_source":
                _with_structure(conn, result)
                _log_validation(j, result, checksums)
        quiet.snapshot(conn, j.run_id, "run", "end")
        if foreign:  # every other mapping was synced (our writes never touch those rows)
            raise ForeignRows(f"phase 1, and {'; '.join(foreign)}: none of them was deleted or changed")
        paced = {"paused_s": pacer.paused_s, "rested_s": pacer.rested_s, "pauses": pacer.pauses} if pacer else {}
        return RunReport(str(j.run_id), results, notes, capture.by_mapping(cap), paced)


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
        existing = _existing_tables(conn)
        results = []
        order = copy_order()
        for i, m in enumerate(order):
            progress("validate (counts and checksums)", i, len(order))
            if _missing_sources(conn, m) or m.target not in existing:
                result = _absent(m, [t for t in (*m.sources, m.target) if t not in existing], "failed")
                entry = j.start(Step.VALIDATE, m.name, result.source, result.target)
                j.finish(entry, Status.FAILED, error_message=result.message)
                results.append(result)
                continue
            part_list = parts(m)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                result = _check_mapping(conn, m, part_list, checksums, phase, hasher, incremental)
                if phase == 1:
                    result.foreign = _foreign(conn, m, part_list, result)
                    if result.foreign:
                        result.status = "failed"
                        result.message = "; ".join(filter(None, (result.message, result.foreign)))
            _with_structure(conn, result)
            _log_validation(j, result, checksums)
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
        existing = _existing_tables(conn)
        bracket = "public.migration_table_stats" in existing  # our reads of legacy are not others'
        run_id = uuid.uuid4()
        if bracket:
            quiet.snapshot(conn, run_id, "plan", "start")
        for m in MAPPINGS:
            src = None
            if not _missing_sources(conn, m):
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
