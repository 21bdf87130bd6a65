"""The verbs of phase 3, shaped like api.py's (one function per verb: settings and the target
in, a report out; cli.py prints it through report.py):

    cleanup(dsn, settings, dry_run=False, ...) -> CleanupOutcome
    restore(dsn, settings, dump=None, ...) -> restore.RestoreReport

Each takes the one-command-per-database lock. A long step is announced through `step`
(report.step when the CLI runs it), and cleanup shows its plan through `on_plan` before it
reads any legacy row, so that a refusal that follows still comes after the plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from data_copy import disposable, guards, phase_state, quiet, run_lock
from data_copy import journal as journal_mod
from data_copy.cleanup import PHASE, CleanupReport
from data_copy.cleanup import cleanup as clean_up
from data_copy.cleanup_plan import CleanupPlan, plan_cleanup
from data_copy.journal import Journal
from data_copy.problems import refuse
from data_copy.restore import RestoreReport
from data_copy.restore import restore as restore_dump
from data_copy.settings import Settings

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
                quiet.ensure(conn)
                run_id = Journal(conn, PHASE).run_id
                quiet.snapshot(conn, run_id, "cleanup", "start")  # before the guards read legacy
                try:
                    with step("checking every guard (reads every legacy table)"):
                        problems = guards.check(conn, settings, plan)
                finally:
                    quiet.snapshot(conn, run_id, "cleanup", "end")
                refuse(problems)
            return CleanupOutcome(plan, dry_run=True)
        journal_mod.ensure(conn)
        with step("cleanup: guards, backup (pg_dump), drops"):
            report = clean_up(conn, settings, Journal(conn, PHASE), dsn)
    return CleanupOutcome(report.plan, dry_run=False, report=report)


def restore(dsn: str, settings: Settings, dump: str | None = None, *, step: Announce = _quietly) -> RestoreReport:
    """`python -m data_copy restore`: restore and verify; phase 2 recorded again when the
    legacy objects came back."""
    with run_lock.locked(dsn, settings, "restore") as conn:
        journal_mod.ensure(conn)
        with step("restore: pg_restore, then every table's count and checksum"):
            report = restore_dump(conn, settings, Journal(conn, PHASE), dsn, Path(dump) if dump else None)
        if report.restored:  # legacy is back as it was at the drop: phase 2 again
            phase_state.record(conn, 2, phase_state.RESTORED, uuid.uuid4(), settings.stack)
    return report
