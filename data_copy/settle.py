"""One mapping brought up to date and checked: the re-sync and validation in one
snapshot (settle), the checks it runs, and how its result is logged."""

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.mappings import Mapping
from catalog.phases import DEFAULT_CONFLICT_POLICY
from catalog.tables import table
from data_copy import (
    apply_changes,
    capture,
    chunk_hashes,
    conflicts,
    dirty_keys,
    journal,
    ownership,
    parallel,
    phase_check,
    structure,
    validator,
)
from data_copy.copier import Copier
from data_copy.journal import Step
from data_copy.projection import Part, parts

SETTLE_ATTEMPTS = 3  # the application writing the new tables (phase 2) may conflict


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


def existing_tables(conn: psycopg.Connection) -> set[str]:
    return {f"{s}.{n}" for s, n in conn.execute("SELECT schemaname, tablename FROM pg_tables")}


def check_part(
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
        found = dirty_keys.incremental_check(conn, part)
        if found is not None:
            return found
    return chunk_hashes.full_check(conn, part, hasher)


def _incremental(result: MappingResult) -> bool:
    return bool(result.checks) and all(getattr(c, "incremental", False) for c in result.checks)


def check_mapping(
    conn: psycopg.Connection,
    m: Mapping,
    part_list: list[Part],
    checksums: bool,
    phase: int = 1,
    hasher: parallel.Hasher | None = None,
    incremental: bool = False,
) -> MappingResult:
    checks: list = [check_part(conn, p, checksums, phase, hasher, incremental) for p in part_list]
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


def foreign(conn: psycopg.Connection, m: Mapping, part_list: list[Part], result: MappingResult) -> str:
    """Phase 1: '' or what the new table holds that data_copy did not write."""
    found = []
    for part, c in zip(part_list, result.checks, strict=True):
        if getattr(c, "incremental", False):  # only the keys changed since the last validation
            n, keys = dirty_keys.dirty_foreign(conn, part)
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


def settle(
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
                result = check_mapping(
                    conn, m, part_list, checksums, phase, pool, incremental and captured(cap, m, copier)
                )
                if result.status != "passed":
                    # why rows are missing is worked out only now: a clean copy never pays for it
                    for part in part_list:
                        copier.record_rejects(part)
                    result = check_mapping(conn, m, part_list, checksums, phase, pool)
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
                        result = check_mapping(conn, m, part_list, checksums, phase)
                        if cap and m.name in cap.modes:  # the report says the keyed apply was not enough
                            cap.modes[m.name] += ", then a full reconcile"
                if phase == 1:
                    result.foreign = foreign(conn, m, part_list, result)
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


def captured(cap: capture.Capture | None, m: Mapping, copier: Copier) -> bool:
    """True when change capture brought every change of `m` over by key, so the keys it
    recorded are all that changed: only then may the validation re-hash just those (a
    keyless change's deletes record their keys too: apply_changes). A re-sync that scanned
    legacy cannot see deletes: its validation stays full (and finds what it misses)."""
    if cap is None or cap.modes.get(m.name) != "capture":
        return False
    part_list = parts(m)
    return all(p.source_table in cap.tables and p.name not in copier.scanned for p in part_list)


def with_structure(conn: psycopg.Connection, result: MappingResult) -> None:
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


def log_validation(j: journal.Journal, result: MappingResult, checksums: bool) -> None:
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


def absent(m: Mapping, missing: list[str], status: str) -> MappingResult:
    message = f"table does not exist: {', '.join(missing)}"
    return MappingResult(m.name, " + ".join(m.sources), m.target, status, message=message)


def missing_sources(conn: psycopg.Connection, m: Mapping) -> list[str]:
    existing = existing_tables(conn)
    return [s for s in m.sources if s not in existing]
