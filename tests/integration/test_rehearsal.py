"""make demo LEGACY_DUMP=...: the rehearsal's own environment (demo/rehearsal.py).

A database this project already ran on (consolidated schemas, data_copy's bookkeeping, phase 2
recorded) loses exactly the project's objects, keeps every legacy table and row, and a first
copy then runs on it as on legacy alone. Removing the last rehearsal drops its database, its
slot, its origins and its roles, and nothing else on the server (another database's slot,
another stack's roles stay).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
from cleanup_support import build_legacy, legacy_fingerprints
from psycopg import sql

from catalog import SCHEMA_NAMES
from data_copy import api
from demo import rehearsal
from pgcluster import Cluster
from stack_settings.naming import LOGICAL_ROLE_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]


def _present_schemas(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMA_NAMES),))
    return {r[0] for r in rows}


def test_a_database_this_project_ran_on_loses_only_the_projects_objects(fresh_dsn: str) -> None:
    dsn = fresh_dsn
    build_legacy(dsn)  # legacy, the consolidated schemas, a passing validation, phase 2 recorded
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert _present_schemas(conn) == set(SCHEMA_NAMES)
        conn.execute("CREATE FUNCTION public.check_user_permissions(text) RETURNS int LANGUAGE sql AS 'SELECT 1'")
        before = legacy_fingerprints(conn)
    dropped = rehearsal.without_project_objects(dsn)
    assert any("data_copy tables public.migration_*" in d for d in dropped), dropped
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert _present_schemas(conn) == set()
        left = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'migration\\_%'").fetchone()
        assert left == (0,)
        assert conn.execute("SELECT to_regproc('public.check_user_permissions')").fetchone() == (None,)
        assert legacy_fingerprints(conn) == before, "every legacy table and row stays"
    api.bootstrap_structure(dsn)
    report = api.run(dsn)
    assert report.ok, [r.message for r in report.results if r.message]
    assert rehearsal.without_project_objects(dsn) != [] and rehearsal.without_project_objects(dsn) == []


def test_removing_the_last_rehearsal_touches_nothing_else(pg_cluster: Cluster, fresh_dsn: str, tmp_path: Path) -> None:
    admin = pg_cluster.dsn("postgres")
    other_db = fresh_dsn.rsplit("/", 1)[1]
    roles = [rehearsal.ROLE_PREFIX + n for n in LOGICAL_ROLE_NAMES[:2]]
    others = ["staging_" + n for n in LOGICAL_ROLE_NAMES[:2]]
    pg_cluster.create_database(rehearsal.DATABASE)
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in roles + others:
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        conn.execute(
            "SELECT pg_replication_origin_create(%s)", (f"data_copy_{rehearsal.ROLE_PREFIX}{rehearsal.DATABASE}_1",)
        )
    for database in (rehearsal.DATABASE, other_db):
        with psycopg.connect(pg_cluster.dsn(database), autocommit=True) as conn:
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (f"s_{database}"[:63],))
    env = {**os.environ, "PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_HOME": str(tmp_path / "home")}
    try:
        removed = rehearsal.remove_previous(admin, env, REPO_ROOT)
        assert any(rehearsal.DATABASE in r for r in removed) and "2 rehearsal_* roles" in removed, removed
        with psycopg.connect(admin, autocommit=True) as conn:
            names = [
                r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (roles + others,))
            ]
            assert sorted(names) == sorted(others)
            slots = [r[0] for r in conn.execute("SELECT database FROM pg_replication_slots")]
            assert other_db in slots and rehearsal.DATABASE not in slots
            origins = conn.execute(
                "SELECT count(*) FROM pg_replication_origin WHERE strpos(roname, %s) > 0", (rehearsal.DATABASE,)
            )
            assert origins.fetchone() == (0,)
        assert rehearsal.remove_previous(admin, env, REPO_ROOT) == [], "nothing left to remove"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s", (other_db,)
            )
            for role in others:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
