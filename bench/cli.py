"""``python -m bench --scale small|medium|large|all``: measure, print one table, write results.

Without ``--dsn`` each scale gets a fresh database on a throwaway cluster (pgcluster, in a
temporary directory, removed at the end). With ``--dsn`` the one scale runs on that
database, which must be empty (the smoke test uses this with its own cluster).
Exit status: 0 when every measurement ran (targets missed or not: the table says), 1 when
a step failed (data_copy exited non-zero, validation failed, the writer could not write).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg
from rich.console import Console

from bench import baseline, cluster, report, scenario
from data_copy.settings import Settings
from pgcluster import Cluster

SCALES = ("tiny", "small", "demo", "medium", "large")
AUTO_REPEAT = {"tiny": 3, "small": 3, "demo": 3, "medium": 2, "large": 2}
ALL = ("small", "large")  # medium: --scale medium (about a fifth of large)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale",
        default="all",
        choices=(*SCALES, "all"),
        help=f"fixture scale; all = {' + '.join(ALL)} (default: all)",
    )
    parser.add_argument("--dsn", help="run on this existing, empty database (one scale only)")
    parser.add_argument("--json", type=Path, default=report.RESULTS_JSON, help="results file (merged per scale)")
    parser.add_argument("--markdown", type=Path, default=report.RESULTS_MD, help="results page")
    parser.add_argument("--no-markdown", action="store_true", help="do not write the page")
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="throwaway cluster with fsync off (faster, less like production)",
    )
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="writer on the idle database (seconds)")
    parser.add_argument("--writer-interval", type=float, default=0.01, help="seconds between writer inserts")
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="run the baseline and both full copies this many times, alternating; the fastest"
        " counts (default: 3 up to demo, where noise weighs most, 2 for medium and large)",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="with --dsn: build the legacy data and the empty new tables, then stop"
        " (for an independent run of --print-baseline-sql)",
    )
    parser.add_argument(
        "--print-baseline-sql",
        action="store_true",
        help="print the baseline script (for psql -f) and exit",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    if args.print_baseline_sql:
        sys.stdout.write(baseline.script(settings.legacy_timezone))
        return 0
    scales = ALL if args.scale == "all" else (args.scale,)
    if args.dsn and len(scales) > 1:
        print("error: --dsn runs one scale; pass --scale too", file=sys.stderr)
        return 2
    if args.prepare_only:
        if not args.dsn:
            print("error: --prepare-only needs --dsn", file=sys.stderr)
            return 2
        scenario.prepare_only(args.dsn, scales[0], settings, print)
        print("ready: python -m bench --print-baseline-sql | psql -v ON_ERROR_STOP=1 DSN")
        return 0
    console = Console()
    if not console.is_terminal:  # a pipe or a CI log: do not squeeze the table into 80 columns
        console = Console(width=200)
    err = Console(stderr=True)
    if not err.is_terminal:
        err = Console(stderr=True, width=200)
    started = time.perf_counter()

    def log(message: str) -> None:
        err.print(f"[dim]{time.perf_counter() - started:7.1f}s[/dim] {message}", highlight=False)

    def options(scale: str) -> scenario.Options:
        repeat = args.repeat if args.repeat is not None else AUTO_REPEAT.get(scale, 1)
        return scenario.Options(
            idle_seconds=args.idle_seconds, writer_interval=args.writer_interval, repeat=max(repeat, 1)
        )

    commit = scenario.git_commit()
    entries: dict[str, dict] = {}
    if args.dsn:
        machine = cluster.machine(args.dsn)
        result = scenario.run_scale(args.dsn, scales[0], settings, options(scales[0]), log)
        entries[scales[0]] = report.scale_entry(result, commit)
    else:
        with cluster.throwaway(fsync=not args.no_fsync) as pg:
            log(f"throwaway cluster on port {pg.port} ({pg.datadir})")
            machine = cluster.machine(pg.dsn())
            for scale in scales:
                name = f"bench_{scale}"
                dsn = pg.create_database(name)
                try:
                    result = scenario.run_scale(dsn, scale, settings, options(scale), log)
                finally:
                    _drop(pg, name)
                entries[scale] = report.scale_entry(result, commit)
                # written after every scale, so a long `all` run keeps what it measured
                data = report.merge(args.json, machine, entries)
                report.write(data, args.json, None if args.no_markdown else args.markdown)
    data = report.merge(args.json, machine, entries)
    report.write(data, args.json, None if args.no_markdown else args.markdown)
    report.print_summary(data, console)
    console.print(f"results: {args.json}" + ("" if args.no_markdown else f", {args.markdown}"))
    failed = any(entry["errors"] for entry in entries.values())
    return 1 if failed else 0


def _drop(pg: Cluster, name: str) -> None:
    try:
        pg.drop_database(name)
    except psycopg.Error as error:
        print(f"warning: could not drop {name}: {error}", file=sys.stderr)
