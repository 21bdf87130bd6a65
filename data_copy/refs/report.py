"""Printing what `refs` found: one line per finding (text), or a JSON list on stdout.

Text: findings, then dynamic and unparsed SQL (to check by hand), on stdout; the summary
on stderr. JSON: stdout is exactly the list of findings; dynamic and unparsed SQL go to
stderr as text lines.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from data_copy.refs import targets
from data_copy.refs.code import CodeReport, Notice
from data_copy.refs.db import DbReport


def _replacement(legacy: str) -> str:
    r = targets.replacements()[legacy]
    return f"use {r.registry_call} -> {r.new_table}"


def notices(items: list[Notice], out: TextIO) -> None:
    for n in items:
        print(f"{n.file}:{n.line}: {n.kind}: {n.detail}", file=out)


def text(code: CodeReport | None, db: DbReport | None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
    if code is not None:
        for f in code.findings:
            print(f"{f.file}:{f.line}: {f.legacy_table} ({f.written}): {_replacement(f.legacy_table)}", file=out)
        notices(code.dynamic, out)
        notices(code.unparsed, out)
        print(
            f"refs: {len(code.findings)} reference(s) to legacy tables in {code.files} file(s);"
            f" {len(code.dynamic)} dynamic, {len(code.unparsed)} unparsed (check those by hand)",
            file=err,
        )
    if db is not None:
        for f in db.findings:
            legacy = " [in a legacy schema: reads legacy data after the switch; phase 3 drops it]"
            print(
                f"database: {f.object}: {f.legacy_table} ({f.via}): {_replacement(f.legacy_table)}"
                + (legacy if f.legacy_object else ""),
                file=out,
            )
        for s in db.statements:
            tables = ", ".join(s.legacy_tables)
            print(f"database: statement ({s.calls} calls, role {s.role}): {tables}: {s.query[:200]}", file=out)
        for line in db.dynamic:
            print(f"database: dynamic: {line}", file=out)
        if db.statements_note:
            print(f"refs: {db.statements_note}", file=err)
        print(
            f"refs: {len(db.findings)} database object(s) reference legacy tables;"
            f" {len(db.statements)} statement(s) in pg_stat_statements touched them",
            file=err,
        )


def as_json(code: CodeReport | None, db: DbReport | None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
    items: list[dict[str, object]] = []
    if code is not None:
        items += [f.as_json() for f in code.findings]
        notices(code.dynamic, err)
        notices(code.unparsed, err)
    if db is not None:
        items += [f.as_json() for f in db.findings]
        items += [s.as_json() for s in db.statements]
        for line in db.dynamic:
            print(f"database: dynamic: {line}", file=err)
        if db.statements_note:
            print(f"refs: {db.statements_note}", file=err)
    json.dump(items, out, indent=2)
    out.write("\n")
