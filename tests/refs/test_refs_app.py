"""`refs` on a realistic application (tests/refs/betting_app, see its README): every planted
reference found with its kind, no decoy reported, and the time on 200 files.

The expectations are the markers in the fixture's comments, read here independently of
the scanner: `REF(kind) schema.table`, `DYN`, `DECOY`, and `MISS(kind) schema.table` for a
reference refs is known not to find (a name built by a function call at run time).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from data_copy.refs import code

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).resolve().parent / "betting_app"
DATABASE = "mlb_betting"
_MARK = re.compile(r"\b(REF|MISS)\((sql|name|unparsed)\) ([a-z_]+\.[a-z_]+)")

Key = tuple[str, int, str, str]  # file, line, kind, legacy table ("" for dynamic)


def markers() -> tuple[Counter[Key], Counter[Key], set[tuple[str, int]]]:
    """(expected findings, known misses, decoy lines)."""
    expected: Counter[Key] = Counter()
    missed: Counter[Key] = Counter()
    decoys: set[tuple[str, int]] = set()
    for path in sorted(APP.rglob("*")):
        if path.suffix not in (".py", ".sql"):
            continue
        rel = str(path.relative_to(APP))
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for tag, kind, table in _MARK.findall(line):
                (expected if tag == "REF" else missed)[(rel, number, kind, table)] += 1
            if re.search(r"\bDYN\b", line):
                expected[(rel, number, "dynamic", "")] += 1
            if "DECOY" in line:
                decoys.add((rel, number))
    return expected, missed, decoys


def found(report: code.CodeReport, root: Path = APP) -> Counter[Key]:
    return Counter((str(Path(f.file).relative_to(root)), f.line, f.kind, f.legacy_table or "") for f in report.findings)


def test_every_planted_reference_is_found_with_its_kind_and_nothing_else() -> None:
    expected, missed, decoys = markers()
    report = code.scan_paths([str(APP)], database=DATABASE)
    got = found(report)
    assert got - expected == Counter()  # precision: nothing that is not planted
    assert expected - got == Counter()  # recall: every planted reference
    assert not {(f, line) for f, line, _, _ in got} & decoys
    assert not got & missed
    # the numbers, so that a marker lost from the fixture cannot go unnoticed
    assert report.counts() == {"sql": 42, "name": 48, "dynamic": 9, "unparsed": 15}
    assert (report.files, len(decoys), sum(missed.values())) == (49, 43, 1)
    planted = sum(n for k, n in expected.items() if k[2] != "dynamic")
    assert planted == 105  # recall over planted + known misses: 105 / 106


def _two_hundred_files(into: Path) -> int:
    """200 files of the fixture's shapes, each a few of its modules back to back (so about
    the size of real modules), under `into`; returns the expected reference count."""
    python = sorted(p for p in APP.rglob("*.py") if p.stat().st_size > 200)
    sql = sorted(APP.rglob("*.sql"))
    per_file = {p: code.scan_paths([str(p)], database=DATABASE) for p in python + sql}
    expected = 0
    for i in range(200):
        group = sql if i % 4 == 0 else python
        parts = [group[(i + k * 7) % len(group)] for k in range(4 if group is python else 3)]
        suffix = ".sql" if group is sql else ".py"
        target = into / f"pkg{i % 10}" / f"module_{i:03d}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(p.read_text() for p in parts))
        expected += sum(per_file[p].counts()["sql"] + per_file[p].counts()["name"] for p in parts)
    return expected


def test_two_hundred_files_take_under_ten_seconds(tmp_path: Path) -> None:
    app = tmp_path / "app"
    expected = _two_hundred_files(app)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "refs", str(app), "--database", DATABASE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert "refs: 200 file(s) read" in proc.stderr
    counted = int(proc.stderr.strip().splitlines()[-1].split("remain: ")[1].split(" in the files")[0])
    assert counted == expected
    print(f"refs on 200 files: {elapsed:.2f} s, {counted} references ({expected} file by file)")  # pytest -s
    assert elapsed < 10
