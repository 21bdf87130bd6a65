"""A run: every mapping copied and settled (re-synced and validated in one snapshot), in
copy order, then the new tables' indexes and foreign keys, then each mapping's validation
logged with its structure.

A first copy's settle may run on a second session while the next mappings copy
(sync/overlap.py); one session reads the slot at a time, so the settles are collected in copy
order. A settle a foreign key of the new tables refuses (legacy deleted a parent row and
cascaded to another mapping's rows) lets those children settle first, out of turn, and is
tried again; still refused, it is tried last, then fails named.
"""

import contextlib
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from catalog.mappings import Mapping, copy_order
from catalog.tables import table
from data_copy.capture import stream
from data_copy.core import pacing
from data_copy.core.progress import Progress, silent
from data_copy.errors import ForeignRows, first_line
from data_copy.mapping_sql import drift, target_tables
from data_copy.mapping_sql.projection import Part, parts
from data_copy.settings import Settings
from data_copy.state import identity, journal, legacy_activity, ownership, phase_events
from data_copy.state.journal import Status, Step
from data_copy.sync import index_builds, overlap, settle
from data_copy.sync.copier import CHUNK_KEYS, Copier
from data_copy.validation import mapping_check, merge_disagreements
from data_copy.validation.hasher import Hasher, worker_count
from data_copy.validation.mapping_check import MappingResult

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


def run(
    conn: psycopg.Connection,
    dsn: str,
    settings: Settings,
    phase: int,
    checksums: bool = True,
    progress: Progress | None = None,
    incremental: bool = False,
) -> RunReport:
    """On `conn` (holding the run lock, past the state gate, in the recorded `phase`).
    `incremental`: a mapping change capture fed by key is validated on the keys it
    changed only; it then does not see a write into a new table that nobody recorded (a
    phase-1 foreign row), which the default full validation finds (phase_check)."""
    with (
        Hasher(conn, dsn, settings, worker_count(conn, settings)) as hasher,
        contextlib.ExitStack() as closing,
    ):
        j = journal.Journal(conn, f"Phase{phase}")
        phase_events.start_if_new(conn, j.run_id, settings.stack)
        aged = ownership.aged_parts(conn)
        if aged:  # their rows' 32-bit xmin must not meet a new transaction of the same number
            ownership.materialize_all(conn, aged)
        legacy_activity.snapshot(conn, j.run_id, "run", "start")
        target_tables.create_tables(conn, settings.owner_role)
        identity.stamp(conn)  # before the first chunk: our records describe these tables
        notes: list[str] = []
        back = settings.carry_back if phase == 2 else ()
        cap = stream.start(conn, settings, notes.append, back)  # the slot exists before the first chunk
        if cap:
            closing.callback(stream.close, cap)
            stream.marked(conn, cap, notes.append)  # the catch-up's advance moves restart_lsn here
            stream.catch_up(conn, cap)  # a backlog in bounded batches; each settle reads the tail
        pacer = pacing.pacer(conn, settings.pace, CHUNK_KEYS)
        copier = Copier(conn, j.run_id, progress, phase=phase, pacer=pacer)
        second = overlap.Overlap(conn, dsn, settings, copier, cap, hasher.workers)
        closing.callback(second.close)  # before stream.close: a settle may still use `cap`
        results: list[MappingResult] = []
        foreign: list[str] = []
        queued: list[tuple[Mapping, journal.Entry, int, Future[Indexed]]] = []
        waiting: list[tuple[Mapping, journal.Entry, int, Settle, str]] = []  # a foreign key held them
        early: dict[str, list[str]] = {}  # indexes the second session could not create
        indexed: set[str] = set()  # targets whose indexes the second session tried

        def record(
            m: Mapping, entry: journal.Entry, copied: int, settled: tuple[int, MappingResult], at: datetime | None
        ) -> None:
            caught_up, result = settled
            copied += caught_up
            if m.merge:
                result.conflicts = merge_disagreements.count(conn, m)
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

        def settle_for(m: Mapping, part_list: list[Part]) -> Settle:
            return functools.partial(
                _settle, m, part_list, checksums, phase, settings.conflict_policy, cap, incremental, back
            )

        tick = progress or silent
        for i, m in enumerate(order):
            tick(SETTLED, i, len(order))
            if pacer is not None:
                pacer.breathe()
            missing = drift.missing_sources(conn, m)
            entry = j.start(Step.COPY, m.name, " + ".join(m.sources), m.target)
            if missing:  # `failed`, so the guide's `WHERE status = 'failed'` shows it
                collect(wait=True)
                result = mapping_check.absent(m, missing, "missing_source")
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
                stream.marked(conn, cap, notes.append)
            settle_it = settle_for(m, part_list)
            if second.takes(part_list, first_copied):
                work = functools.partial(_settle_and_index, settle_it, m.target, settings.owner_role, j.run_id)
                queued.append((m, entry, copied, second.submit(m.target, work)))
            else:  # after the queued ones: one session reads the slot at a time
                collect(wait=True)
                settled, why = _settle_or_wait(settle_it, conn, copier, hasher)
                if settled is None:  # its children's deletes first (their turn comes again, logged)
                    for child in _children(m, order[i + 1 :], copier):
                        _settle_or_wait(settle_for(child, parts(child)), conn, copier, hasher)
                    settled, why = _settle_or_wait(settle_it, conn, copier, hasher)
                if settled is None:
                    waiting.append((m, entry, copied, settle_it, why))
                else:
                    record(m, entry, copied, settled, None)
        collect(wait=True)
        while waiting:  # again in copy order, after the later mappings (its children) settled
            still: list[tuple[Mapping, journal.Entry, int, Settle, str]] = []
            for m, entry, copied, again, _ in waiting:
                settled, why = _settle_or_wait(again, conn, copier, hasher)
                if settled is None:
                    still.append((m, entry, copied, again, why))
                else:
                    record(m, entry, copied, settled, None)
            if len(still) == len(waiting):  # no settle got further: each fails, named, as logged
                for m, entry, _, _, why in still:
                    result = _held(m, why)
                    j.finish(entry, Status.FAILED, error_message=result.message)
                    results.append(result)
                break
            waiting = still
        second.drain()
        tick(SETTLED, len(order), len(order))
        if second.settled:
            notes.append(f"{second.settled} mapping(s) settled on a second session while the next ones copied")
        if cap:
            stream.finish(conn, cap)
            notes.append(stream.summary(cap))
        entry = j.start(Step.STRUCTURE)
        problems = index_builds.finish(conn, settings.owner_role, j.run_id, progress, pacer, frozenset(indexed))
        for name, what in early.items():
            problems.setdefault(name, []).extend(what)
        j.finish(
            entry, Status.FAILED if problems else Status.COMPLETED, details={"problems": problems} if problems else None
        )
        for result in results:  # validated only with every key, index and FK in place
            if result.status != "missing_source":
                mapping_check.with_structure(conn, result)
                mapping_check.log_validation(j, result, checksums)
        legacy_activity.snapshot(conn, j.run_id, "run", "end")
        if foreign:  # every other mapping was synced (our writes never touch those rows)
            raise ForeignRows(f"phase 1, and {'; '.join(foreign)}: none of them was deleted or changed")
        paced = {"paused_s": pacer.paused_s, "rested_s": pacer.rested_s, "pauses": pacer.pauses} if pacer else {}
        return RunReport(str(j.run_id), results, notes, stream.by_mapping(cap), paced)


def _settle(
    m: Mapping,
    part_list: list[Part],
    checksums: bool,
    phase: int,
    policy: str,
    cap: stream.Capture | None,
    incremental: bool,
    carry_back: tuple[str, ...],
    conn: psycopg.Connection,
    copier: Copier,
    hasher: Hasher,
) -> tuple[int, MappingResult]:
    """One mapping's settle on `conn` (the main session, or overlap's second one)."""
    settled = settle.settle(
        conn,
        copier,
        m,
        part_list,
        checksums,
        phase,
        policy,
        cap,
        hasher=hasher,
        incremental=incremental,
        carry_back=m.name in carry_back,
    )
    if cap:
        stream.advance(conn, cap)
    return settled


Indexed = tuple[tuple[int, MappingResult], datetime | None, dict[str, list[str]]]
Settle = Callable[[psycopg.Connection, Copier, Hasher], tuple[int, MappingResult]]


def _settle_or_wait(
    settle_it: Settle, conn: psycopg.Connection, copier: Copier, hasher: Hasher
) -> tuple[tuple[int, MappingResult] | None, str]:
    """The settle, or (None, why) when a foreign key refused one of its writes: legacy
    deleted a parent row (ON DELETE CASCADE there) whose children in the new tables go only
    with their own mapping's settle, later in copy order; or, both ways, a legacy foreign key
    refuses a carried-back delete. Its transaction rolled back whole (rows, baseline,
    positions), so trying it again later is safe."""
    try:
        return settle_it(conn, copier, hasher), ""
    except psycopg.errors.ForeignKeyViolation as error:
        copier.forget_exclusions()  # their temporary tables went with the transaction
        detail = error.diag.message_detail  # which key, still referenced from where
        return None, first_line(error) + (f" ({detail.rstrip('.')})" if detail else "")


def _children(m: Mapping, later: Sequence[Mapping], copier: Copier) -> list[Mapping]:
    """The mappings of `later` (copied already) whose new table has a foreign key to `m`'s:
    settled once out of turn when `m`'s settle is refused, so that legacy's cascaded deletes
    go first; at their own turn they settle again, after `m` inserted its new rows (their
    new children then find their parents)."""
    return [
        c
        for c in later
        if any(fk.references == m.target for fk in table(c.target).foreign_keys)
        and not any(copier.first_copy(p) for p in parts(c))
    ]


def _held(m: Mapping, why: str) -> MappingResult:
    """A mapping whose settle a foreign key still refused after every other one settled."""
    message = (
        f"not synced: {why}; nothing of it was written in this run, and the next run tries again"
        " (the referencing row goes first: a conflict listed in migration_conflicts, or a row the other side"
        " still has)"
    )
    return MappingResult(m.name, " + ".join(m.sources), m.target, "failed", message=message)


def _settle_and_index(
    settle_it: Callable[[psycopg.Connection, Copier, Hasher], tuple[int, MappingResult]],
    target: str,
    owner_role: str,
    run_id: object,
    conn: psycopg.Connection,
    copier: Copier,
    hasher: Hasher,
) -> Indexed:
    """On the second session: the settle, then the target's indexes (its foreign keys wait
    for the end, when every parent is loaded): a large table indexes while the next copy."""
    settled = settle_it(conn, copier, hasher)
    row = conn.execute("SELECT clock_timestamp()").fetchone()  # the settle's end, for the journal
    at = row[0] if row else None
    return settled, at, index_builds.complete(conn, owner_role, run_id, tables=(table(target),), kinds=("index",))
