"""One mapping checked: its Parts' checks by phase, summed into a MappingResult, with its
structure, and logged as the mapping's validation in migration_log."""

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.mappings import Mapping
from catalog.tables import table
from data_copy.mapping_sql.indexes import missing
from data_copy.mapping_sql.projection import Part
from data_copy.state import journal
from data_copy.state.journal import Step
from data_copy.state.schema import REJECTS
from data_copy.validation import chunks, part_check, phase_check
from data_copy.validation.hasher import Hasher
from data_copy.validation.incremental import dirty_foreign, incremental_check


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
    checks: list = field(default_factory=list)  # part_check.PartCheck | phase_check.Phase2Check
    conflicts: dict[str, dict] = field(default_factory=dict)  # merge: column -> count, sample keys
    figures: dict[str, int] = field(default_factory=dict)  # phase 2: app rows, conflicts, ...
    foreign: str = ""  # phase 1: rows data_copy did not write (the run stops)


def check_part(
    conn: psycopg.Connection,
    part: Part,
    checksums: bool,
    phase: int,
    hasher: Hasher | None,
    incremental: bool,
) -> object:
    """Phase 2: the three-way check (of the keys written since, when `incremental` and a
    full one stands). Phase 1: counts only, or checksums by chunk: only the dirty keys when
    `incremental` and a passing full validation stands, else every chunk."""
    if phase == 2:
        return phase_check.check_phase2(conn, part, checksums, incremental)
    if not checksums:
        return part_check.check(conn, part, checksums)
    if incremental:
        found = incremental_check(conn, part)
        if found is not None:
            return found
    return chunks.full_check(conn, part, hasher)


def _incremental(result: MappingResult) -> bool:
    return bool(result.checks) and all(getattr(c, "incremental", False) for c in result.checks)


def check_mapping(
    conn: psycopg.Connection,
    m: Mapping,
    part_list: list[Part],
    checksums: bool,
    phase: int = 1,
    hasher: Hasher | None = None,
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
            n, keys = dirty_foreign(conn, part)
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


def with_structure(conn: psycopg.Connection, result: MappingResult) -> None:
    """Fails the result when its table lacks a catalog key, CHECK, index or foreign key,
    or when creating one recorded refused rows (orphans, duplicates) after the check."""
    gaps = missing(conn, table(result.target))
    names = [result.name, *(c.part for c in result.checks)]
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE mapping = ANY(%s)").format(REJECTS), (names,)).fetchone()
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
    if any(isinstance(c, chunks.ChunkedCheck | phase_check.Phase2Check) for c in result.checks):
        how = {"incremental": incremental, "verified_keys": sum(getattr(c, "verified_keys", 0) for c in result.checks)}
        as_of = [str(c.full_at) for c in result.checks if isinstance(c, chunks.ChunkedCheck)]
        as_of += [str(c.counts_as_of) for c in result.checks if getattr(c, "counts_as_of", None)]
        if incremental and as_of:  # the counts are a full validation's (phase 1: moved by the changes)
            how["counts_as_of"] = str(min(as_of))
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
