"""The README's walkthrough, run as an owner types it (demo/walkthrough.py reads it from README.md).

Every command of every step runs as a subprocess (bash, the Pulumi CLI through the language
host, `python -m data_copy`, psql) in a throwaway copy of the project, against a throwaway
cluster holding a small generated legacy database; only the server line of step 0 is the
test's. After each command whose outcome the database shows, the test looks: the schemas and
their owner, the roles' access, the rows (the application's row through rollback, forward,
cleanup and restore), the recorded phase; and the stack's outputs and history at the end.
Every check must meet its command in the README, and every command must exit as expected.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg
import pytest
from cli_support import RESOURCES, Done, Owner, connection, latest_phase_event, one, server_line, setup_owner

import legacy_fixture
from catalog import OWNER_ROLE, SCHEMA_NAMES, table_registry
from demo import walkthrough
from pgcluster import Cluster, ServerSettings

pytestmark = pytest.mark.e2e

DATABASE = "walkthrough"
APP = "mlb_betting_app"
LEGACY = table_registry(1)["moneyline"]
NEW = table_registry(2)["moneyline"]
APP_ROW = "SELECT id FROM {} WHERE sportsbook = 'walkthrough'"
HISTORY = ["legacy restored, phase 2", "phase 3", "phase 2 again", "rolled back to phase 1", "phase 2", "phase 1"]
EXPECTED_EXIT = {"python -m data_copy refs": 1}  # references remain: the fixture's own legacy views


class Walk:
    """What the checks need: the cluster, the owner's shell, the application's row id."""

    def __init__(self, cluster: Cluster, owner: Owner) -> None:
        self.cluster = cluster
        self.owner = owner
        self.app_row: int | None = None

    def db(self) -> AbstractContextManager[psycopg.Connection]:
        return connection(self.cluster, DATABASE)

    def can(self, privilege: str, table: str) -> bool:
        with self.db() as conn:
            return bool(one(conn, "SELECT has_table_privilege(%s, %s, %s)", (APP, table, privilege)))

    def phase(self) -> tuple[int, str] | None:
        with self.db() as conn:
            return latest_phase_event(conn)

    def rows(self, table: str) -> list[int]:
        with self.db() as conn:
            if one(conn, "SELECT to_regclass(%s) IS NULL", (table,)):
                return []
            return [r[0] for r in conn.execute(APP_ROW.format(table)).fetchall()]

    def exists(self, table: str) -> bool:
        with self.db() as conn:
            return bool(one(conn, "SELECT to_regclass(%s) IS NOT NULL", (table,)))


# ----------------------------------------------------------------------------- the checks


def secret_set(w: Walk, done: Done) -> None:
    config = (w.owner.project / "Pulumi.dev.yaml").read_text()
    assert "secure:" in config and w.cluster.password not in config, "the password is stored as a secret"


def previewed(w: Walk, done: Done) -> None:
    assert f"+ {RESOURCES} to create" in done.stdout, done.tail()
    with w.db() as conn:
        assert one(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMA_NAMES),)) == 0


def deployed(w: Walk, done: Done) -> None:
    with w.db() as conn:
        owners = dict(
            conn.execute(
                "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = ANY(%s)",
                (list(SCHEMA_NAMES),),
            ).fetchall()
        )
        assert owners == dict.fromkeys(SCHEMA_NAMES, OWNER_ROLE)
    assert w.phase() is None, "nothing recorded before the first run"


def copied(w: Walk, done: Done) -> None:
    assert w.phase() == (1, "phase 1 started")
    with w.db() as conn:
        assert one(conn, f"SELECT count(*) FROM {LEGACY}") == one(conn, f"SELECT count(*) FROM {NEW}") > 0
        failed = conn.execute(
            "SELECT DISTINCT ON (mapping) mapping, status FROM migration_log WHERE step = 'validate'"
            " ORDER BY mapping, id DESC"
        ).fetchall()
        assert failed and all(status == "passed" for _, status in failed), failed
    assert w.can("SELECT", NEW) and not w.can("INSERT", NEW), "phase 1: the application only reads the copy"


def no_changes(w: Walk, done: Done) -> None:
    assert f"{RESOURCES} unchanged" in done.stdout, done.tail()


def refs_listed(w: Walk, done: Done) -> None:
    assert "action.teams_formatted" in done.stdout and "references to legacy tables remain" in done.stderr


def switched(w: Walk, done: Done) -> None:
    assert w.phase() == (2, "switched to phase 2")


def phase_two(w: Walk, done: Done) -> None:
    assert w.can("INSERT", NEW), "phase 2: the application writes the new tables"


def app_wrote(w: Walk, done: Done) -> None:
    new = w.rows(NEW)
    assert len(new) == 1 and w.rows(LEGACY) == []
    w.app_row = new[0]


def rolled_back(w: Walk, done: Done) -> None:
    assert w.phase() == (1, "rolled back to phase 1")
    assert w.rows(LEGACY) == [w.app_row], "the application's row is carried back into legacy"


def phase_one_again(w: Walk, done: Done) -> None:
    assert not w.can("INSERT", NEW) and w.can("SELECT", NEW)


def synced(w: Walk, done: Done) -> None:
    assert w.rows(NEW) == [w.app_row] == w.rows(LEGACY), "the application's row survives, once"


def phase_three_previewed(w: Walk, done: Done) -> None:
    assert "legacyDrop" in done.stdout and f'"{LEGACY}"' in done.stdout, done.tail()
    assert w.exists(LEGACY), "a preview drops nothing"


def cleaned_up(w: Walk, done: Done) -> None:
    assert w.phase() == (3, "phase 3 (legacy dropped)")
    assert not w.exists(LEGACY) and w.rows(NEW) == [w.app_row]
    assert list((w.owner.project / ".state" / "backups").glob("*.dump")), "cleanup wrote its backup"


def restored(w: Walk, done: Done) -> None:
    assert w.phase() == (2, "legacy restored, phase 2 again")
    assert w.rows(LEGACY) == [w.app_row] == w.rows(NEW)


def outputs_shown(w: Walk, done: Done) -> None:
    assert re.search(r"^\s*phase\s+2\s*$", done.stdout, re.MULTILINE), done.tail()
    assert re.search(r"^\s*recordedPhase\s+2\s*$", done.stdout, re.MULTILINE), done.tail()
    registry = w.owner.run("pulumi stack output tableRegistry --json")
    assert json.loads(registry.stdout) == table_registry(2)


def history_shown(w: Walk, done: Done) -> None:
    messages = re.findall(r"^Message: (.*)$", done.stdout, re.MULTILINE)
    assert messages == HISTORY, messages


# (step, the command's start) -> check; each command meets the check of its longest prefix
CHECKS: dict[tuple[int, str], Callable[[Walk, Done], None]] = {
    (0, "pulumi config set --secret postgresql:password"): secret_set,
    (1, "pulumi preview"): previewed,
    (1, "pulumi up"): deployed,
    (1, "python -m data_copy run"): copied,
    (1, "pulumi preview --expect-no-changes"): no_changes,
    (2, "python -m data_copy refs"): refs_listed,
    (3, "python -m data_copy switch"): switched,
    (3, "pulumi up"): phase_two,
    (3, "psql"): app_wrote,
    (4, "python -m data_copy rollback"): rolled_back,
    (4, "pulumi up"): phase_one_again,
    (5, "python -m data_copy switch"): switched,
    (5, "pulumi up"): phase_two,
    (5, "python -m data_copy run"): synced,
    (6, "pulumi preview"): phase_three_previewed,
    (6, "python -m data_copy cleanup"): cleaned_up,
    (6, "python -m data_copy restore"): restored,
    (7, "pulumi stack output"): outputs_shown,
    (7, "pulumi stack history"): history_shown,
}


def _check_for(step: int, command: str) -> tuple[int, str] | None:
    keys = [k for k in CHECKS if k[0] == step and command.startswith(k[1])]
    return max(keys, key=lambda k: len(k[1])) if keys else None


def test_the_readme_walkthrough_as_typed(
    require_engine: Callable[..., None], tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    require_engine("pulumi", "pulumi-language-python", "pulumi-resource-postgresql")
    steps = walkthrough.steps()
    assert [s.number for s in steps] == list(range(8)), [s.title for s in steps]
    with Cluster.throwaway(settings=ServerSettings.for_tests(), prefix="walkthrough-") as cluster:
        cluster.create_database(DATABASE)
        with connection(cluster, DATABASE) as conn:
            legacy_fixture.build(conn, "tiny")
        owner = setup_owner(tmp_path, steps, server_line(cluster, DATABASE))
        walk = Walk(cluster, owner)
        met: list[tuple[int, str]] = []
        start = time.monotonic()
        for step in steps:
            began = time.monotonic()
            for command in step.actions:
                expect = next((code for p, code in EXPECTED_EXIT.items() if command.startswith(p)), 0)
                done = owner.run(command, expect=expect)
                key = _check_for(step.number, command)
                if key is not None:
                    CHECKS[key](walk, done)
                    met.append(key)
            record_property(f"step_{step.number}_seconds", round(time.monotonic() - began, 1))
        record_property("walkthrough_seconds", round(time.monotonic() - start, 1))
    assert sorted(met) == sorted(CHECKS), f"checks that met no command: {set(CHECKS) - set(met)}"
