"""`python -m data_copy refs [PATH...] [--dsn DSN | --stack NAME] [--database NAME] [--kinds K,K]`.

Exit status: 0 when nothing references a mapped legacy table, 1 while anything does (a
`sql` or `name` finding in the files, or an object in the database), 2 on a usage error.
`dynamic` and `unparsed` findings are listed to be checked by hand; with --strict they fail
the run too. `--kinds` keeps only the listed kinds of the files' findings, in the output
and in the exit status. pg_stat_statements is history and never decides the status (see
refs/db.py).

Database-qualified names (`mlb_betting.splits.games`) are checked against --database, else
the database --dsn / --stack connects to (names.py); with neither, any database part is
taken to be ours.
"""

from __future__ import annotations

from collections.abc import Sequence

from data_copy.core.connection import connect
from data_copy.errors import BadArguments, ReferencesRemain
from data_copy.refs import code, db, report, targets
from data_copy.refs.found import KINDS
from data_copy.settings import Settings

FORMATS = ("text", "json")
_COUNTED = ("sql", "name")  # the kinds that are references for certain
_UNSURE = ("dynamic", "unparsed")


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """ "sql,name" -> ("sql", "name"), in KINDS order; None -> every kind."""
    if text is None:
        return KINDS
    asked = {k.strip().lower() for k in text.split(",") if k.strip()}
    unknown = sorted(asked - set(KINDS))
    if unknown or not asked:
        raise BadArguments(f"unknown --kinds {', '.join(unknown) or repr(text)}", fix=f"use some of {','.join(KINDS)}")
    return tuple(k for k in KINDS if k in asked)


def run(
    paths: Sequence[str],
    database: tuple[str, Settings] | None,
    search_path: str | None = None,
    fmt: str = "text",
    strict: bool = False,
    kinds: str | None = None,
    database_name: str | None = None,
) -> None:
    if fmt not in FORMATS:
        raise BadArguments(f"unknown --format {fmt!r}", fix="use --format text or --format json")
    shown = parse_kinds(kinds)
    if not paths and database is None:
        raise BadArguments("nothing to scan", fix="pass application files or directories, and/or --dsn / --stack")
    path = targets.parse_search_path(search_path) if search_path is not None else targets.DEFAULT_SEARCH_PATH
    if not path:
        raise BadArguments(f"empty --search-path {search_path!r}", fix="give schemas, e.g. --search-path public")
    code.check_paths(paths)
    db_report = None
    if database is not None:
        dsn, settings = database
        with connect(dsn, settings) as conn:
            row = conn.execute("SELECT current_database()").fetchone()
            connected = str(row[0]) if row else None
            if database_name is not None and database_name != connected:
                raise BadArguments(
                    f"--database {database_name!r}, but the connection is to database {connected!r}",
                    fix="leave --database out, or connect to that database",
                )
            database_name = connected
            db_report = db.scan_database(conn, path, database_name)
    code_report = code.scan_paths(paths, path, database_name) if paths else None
    (report.as_json if fmt == "json" else report.text)(code_report, db_report, shown)
    counts = code_report.counts() if code_report else dict.fromkeys(KINDS, 0)
    in_code = sum(counts[k] for k in _COUNTED if k in shown)
    in_db = len(db_report.findings) if db_report else 0
    unsure = sum(counts[k] for k in _UNSURE if k in shown)
    if in_code or in_db:
        where = [f"{in_code} in the files"] if code_report else []
        where += [f"{in_db} in the database"] if db_report else []
        raise ReferencesRemain(f"references to legacy tables remain: {', '.join(where)}")
    if strict and unsure:
        raise ReferencesRemain(
            f"{unsure} dynamic or unparsed finding(s) to check (--strict)",
            fix="check each one listed above by hand, or run without --strict",
        )
