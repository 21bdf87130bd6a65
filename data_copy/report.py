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
