"""Helpers for the phase 3 cleanup / restore tests (no tests here).

A realistic tiny legacy database (legacy_fixture.build) is built once per session into a
template database, then the consolidated schemas (api.bootstrap_structure, without
Pulumi) and the real pipeline (api.run: copy + a passing validation per mapping in
migration_log); each test gets its own copy (CREATE DATABASE ... TEMPLATE, a fraction of
a second) and changes one thing to provoke one refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

import legacy_fixture
from catalog.legacy import LEGACY_TABLES
from catalog.schemas import LEGACY_SCHEMAS
from data_copy import api
from data_copy.core.connection import connect
from data_copy.retire import cleanup, live_catalog
from data_copy.retire.fingerprint import table_fingerprint
from data_copy.settings import Settings
from data_copy.state.journal import Journal
from pgcluster import Cluster

UNMAPPED = tuple(t.qualified for t in LEGACY_TABLES if t.kind == "table" and t.mapped_to is None)
"""The catalog's unmapped legacy tables (the fixture puts a few rows in each)."""


def settings_for(tmp_path: Path, *, disposable: tuple[str, ...] = UNMAPPED, **extra: Any) -> Settings:
    # these tests read legacy tables themselves (fingerprints) between steps: accepted
    extra.setdefault("accept_legacy_reads", True)
    return Settings(backup_dir=str(tmp_path / "backups"), disposable_tables=disposable, **extra)


def build_legacy(dsn: str, *, validated: bool = True) -> dict[str, int]:
    """legacy_fixture's tiny database; `validated`: plus the consolidated schemas and the
    real pipeline (data_copy.api.run: copy + validate, every mapping passing)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        counts = legacy_fixture.build(conn, "tiny")
    if validated:
        api.bootstrap_structure(dsn)
        report = api.run(dsn)
        assert report.ok, [r.message for r in report.results if r.message]
        # cleanup needs phase 2 recorded (issue 9): switch, then one phase-2 sync
        api.switch(dsn, Settings())
        report = api.run(dsn)
        assert report.ok, [r.message for r in report.results if r.message]
    return counts


def run_cleanup(dsn: str, settings: Settings, **kwargs: Any) -> cleanup.CleanupReport:
    """The cleanup verb on its own connection, journaled as Phase3."""
    with connect(dsn, settings) as conn:
        return cleanup.cleanup(conn, settings, Journal(conn, "Phase3"), dsn, **kwargs)


def create_database(cluster: Cluster, name: str, template: str = "template0") -> str:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return cluster.dsn(name)


@contextmanager
def database_from(cluster: Cluster, template: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    dsn = create_database(cluster, name, template)
    try:
        yield dsn
    finally:
        cluster.drop_database(name)


def legacy_shape(conn: psycopg.Connection) -> dict[str, Any]:
    """Everything about the legacy schemas a drop or a restore could change: relations,
    columns, defaults, constraints, indexes, view definitions, sequence positions."""
    schemas = list(LEGACY_SCHEMAS)
    relations = conn.execute(
        "SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text,"
        " CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'f')"
        " AND c.relname NOT LIKE 'migration\\_%%' ORDER BY 1, 2",
        (schemas,),
    ).fetchall()
    columns = conn.execute(
        "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        " pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_attrdef d"
        " ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE n.nspname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')"
        " AND c.relname NOT LIKE 'migration\\_%%' ORDER BY 1, 2, a.attnum",
        (schemas,),
    ).fetchall()
    constraints = conn.execute(
        "SELECT n.nspname, k.conrelid::regclass::text, k.conname, pg_get_constraintdef(k.oid)"
        " FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace"
        " WHERE n.nspname = ANY(%s) AND k.conrelid <> 0"
        " AND k.conrelid::regclass::text NOT LIKE '%%migration\\_%%' ORDER BY 1, 2, 3",
        (schemas,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY(%s)"
        " AND tablename NOT LIKE 'migration\\_%%' ORDER BY 1, 2, 3",
        (schemas,),
    ).fetchall()
    sequences = conn.execute(
        "SELECT schemaname, sequencename, last_value FROM pg_sequences WHERE schemaname = ANY(%s)"
        " AND sequencename NOT LIKE 'migration\\_%%' ORDER BY 1, 2",
        (schemas,),
    ).fetchall()
    present = conn.execute(
        "SELECT nspname, pg_get_userbyid(nspowner), nspacl::text FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY 1",
        (schemas,),
    ).fetchall()
    return {
        "schemas": present,
        "relations": relations,
        "columns": columns,
        "constraints": constraints,
        "indexes": indexes,
        "sequences": sequences,
    }


def legacy_fingerprints(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    tables = [
        t
        for t in live_catalog.existing_tables(conn, LEGACY_SCHEMAS)
        if t.partition(".")[2] not in live_catalog.OUR_TABLES
    ]
    return {t: table_fingerprint(conn, t) for t in tables}


def phase3_log(conn: psycopg.Connection) -> list[tuple[str, str, str | None]]:
    return [
        (str(step), str(status), source)
        for step, status, source in conn.execute(
            "SELECT step, status, table_source FROM public.migration_log WHERE migration_phase = 'Phase3' ORDER BY id"
        )
    ]
