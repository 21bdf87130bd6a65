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
_COPY = re.compile(r"^COPY .* FROM stdin;$")


def _plain_lines(path: Path) -> Iterator[str]:
    """The dump's lines minus ownership and privilege statements (never inside COPY data)."""
    in_copy = False
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
        for line in fh:
            bare = line.rstrip("\r\n")
            if in_copy:
                in_copy = bare != "\\."
                yield line
                continue
            if _COPY.match(bare):
                in_copy = True
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


def load(dsn: str, path: Path, bindir: str) -> str:
    """Loads `path` into the (fresh) database `dsn`; returns the format. DumpError otherwise."""
    kind = dump_format(path)
    if _creates_public(path, kind, bindir):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        if kind == PLAIN:  # streamed through psql's stdin: no second copy of the dump on disk
            cmd = [f"{bindir}/psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", "-o", "/dev/null", "-d", dsn]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err, encoding="utf-8", errors="surrogateescape")
            assert proc.stdin is not None
            try:
                for line in _plain_lines(path):
                    proc.stdin.write(line)
            except BrokenPipeError:
                pass  # psql stopped at an error: it is in err
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            returncode = proc.wait()
        else:
            cmd = [f"{bindir}/pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "-d", dsn, str(path)]
            returncode = subprocess.run(cmd, stderr=err).returncode
        err.seek(0)
        messages = err.read()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS public")
    if returncode != 0:
        lines = [ln for ln in messages.strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if "ERROR" in ln or "error" in ln] or lines or ["no message"]
        raise DumpError(f"loading the {kind} dump {path} failed: {errors[0].strip()}")
    return kind
