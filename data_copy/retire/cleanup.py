"""Phase 3: back up, then drop the migrated legacy tables and the legacy schemas left.

    cleanup(conn, settings, journal, dsn) -> CleanupReport

`cleanup` re-checks every guard itself (data_copy.guards), whatever the stack says:
first without locks (a refusal never blocks the application), then again inside the one
transaction that drops, after SHARE locks have frozen every table to be dropped. That
transaction is a sequence of named steps (`_drop_transaction`):

  _limit_session       lock_timeout, statement_timeout; no idle timeout while pg_dump runs
  _lock_and_replan     SHARE-lock every table to be dropped, plan again until the plan holds
                       (each LOCK a savepoint retried on 55P03: lock_retry)
  _export_snapshot     the snapshot pg_dump will read; the guards run once more on it
  _back_up             fingerprint every table (count + checksum, logged in migration_log
                       as Phase3 'backup') and pg_dump that very snapshot (data_copy.backup)
  _check_backup        the dump is intact, readable (pg_restore --list) and complete, and
                       nothing was created meanwhile in a schema about to go
  _last_look           the dependency guard once more; record every object that must survive
  _drop                (one savepoint, retried whole on 55P03)
                       1. the migrated legacy tables (every mapping's source);
                       2. views in `public` that depend on them (in the backup too);
                       3. every legacy schema but `public`, with what is left in it: unmapped
                          tables that are empty or listed in settings.disposable_tables,
                          views, functions, sequences, types
  _check_survivors     an object outside the plan went with the drops: everything rolls back

`public` itself, its unmapped tables, migration_log and the permission functions stay.
Each drop is logged (Phase3 'drop_table' / 'drop_view' / 'drop_schema').
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from data_copy.capture import slot as capture_slot
from data_copy.core import lock_retry
from data_copy.core.connection import connect
from data_copy.core.ident import ident
from data_copy.errors import (
    BackupUnreadable,
    CleanupRefused,
    CleanupTimedOut,
    LegacyTableMissing,
    LegacyTablesBusy,
    PgToolMissing,
    TableLocked,
    first_line,
)
from data_copy.retire import backup_record, guards, live_catalog
from data_copy.retire.backup import Backup, record, take_backup
from data_copy.retire.cleanup_plan import CleanupPlan, plan_cleanup
from data_copy.retire.refusals import FIXES, SAMPLES, Problem, refusal
from data_copy.settings import Settings
from data_copy.state import legacy_activity, phase_events, schema
from data_copy.state.journal import Entry, Journal, Status, Step

PHASE = "Phase3"
_PLAN_ATTEMPTS = 3


@dataclass
class CleanupReport:
    run_id: str
    plan: CleanupPlan
    dump: Path | None = None
    dropped_tables: list[str] = field(default_factory=list)
    dropped_views: list[str] = field(default_factory=list)
    dropped_schemas: list[str] = field(default_factory=list)
    fingerprints: dict[str, tuple[int, str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def nothing_done(self) -> bool:
        return not (self.dropped_tables or self.dropped_views or self.dropped_schemas)


def cleanup(
    conn: psycopg.Connection,
    settings: Settings,
    journal: Journal,
    dsn: str,
    *,
    after_backup: Callable[[Backup], None] | None = None,
) -> CleanupReport:
    """Check every guard, back up, drop; refuse (CleanupRefused, nothing dropped) otherwise.

    `conn` (autocommit) reads and writes migration_log through `journal`; the locks, the
    backup and the drops happen on a second connection opened from `dsn` ("" = PG*
    variables). `after_backup` is called with the backup before it is checked (a test hook).
    """
    schema.ensure(conn)
    legacy_activity.snapshot(conn, journal.run_id, "cleanup", "start")  # before this cleanup reads legacy
    try:
        report = _cleanup(conn, settings, journal, dsn, after_backup)
    except psycopg.errors.QueryCanceled as error:
        raise _logged(journal, _timed_out(settings, error)) from None
    finally:
        legacy_activity.snapshot(conn, journal.run_id, "cleanup", "end")
    if report.dropped_tables or report.dropped_schemas:
        phase_events.record(conn, 3, phase_events.CLEANED_UP, journal.run_id, settings.stack)
        capture_slot.drop(conn, settings)  # the legacy tables are gone: a slot left would keep WAL forever
    return report


def _cleanup(
    conn: psycopg.Connection,
    settings: Settings,
    journal: Journal,
    dsn: str,
    after_backup: Callable[[Backup], None] | None,
) -> CleanupReport:
    started = time.monotonic()
    schema.ensure(conn)
    plan = plan_cleanup(conn, settings)
    if plan.empty:
        return _nothing_left(conn, journal, plan, started)
    _refuse_if(journal, guards.check(conn, settings, plan), plan)  # without locks: refusing never blocks anyone

    report = CleanupReport(str(journal.run_id), plan)
    entries: list[tuple[Entry, str]] = []
    with connect(dsn, settings) as work:
        try:
            with work.transaction():
                _drop_transaction(work, settings, journal, dsn, report, entries, after_backup)
        except (psycopg.errors.LockNotAvailable, _Busy) as error:
            _fail(journal, entries, str(error))
            busy = LegacyTablesBusy(
                f"cleanup refused, nothing dropped: a legacy table is in use "
                f"(lock_timeout {settings.lock_timeout}): {first_line(error)}"
            )
            raise _logged(journal, busy) from None
        except psycopg.errors.QueryCanceled as error:
            _fail(journal, entries, str(error))
            raise _logged(journal, _timed_out(settings, error)) from None
        except Exception as error:
            _fail(journal, entries, first_line(error))
            raise
    _finish_drops(journal, report, entries)
    report.seconds = time.monotonic() - started
    done = journal.start(Step.CLEANUP)
    journal.finish(
        done,
        Status.COMPLETED,
        records_migrated=sum(c for c, _ in report.fingerprints.values()),
        details={"dump": str(report.dump), "dropped": report.plan.lines()},
    )
    return report


def _drop_transaction(
    work: psycopg.Connection,
    settings: Settings,
    journal: Journal,
    dsn: str,
    report: CleanupReport,
    entries: list[tuple[Entry, str]],
    after_backup: Callable[[Backup], None] | None,
) -> None:
    """The one transaction that drops, step by step (the module's docstring); any refusal
    raises and everything rolls back. `entries` gets the drops' migration_log rows."""
    _limit_session(work, settings)
    plan = report.plan = _lock_and_replan(work, settings, report.plan)
    snapshot = _export_snapshot(work)
    _refuse_if(journal, guards.check(work, settings, plan), plan)  # again, now that nothing can write
    backup = _back_up(work, settings, journal, dsn, plan, snapshot, report.run_id)
    report.dump, report.fingerprints = backup.path, backup.tables
    if after_backup is not None:
        after_backup(backup)
    _check_backup(work, journal, plan, backup)
    survivors, names = _last_look(work, journal, plan)
    entries.extend(_start_drops(journal, plan))
    _retried(work, "dropping", [*plan.dropped_tables, *plan.views], "AccessExclusiveLock", lambda: _drop(work, plan))
    _check_survivors(work, survivors, names)


# ----------------------------------------------------------------- the named steps


def _limit_session(work: psycopg.Connection, settings: Settings) -> None:
    for name, value in (
        ("lock_timeout", settings.lock_timeout),
        ("statement_timeout", settings.statement_timeout),
        ("idle_in_transaction_session_timeout", "0"),  # idle while pg_dump runs
    ):
        work.execute("SELECT set_config(%s, %s, true)", (name, value))


def _retried(work: psycopg.Connection, what: str, tables: list[str], mode: str, step: Callable[[], None]) -> None:
    """`step` in a savepoint of the drop transaction, retried while a lock timeout refuses
    it (lock_retry); at the last refusal LegacyTablesBusy names the tables in use, and the
    whole transaction rolls back: nothing dropped."""
    try:
        lock_retry.in_transaction(work, step, what=what, tables=tables, mode=mode)
    except TableLocked as error:
        raise _Busy(str(error)) from None


class _Busy(Exception):
    """lock_retry gave up inside the drop transaction (cleanup turns it into LegacyTablesBusy)."""


def _lock(conn: psycopg.Connection, tables: list[str]) -> None:
    if tables:
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.SQL(", ").join(ident(t) for t in tables)))


def _lock_and_replan(work: psycopg.Connection, settings: Settings, plan: CleanupPlan) -> CleanupPlan:
    """SHARE-lock every table the plan drops, then plan again under the locks; repeat while
    the new plan drops tables not locked yet (created meanwhile)."""
    locked: set[str] = set()
    for _ in range(_PLAN_ATTEMPTS):
        todo = [t for t in plan.dropped_tables if t not in locked]
        _retried(work, "locking the tables to drop", todo, "ShareLock", functools.partial(_lock, work, todo))
        locked.update(plan.dropped_tables)
        plan = plan_cleanup(work, settings)
        if set(plan.dropped_tables) <= locked:
            return plan
    raise CleanupRefused(
        "cleanup refused, nothing dropped: tables keep appearing in the legacy schemas",
        fix="stop whatever creates them, then cleanup again",
    )


def _export_snapshot(work: psycopg.Connection) -> str:
    row = work.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    return str(row[0])


def _back_up(
    work: psycopg.Connection,
    settings: Settings,
    journal: Journal,
    dsn: str,
    plan: CleanupPlan,
    snapshot: str,
    run_id: str,
) -> Backup:
    """The dump and the fingerprints, logged; a refusal when they cannot be taken."""
    try:
        backup = take_backup(work, settings, dsn, plan, snapshot, run_id)
    except (BackupUnreadable, PgToolMissing) as error:
        raise _refuse_logged(journal, [Problem("backup", "backup", str(error))], plan) from None
    backup_record.log_backup(journal, record(backup, plan, run_id), plan.mapping_of, set(plan.tables))
    return backup


def _check_backup(work: psycopg.Connection, journal: Journal, plan: CleanupPlan, backup: Backup) -> None:
    """Guard (d), then: every relation of the schemas about to go is in the dump."""
    problems = guards.backup_problems(backup.path, backup.pg_restore, plan.dropped_tables, plan.schemas, backup.sha256)
    _refuse_if(journal, problems, plan)
    created = guards.not_in_dump(work, plan.schemas, backup.path, backup.pg_restore)
    if created:
        detail = "lacks " + ", ".join(created[:SAMPLES]) + " (created during cleanup)"
        raise _refuse_logged(journal, [Problem("backup", f"backup {backup.path}", detail)], plan)


def _last_look(
    work: psycopg.Connection, journal: Journal, plan: CleanupPlan
) -> tuple[set[live_catalog.Object], dict[live_catalog.Object, str]]:
    """Right before the drops: the dependency guard once more; then every object that must
    survive the drops, and its name."""
    _refuse_if(journal, guards.dependency_problems(work, plan.dropped_relations, plan.schemas), plan)
    survivors = live_catalog.objects(work) - live_catalog.doomed_objects(work, plan.dropped_relations, plan.schemas)
    return survivors, live_catalog.describe(work, survivors)


def _start_drops(journal: Journal, plan: CleanupPlan) -> list[tuple[Entry, str]]:
    entries = [(journal.start(Step.DROP_TABLE, plan.mapping_of.get(t), t, None), t) for t in plan.tables]
    entries += [(journal.start(Step.DROP_VIEW, None, v, None), v) for v in plan.views]
    entries += [(journal.start(Step.DROP_SCHEMA, None, s, None), s) for s in plan.schemas]
    return entries


def _drop(conn: psycopg.Connection, plan: CleanupPlan) -> None:
    for table in plan.tables:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(ident(table)))
    for view in plan.views:
        kind = live_catalog.relkind(conn, view)
        if kind is None:
            continue  # went with a table it depends on
        what = sql.SQL("MATERIALIZED VIEW" if kind == "m" else "VIEW")
        conn.execute(sql.SQL("DROP {} {} CASCADE").format(what, ident(view)))
    for name in plan.schemas:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def _check_survivors(
    work: psycopg.Connection, survivors: set[live_catalog.Object], names: dict[live_catalog.Object, str]
) -> None:
    gone = survivors - live_catalog.objects(work)
    if gone:
        lost = sorted(names.get(o, str(o)) for o in gone)
        raise CleanupRefused(
            "cleanup refused, nothing dropped: the drops would also remove "
            + ", ".join(lost[:8])
            + (" ..." if len(lost) > 8 else ""),
            fix=FIXES["dependency"],
        )


def _finish_drops(journal: Journal, report: CleanupReport, entries: list[tuple[Entry, str]]) -> None:
    """After the commit: every drop's row 'dropped', the report's lists."""
    plan = report.plan
    for entry, name in entries:
        details: dict[str, Any] = {"dump": str(report.dump)}
        if name in plan.schemas:
            details["with"] = plan.inside(name)
        count = report.fingerprints.get(name, (None, None))
        journal.finish(entry, Status.DROPPED, source_count=count[0], source_checksum=count[1], details=details)
    report.dropped_tables = list(plan.tables)
    report.dropped_views = list(plan.views)
    report.dropped_schemas = list(plan.schemas)


# ----------------------------------------------------------- refusals and the log


def _nothing_left(conn: psycopg.Connection, journal: Journal, plan: CleanupPlan, started: float) -> CleanupReport:
    """No legacy object left: a re-run after a cleanup (skipped), or the wrong database."""
    if not _previous_cleanup(conn):
        raise LegacyTableMissing(
            f"database {conn.info.dbname!r} has no legacy table or schema and no earlier cleanup is logged"
        )
    entry = journal.start(Step.CLEANUP)
    journal.finish(entry, Status.SKIPPED, details={"reason": "nothing left to drop (cleaned up before)"})
    return CleanupReport(str(journal.run_id), plan, seconds=time.monotonic() - started)


def _previous_cleanup(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        sql.SQL("SELECT 1 FROM {} WHERE migration_phase = %s AND step LIKE 'drop%%' AND status = %s LIMIT 1").format(
            schema.LOG
        ),
        (PHASE, Status.DROPPED),
    ).fetchone()
    return row is not None


def _refuse_if(journal: Journal, problems: list[Problem], plan: CleanupPlan) -> None:
    if problems:
        raise _refuse_logged(journal, problems, plan)


def _refuse_logged(journal: Journal, problems: list[Problem], plan: CleanupPlan) -> CleanupRefused:
    error = refusal(problems)
    entry = journal.start(Step.GUARD)
    journal.finish(
        entry,
        Status.REFUSED,
        error_message=str(error),
        details={"problems": [asdict(p) for p in problems], "plan": plan.lines()},
    )
    return error


def _timed_out(settings: Settings, error: psycopg.Error) -> CleanupTimedOut:
    return CleanupTimedOut(
        f"cleanup refused, nothing dropped: statement_timeout {settings.statement_timeout} reached"
        f" ({first_line(error)})"
    )


def _fail(journal: Journal, entries: list[tuple[Entry, str]], message: str) -> None:
    for entry, _ in entries:
        journal.finish(entry, Status.ROLLED_BACK, error_message=message)


def _logged(journal: Journal, error: CleanupRefused) -> CleanupRefused:
    entry = journal.start(Step.GUARD)
    journal.finish(entry, Status.REFUSED, error_message=str(error))
    return error
