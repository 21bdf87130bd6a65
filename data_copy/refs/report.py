"""Printing what `refs` found: one line per finding (text), or a JSON list on stdout.

Text: the files' findings (each line says its kind), then the database's, on stdout; a
summary line per kind of the files' findings, then the database's, on stderr. JSON:
stdout is exactly the list of findings, each with its `kind` (the files': sql, name,
dynamic, unparsed; the database's: the kind of object); notes go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from data_copy.refs import targets
from data_copy.refs.code import CodeReport, Finding
from data_copy.refs.db import DbReport

SUMMARY = {
    "sql": "reference(s) in SQL text",
    "name": "table name(s) in strings, outside SQL",
    "dynamic": "statement(s) built at run time (check by hand)",
    "unparsed": "statement(s) PostgreSQL cannot read as written (check by hand)",
}


def _replacement(legacy: str) -> str:
    r = targets.replacements()[legacy]
    return f"use {r.registry_call} -> {r.new_table}"


def finding_line(f: Finding) -> str:
    where = f"{f.file}:{f.line}: {f.kind}: "
    if f.legacy_table is None:
        return where + f.detail
    because = f" [{f.detail}]" if f.detail else ""
    return where + f"{f.legacy_table} ({f.written}){because}: {_replacement(f.legacy_table)}"


def summary(code: CodeReport, kinds: tuple[str, ...], err: TextIO) -> None:
    counts = code.counts()
    for kind in kinds:
        print(f"refs: {kind}: {counts[kind]} {SUMMARY[kind]}", file=err)
    hidden = sum(n for kind, n in counts.items() if kind not in kinds)
    shown = f"; {hidden} more of other kinds not shown (--kinds)" if hidden else ""
    print(f"refs: {code.files} file(s) read{shown}", file=err)


def _db_lines(db: DbReport) -> list[str]:
    lines: list[str] = []
    for f in db.findings:
        legacy = " [in a legacy schema: reads legacy data after the switch; phase 3 drops it]"
        lines.append(
            f"database: {f.object}: {f.legacy_table} ({f.via}): {_replacement(f.legacy_table)}"
            + (legacy if f.legacy_object else "")
        )
    for s in db.statements:
        tables = ", ".join(s.legacy_tables)
        lines.append(f"database: statement ({s.calls} calls, role {s.role}): {tables}: {s.query[:200]}")
    return lines


def text(
    code: CodeReport | None,
    db: DbReport | None,
    kinds: tuple[str, ...],
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> None:
    if code is not None:
        for f in code.findings:
            if f.kind in kinds:
                print(finding_line(f), file=out)
        summary(code, kinds, err)
    if db is not None:
        for line in _db_lines(db):
            print(line, file=out)
        for line in db.dynamic:
            print(f"database: dynamic: {line}", file=out)
        if db.statements_note:
            print(f"refs: {db.statements_note}", file=err)
        print(
            f"refs: {len(db.findings)} database object(s) reference legacy tables;"
            f" {len(db.statements)} statement(s) in pg_stat_statements touched them",
            file=err,
        )


def as_json(
    code: CodeReport | None,
    db: DbReport | None,
    kinds: tuple[str, ...],
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> None:
    items: list[dict[str, object]] = []
    if code is not None:
        items += [f.as_json() for f in code.findings if f.kind in kinds]
        summary(code, kinds, err)
    if db is not None:
        items += [f.as_json() for f in db.findings]
        items += [s.as_json() for s in db.statements]
        for line in db.dynamic:
            print(f"database: dynamic: {line}", file=err)
        if db.statements_note:
            print(f"refs: {db.statements_note}", file=err)
    json.dump(items, out, indent=2)
    out.write("\n")
