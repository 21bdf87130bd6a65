"""Two stacks on one server, as typed: `dev` (the README walkthrough's commands) and `staging`
(docs/two-stacks.md's block), each with its own database and role prefix, through phases 1 and 2
side by side on one throwaway cluster.

After each stack's step, the other stack's footprint is compared with what it was before: its
roles (attributes, memberships), every grant in its database (schemas, tables, sequences,
functions, default privileges), its replication slot, its recorded phases and its registry
(`pulumi stack output`). No grant in either database names the other stack's roles, and each
stack's `pulumi refresh --expect-no-changes` passes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import Owner, connection, grants_in, roles_of, server_line, setup_owner, slots_of

import legacy_fixture
from catalog import OWNER_ROLE, ROLES, table_registry
from demo import walkthrough
from pgcluster import Cluster, ServerSettings

pytestmark = pytest.mark.e2e

DOC = walkthrough.ROOT / "docs" / "two-stacks.md"
MARKER = "<!-- two stacks: run as written by tests/e2e/test_two_stacks.py -->"


@dataclass(frozen=True)
class Env:
    stack: str
    database: str
    prefix: str

    @property
    def roles(self) -> set[str]:
        return {self.prefix + OWNER_ROLE, *(self.prefix + r.name for r in ROLES)}


DEV = Env("dev", "mlb_betting", "")
STAGING = Env("staging", "mlb_betting_staging", "staging_")


def footprint(cluster: Cluster, owner: Owner, env: Env) -> dict[str, Any]:
    """What a stack has on the server, and the registry it exports."""
    with connection(cluster, env.database) as conn:
        found = {
            "roles": roles_of(conn, env.prefix),
            "grants": grants_in(conn),
            "slots": slots_of(conn, env.database),
            "phases": conn.execute(
                "SELECT id, phase, event, stack FROM public.migration_phase_events ORDER BY id"
            ).fetchall(),
        }
    registry = owner.run(f"pulumi stack output --stack {env.stack} tableRegistry --json")
    found["registry"] = json.loads(registry.stdout)
    return found


def grantees(cluster: Cluster, database: str) -> set[str]:
    """Every role named in a grant of the consolidated schemas' objects or default privileges."""
    with connection(cluster, database) as conn:
        rows = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(a.grantee) FROM ("
            "  SELECT nspacl AS acl FROM pg_namespace UNION ALL SELECT relacl FROM pg_class"
            "  UNION ALL SELECT proacl FROM pg_proc UNION ALL SELECT defaclacl FROM pg_default_acl"
            ") o, aclexplode(o.acl) a WHERE a.grantee <> 0"
        ).fetchall()
    return {r[0] for r in rows}


def test_dev_and_staging_side_by_side(
    require_engine: Callable[..., None], tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    require_engine("pulumi", "pulumi-language-python", "pulumi-resource-postgresql")
    readme = walkthrough.steps()
    doc = walkthrough.steps(DOC, MARKER)
    assert [s.number for s in doc] == list(range(5)), [s.title for s in doc]
    dev_phase_1 = [c for c in readme[1].actions if c.startswith(("pulumi up", "python -m data_copy run"))]
    dev_phase_2 = [c for c in readme[3].actions if c.startswith(("python -m data_copy switch", "pulumi"))]
    assert len(dev_phase_1) == 2 and len(dev_phase_2) == 3, (dev_phase_1, dev_phase_2)
    start = time.monotonic()
    with Cluster.throwaway(settings=ServerSettings.for_tests(), prefix="two-stacks-") as cluster:
        cluster.create_database(DEV.database)
        with connection(cluster, DEV.database) as conn:
            legacy_fixture.build(conn, "tiny")
        owner = setup_owner(tmp_path, readme, server_line(cluster, DEV.database))

        def run(commands: tuple[str, ...] | list[str]) -> None:
            for command in commands:
                owner.run(command)

        run(readme[0].actions)  # dev's stack and config, selected
        run(doc[0].actions + doc[1].actions)  # staging's database and stack, beside it

        run(dev_phase_1)
        dev = footprint(cluster, owner, DEV)
        assert dev["slots"] and dev["registry"] == table_registry(1)

        run(doc[2].actions)  # staging, phase 1
        assert footprint(cluster, owner, DEV) == dev, "staging's phase 1 changed nothing of dev's"
        staging = footprint(cluster, owner, STAGING)
        assert staging["slots"] and staging["slots"] != dev["slots"]
        assert set(staging["roles"]) == STAGING.roles and set(dev["roles"]) == DEV.roles

        run(dev_phase_2)
        assert footprint(cluster, owner, STAGING) == staging, "dev's phase 2 changed nothing of staging's"
        dev = footprint(cluster, owner, DEV)
        assert dev["registry"] == table_registry(2) and dev["phases"][-1][2] == "switched to phase 2"

        run(doc[3].actions)  # staging, phase 2
        assert footprint(cluster, owner, DEV) == dev, "staging's phase 2 changed nothing of dev's"
        staging = footprint(cluster, owner, STAGING)
        assert staging["registry"] == table_registry(2)
        assert staging["phases"][-1][2:] == ("switched to phase 2", "staging")

        assert not grantees(cluster, DEV.database) & STAGING.roles, "no grant in dev's database names staging's roles"
        assert not grantees(cluster, STAGING.database) & DEV.roles, "no grant in staging's database names dev's roles"
        run(doc[4].actions)  # each stack's refresh: --expect-no-changes
    record_property("two_stacks_seconds", round(time.monotonic() - start, 1))
    for done in owner.ran:
        record_property(f"{done.seconds:6.1f}s", done.command)


def test_a_password_starting_with_a_dash_is_set_as_typed(require_engine: Callable[..., None], tmp_path: Path) -> None:
    """Both pages' config lines take any password: one starting with '-' (a generated one does,
    1 time in 64) is the value, not a flag the CLI refuses. No server is needed to set config."""
    require_engine("pulumi")
    password = "-t6bxbkLpNDMJXj_EL6n4A5zNnxK2eub"
    readme = walkthrough.steps()
    doc = walkthrough.steps(DOC, MARKER)
    server = f"export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGDATABASE={DEV.database} PGPASSWORD={password}"
    owner = setup_owner(tmp_path, readme, server)
    staging = [c for c in doc[1].actions if c.startswith(("pulumi stack init", "pulumi config set"))]
    assert any("postgresql:password" in c for c in staging), staging
    for command in readme[0].actions + tuple(staging):
        owner.run(command)
    for env in (DEV, STAGING):
        shown = owner.run(f"pulumi config get --stack {env.stack} postgresql:password")
        assert shown.stdout.strip() == password, shown.tail()
