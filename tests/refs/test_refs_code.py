"""`refs PATH...` on a sample application with every awkward case planted (tests/refs/sample_app).

The expected findings are the markers planted in the sample files (`REF schema.table` and
`DYN` on the line concerned), read independently of the scanner, and their exact counts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from catalog.registry import REGISTRY
from data_copy.refs import code, sqlscan

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).resolve().parent / "sample_app"
MARKER = re.compile(r"REF ([a-z_]+\.[a-z_]+)")


def planted() -> tuple[Counter[tuple[str, int, str]], Counter[tuple[str, int]]]:
    refs: Counter[tuple[str, int, str]] = Counter()
    dyn: Counter[tuple[str, int]] = Counter()
    for path in sorted(SAMPLE.rglob("*")):
        if path.suffix not in (".py", ".sql"):
            continue
        rel = str(path.relative_to(SAMPLE))
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for table in MARKER.findall(line):
                refs[(rel, number, table)] += 1
            if "DYN" in line:
                dyn[(rel, number)] += 1
    return refs, dyn


def found(report: code.CodeReport) -> tuple[Counter[tuple[str, int, str]], Counter[tuple[str, int]]]:
    refs = Counter(
        (str(Path(f.file).relative_to(SAMPLE)), f.line, str(f.legacy_table))
        for f in report.findings
        if f.kind in ("sql", "name")
    )
    dyn = Counter((str(Path(n.file).relative_to(SAMPLE)), n.line) for n in report.of("dynamic"))
    return refs, dyn


def refs_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "data_copy", "refs", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_the_sample_application_gives_exactly_the_planted_findings() -> None:
    report = code.scan_paths([str(SAMPLE)])
    expected_refs, expected_dyn = planted()
    got_refs, got_dyn = found(report)
    assert got_refs == expected_refs
    assert got_dyn == expected_dyn
    # the exact numbers, so that a marker lost from the sample cannot go unnoticed
    counts = report.counts()
    assert sum(expected_refs.values()) == counts["sql"] + counts["name"] == 27
    assert counts["dynamic"] == 6
    assert [(Path(n.file).name, n.line, n.legacy_table) for n in report.of("unparsed")] == [("broken.py", 1, None)]
    assert report.files == 8


def test_files_without_legacy_references_give_nothing() -> None:
    """Prose, comments, docstrings, the registry's new way, the new schemas, CTE names,
    aliases and column names that look like legacy tables: no finding, nothing dynamic."""
    clean = [SAMPLE / "app" / "prose.py", SAMPLE / "app" / "new_way.py", SAMPLE / "sql" / "new_schema.sql"]
    report = code.scan_paths([str(p) for p in clean])
    assert report.findings == []


def test_cli_text_lists_each_finding_with_its_replacement_and_exits_non_zero() -> None:
    proc = refs_cli("app", "sql", cwd=SAMPLE)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert (
        "app/queries.py:10: sql: splits.games (splits.games): use get_table_registry().get_table('games')"
        " -> core_betting.games" in lines
    )
    assert (
        'app/queries.py:30: sql: mlb_betting.spreads ("mlb_betting"."spreads"): use'
        " get_table_registry().get_table('spreads') -> core_betting.betting_lines_spreads" in lines
    )
    assert "app/dynamic.py:5: dynamic: built at run time: {schema} as a table name" in lines
    assert sum(": dynamic: " in line for line in lines) == 6
    assert proc.stderr.splitlines()[:5] == [
        "refs: sql: 23 reference(s) in SQL text",
        "refs: name: 4 table name(s) in strings, outside SQL",
        "refs: dynamic: 6 statement(s) built at run time (check by hand)",
        "refs: unparsed: 1 statement(s) PostgreSQL cannot read as written (check by hand)",
        "refs: 8 file(s) read",
    ]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: references to legacy tables remain: 27 in the files (replace each one listed above with its"
        " registry call (get_table_registry().get_table(...)))"
    )


def test_cli_json_is_a_list_of_findings_derived_from_the_catalog() -> None:
    proc = refs_cli(str(SAMPLE), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    items = json.loads(proc.stdout)
    assert Counter(i["kind"] for i in items) == {"sql": 23, "name": 4, "dynamic": 6, "unparsed": 1}
    by_legacy = {source: entry for entry in REGISTRY for source in entry.legacy}
    for item in items:
        assert {"file", "line", "kind", "legacy_table", "new_table", "registry_call", "detail"} <= set(item)
        if item["kind"] in ("dynamic", "unparsed"):
            assert item["legacy_table"] is None and item["detail"]
            continue
        entry = by_legacy[item["legacy_table"]]
        assert item["new_table"] == entry.table
        assert item["registry_call"] == f"get_table_registry().get_table('{entry.logical}')"


def test_cli_exits_zero_when_nothing_remains_and_strict_fails_on_dynamic(tmp_path: Path) -> None:
    clean = tmp_path / "ok.py"
    clean.write_text('Q = "SELECT * FROM core_betting.games"\n')
    proc = refs_cli(str(clean), "--format", "json")
    assert (proc.returncode, json.loads(proc.stdout)) == (0, [])
    dynamic = tmp_path / "dyn.py"
    dynamic.write_text('def q(t):\n    return f"SELECT * FROM {t}"\n')
    assert refs_cli(str(dynamic)).returncode == 0
    strict = refs_cli(str(dynamic), "--strict")
    assert strict.returncode == 1
    assert f"{dynamic}:2: dynamic: built at run time: {{t}} as a table name" in strict.stdout


def test_unqualified_names_resolve_through_the_search_path(tmp_path: Path) -> None:
    sample = tmp_path / "q.sql"
    sample.write_text("SELECT * FROM moneyline;\nSELECT * FROM games;\n")
    default = code.scan_paths([str(sample)])
    assert [(f.line, f.legacy_table) for f in default.findings] == [(2, "public.games")]
    custom = code.scan_paths([str(sample)], ["mlb_betting", "splits", "public"])
    assert [(f.line, f.legacy_table) for f in custom.findings] == [(1, "mlb_betting.moneyline"), (2, "splits.games")]
    new_first = code.scan_paths([str(sample)], ["core_betting", "public"])
    assert new_first.findings == []  # core_betting.games is the new table
    proc = refs_cli(str(sample), "--search-path", "mlb_betting, public", "--format", "json")
    assert [i["legacy_table"] for i in json.loads(proc.stdout)] == ["mlb_betting.moneyline", "public.games"]


def test_a_missing_path_is_one_error_line() -> None:
    proc = refs_cli("no/such/dir")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: no/such/dir does not exist (pass files or directories of the application (Python or SQL))"
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a plain WITH: the CTE's own body reads the table; RECURSIVE: the CTE itself
        ("WITH games AS (SELECT * FROM games) SELECT * FROM games", ["public.games"]),
        ("WITH RECURSIVE games AS (SELECT * FROM games) SELECT * FROM games", []),
        ("WITH a AS (SELECT 1), games AS (SELECT * FROM a) SELECT * FROM games", []),
        # the target of INSERT / UPDATE / DELETE is a table even when a CTE has its name
        ("WITH games AS (SELECT 1 AS id) INSERT INTO games (id) SELECT id FROM games", ["public.games"]),
        # quoted identifiers keep their case; unquoted ones fold
        ('SELECT * FROM "Splits"."Games", SPLITS.GAMES, "splits"."games"', ["splits.games", "splits.games"]),
        # comments and string literals are not SQL
        ("SELECT 'splits.games' -- public.games\n/* mlb_betting.totals */", []),
        ("SELECT 'splits.games'::regclass", ["splits.games"]),
        ("SELECT games, totals.moneyline FROM core_betting.games AS totals", []),
        ("DO $$BEGIN PERFORM 1 FROM mlb_betting.totals; END$$", ["mlb_betting.totals"]),
        ("SET search_path TO splits; SELECT * FROM games", ["splits.games"]),
        # an open quote spoils its own statement only
        ("SELECT 'open FROM mlb_betting.totals;\nSELECT * FROM public.games;", ["public.games"]),
    ],
)
def test_awkward_sql(text: str, expected: list[str]) -> None:
    assert [r.qualified for r in sqlscan.scan(text).refs] == expected
