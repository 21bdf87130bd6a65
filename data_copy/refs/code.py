"""`refs PATH...`: references to mapped legacy tables in the application's files.

Python files (`.py`, `.pyi`) are read through their AST (pyscan), SQL files (`.sql`) as
SQL (sqlscan). Directories are walked (hidden ones, virtualenvs, caches and
node_modules skipped), in a stable order. Each finding has a kind (found.KINDS): `sql`,
`name`, `dynamic` or `unparsed`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data_copy.errors import BadArguments
from data_copy.refs import names, pyscan, sqlscan, targets
from data_copy.refs.found import KINDS, ScanResult, TableRef

PYTHON_SUFFIXES = (".py", ".pyi")
SQL_SUFFIXES = (".sql", ".pgsql", ".psql")
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", ".venv", "env"})


class PathNotFound(BadArguments):
    fix = "pass files or directories of the application (Python or SQL)"


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    kind: str  # found.KINDS
    legacy_table: str | None  # "schema.table"; None for dynamic SQL and unreadable files
    written: str = ""  # as the code writes it
    how: str = ""  # sql | regclass | command | signature | rowtype | string | interpolated | registry ...
    detail: str = ""  # why dynamic / unparsed

    @property
    def replacement(self) -> targets.Replacement | None:
        return targets.replacements()[self.legacy_table] if self.legacy_table else None

    def as_json(self) -> dict[str, object]:
        r = self.replacement
        return {
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "legacy_table": self.legacy_table,
            "written": self.written,
            "how": self.how,
            "detail": self.detail,
            "logical_name": r.logical if r else None,
            "registry_call": r.registry_call if r else None,
            "new_table": r.new_table if r else None,
        }


@dataclass
class CodeReport:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def counts(self) -> dict[str, int]:
        return {kind: len(self.of(kind)) for kind in KINDS}

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def finish(self) -> None:
        """Sorted; a name reported once per line and table (a constant used by several
        statements, or found both as a whole-name string and in a table position)."""
        seen: set[tuple[str, int, str | None, str]] = set()
        unique: list[Finding] = []
        for f in sorted(self.findings, key=lambda f: (f.file, f.line, KINDS.index(f.kind), f.legacy_table or "")):
            key = (f.file, f.line, f.legacy_table, f.kind)
            if f.kind == "name" and key in seen:
                continue
            seen.add(key)
            unique.append(f)
        self.findings = unique


def iter_files(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(files):
                if name.endswith(PYTHON_SUFFIXES + SQL_SUFFIXES):
                    yield Path(root) / name


def check_paths(paths: Sequence[str]) -> None:
    for raw in paths:
        if not Path(raw).exists():
            raise PathNotFound(f"{raw} does not exist")


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


_PSQL_META = re.compile(r"^[ \t]*\\.*$", re.MULTILINE)  # \connect, \set, \i ...: psql's, not SQL
_PSQL_VARIABLE = re.compile(r"(?<![:\w\]\)]):(?=['\"A-Za-z_])")  # psql's :v, not :: or :=
_PSQL_COPY = re.compile(r"^([ \t]*)\\copy\b(.*)$", re.MULTILINE | re.IGNORECASE)  # \copy reads a table


def scan_sql_file(name: str, text: str, search_path: tuple[str, ...], report: CodeReport, database: str | None) -> None:
    sql_text = _PSQL_META.sub(lambda m: " " * len(m.group()), text)  # same offsets, same lines
    sql_text = _PSQL_VARIABLE.sub(" ", sql_text)  # :'v' a string, :"v" a name, :v a word: parseable

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    def shifted(at: int) -> Callable[[int], int]:
        return lambda offset: line_of(at + offset)

    _collect(name, sqlscan.scan(sql_text, search_path, database=database), line_of, report)
    for copy in _PSQL_COPY.finditer(text):  # `\copy t TO 'f'` is psql's COPY, one line long
        result = sqlscan.scan(f"{copy.group(1)}COPY {copy.group(2)}", search_path, database=database)
        _collect(name, result, shifted(copy.start()), report)


def scan_python_file(
    name: str, text: str, search_path: tuple[str, ...], report: CodeReport, database: str | None
) -> None:
    try:
        module = pyscan.PythonFile(text)
    except SyntaxError as error:
        report.add(Finding(name, error.lineno or 1, "unparsed", None, detail=f"not valid Python: {error.msg}"))
        return
    path = search_path
    for _, sql_text in module.sql_texts():
        result = sqlscan.scan(sql_text.text, path, sql_text.placeholders, database=database, require_sql_start=True)
        path = result.search_path  # a SET search_path holds for the session's later statements
        _collect(name, result, sql_text.line_of, report)
    for ref in [*module.direct_refs(search_path), *module.name_refs(search_path, database)]:
        if ref.other_database is not None:
            detail = names.other_database_reason(ref.written, ref.other_database, database)
            report.add(Finding(name, ref.line, "unparsed", ref.qualified, ref.written, ref.how, detail))
        else:
            report.add(Finding(name, ref.line, "name", ref.qualified, ref.written, ref.how))


def _ref(name: str, ref: TableRef, line_of: Callable[[int], int], kind: str, detail: str = "") -> Finding:
    line = ref.literal.line if ref.literal is not None else line_of(ref.offset)
    return Finding(name, line, kind, ref.qualified, ref.written, ref.how, detail)


def _collect(name: str, result: ScanResult, line_of: Callable[[int], int], report: CodeReport) -> None:
    for ref in result.refs:
        report.add(_ref(name, ref, line_of, ref.kind))
    for dyn in result.dynamic:
        report.add(Finding(name, line_of(dyn.offset), "dynamic", None, detail=dyn.reason))
    for bad in result.unparsed:
        if not bad.mentions:
            report.add(Finding(name, line_of(bad.offset), "unparsed", None, detail=bad.reason))
        for ref in bad.mentions:
            report.add(_ref(name, ref, line_of, "unparsed", bad.reason))


def scan_paths(
    paths: Iterable[str],
    search_path: Sequence[str] = targets.DEFAULT_SEARCH_PATH,
    database: str | None = None,
) -> CodeReport:
    """Every reference to a mapped legacy table in the files under `paths`; `database`:
    the one database-qualified names must name to be ours (None: any)."""
    report = CodeReport()
    path = tuple(search_path)
    listed = list(paths)
    check_paths(listed)
    for file in iter_files(listed):
        name = str(file)
        text = _read(file)
        report.files += 1
        if file.suffix in SQL_SUFFIXES:
            scan_sql_file(name, text, path, report, database)
        else:
            scan_python_file(name, text, path, report, database)
    report.finish()
    return report
