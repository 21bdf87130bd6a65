"""Printing results as tables (rich)."""

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from data_copy.api import MappingResult, PlanRow

# Not a terminal (make, CI, a pipe): rich would wrap at 80 columns and cut table names.
console = Console(width=None if Console().is_terminal else 160)
err_console = Console(stderr=True)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def results(rows: Iterable[MappingResult], title: str) -> None:
    table = Table(title=title)
    for name in ("mapping", "legacy", "new", "legacy rows", "new rows", "copied", "rejected", "status"):
        table.add_column(name, justify="right" if "rows" in name or name in ("copied", "rejected") else "left")
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
    console.print(table)
    for note in notes:
        console.print(f"  [red]•[/red] {note}", highlight=False)


def plan(rows: Iterable[PlanRow]) -> None:
    table = Table(title="plan (nothing changed)")
    for name in ("mapping", "legacy", "new", "legacy rows", "new rows", "to copy"):
        table.add_column(name)
    for r in rows:
        table.add_row(r.name, r.source, r.target, _n(r.source_rows), _n(r.target_rows), _n(r.to_copy))
    console.print(table)


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


def status(info: dict) -> None:
    deployed = f" (stack deployed at phase {info['deployed']})" if info["deployed"] is not None else ""
    console.print(f"phase: {info['phase']} (recorded in the database){deployed}")
    for e in info["events"]:
        console.print(
            f"  {e.recorded_at:%Y-%m-%d %H:%M:%S %Z}  {e.event} (run {e.run_id}, by {e.db_user}/{e.os_user})",
            highlight=False,
        )
    last = info["last_run"]
    console.print(f"last run: {f'{last[0]} ({last[1]}), finished {last[2]:%Y-%m-%d %H:%M:%S %Z}' if last else 'never'}")
    table = Table(title="latest validation per mapping")
    names = ("mapping", "status", "legacy rows", "new rows", "app created", "app changed", "app deleted")
    for name in (*names, "conflicts", "at", "error"):
        table.add_column(name)
    for row in info["validations"]:
        f = info["figures"].get(row[0], {})
        table.add_row(
            str(row[0]),
            str(row[1]),
            f"{row[2]:,}",
            f"{row[3]:,}",
            *(_n(f.get(k)) for k in ("app_created", "app_changed", "app_deleted", "conflicts")),
            f"{row[6]:%Y-%m-%d %H:%M:%S}",
            str(row[7] or ""),
        )
    console.print(table)
    if info["conflicts"]:
        console.print(f"{len(info['conflicts'])} open conflict(s) (public.migration_conflicts):")
        for part, key, kind, policy in info["conflicts"][:20]:
            console.print(f"  {part} key {key}: {kind.replace('_', ' ')} ({policy})", highlight=False)
