"""Validation by phase, per mapping Part.

Phase 1 (the new tables are our derived copy): equal counts and checksums (part_check.py),
and every row of the new table is one data_copy wrote: the table's count and checksum
equal the ownership baseline's. When they differ, the rows are found by key (rows equal to
legacy now are adopted; any other is foreign and stops the run).

Phase 2 (the new tables are the system of record): every legacy row is in the new table
with equal content, unless the application changed or deleted it after the last sync;
rows the application created, changed or deleted are counted, not errors; conflicts are
counted and listed. It fails while legacy changes are still to bring over, or on rejects.
"""

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from data_copy.mapping_sql.projection import Part
from data_copy.state import ownership
from data_copy.state.schema import REJECTS
from data_copy.validation.part_check import legacy_rows, target_totals


@dataclass
class Phase2Check:
    part: str
    source_count: int
    target_count: int
    rejected: int
    classes: ownership.Classes = field(default_factory=ownership.Classes)
    source_checksum: str | None = None
    target_checksum: str | None = None

    @property
    def passed(self) -> bool:
        return self.rejected == 0 and self.classes.n(*ownership.PENDING) == 0

    def figures(self) -> dict[str, int]:
        c = self.classes
        return {
            "in_sync": c.n("in_sync", "in_sync_unrecorded"),
            "app_created": c.n("app_created"),
            "app_changed": c.n("app_changed"),
            "app_deleted": c.n("app_deleted"),
            "conflicts": c.n(*ownership.CONFLICTS),
            "pending": c.n(*ownership.PENDING),
        }

    def message(self) -> str:
        bits = []
        if not self.passed:
            pending = self.classes.describe(ownership.PENDING)
            if pending:
                bits.append("not brought over: " + pending)
            if self.rejected:
                bits.append(f"{self.rejected} rejected rows (see public.migration_rejects)")
        app = self.classes.describe(ownership.APP)
        if app:
            bits.append("application rows kept: " + app)
        conflicts = self.classes.describe(ownership.CONFLICTS)
        if conflicts:
            bits.append("conflicts (new table's version kept, see public.migration_conflicts): " + conflicts)
        return f"{self.part}: " + "; ".join(bits) if bits else ""


def _rejected(conn: psycopg.Connection, part: Part) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE mapping = %s").format(REJECTS), (part.name,)).fetchone()
    return int(row[0]) if row else 0


def check_phase2(conn: psycopg.Connection, part: Part, checksums: bool = True) -> Phase2Check:
    target = conn.execute(part.select_target(sql.SQL("count(*)"))).fetchone()
    result = Phase2Check(
        part.name,
        legacy_rows(conn, part),
        int(target[0]) if target else 0,
        _rejected(conn, part),
        ownership.classify(conn, part),
    )
    if checksums:  # from the same scan (equal to part_check.source_totals / target_totals)
        result.source_checksum = result.classes.source_checksum
        result.target_checksum = result.classes.target_checksum
    return result


def foreign_in_phase1(
    conn: psycopg.Connection, part: Part, target_count: int, target_checksum: str | None
) -> ownership.Classes:
    """Rows of the new table data_copy did not write ({} when there are none)."""
    if ownership.has_first_copied(conn, part):  # row by row: xmin, recorded rows' hashes only
        if not ownership.unowned(conn, part):
            return ownership.Classes()
    else:
        if target_checksum is None:  # a count-only run still compares content here
            target_count, target_checksum = target_totals(conn, part)
        owned_count, owned_checksum = ownership.owned_totals(conn, part)
        if owned_count == target_count and (target_checksum is None or owned_checksum == target_checksum):
            return ownership.Classes()
    ownership.repair_baseline(conn, part)
    return ownership.foreign_rows(conn, part)
