"""The rehearsal environment (`make demo LEGACY_DUMP=...`): its own stack, database and role prefix.

A rehearsal starts from the dump every time. Its stack (`rehearsal`, rolePrefix `rehearsal_`,
database `mlb_betting_rehearsal`) lives beside the demo's `dev` stack on the demo's cluster, so
neither touches the other's roles, database or state. Before a new rehearsal, the last one is
removed whole: its stack's state (`pulumi stack rm --force`: the database is dropped anyway),
its replication slots and origins, its database and its roles. Nothing of `dev` is touched.

A dump of a database this project has already run on also holds the project's own objects
(the consolidated schemas, data_copy's `public.migration_*` tables, the permission functions):
without_project_objects() drops them after the load, so the rehearsal starts from legacy alone.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

import psycopg
from psycopg import sql

from catalog import SCHEMA_NAMES, UNQUALIFIED_SCHEMA
from components.permission_sql import CHECK_FUNCTION, GRANT_FUNCTION
from stack_settings.naming import LOGICAL_ROLE_NAMES

STACK = "rehearsal"
DATABASE = "mlb_betting_rehearsal"
ROLE_PREFIX = "rehearsal_"


def remove_previous(admin_dsn: str, env: Mapping[str, str], cwd: Path) -> list[str]:
    """Removes the last rehearsal (if any); returns what was removed, one phrase each."""
    removed = []
    listed = subprocess.run(["pulumi", "stack", "ls", "--json"], cwd=cwd, env=dict(env), capture_output=True, text=True)
    if listed.returncode == 0 and any(s.get("name") == STACK for s in json.loads(listed.stdout or "[]")):
        rm = subprocess.run(
            ["pulumi", "stack", "rm", STACK, "--force", "--yes"], cwd=cwd, env=dict(env), capture_output=True, text=True
        )
        if rm.returncode != 0:
            detail = (rm.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"`pulumi stack rm {STACK} --force --yes` failed: {detail}")
        removed.append(f"stack {STACK}")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for (slot,) in conn.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE database = %s", (DATABASE,)
        ).fetchall():
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            removed.append(f"replication slot {slot}")
        for (origin,) in conn.execute(
            "SELECT roname FROM pg_replication_origin WHERE strpos(roname, %s) > 0", (ROLE_PREFIX + DATABASE,)
        ).fetchall():
            conn.execute("SELECT pg_replication_origin_drop(%s)", (origin,))
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
            removed.append(f"database {DATABASE}")
        roles = [ROLE_PREFIX + name for name in LOGICAL_ROLE_NAMES]
        present = [r for (r,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (roles,))]
        for role in present:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        if present:
            removed.append(f"{len(present)} {ROLE_PREFIX}* roles")
    return removed


def without_project_objects(dsn: str) -> list[str]:
    """Drops what this project creates in a database, if the loaded dump held any; returns what went."""
    dropped = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in SCHEMA_NAMES:
            if conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (schema,)).fetchone() == (True,):
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
                dropped.append(f"schema {schema}")
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname LIKE 'migration\\_%%'",
            (UNQUALIFIED_SCHEMA,),
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(UNQUALIFIED_SCHEMA, table)))
        if tables:
            dropped.append(f"{len(tables)} data_copy tables {UNQUALIFIED_SCHEMA}.migration_*")
        for function in (GRANT_FUNCTION, CHECK_FUNCTION):
            for (signature,) in conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = %s AND p.proname = %s",
                (UNQUALIFIED_SCHEMA, function),
            ).fetchall():  # regprocedure prints a quoted, qualified signature
                conn.execute(sql.SQL("DROP FUNCTION {}").format(sql.SQL(signature)))
                dropped.append(f"function {signature}")
    return dropped
