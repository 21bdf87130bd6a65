"""PostgreSQL's client tools: finding pg_dump / pg_restore, running them, reading a dump's contents.

pg_tool(name, major) -> Path          the tool for a server of that version (pgbin's order)
pg_dump(...) / pg_restore(...)         run with the password in the environment, never in argv
read_toc(dump, pg_restore)             the dump's table of contents (`pg_restore --list`)
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

import pgbin
from data_copy.errors import BackupUnreadable, PgToolMissing

# ------------------------------------------------------------------- the programs


def server_major(conn: psycopg.Connection) -> int:
    return int(conn.info.server_version) // 10000


def pg_tool(name: str, major: int) -> Path:
    """The path of `name` (pg_dump, pg_restore) for a server of version `major`, searched in
    pgbin's one order ($PGCLUSTER_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin
    newest first, PATH): the same major first, else the newest newer one (pg_dump cannot
    dump a newer server)."""
    path, too_old = pgbin.find_program(name, major)
    if path is not None:
        return path
    detail = f"; found only older ones: {', '.join(too_old)}" if too_old else ""
    raise PgToolMissing(f"{name} for PostgreSQL {major} not found{detail}")


def libpq_args(dsn: str, application_name: str = "") -> tuple[list[str], dict[str, str]]:
    """(--dbname argument, environment) for a client tool: the password goes in the
    environment, not on the command line where `ps` would show it; `application_name`
    names the tool's session (pg_stat_activity)."""
    env = dict(os.environ)
    if not dsn:
        if application_name:
            env["PGAPPNAME"] = application_name
        return [], env
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    if application_name:
        params["application_name"] = application_name
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return [f"--dbname={psycopg.conninfo.make_conninfo('', **params)}"], env


def name_pattern(*parts: str) -> str:
    """A pg_dump name pattern matching exactly these identifiers (quoted: no wildcards)."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def pg_dump(
    program: Path,
    dsn: str,
    out: Path,
    *,
    snapshot: str,
    lock_timeout: str,
    schemas: Iterable[str],
    exclude: Iterable[str] = (),
) -> None:
    """A custom-format dump of `schemas` (minus the "schema.name" relations in `exclude`),
    taken on the exported `snapshot`. BackupUnreadable when pg_dump fails."""
    args = [
        str(program),
        "--format=custom",
        f"--snapshot={snapshot}",
        "--no-password",
        f"--file={out}",
        f"--lock-wait-timeout={lock_timeout}",
    ]
    args += [f"--schema={name_pattern(schema)}" for schema in schemas]
    for name in exclude:
        schema, _, rel = name.partition(".")
        args.append(f"--exclude-table={name_pattern(schema, rel)}")
    db_args, env = libpq_args(dsn)
    proc = subprocess.run(args + db_args, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split())[:400]
        raise BackupUnreadable(f"pg_dump failed (exit {proc.returncode}): {detail}")


def pg_restore(
    program: Path,
    dsn: str,
    dump: Path,
    entries: Sequence[TocEntry],
    *,
    application_name: str = "",
    watch: Callable[[], None] | None = None,
) -> str | None:
    """Restore exactly `entries` of `dump`, in one transaction, stopping at the first error;
    `watch` is called every 50 ms while it runs (its session is `application_name`).
    None when it worked, else the first error lines pg_restore printed (one line)."""
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as handle:
        handle.write("".join(e.line + "\n" for e in entries))
        listing = Path(handle.name)
    try:
        db_args, env = libpq_args(dsn, application_name)
        proc = subprocess.Popen(
            [
                str(program),
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                f"--use-list={listing}",
                *db_args,
                str(dump),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    _, stderr = proc.communicate(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    if watch is not None:
                        watch()
        except BaseException:  # Ctrl-C, or the watch failed: no pg_restore left behind
            proc.kill()
            proc.wait()
            raise
    finally:
        listing.unlink(missing_ok=True)
    if proc.returncode == 0:
        return None
    lines = [ln for ln in stderr.splitlines() if "error" in ln.lower()] or stderr.splitlines()
    return " ".join(" ".join(lines[:2]).split())[:400]


# ------------------------------------------------------ the dump's table of contents


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    kind: str  # "TABLE", "TABLE DATA", "FK CONSTRAINT", ...
    schema: str  # "-" for objects without one (schemas, extensions...)
    tag: str  # the rest of the line, owner included
    line: str

    @property
    def first_word(self) -> str:
        return self.tag.split(" ", 1)[0] if self.tag else ""


# longest first, so "TABLE DATA" is not read as "TABLE"
_TOC_KINDS = sorted(
    (
        "ACCESS METHOD",
        "ACL",
        "AGGREGATE",
        "BLOB",
        "BLOB METADATA",
        "BLOBS",
        "CAST",
        "CHECK CONSTRAINT",
        "COLLATION",
        "COMMENT",
        "CONSTRAINT",
        "CONVERSION",
        "DATABASE",
        "DATABASE PROPERTIES",
        "DEFAULT",
        "DEFAULT ACL",
        "DOMAIN",
        "ENCODING",
        "EVENT TRIGGER",
        "EXTENSION",
        "FK CONSTRAINT",
        "FOREIGN DATA WRAPPER",
        "FOREIGN SERVER",
        "FOREIGN TABLE",
        "FUNCTION",
        "INDEX",
        "INDEX ATTACH",
        "LARGE OBJECT",
        "MATERIALIZED VIEW",
        "MATERIALIZED VIEW DATA",
        "OPERATOR",
        "OPERATOR CLASS",
        "OPERATOR FAMILY",
        "POLICY",
        "PROCEDURE",
        "PROCEDURAL LANGUAGE",
        "PUBLICATION",
        "PUBLICATION TABLE",
        "PUBLICATION TABLES IN SCHEMA",
        "ROW SECURITY",
        "RULE",
        "SCHEMA",
        "SEARCHPATH",
        "SECURITY LABEL",
        "SEQUENCE",
        "SEQUENCE OWNED BY",
        "SEQUENCE SET",
        "SERVER",
        "SHELL TYPE",
        "STATISTICS",
        "STDSTRINGS",
        "SUBSCRIPTION",
        "TABLE",
        "TABLE ATTACH",
        "TABLE DATA",
        "TEXT SEARCH CONFIGURATION",
        "TEXT SEARCH DICTIONARY",
        "TEXT SEARCH PARSER",
        "TEXT SEARCH TEMPLATE",
        "TRANSFORM",
        "TRIGGER",
        "TYPE",
        "USER MAPPING",
        "VIEW",
    ),
    key=len,
    reverse=True,
)
_TOC_LINE = re.compile(r"^(?P<id>\d+);\s+\d+\s+\d+\s+(?P<rest>.*)$")


def parse_toc(text: str) -> list[TocEntry]:
    entries: list[TocEntry] = []
    for line in text.splitlines():
        match = _TOC_LINE.match(line)
        if not match:
            continue
        rest = match.group("rest")
        kind = next((k for k in _TOC_KINDS if rest.startswith(k + " ")), rest.split(" ", 1)[0])
        schema, _, tag = rest[len(kind) + 1 :].partition(" ")
        entries.append(TocEntry(int(match.group("id")), kind, schema, tag, line))
    return entries


def read_toc(dump: Path, program: Path) -> tuple[str, list[TocEntry]]:
    """(the raw `pg_restore --list` output, its entries); BackupUnreadable if it fails."""
    if not dump.is_file():
        raise BackupUnreadable(f"backup {dump} does not exist")
    proc = subprocess.run([str(program), "--list", str(dump)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[:300]
        raise BackupUnreadable(f"backup {dump} is unreadable: {detail}")
    return proc.stdout, parse_toc(proc.stdout)
