"""Printing results as tables (rich), and the one summary line every command ends with.

Names are never cut: table cells fold (wrap) and progress labels shorten the middle.
"""

import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from catalog.schemas import NEVER_DROPPED_SCHEMAS
from data_copy.api import CleanupOutcome, FollowCycle, PlanRow, ResetReport, StatusReport
from data_copy.capture import slot as capture_slot
from data_copy.retire.cleanup import PHASE
from data_copy.retire.cleanup_plan import CleanupPlan
from data_copy.retire.restore import RestoreReport
from data_copy.validation.mapping_check import MappingResult
from data_copy.validation.merge_disagreements import describe

# Not a terminal (make, CI, a pipe): rich would wrap at 80 columns.
console = Console(width=None if Console().is_terminal else 160)
err_console = Console(stderr=True)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def short(name: str, width: int) -> str:
    """`name` in at most `width` characters, shortened in the middle (both ends stay)."""
    if len(name) <= width:
        return name
    keep = width - 1
    return name[: keep - keep // 2] + "…" + name[len(name) - keep // 2 :]


def _table(title: str, columns: Sequence[str], right: Iterable[str] = ()) -> Table:
    table = Table(title=title)
    right = set(right)
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    return table


@contextmanager
def step(label: str) -> Iterator[None]:
    """A long step without a natural count: its start, then its elapsed time (stdout: stderr
    is kept for the one error line)."""
    started = time.monotonic()
    console.print(f"{label} ...", highlight=False)
    yield
    console.print(f"{label}: done in {time.monotonic() - started:.1f} s", highlight=False)


def flush() -> None:
    console.file.flush()


def error(line: str) -> None:
    """The one error line, on stderr, after whatever stdout still holds (plain print: the
    line is exactly the error's, never wrapped or styled)."""
    flush()
    print(line, file=sys.stderr)


def bug(line: str) -> None:
    """An internal error: the trace, then the one line."""
    flush()
    traceback.print_exc()
    print(line, file=sys.stderr)


def next_phase(stack: str | None, phase: int) -> None:
    """After switch / rollback with a stack: what to deploy next."""
    if stack:
        lines([f"next: `pulumi config set consolidation:phase {phase}` and `pulumi up` for stack {stack}"])


def results(rows: Iterable[MappingResult], title: str) -> None:
    numbers = ("legacy rows", "new rows", "copied", "rejected")
    table = _table(title, ("mapping", "legacy", "new", *numbers, "status"), right=numbers)
    notes = []
    for r in rows:
        style = {"passed": "green", "failed": "red"}.get(r.status, "yellow")
        table.add_row(
            r.name,
            r.source,
            r.target,
            _n(r.source_count),
            _n(r.target_count),
            _n(r.copied),
            _n(r.rejected),
            f"[{style}]{r.status}[/{style}]",
        )
        if r.message:
            notes.append(f"{r.name}: {r.message}")
        if r.conflicts:
            notes.append(
                f"{r.name}: merge conflicts per column (the primary legacy table wins): {describe(r.conflicts)}"
            )
    console.print(table)
    for note in notes:
        console.print(f"  [red]•[/red] {note}", highlight=False, soft_wrap=True)


def summary(rows: Sequence[MappingResult], verb: str, seconds: float) -> None:
    """`14/14 mappings validated, 730,633 rows, 0 rejected, 41.2 s`."""
    passed = sum(1 for r in rows if r.status == "passed")
    total_rows = sum(r.source_count for r in rows)
    rejected = sum(r.rejected for r in rows)
    copied = sum(r.copied for r in rows)
    extra = f", {copied:,} copied" if copied else ""
    console.print(
        f"{passed}/{len(rows)} mappings {verb}, {total_rows:,} rows, {rejected:,} rejected{extra}, {seconds:.1f} s",
        highlight=False,
    )


def plan(rows: Iterable[PlanRow]) -> None:
    numbers = ("legacy rows", "new rows", "to copy")
    table = _table("plan (nothing changed)", ("mapping", "legacy", "new", *numbers), right=numbers)
    for r in rows:
        table.add_row(r.name, r.source, r.target, _n(r.source_rows), _n(r.target_rows), _n(r.to_copy))
    console.print(table)


def follow_cycle(cycle: FollowCycle) -> None:
    """One line per sync of `run --follow`."""
    rows = cycle.report.results
    applied = sum(cycle.report.capture.get(r.name, {}).get("keys", 0) for r in rows)
    back = sum(r.figures.get("carried_back", 0) + r.figures.get("deleted_back", 0) for r in rows)
    failed = [r.name for r in rows if r.status != "passed"]
    lag = "" if cycle.slot_lag_bytes is None else f", slot lag {cycle.slot_lag_bytes:,} bytes"
    state = f"; did not validate: {', '.join(failed)}" if failed else ""
    console.print(
        f"sync {cycle.number}: {cycle.seconds:.1f} s, {applied:,} legacy change(s) applied,"
        f" {back:,} carried back{lag}; every change committed {cycle.seconds:.1f} s before its end is in{state}",
        highlight=False,
    )
    flush()


def lines(texts: Iterable[str]) -> None:
    for text in texts:
        console.print(text, highlight=False, markup=False, soft_wrap=True)


def carries(rows: Iterable, title: str) -> None:
    table = Table(title=title)
    for name in ("mapping", "new", "legacy", "carried back", "deleted in legacy", "left (accepted)"):
        table.add_column(name)
    for c in rows:
        table.add_row(c.mapping, c.target, c.source, _n(c.carried), _n(c.deleted), _n(c.refused))
    console.print(table)


def summary_plan(rows: Sequence[PlanRow], seconds: float) -> None:
    missing = sum(1 for r in rows if r.source_rows is None)
    legacy = sum(r.source_rows or 0 for r in rows)
    to_copy = sum(r.to_copy or 0 for r in rows)
    gone = f", {missing} with a missing legacy table" if missing else ""
    console.print(
        f"plan: {len(rows)} mappings, {legacy:,} legacy rows, {to_copy:,} to copy{gone}, nothing changed,"
        f" {seconds:.1f} s",
        highlight=False,
    )


def status(info: StatusReport, lag_warn_bytes: int = capture_slot.LAG_WARN_BYTES) -> None:
    deployed = f" (stack deployed at phase {info.deployed})" if info.deployed is not None else ""
    console.print(f"phase: {info.phase} (recorded in the database){deployed}")
    for e in info.events:
        console.print(
            f"  {e.recorded_at:%Y-%m-%d %H:%M:%S %Z}  {e.event} (run {e.run_id}, by {e.db_user}/{e.os_user})",
            highlight=False,
        )
    for command in ("run", "validate"):
        entry = info.last.get(command)
        console.print(entry.line() if entry else f"last {command}: never", highlight=False, soft_wrap=True)
    names = ("mapping", "status", "legacy rows", "new rows", "app created", "app changed", "app deleted", "conflicts")
    table = _table("latest validation per mapping", (*names, "at", "error"), right=names[2:])
    for v in info.validations:
        f = info.figures.get(v.mapping, {})
        table.add_row(
            str(v.mapping),
            str(v.status),
            _n(v.source_count),
            _n(v.target_count),
            *(_n(f.get(k)) for k in ("app_created", "app_changed", "app_deleted", "conflicts")),
            f"{v.completed_at:%Y-%m-%d %H:%M:%S}",
            str(v.error_message or ""),
        )
    console.print(table)
    if info.conflicts:
        console.print(f"{len(info.conflicts)} open conflict(s) (public.migration_conflicts):")
        for part, key, kind, policy in info.conflicts[:20]:
            console.print(f"  {part} key {key}: {kind.replace('_', ' ')} ({policy})", highlight=False)
    lines([capture_slot.lag_line(info.capture, lag_warn_bytes)])
    console.print(
        f"status: phase {info.phase}, {info.passing}/{len(info.validations)} mappings passing"
        " at their latest validation",
        highlight=False,
    )


# ------------------------------------------------------------------------ phase 3


def cleanup_plan(plan: CleanupPlan, dry_run: bool) -> None:
    """The plan, before cleanup (or its dry run) reads any legacy row."""
    console.print("[bold]phase 3 cleanup plan[/bold]" + (" (dry run, nothing changes)" if dry_run else ""))
    for line in plan.lines():
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


def cleanup(outcome: CleanupOutcome) -> None:
    if outcome.dry_run:
        if outcome.guards_passed:
            console.print("all guards pass: cleanup would back up and drop the above")
        return
    done = outcome.report
    if done is None or done.nothing_done:
        console.print("nothing to drop: the legacy objects were dropped by an earlier cleanup")
        return
    console.print(f"backup: {done.dump}", highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"dropped {len(done.dropped_tables)} tables, {len(done.dropped_views)} views, "
        f"{len(done.dropped_schemas)} schemas in {done.seconds:.1f}s (logged in migration_log as {PHASE})"
    )


def restore(done: RestoreReport) -> None:
    verb = "restored" if done.restored else "already restored; verified"
    console.print(
        f"{verb} {len(done.tables)} legacy tables from {done.dump} in {done.seconds:.1f}s: "
        "every count and checksum equals the one recorded before the drop",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    never = ", ".join(sorted(NEVER_DROPPED_SCHEMAS))
    console.print(
        f"({never} was never dropped; set the stack's phase back to 2 and `pulumi up` to point "
        "the registry where you want it)",
        highlight=False,
        markup=False,
    )


def reset(done: ResetReport, seconds: float) -> None:
    """What `reset` dropped, or (without --yes) would drop."""
    if not done.items:
        lines(["reset: nothing of data_copy's in this database: nothing to drop"])
        return
    lines([f"reset {'dropped' if done.dropped else 'would drop (nothing dropped yet)'}:"])
    lines(f"  {item}" for item in done.items)
    if done.dropped:
        lines([f"reset: {len(done.items)} object(s) dropped, legacy untouched, {seconds:.1f} s"])
