"""Helpers of the bookkeeping tests (no tests here): the CLI as a user runs it, our tables
and the new ones as the tests look at them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql
from queries import q

import legacy_fixture
from catalog.legacy import LEGACY_TABLES
from catalog.schemas import SCHEMA_NAMES
from data_copy import api
from data_copy.settings import Settings
from data_copy.state import journal

REPO = Path(__file__).resolve().parents[3]
ML = "core_betting.betting_lines_moneyline"


def cli(dsn: str, *args: str, timeout: int = 600) -> tuple[int, str, str]:
    """`python -m data_copy ARGS --dsn DSN`: (exit code, stdout, stderr); never a trace."""
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", *args, "--dsn", dsn],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def last_line(err: str) -> str:
    lines = err.strip().splitlines()
    return lines[-1] if lines else ""


def one(dsn: str, query: str | sql.Composable, *args: object) -> object:
    rows = q(dsn, query, *args)
    return rows[0][0] if rows else None


def rejects(dsn: str) -> int:
    """Rows in public.migration_rejects (0 when the table does not exist)."""
    if not one(dsn, "SELECT to_regclass('public.migration_rejects') IS NOT NULL"):
        return 0
    return int(one(dsn, "SELECT count(*) FROM public.migration_rejects") or 0)


def rows(dsn: str, table: str) -> int:
    return int(one(dsn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))) or 0)


def checksums(dsn: str) -> dict[str, tuple]:
    """mapping -> (status, legacy rows, new rows, legacy checksum, new checksum) of its latest validation."""
    with psycopg.connect(dsn) as conn:
        return {
            v.mapping: (v.status, v.source_count, v.target_count, v.source_checksum, v.target_checksum)
            for v in journal.latest_validations(conn)
        }


def legacy_fingerprint(dsn: str) -> dict[str, str]:
    """Every legacy table's md5 over its rows in a stable order: legacy untouched or not."""
    found = {}
    with psycopg.connect(dsn) as conn:
        for t in LEGACY_TABLES:
            if t.kind != "table":
                continue
            ident = sql.Identifier(*t.qualified.split("."))
            row = conn.execute(
                sql.SQL("SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {} AS x").format(
                    ident
                )
            ).fetchone()
            found[t.qualified] = row[0] if row else ""
    return found


def recreate_new_schemas(dsn: str) -> None:
    """As `pulumi destroy` + `pulumi up` leave them: the four schemas dropped (their tables
    with them) and created again, empty; public.migration_* kept."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in SCHEMA_NAMES:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    api.bootstrap_structure(dsn)


def recreate_in_place(dsn: str, table: str) -> None:
    """`table` dropped and created again under its name, empty (a new OID), as its owner."""
    schema, name = table.split(".")
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(Settings().owner_role)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                sql.Identifier(schema, name + "_new"), sql.Identifier(schema, name)
            )
        )
        conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.Identifier(schema, name)))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(schema, name + "_new"), sql.Identifier(name))
        )


def legacy_database(dsn: str, scale: str = "tiny") -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, scale)
    api.bootstrap_structure(dsn)
    return dsn
