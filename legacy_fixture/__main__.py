"""python -m legacy_fixture --dsn DSN --scale small [--seed N] [--replace] [--clean]"""

from __future__ import annotations

import argparse
import sys
import time

import psycopg
from rich.console import Console
from rich.table import Table

from legacy_fixture import SCALES, LegacyFixtureError, awkward_counts, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m legacy_fixture",
        description="Create and fill the 9-schema LEGACY database (generated in PostgreSQL).",
    )
    parser.add_argument("--dsn", required=True, help="libpq connection string or URI")
    parser.add_argument("--scale", default="tiny", choices=sorted(SCALES, key=lambda s: SCALES[s].raw_splits))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--replace", action="store_true", help="drop existing legacy schemas/objects first")
    parser.add_argument(
        "--clean", action="store_true", help="no awkward cases (every game in both tables, no conflicts)"
    )
    args = parser.parse_args(argv)
    console = Console()
    err = Console(stderr=True)
    try:
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            started = time.monotonic()
            counts = build(conn, args.scale, seed=args.seed, awkward=not args.clean, replace=args.replace)
            seconds = time.monotonic() - started
            awkward = awkward_counts(conn)
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    except LegacyFixtureError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        return 2
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        err.print(f"[red]error:[/red] cannot connect to the database ({first}); check --dsn", soft_wrap=True)
        return 2
    table = Table(title=f"legacy database, scale {args.scale}, seed {args.seed}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{sum(counts.values()):,}[/bold]")
    console.print(table)
    cases = Table(title="awkward (migratable) cases")
    cases.add_column("case")
    cases.add_column("count", justify="right")
    for name, n in awkward.items():
        cases.add_row(name, f"{n:,}")
    console.print(cases)
    console.print(f"built in {seconds:.1f} s; database size {size[0] if size else '?'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
