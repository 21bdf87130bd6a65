"""`python -m data_copy COMMAND (--stack NAME | --dsn DSN)`: the post-deploy step.

Exit codes are errors.EXIT_CODES (README, "Exit codes"); every failure a user or the
environment causes ends in one line `error: what (how to fix)`.
"""

import os
import signal
import time
from dataclasses import replace
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from catalog.mappings import MAPPED_SOURCES, MAPPINGS
from data_copy import api, report
from data_copy.capture import slot as capture_slot
from data_copy.core import error_translation, pacing
from data_copy.core.stack_source import from_stack
from data_copy.errors import (
    BUG,
    INTERRUPTED,
    USAGE,
    BadArguments,
    CleanupRefused,
    DataCopyError,
    Interrupted,
    ResetNeedsYes,
    UsageError,
    ValidationFailed,
)
from data_copy.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)

# typer vendors click (typer 0.29 does not install the `click` package): its exception
# base is reached through a public class rather than a private module.
CLICK_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

StackOpt = Annotated[
    str | None, typer.Option("--stack", metavar="NAME", help="Pulumi stack to read the connection from")
]
DsnOpt = Annotated[
    str | None, typer.Option("--dsn", metavar="DSN", help="libpq connection string (PG* variables also work)")
]
WaitOpt = Annotated[
    bool, typer.Option("--wait", metavar="", help="wait for another data_copy command on this database to finish")
]
CountOnlyOpt = Annotated[bool, typer.Option("--count-only", metavar="", help="validate counts only (no checksums)")]
IncrementalOpt = Annotated[
    bool,
    typer.Option(
        "--incremental",
        metavar="",
        help="re-hash only the keys recorded as changed since the last full validation (cleanup wants a full one)",
    ),
]


_TABLES = "SCHEMA.TABLE"
_LOSS = "a new table whose rows cannot go back into legacy exactly: go ahead, saving them (repeatable)"
_DISPOSABLE = "an unmapped legacy table that may be dropped with its rows (repeatable)"
AcceptLossOpt = Annotated[list[str] | None, typer.Option("--accept-loss", metavar=_TABLES, help=_LOSS)]
DisposableOpt = Annotated[list[str] | None, typer.Option("--disposable", metavar=_TABLES, help=_DISPOSABLE)]
_IDENTITY = "a mapped legacy table whose deletes carry their old row: REPLICA IDENTITY FULL (repeatable)"
IdentityOpt = Annotated[list[str] | None, typer.Option("--replica-identity-full", metavar=_TABLES, help=_IDENTITY)]


_BACK = "phase 2 both ways: a mapping whose new table's writes go back into legacy, or all (repeatable)"
CarryBackOpt = Annotated[list[str] | None, typer.Option("--carry-back", metavar="MAPPING", help=_BACK)]


def _with_carry_back(settings: Settings, names: list[str] | None) -> Settings:
    """--carry-back (else consolidation:carryBack): mappings that invert exactly, or all."""
    if names is None:
        return settings
    by_name = {m.name: m for m in MAPPINGS}
    if names == ["all"]:
        return replace(settings, carry_back=tuple(m.name for m in MAPPINGS if m.invertible))
    for name in names:
        if name not in by_name:
            raise BadArguments(f"--carry-back {name}: not a mapping", fix=f"name one of: {', '.join(by_name)}, or all")
        if not by_name[name].invertible:
            raise BadArguments(
                f"--carry-back {name}: it cannot go back into legacy ({by_name[name].inversion})",
                fix="leave it out: its legacy tables are synced one way only",
            )
    return replace(settings, carry_back=tuple(dict.fromkeys(names)))


def _with_identities(settings: Settings, tables: list[str] | None) -> Settings:
    """--replica-identity-full (else consolidation:replicaIdentityFull): mapped legacy tables only."""
    if tables is None:
        return settings
    unmapped = [t for t in tables if t not in MAPPED_SOURCES]
    if unmapped:
        raise BadArguments(
            f"--replica-identity-full {', '.join(unmapped)}: not a mapped legacy table",
            fix=f"name one of: {', '.join(sorted(MAPPED_SOURCES))}",
        )
    return replace(settings, replica_identity_full=tuple(dict.fromkeys(tables)))


def _target(stack: str | None, dsn: str | None, wait: bool = False) -> tuple[str, Settings]:
    if stack and dsn:
        raise BadArguments("--stack and --dsn are exclusive")
    if stack:
        target, settings = from_stack(stack)
    elif dsn is not None:
        target, settings = dsn, Settings()
    elif any(k in os.environ for k in ("PGHOST", "PGDATABASE", "PGSERVICE")):
        target, settings = "", Settings()
    else:
        raise BadArguments("no database given")
    return target, replace(settings, wait_for_lock=wait) if wait else settings


def _progress() -> tuple[Progress, api.Progress]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=report.err_console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def on_progress(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(report.short(name, 48), total=total)
        bar.update(tasks[name], completed=done, total=total)

    return bar, on_progress


@app.command()
def plan(
    stack: StackOpt = None, dsn: DsnOpt = None, identities: IdentityOpt = None, carry_back: CarryBackOpt = None
) -> None:
    """Per mapping: legacy rows, new rows, rows still to copy. Changes nothing."""
    started = time.monotonic()
    target, settings = _target(stack, dsn)
    settings = _with_carry_back(_with_identities(settings, identities), carry_back)
    rows = api.plan(target, settings)
    report.plan(rows)
    report.lines(api.phase_plan(target, settings))
    report.summary_plan(rows, time.monotonic() - started)


@app.command()
def run(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    count_only: CountOnlyOpt = False,
    incremental: IncrementalOpt = False,
    pace: Annotated[
        str | None,
        typer.Option(
            "--pace",
            metavar="DURATION",
            help="keep the application fast: copy chunks of about DURATION (e.g. 250ms), pause under strain;"
            " off = full speed (default, or consolidation:pace)",
        ),
    ] = None,
    identities: IdentityOpt = None,
    carry_back: CarryBackOpt = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            metavar="",
            help="sync again every --interval until Ctrl-C or SIGTERM (which end it cleanly after the sync in flight)",
        ),
    ] = False,
    interval: Annotated[
        str, typer.Option("--interval", metavar="DURATION", help="with --follow: time between syncs (default 2s)")
    ] = "2s",
    wait: WaitOpt = False,
) -> None:
    """Create missing tables, copy / re-sync every mapping, validate. Exit 0 only if all pass."""
    started = time.monotonic()
    target, settings = _target(stack, dsn, wait)
    settings = _with_carry_back(_with_identities(settings, identities), carry_back)
    if follow:
        seconds = pacing.duration_s(interval)
        if seconds is None:
            raise BadArguments(f"--interval {interval!r} is not a duration", fix="e.g. --interval 2s or 500ms")
        _follow(target, settings, seconds, not count_only)
        return
    if pace is not None:
        pacing.parse_pace(pace)  # a bad duration is one line before anything connects
        settings = replace(settings, pace=pace)
    bar, on_progress = _progress()
    with bar:
        result = api.run(target, settings, checksums=not count_only, progress=on_progress, incremental=incremental)
    report.results(result.results, f"run {result.run_id}")
    report.lines(result.notes)
    report.summary(result.results, "validated", time.monotonic() - started)
    if not result.ok:
        failed = [r.name for r in result.results if r.status != "passed"]
        raise ValidationFailed(f"{len(failed)} mapping(s) did not validate: {', '.join(failed)}")


@app.command()
def validate(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    count_only: CountOnlyOpt = False,
    incremental: IncrementalOpt = False,
    wait: WaitOpt = False,
) -> None:
    """Counts, checksums and the tables' keys, indexes and FKs; exit non-zero on any mismatch."""
    started = time.monotonic()
    target, settings = _target(stack, dsn, wait)
    bar, on_progress = _progress()
    said: list[str] = []
    with bar:
        results = api.validate(
            target, settings, checksums=not count_only, progress=on_progress, incremental=incremental, note=said.append
        )
    report.results(results, "validation")
    report.lines(said)
    report.summary(results, "validated", time.monotonic() - started)
    failed = [r.name for r in results if r.status != "passed"]
    if failed:
        raise ValidationFailed(f"{len(failed)} mapping(s) do not validate: {', '.join(failed)}")


@app.command()
def status(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    lag_warn: Annotated[
        int, typer.Option("--lag-warn-bytes", metavar="BYTES", help="warn when the capture slot lags more")
    ] = capture_slot.LAG_WARN_BYTES,
) -> None:
    """Phase (as recorded in the database) and its history, the last run, the last validate
    and the latest validation per mapping (with the application's rows and conflicts), and
    the change capture slot's lag."""
    target, settings = _target(stack, dsn)
    info = api.status(target, settings, lag_warn)
    report.status(info, lag_warn)


@app.command("capture-drop")
def capture_drop(stack: StackOpt = None, dsn: DsnOpt = None, wait: WaitOpt = False) -> None:
    """Drop the change capture slot (it keeps WAL while it exists); the next run scans once."""
    target, settings = _target(stack, dsn, wait)
    dropped = api.capture_drop(target, settings)
    report.lines([f"dropped {', '.join(dropped)}" if dropped else "no change capture slot: nothing dropped"])


@app.command()
def reset(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    yes: Annotated[bool, typer.Option("--yes", metavar="", help="drop what it lists (without: list only)")] = False,
    wait: WaitOpt = False,
) -> None:
    """Phase 1 only: start over. Drops the new tables, data_copy's tables, slot and origins; legacy untouched."""
    started = time.monotonic()
    target, settings = _target(stack, dsn, wait)
    done = api.reset(target, settings, yes)
    report.reset(done, time.monotonic() - started)
    if done.items and not done.dropped:
        raise ResetNeedsYes(f"reset dropped nothing: it drops the {len(done.items)} object(s) above only with --yes")


@app.command()
def switch(stack: StackOpt = None, dsn: DsnOpt = None, wait: WaitOpt = False) -> None:
    """Phase 1 -> 2, before the registry flips: one id space per table pair, phase 2 recorded."""
    target, settings = _target(stack, dsn, wait)
    done = api.switch(target, settings)
    report.lines(["switched to phase 2 (run " + done.run_id + "); changed in legacy:", *done.lines, *done.notes])
    report.next_phase(stack, 2)


@app.command()
def rollback(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    accept_loss: AcceptLossOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Phase 2 -> 1: carry the application's rows back into legacy, undo the switch."""
    target, settings = _target(stack, dsn, wait)
    done = api.rollback(target, settings, tuple(accept_loss or ()))
    report.carries(done.carries, f"rollback {done.run_id}: back in phase 1")
    report.lines(done.lines)
    report.next_phase(stack, 1)


@app.command()
def cleanup(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", metavar="", help="show what would be dropped")] = False,
    disposable: DisposableOpt = None,
    backup_dir: Annotated[
        str | None, typer.Option("--backup-dir", metavar="DIR", help="where the pg_dump goes")
    ] = None,
    accept_legacy_reads: Annotated[
        bool,
        typer.Option("--accept-legacy-reads", metavar="", help="drop although others read legacy tables in phase 2"),
    ] = False,
    wait: WaitOpt = False,
) -> None:
    """Phase 3: back up, then drop the migrated legacy tables and the emptied legacy schemas."""
    target, settings = _target(stack, dsn, wait)
    settings = replace(
        settings,
        disposable_tables=(*settings.disposable_tables, *(disposable or [])),
        backup_dir=backup_dir or settings.backup_dir,
        accept_legacy_reads=accept_legacy_reads,
    )
    if stack and settings.phase != 3 and not dry_run:
        raise CleanupRefused(
            f"stack {stack!r} is deployed at phase {settings.phase}, not 3",
            fix="`pulumi config set consolidation:phase 3` and `pulumi up` first (its preview lists the drops)",
        )
    report.cleanup(api.cleanup(target, settings, dry_run, on_plan=report.cleanup_plan, step=report.step))


@app.command()
def restore(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    dump: Annotated[str | None, typer.Option("--dump", metavar="FILE", help="dump file (default: newest)")] = None,
    backup_dir: Annotated[
        str | None, typer.Option("--backup-dir", metavar="DIR", help="where cleanup put its pg_dump")
    ] = None,
    wait: WaitOpt = False,
) -> None:
    """Restore the legacy objects dropped by cleanup and check their counts and checksums."""
    target, settings = _target(stack, dsn, wait)
    settings = replace(settings, backup_dir=backup_dir or settings.backup_dir)
    report.restore(api.restore(target, settings, dump, step=report.step))


@app.command()
def refs(
    paths: Annotated[
        list[str] | None, typer.Argument(metavar="PATH", help="application files or directories (Python, SQL)")
    ] = None,
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    search_path: Annotated[
        str | None,
        typer.Option(
            "--search-path", metavar="SCHEMA[,SCHEMA]", help="schemas for unqualified names (default: public)"
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="text|json", help="text or json")] = "text",
    strict: Annotated[
        bool, typer.Option("--strict", metavar="", help="dynamic or unparsed SQL fails the run too")
    ] = False,
    kinds: Annotated[
        str | None, typer.Option("--kinds", metavar="KIND[,KIND]", help="only these: sql,name,dynamic,unparsed")
    ] = None,
    database_name: Annotated[
        str | None,
        typer.Option(
            "--database", metavar="NAME", help="the database db.schema.table names must name (default: --dsn's)"
        ),
    ] = None,
) -> None:
    """Phase 2: every reference to a legacy table, in the application's files and in the database."""
    database = _target(stack, dsn) if stack or dsn is not None else None
    from data_copy.refs import command as refs_command  # sqlglot: 0.1 s of start-up, for this verb only

    refs_command.run(paths or [], database, search_path, fmt, strict, kinds, database_name)


def _follow(target: str, settings: Settings, interval_s: float, checksums: bool) -> None:
    """`run --follow`: one line per sync; the first Ctrl-C or SIGTERM lets the sync in
    flight finish and ends with exit 0, a second one interrupts it (exit 130, as a run)."""
    stop = {"asked": False}

    def ask_to_stop(signum: int, frame: object) -> None:
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        report.lines(["stopping after the sync in flight (again to interrupt it)"])

    signal.signal(signal.SIGINT, ask_to_stop)
    signal.signal(signal.SIGTERM, ask_to_stop)
    cycles = api.follow(target, settings, interval_s, lambda: stop["asked"], report.follow_cycle, checksums)
    report.lines([f"followed: {cycles} sync(s), stopped on request"])


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends like Ctrl-C: marked, one line, exit 130


def _usage_line(error: Exception) -> str:
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    ctx = getattr(error, "ctx", None)
    where = f"`{ctx.command_path} --help`" if ctx is not None else "`python -m data_copy --help`"
    return UsageError(message, fix=f"see {where}").line()


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(args=argv, standalone_mode=False, prog_name="python -m data_copy")
    except DataCopyError as error:
        report.error(error.line())
        raise SystemExit(error.exit_code) from None
    except CLICK_ERROR as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # no command: the help, as a usage error
            report.error(error.format_message())  # type: ignore[attr-defined]
            raise SystemExit(USAGE) from None
        report.error(_usage_line(error))
        raise SystemExit(USAGE) from None
    except (typer.Exit, typer.Abort) as stop:
        raise SystemExit(getattr(stop, "exit_code", 1)) from None
    except KeyboardInterrupt:
        report.error(Interrupted("stopped by Ctrl-C before it changed anything").line())
        raise SystemExit(INTERRUPTED) from None
    except Exception as error:
        known = error_translation.translate(error)
        if known is not None:
            report.error(known.line())
            raise SystemExit(known.exit_code) from None
        report.bug(error_translation.bug_line(error))
        raise SystemExit(BUG) from None
    if code == INTERRUPTED:  # typer turns a Ctrl-C outside a locked command into 130
        report.error(Interrupted("stopped by Ctrl-C before it changed anything").line())
    raise SystemExit(code if isinstance(code, int) else 0)
