"""`make demo LEGACY_DUMP=...`: load what users have into a fresh rehearsal database.

Accepted: a plain SQL `pg_dump` (whole database or some schemas, `-n`), and the archive
formats pg_restore reads (custom `-Fc`, directory `-Fd`, tar `-Ft`), whole or some schemas.
Owners and privileges are left out (the rehearsal cluster has none of the original roles):
`--no-owner --no-privileges` for archives, the same statements skipped for plain SQL. A
fresh database already holds an empty `public`: it is dropped first only when the dump
creates `public` itself (a dump of `-n public`), never otherwise.
"""

import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

PLAIN, CUSTOM, DIRECTORY, TAR = "plain SQL", "custom", "directory", "tar"


class DumpError(Exception):
    """One line for the user: what is wrong with the dump, and what to do."""


def dump_format(path: Path) -> str:
    if path.is_dir():
        if not (path / "toc.dat").is_file():
            raise DumpError(f"{path} is a directory without toc.dat (not a pg_dump -Fd directory)")
        return DIRECTORY
    if not path.is_file():
        raise DumpError(f"no such file: {path}")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PGDMP"):
        return CUSTOM
    if len(head) >= 262 and head[257:262] == b"ustar":
        return TAR
    if head.startswith(b"\x1f\x8b"):
        raise DumpError(f"{path} is gzip-compressed: gunzip it first (or dump with -Fc)")
    return PLAIN


_CREATE_PUBLIC = re.compile(r"^CREATE SCHEMA (IF NOT EXISTS )?public;", re.MULTILINE)
_SKIPPED = re.compile(r"^(ALTER [A-Z ]+ .* OWNER TO .*;|GRANT .*;|REVOKE .*;|ALTER DEFAULT PRIVILEGES .*;)$")
_COPY = re.compile(r"^COPY (\S+) .*FROM stdin;$")


class _Plain:
    """Streams a plain dump minus ownership and privilege statements (never inside COPY
    data), counting the data rows of every COPY so the load can be checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, int] = {}

    def lines(self) -> Iterator[str]:
        table: str | None = None
        with open(self.path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            for line in fh:
                bare = line.rstrip("\r\n")
                if table is not None:
                    if bare == "\\.":
                        table = None
                    else:
                        self.rows[table] += 1
                    yield line
                    continue
                copy = _COPY.match(bare)
                if copy:
                    table = copy.group(1)
                    self.rows.setdefault(table, 0)
                elif _SKIPPED.match(bare):
                    continue
                yield line


def _creates_public(path: Path, kind: str, bindir: str) -> bool:
    if kind == PLAIN:
        in_copy = False
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                bare = line.rstrip("\r\n")
                if in_copy:
                    in_copy = bare != "\\."
                elif _COPY.match(bare):
                    in_copy = True
                elif _CREATE_PUBLIC.match(bare):
                    return True
        return False
    listing = subprocess.run([f"{bindir}/pg_restore", "--list", str(path)], capture_output=True, text=True)
    if listing.returncode != 0:
        detail = (listing.stderr.strip().splitlines() or ["unreadable"])[-1]
        raise DumpError(f"pg_restore cannot read {path}: {detail}")
    return bool(re.search(r"^\d+; \d+ \d+ SCHEMA - public ", listing.stdout, re.MULTILINE))


# A dump of some schemas may refer to objects it does not hold (a foreign key to a table
# of another schema, a view over one): those statements fail and are skipped with a
# warning; that every dumped table arrived with all its rows is then checked.
_OUTSIDE = re.compile(r'ERROR:\s+(relation|schema|function|type|table) "[^"]+" does not exist')


def _error_lines(messages: str) -> list[str]:
    return [ln.strip() for ln in messages.splitlines() if "ERROR:" in ln]


def _archive_tables(path: Path, bindir: str) -> list[str]:
    listing = subprocess.run([f"{bindir}/pg_restore", "--list", str(path)], capture_output=True, text=True)
    found = []
    for line in listing.stdout.splitlines():
        m = re.match(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ", line)
        if m:
            found.append(f"{m.group(1)}.{m.group(2)}")
    return found


def _check_loaded(dsn: str, expected: dict[str, int | None]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, rows in expected.items():
            schema, _, table = name.replace('"', "").partition(".")
            if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"."{table}"',)).fetchone() == (None,):
                raise DumpError(f"table {schema}.{table} of the dump was not created (see the skipped statements)")
            if rows is not None:
                got = conn.execute(
                    psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(schema, table))
                ).fetchone()
                if got is None or got[0] != rows:
                    raise DumpError(f"table {schema}.{table}: {got[0] if got else 0} rows loaded, the dump has {rows}")


def load(dsn: str, path: Path, bindir: str) -> tuple[str, list[str]]:
    """Loads `path` into the (fresh) database `dsn`: (format, skipped statements' errors).
    DumpError when the dump cannot be read or a dumped table did not arrive whole."""
    kind = dump_format(path)
    if _creates_public(path, kind, bindir):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
    plain = _Plain(path)
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        if kind == PLAIN:  # streamed through psql's stdin: no second copy of the dump on disk
            cmd = [f"{bindir}/psql", "-X", "-q", "-o", "/dev/null", "-d", dsn]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err, encoding="utf-8", errors="surrogateescape")
            assert proc.stdin is not None
            try:
                for line in plain.lines():
                    proc.stdin.write(line)
            finally:
                proc.stdin.close()
            proc.wait()
        else:
            cmd = [f"{bindir}/pg_restore", "--no-owner", "--no-privileges", "-d", dsn, str(path)]
            subprocess.run(cmd, stderr=err)
        err.seek(0)
        messages = err.read()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS public")
    errors = _error_lines(messages)
    fatal = [e for e in errors if not _OUTSIDE.search(e)]
    if fatal:
        raise DumpError(f"loading the {kind} dump {path} failed: {fatal[0]}")
    if kind == PLAIN:
        _check_loaded(dsn, dict(plain.rows))
    else:
        _check_loaded(dsn, dict.fromkeys(_archive_tables(path, bindir)))
    return kind, errors
