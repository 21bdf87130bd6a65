"""`python -m data_copy COMMAND (--stack NAME | --dsn DSN)`: the post-deploy step."""

import os
import sys
from dataclasses import replace
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from data_copy import api, report
from data_copy.errors import BadArguments, CleanupRefused, DataCopyError, ValidationFailed
from data_copy.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

StackOpt = Annotated[str | None, typer.Option("--stack", help="Pulumi stack to read the connection from")]
DsnOpt = Annotated[str | None, typer.Option("--dsn", help="libpq connection string (PG* variables also work)")]


def _target(stack: str | None, dsn: str | None) -> tuple[str, Settings]:
    if stack and dsn:
        raise BadArguments("--stack and --dsn are exclusive")
    if stack:
        from data_copy.stack import from_stack

        return from_stack(stack)
    if dsn is not None:
        return dsn, Settings()
    if any(k in os.environ for k in ("PGHOST", "PGDATABASE", "PGSERVICE")):
        return "", Settings()
    raise BadArguments("no database given")


def _progress() -> tuple[Progress, api.Progress]:
    bar = Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=report.err_console,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def on_progress(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done, total=total)

    return bar, on_progress


@app.command()
def plan(stack: StackOpt = None, dsn: DsnOpt = None) -> None:
    """Per mapping: legacy rows, new rows, rows still to copy. Changes nothing."""
    from data_copy import transitions

    target, settings = _target(stack, dsn)
    report.plan(api.plan(target, settings))
    report.lines(transitions.phase_plan(target, settings))


@app.command()
def run(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    count_only: Annotated[bool, typer.Option("--count-only", help="validate counts only")] = False,
) -> None:
    """Create missing tables, copy / re-sync every mapping, validate. Exit 0 only if all pass."""
    target, settings = _target(stack, dsn)
    bar, on_progress = _progress()
    with bar:
        result = api.run(target, settings, checksums=not count_only, progress=on_progress)
    report.results(result.results, f"run {result.run_id}")
    if not result.ok:
        failed = [r.name for r in result.results if r.status != "passed"]
        raise ValidationFailed(f"{len(failed)} mapping(s) did not validate: {', '.join(failed)}")


@app.command()
def validate(
    stack: StackOpt = None, dsn: DsnOpt = None, count_only: Annotated[bool, typer.Option("--count-only")] = False
) -> None:
    """Counts and checksums only; exit non-zero on any mismatch."""
    target, settings = _target(stack, dsn)
    results = api.validate(target, settings, checksums=not count_only)
    report.results(results, "validation")
    failed = [r.name for r in results if r.status != "passed"]
    if failed:
        raise ValidationFailed(f"{len(failed)} mapping(s) do not validate: {', '.join(failed)}")


@app.command()
def status(stack: StackOpt = None, dsn: DsnOpt = None) -> None:
    """Phase (as recorded in the database), its history, last run, latest validation per mapping."""
    target, settings = _target(stack, dsn)
    report.status(api.status(target, settings))


@app.command()
def switch(stack: StackOpt = None, dsn: DsnOpt = None) -> None:
    """Phase 1 -> 2, before the registry flips: one id space per table pair, phase 2 recorded."""
    from data_copy import transitions

    target, settings = _target(stack, dsn)
    done = transitions.switch(target, settings)
    report.lines(["switched to phase 2 (run " + done.run_id + "); changed in legacy:", *done.lines])
    if stack:
        report.lines([f"next: `pulumi config set consolidation:phase 2` and `pulumi up` for stack {stack}"])


@app.command()
def rollback(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    accept_loss: Annotated[
        list[str] | None,
        typer.Option("--accept-loss", help="schema.table: a new table whose un-invertible rows may stay behind"),
    ] = None,
) -> None:
    """Phase 2 -> 1: carry the application's rows back into legacy, undo the switch."""
    from data_copy import transitions

    target, settings = _target(stack, dsn)
    done = transitions.rollback_to_phase1(target, settings, tuple(accept_loss or ()))
    report.carries(done.carries, f"rollback {done.run_id}: back in phase 1")
    report.lines(done.lines)
    if stack:
        report.lines([f"next: `pulumi config set consolidation:phase 1` and `pulumi up` for stack {stack}"])


@app.command()
def cleanup(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be dropped")] = False,
    disposable: Annotated[
        list[str] | None,
        typer.Option("--disposable", help="schema.table: an unmapped legacy table that may be dropped (repeatable)"),
    ] = None,
    backup_dir: Annotated[str | None, typer.Option("--backup-dir", help="where the pg_dump goes")] = None,
    accept_legacy_reads: Annotated[
        bool, typer.Option("--accept-legacy-reads", help="drop although others read legacy tables in phase 2")
    ] = False,
) -> None:
    """Phase 3: back up, then drop the migrated legacy tables and the emptied legacy schemas."""
    from data_copy import cleanup as cleanup_module

    target, settings = _target(stack, dsn)
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
    cleanup_module.main(target, settings, dry_run=dry_run)


@app.command()
def restore(
    stack: StackOpt = None,
    dsn: DsnOpt = None,
    dump: Annotated[str | None, typer.Option("--dump", help="dump file (default: newest)")] = None,
    backup_dir: Annotated[str | None, typer.Option("--backup-dir", help="where cleanup put its pg_dump")] = None,
) -> None:
    """Restore the legacy objects dropped by cleanup and check their counts and checksums."""
    from data_copy import restore as restore_module

    target, settings = _target(stack, dsn)
    settings = replace(settings, backup_dir=backup_dir or settings.backup_dir)
    restore_module.main(target, settings, dump=dump)


def main() -> None:
    try:
        app(standalone_mode=False)
    except DataCopyError as error:
        print(error.line(), file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    except (typer.Exit, typer.Abort) as stop:
        raise SystemExit(getattr(stop, "exit_code", 1)) from None
    except Exception as error:  # click usage errors
        import click

        if isinstance(error, click.ClickException):
            error.show()
            raise SystemExit(error.exit_code) from None
        raise
