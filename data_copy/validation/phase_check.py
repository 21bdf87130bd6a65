"""Validation by phase, per mapping Part.

Phase 1 (the new tables are our derived copy): equal counts and checksums (part_check.py),
and every row of the new table is one data_copy wrote: the table's count and checksum
equal the ownership baseline's. When they differ, the rows are found by key (rows equal to
legacy now are adopted; any other is foreign and stops the run).

Phase 2 (the new tables are the system of record): every legacy row is in the new table
with equal content, unless the application changed or deleted it after the last sync;
rows the application created, changed or deleted are counted, not errors; conflicts are
counted and listed. It fails while legacy changes are still to bring over, or on rejects.

Phase 2, incremental (`run --incremental`, `run --follow`): only the keys written since the
last phase-2 check that passed (state/dirty_keys.py: legacy's changes the sync applied, the
application's changes it carried back; the settle forgets them when its check passes) and
the open conflicts are classified. A key outside them is as a passing check left it on the
legacy side, so it cannot have become a change still to bring over; its figures
(application rows, in sync) are not recounted. Until a full check passed in this phase,
the check is full.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from data_copy.mapping_sql.key_sets import NUMERIC_KEY
from data_copy.mapping_sql.projection import INTEGER_TYPES, Part
from data_copy.state import classification, conflicts, ownership
from data_copy.state.journal import Status, Step
from data_copy.state.schema import DIRTY, EVENTS, LOG, REJECTS
from data_copy.validation.part_check import legacy_rows, target_totals


@dataclass
class Phase2Check:
    part: str
    source_count: int
    target_count: int
    rejected: int
    classes: classification.Classes = field(default_factory=classification.Classes)
    source_checksum: str | None = None
    target_checksum: str | None = None
    incremental: bool = False  # only the keys written since the last full check were classified
    verified_keys: int = 0
    counts_as_of: object = None  # incremental: the counts are the last full check's, of then
    # full: legacy rows the new table cannot hold (no kind classifies them: the legacy side
    # reads only the rows that fit); the settle then records why, as rejects
    unfit: int = 0

    @property
    def passed(self) -> bool:
        return self.rejected == 0 and self.unfit == 0 and self.classes.n(*classification.PENDING) == 0

    def figures(self) -> dict[str, int]:
        c = self.classes
        return {
            "in_sync": c.n("in_sync", "in_sync_unrecorded"),
            "app_created": c.n("app_created"),
            "app_changed": c.n("app_changed"),
            "app_deleted": c.n("app_deleted"),
            "conflicts": c.n(*classification.CONFLICTS),
            "pending": c.n(*classification.PENDING),
        }

    def message(self) -> str:
        bits = []
        if not self.passed:
            pending = self.classes.describe(classification.PENDING)
            if pending:
                bits.append("not brought over: " + pending)
            if self.rejected:
                bits.append(f"{self.rejected} rejected rows (see public.migration_rejects)")
            elif self.unfit:
                bits.append(f"{self.unfit} legacy rows the new table cannot hold")
        app = self.classes.describe(classification.APP)
        if app:
            bits.append("application rows kept: " + app)
        listed = self.classes.describe(classification.CONFLICTS)
        if listed:
            bits.append("conflicts (new table's version kept, see public.migration_conflicts): " + listed)
        return f"{self.part}: " + "; ".join(bits) if bits else ""


def _rejected(conn: psycopg.Connection, part: Part) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE mapping = %s").format(REJECTS), (part.name,)).fetchone()
    return int(row[0]) if row else 0


def _written_since_full(part: Part) -> sql.Composed:
    """SELECT the key texts written since the last full check, and the open conflicts."""
    return sql.SQL("SELECT k FROM {d} WHERE part = {p} UNION {c}").format(
        d=DIRTY, p=sql.Literal(part.name), c=conflicts.open_keys(part)
    )


@dataclass(frozen=True)
class Written:
    """What an incremental phase-2 check starts from: the keys to classify, and the counts
    of the last full check that passed in this phase (at `full_at`)."""

    keys: int
    source_count: int
    target_count: int
    full_at: object


def written(conn: psycopg.Connection, part: Part) -> Written | None:
    """The start of an incremental phase-2 check; None when a full check is needed: none
    passed since the database entered this phase, or a key does not cast to the key's type."""
    row = conn.execute(
        sql.SQL(
            "SELECT source_count, target_count, completed_at FROM {log} WHERE step = {v} AND mapping = %(m)s"
            " AND status = {ok} AND coalesce(details->>'incremental', '') <> 'true'"
            " AND completed_at > (SELECT max(recorded_at) FROM {e}) ORDER BY completed_at DESC LIMIT 1"
        ).format(log=LOG, v=sql.Literal(Step.VALIDATE), ok=sql.Literal(Status.PASSED), e=EVENTS),
        {"m": part.mapping.name},
    ).fetchone()
    if not row:
        return None
    numeric = part.source_key_is_int or part.target.column(part.target_key).type in INTEGER_TYPES
    counted = conn.execute(
        sql.SQL("SELECT count(*), count(*) FILTER (WHERE k !~ {}) FROM ({}) AS x").format(
            sql.Literal(NUMERIC_KEY), _written_since_full(part)
        )
    ).fetchone()
    n, odd = (int(counted[0]), int(counted[1])) if counted else (0, 0)
    return None if numeric and odd else Written(n, int(row[0] or 0), int(row[1] or 0), row[2])


def checked_keys(conn: psycopg.Connection, part: Part, check: Phase2Check) -> Iterator[classification.Keys]:
    """The keys `check` classified, a batch at a time (every key, when it was full); the
    settle repairs the baseline and lists conflicts among the same keys."""
    if not check.incremental:
        yield classification.ALL_KEYS
        return
    yield from classification.key_batches(conn, part, _written_since_full(part))


def check_phase2(
    conn: psycopg.Connection, part: Part, checksums: bool = True, incremental: bool = False
) -> Phase2Check:
    """The three-way check of every key, or (`incremental`, when a full one stands) of the
    keys written since, with the full one's counts."""
    since = written(conn, part) if incremental else None
    if since is not None and len(part.mapping.sources) == 1:  # counting both tables costs a read of each
        counts, as_of = (since.source_count, since.target_count), since.full_at
    else:
        target = conn.execute(part.select_target(sql.SQL("count(*)"))).fetchone()
        counts, as_of = (legacy_rows(conn, part), int(target[0]) if target else 0), None
    result = Phase2Check(
        part.name,
        *counts,
        _rejected(conn, part),
        incremental=since is not None,
        verified_keys=since.keys if since else 0,
        counts_as_of=as_of,
    )
    for keys in checked_keys(conn, part, result):
        result.classes.merge(classification.classify(conn, part, keys))
    if not result.incremental:
        result.unfit = max(result.source_count - result.classes.n(*classification.LEGACY_SIDE), 0)
    if checksums and not result.incremental:  # from the same scan (part_check.source_totals / target_totals)
        result.source_checksum = result.classes.source_checksum
        result.target_checksum = result.classes.target_checksum
    return result


def foreign_in_phase1(
    conn: psycopg.Connection, part: Part, target_count: int, target_checksum: str | None
) -> classification.Classes:
    """Rows of the new table data_copy did not write ({} when there are none)."""
    if ownership.has_first_copied(conn, part):  # row by row: xmin, recorded rows' hashes only
        if not ownership.unowned(conn, part):
            return classification.Classes()
    else:
        if target_checksum is None:  # a count-only run still compares content here
            target_count, target_checksum = target_totals(conn, part)
        owned_count, owned_checksum = ownership.owned_totals(conn, part)
        if owned_count == target_count and (target_checksum is None or owned_checksum == target_checksum):
            if not ownership.unmapped_differs(conn, part):
                return classification.Classes()
    classification.repair_baseline(conn, part)
    return classification.foreign_rows(conn, part)
