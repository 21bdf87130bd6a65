"""`python -m data_copy refs [PATH...] [--dsn DSN | --stack NAME]`: the verb's logic.

Exit status: 0 when nothing references a mapped legacy table, 1 while anything does (a
finding in the files or an object in the database), 2 on a usage error. Dynamic and
unparsed SQL are listed to be checked by hand; with --strict they fail the run too.
pg_stat_statements is history and never decides the status (see refs/db.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from data_copy.core.connection import connect
from data_copy.errors import BadArguments, ReferencesRemain
from data_copy.refs import code, db, report, targets
from data_copy.settings import Settings

FORMATS = ("text", "json")


def run(
    paths: Sequence[str],
    database: tuple[str, Settings] | None,
    search_path: str | None = None,
    fmt: str = "text",
    strict: bool = False,
) -> None:
    if fmt not in FORMATS:
        raise BadArguments(f"unknown --format {fmt!r}", fix="use --format text or --format json")
    if not paths and database is None:
        raise BadArguments("nothing to scan", fix="pass application files or directories, and/or --dsn / --stack")
    path = targets.parse_search_path(search_path) if search_path is not None else targets.DEFAULT_SEARCH_PATH
    if not path:
        raise BadArguments(f"empty --search-path {search_path!r}", fix="give schemas, e.g. --search-path public")
    code_report = code.scan_paths(paths, path) if paths else None
    db_report = None
    if database is not None:
        dsn, settings = database
        with connect(dsn, settings) as conn:
            db_report = db.scan_database(conn, path)
    (report.as_json if fmt == "json" else report.text)(code_report, db_report)
    in_code = len(code_report.findings) if code_report else 0
    in_db = len(db_report.findings) if db_report else 0
    unsure = (len(code_report.dynamic) + len(code_report.unparsed)) if code_report else 0
    if in_code or in_db:
        where = [f"{in_code} in the files"] if code_report else []
        where += [f"{in_db} in the database"] if db_report else []
        raise ReferencesRemain(f"references to legacy tables remain: {', '.join(where)}")
    if strict and unsure:
        raise ReferencesRemain(
            f"{unsure} dynamic or unparsed statement(s) to check (--strict)",
            fix="check each one listed above by hand, or run without --strict",
        )
