"""`refs PATH...`: references to mapped legacy tables in the application's files.

Python files (`.py`, `.pyi`) are read through their AST (pyscan), SQL files (`.sql`) as
SQL (sqlscan). Directories are walked (hidden ones, virtualenvs, caches and
node_modules skipped), in a stable order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data_copy.errors import BadArguments
from data_copy.refs import pyscan, sqlscan, targets

PYTHON_SUFFIXES = (".py", ".pyi")
SQL_SUFFIXES = (".sql", ".pgsql", ".psql")
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", ".venv", "env"})


class PathNotFound(BadArguments):
    fix = "pass files or directories of the application (Python or SQL)"


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    legacy_table: str
    written: str  # as the code writes it
    how: str  # sql | regclass | command | registry | identifier | sqlalchemy

    @property
    def replacement(self) -> targets.Replacement:
        return targets.replacements()[self.legacy_table]

    def as_json(self) -> dict[str, object]:
        r = self.replacement
        return {
            "file": self.file,
            "line": self.line,
            "legacy_table": self.legacy_table,
            "written": self.written,
            "kind": self.how,
            "logical_name": r.logical,
            "registry_call": r.registry_call,
            "new_table": r.new_table,
        }


@dataclass(frozen=True)
class Notice:
    """Dynamic SQL (built at run time) or SQL the parser could not read: check by hand."""

    file: str
    line: int
    kind: str  # "dynamic" | "unparsed"
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "kind": self.kind, "detail": self.detail}


@dataclass
class CodeReport:
    findings: list[Finding] = field(default_factory=list)
    dynamic: list[Notice] = field(default_factory=list)
    unparsed: list[Notice] = field(default_factory=list)
    files: int = 0

    def sort(self) -> None:
        self.findings.sort(key=lambda f: (f.file, f.line, f.legacy_table, f.written))
        self.dynamic.sort(key=lambda n: (n.file, n.line, n.detail))
        self.unparsed.sort(key=lambda n: (n.file, n.line, n.detail))


def iter_files(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise PathNotFound(f"{raw} does not exist")
        if path.is_file():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(files):
                if name.endswith(PYTHON_SUFFIXES + SQL_SUFFIXES):
                    yield Path(root) / name


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


_PSQL_META = re.compile(r"^[ \t]*\\.*$", re.MULTILINE)  # \connect, \set, \i ...: psql's, not SQL


def scan_sql_file(name: str, text: str, search_path: tuple[str, ...], report: CodeReport) -> None:
    sql_text = _PSQL_META.sub(lambda m: " " * len(m.group()), text)  # same offsets, same lines
    result = sqlscan.scan(sql_text, search_path)

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    _collect(name, result, line_of, report)


def scan_python_file(name: str, text: str, search_path: tuple[str, ...], report: CodeReport) -> None:
    try:
        module = pyscan.PythonFile(text)
    except SyntaxError as error:
        report.unparsed.append(Notice(name, error.lineno or 1, "unparsed", f"not valid Python: {error.msg}"))
        return
    path = search_path
    for _, sql_text in module.sql_texts():
        result = sqlscan.scan(sql_text.text, path, sql_text.placeholders, require_sql_start=True)
        path = result.search_path  # a SET search_path holds for the session's later statements
        _collect(name, result, sql_text.line_of, report)
    for ref in module.direct_refs(search_path):
        report.findings.append(Finding(name, ref.line, ref.qualified, ref.written, ref.how))


def _collect(name: str, result: sqlscan.ScanResult, line_of: Callable[[int], int], report: CodeReport) -> None:
    for ref in result.refs:
        report.findings.append(Finding(name, line_of(ref.offset), ref.qualified, ref.written, ref.how))
    for dyn in result.dynamic:
        report.dynamic.append(Notice(name, line_of(dyn.offset), "dynamic", dyn.reason))
    for bad in result.unparsed:
        detail = bad.reason + (f"; mentions {', '.join(bad.mentions)}" if bad.mentions else "")
        report.unparsed.append(Notice(name, line_of(bad.offset), "unparsed", detail))


def scan_paths(paths: Iterable[str], search_path: Sequence[str] = targets.DEFAULT_SEARCH_PATH) -> CodeReport:
    """Every reference to a mapped legacy table in the files under `paths`."""
    report = CodeReport()
    path = tuple(search_path)
    for file in iter_files(list(paths)):
        name = str(file)
        text = _read(file)
        report.files += 1
        if file.suffix in SQL_SUFFIXES:
            scan_sql_file(name, text, path, report)
        else:
            scan_python_file(name, text, path, report)
    report.sort()
    return report
