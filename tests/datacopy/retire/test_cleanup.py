"""Phase 3 cleanup against a real PostgreSQL: every refusal separately, then the success.

Each refusal test checks the one line (reason and fix), that the legacy schemas are
exactly as before (relations, columns, constraints, indexes, views, sequences) and that
the refusal is logged in migration_log as Phase3.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cleanup_support import (
    UNMAPPED,
    build_legacy,
    database_from,
    legacy_fingerprints,
    legacy_shape,
    phase3_log,
    run_cleanup,
    settings_for,
)

import pgbin
from catalog.mappings import MAPPINGS
from catalog.schemas import LEGACY_SCHEMAS
from data_copy import api, report
from data_copy.core.connection import connect
from data_copy.errors import CleanupRefused, CleanupTimedOut, LegacyTableMissing, LegacyTablesBusy, PgToolMissing
from data_copy.refs import dependents
from data_copy.retire import cleanup, guards, live_catalog, pg_tools
from data_copy.retire.backup import Backup
from data_copy.retire.cleanup_plan import plan_cleanup
from data_copy.settings import Settings
from data_copy.state import schema
from data_copy.state.journal import Journal
from pgcluster import Cluster, find_bindir

DROPPABLE = [s for s in LEGACY_SCHEMAS if s != "public"]


@pytest.fixture
def legacy_dsn(pg_cluster: Cluster, validated_template: str) -> Iterator[str]:
    with database_from(pg_cluster, validated_template) as dsn:
        yield dsn


def execute(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def refused(dsn: str, settings: Settings, **kwargs: Any) -> CleanupRefused:
    """Run cleanup, expect a refusal; check that nothing legacy changed and it is logged."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = legacy_shape(conn)
        rows_before = legacy_fingerprints(conn)
    with pytest.raises(CleanupRefused) as caught:
        run_cleanup(dsn, settings, **kwargs)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert legacy_shape(conn) == before
        assert legacy_fingerprints(conn) == rows_before
        assert ("guard", "refused", None) in phase3_log(conn)
        assert not [row for row in phase3_log(conn) if row[1] == "dropped"]
    line = caught.value.line()
    assert "\n" not in line and line.startswith("error: cleanup refused, nothing dropped: ")
    return caught.value


def assert_refused(dsn: str, tmp_path: Path, reasons: list[str], fix: str | None) -> None:
    """Cleanup with the default settings is refused (refused(): nothing changed, logged),
    naming every reason, and the fix says `fix`."""
    error = refused(dsn, settings_for(tmp_path))
    for reason in reasons:
        assert reason in str(error)
    if fix is not None:
        assert fix in error.fix


# ------------------------------------------------------------------ (a) validations


@pytest.mark.parametrize(
    ("statement", "reasons", "fix"),
    [
        pytest.param(
            "DELETE FROM public.migration_log WHERE step = 'validate' AND mapping = 'teams'",
            ["never validated: teams"],
            "run `python -m data_copy run`",
            id="a_validation_is_missing",
        ),
        pytest.param(
            "UPDATE public.migration_log SET source_checksum = NULL, target_checksum = NULL"
            " WHERE step = 'validate' AND mapping = 'spreads'",
            ["latest validation compared counts only: spreads"],
            "without --count-only",
            id="a_count_only_validation",
        ),
        pytest.param(
            "INSERT INTO backtesting.orchestrator_update_triggers (trigger_type, trigger_reason, triggered_at, status)"
            " VALUES ('manual', 'late write from the application', now(), 'PENDING')",
            [
                "legacy data written after the latest validation: orchestrator_update_triggers:",
                "backtesting.orchestrator_update_triggers written at",
            ],
            "re-sync and re-validate",
            id="a_legacy_insert_since_the_validation",
        ),
        pytest.param(
            "UPDATE mlb_betting.totals SET sportsbook = 'changed' WHERE id = (SELECT min(id) FROM mlb_betting.totals)",
            ["totals: legacy rows changed since"],
            None,
            id="an_update_that_left_the_timestamps_alone",
        ),
        pytest.param(
            "DELETE FROM clean.betting_recommendations WHERE id = (SELECT min(id) FROM clean.betting_recommendations)",
            ["betting_recommendations: 299 legacy rows now, 300 at"],
            None,
            id="a_legacy_delete",
        ),
        # (c) objects that stay and depend on legacy objects
        pytest.param(
            "CREATE VIEW analytics.games_by_day AS SELECT game_datetime::date AS day, count(*) AS n"
            " FROM splits.games GROUP BY 1",
            ["objects that stay depend on legacy objects: view analytics.games_by_day: depends on table splits.games"],
            "drop those objects or point them at the new tables",
            id="a_view_outside_the_legacy_schemas",
        ),
        pytest.param(
            "CREATE TABLE core_betting.notes (id int PRIMARY KEY, game_id int REFERENCES public.games (id))",
            ["table constraint notes_game_id_fkey on core_betting.notes: depends on", "public.games"],
            None,
            id="a_foreign_key_from_outside",
        ),
        pytest.param(
            "CREATE TABLE public.app_picks (id int PRIMARY KEY, game_id int REFERENCES public.games (id))",
            ["table constraint app_picks_game_id_fkey on public.app_picks: depends on"],
            None,
            id="a_foreign_key_from_a_table_public_keeps",
        ),
    ],
)
def test_refuses_after_one_statement(
    legacy_dsn: str, tmp_path: Path, statement: str, reasons: list[str], fix: str | None
) -> None:
    execute(legacy_dsn, statement)
    assert_refused(legacy_dsn, tmp_path, reasons, fix)


def test_database_still_in_phase_1_refuses_and_drops_nothing(fresh_dsn: str, tmp_path: Path) -> None:
    """The check of the issue: validation never ran (no migration_log at all)."""
    build_legacy(fresh_dsn, validated=False)
    error = refused(fresh_dsn, settings_for(tmp_path))
    assert "never validated: " in str(error)
    assert f"and {len(MAPPINGS) - 8} more" in str(error)  # every mapping, 8 named
    assert not (tmp_path / "backups").exists()


def test_refuses_when_the_latest_validation_failed(legacy_dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        j = Journal(conn, "Phase2")
        entry = j.start("validate", "totals", "mlb_betting.totals", "core_betting.betting_lines_totals")
        j.finish(entry, "failed", source_count=300, target_count=299, error_message="count 300 legacy vs 299 new")
    reason = "latest validation failed: totals: count 300 legacy vs 299 new"
    assert_refused(legacy_dsn, tmp_path, [reason], "fix what the validation reports")


# ------------------------------------------------------------ (b) unmapped tables


def test_unmapped_tables_with_rows_refuse_until_marked_disposable(legacy_dsn: str, tmp_path: Path) -> None:
    """The issue's check: an extra unmapped table holding rows in a legacy schema is named;
    marked disposable, cleanup succeeds and `public` (with its own unmapped table) stays."""
    execute(
        legacy_dsn,
        "CREATE TABLE tracking.scratch_notes (id int PRIMARY KEY, note text)",
        "INSERT INTO tracking.scratch_notes VALUES (1, 'keep?'), (2, 'maybe')",
        "CREATE TABLE public.app_notes (id int PRIMARY KEY, note text)",
        "INSERT INTO public.app_notes VALUES (1, 'the application''s own table')",
    )
    error = refused(legacy_dsn, settings_for(tmp_path, disposable=UNMAPPED))
    assert "unmapped legacy tables hold rows: tracking.scratch_notes: 2 rows, not in the legacy catalog" in str(error)
    assert "consolidation:disposableTables" in error.fix
    assert "public.app_notes" not in str(error)  # public is never dropped: its tables are safe

    error = refused(legacy_dsn, settings_for(tmp_path, disposable=()))
    for table in ("backtesting.alert_history: 12 rows", "action.fact_games: 12 rows"):
        assert table in str(error)

    report = run_cleanup(legacy_dsn, settings_for(tmp_path, disposable=(*UNMAPPED, "tracking.scratch_notes")))
    assert "tracking" in report.dropped_schemas
    assert "tracking.scratch_notes" in report.plan.disposable
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT note FROM public.app_notes").fetchall() == [("the application's own table",)]
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == ["public"]


def test_an_empty_unmapped_table_goes_with_its_schema(legacy_dsn: str, tmp_path: Path) -> None:
    execute(legacy_dsn, *(f"TRUNCATE {t} CASCADE" for t in UNMAPPED))
    report = run_cleanup(legacy_dsn, settings_for(tmp_path, disposable=()))
    assert set(UNMAPPED) <= set(report.plan.schema_tables)
    assert report.plan.disposable == ()
    assert report.fingerprints["backtesting.alert_history"] == (0, "0")


# ------------------------------------------------------------- (c) dependencies


def test_refuses_a_function_and_a_trigger_that_depend_on_legacy_objects(legacy_dsn: str, tmp_path: Path) -> None:
    execute(
        legacy_dsn,
        "CREATE TABLE public.app (id int)",
        # a PL/pgSQL body: invisible to pg_depend, found by the text heuristic
        "CREATE FUNCTION operational.splits_rows() RETURNS bigint LANGUAGE plpgsql AS"
        " $$BEGIN RETURN (SELECT count(*) FROM splits.raw_mlb_betting_splits); END$$",
        "CREATE FUNCTION operational.quoted() RETURNS bigint LANGUAGE sql AS"
        ' \'SELECT count(*) FROM "mlb_betting"."totals"\'',
        "CREATE FUNCTION operational.public_games() RETURNS bigint LANGUAGE plpgsql AS"
        " $$BEGIN RETURN (SELECT count(*) FROM public.games); END$$",
        "CREATE FUNCTION operational.unrelated() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.app'",
        # a signature using a legacy row type, and a trigger calling a legacy function: pg_depend
        "CREATE FUNCTION operational.home(g public.games) RETURNS text LANGUAGE sql AS 'SELECT g.home_team'",
        "CREATE FUNCTION action.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
        "CREATE TABLE operational.audit (id int)",
        "CREATE TRIGGER audit_touch BEFORE INSERT ON operational.audit FOR EACH ROW EXECUTE FUNCTION action.touch()",
    )
    error = str(refused(legacy_dsn, settings_for(tmp_path)))
    assert "functions that stay mention legacy objects: function operational." in error
    assert "function operational.splits_rows(): mentions splits." in error
    assert 'function operational.quoted(): mentions "mlb_betting".' in error
    assert "function operational.public_games(): mentions public.games" in error
    assert "operational.unrelated" not in error
    assert "function operational.home(public.games): depends on" in error
    assert "trigger audit_touch on operational.audit: depends on function action.touch()" in error


def test_a_view_in_public_on_a_migrated_table_is_dropped_and_backed_up(legacy_dsn: str, tmp_path: Path) -> None:
    """Views inside the legacy schemas go with their tables (the guide's public view does)."""
    report = run_cleanup(legacy_dsn, settings_for(tmp_path))
    assert report.dropped_views == ["public.games_with_betting_data"]
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        assert dependents.relation_oids(conn, ["public.games_with_betting_data"]) == []
        major = pg_tools.server_major(conn)
    _, toc = pg_tools.read_toc(report.dump, pg_tools.pg_tool("pg_restore", major))  # type: ignore[arg-type]
    assert any(e.kind == "VIEW" and e.schema == "public" and e.first_word == "games_with_betting_data" for e in toc)


# ------------------------------------------------------------------- (d) backup


def test_refuses_when_the_backup_cannot_be_written(legacy_dsn: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    error = refused(
        legacy_dsn, Settings(backup_dir=str(blocker / "backups"), disposable_tables=UNMAPPED, accept_legacy_reads=True)
    )
    assert "backup missing or unreadable" in str(error)
    assert "consolidation:backupDir is writable" in error.fix


def test_refuses_when_the_backup_is_corrupted_before_the_drop(legacy_dsn: str, tmp_path: Path) -> None:
    seen: list[Path] = []

    def corrupt(backup: Backup) -> None:
        seen.append(backup.path)
        data = bytearray(backup.path.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
        backup.path.write_bytes(bytes(data))

    error = refused(legacy_dsn, settings_for(tmp_path), after_backup=corrupt)
    assert seen and f"backup {seen[0]}: changed since it was written" in str(error)


def test_refuses_when_the_backup_is_replaced_by_an_unreadable_file(legacy_dsn: str, tmp_path: Path) -> None:
    def replace(backup: Backup) -> None:
        backup.path.write_bytes(b"PGDMP" + b"\xff" * 100)

    error = refused(legacy_dsn, settings_for(tmp_path), after_backup=replace)
    assert "backup missing or unreadable" in str(error)


def test_backup_guard_on_its_own(legacy_dsn: str, tmp_path: Path) -> None:
    """(d) without the sha256 shortcut: missing, empty, not a dump, lacking a table."""
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        pg_restore = pg_tools.pg_tool("pg_restore", pg_tools.server_major(conn))
    missing = tmp_path / "absent.dump"
    assert guards.backup_problems(missing, pg_restore, [], [])[0].detail == "does not exist"
    empty = tmp_path / "empty.dump"
    empty.write_bytes(b"")
    assert guards.backup_problems(empty, pg_restore, [], [])[0].detail == "is empty"
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"this is not a pg_dump archive")
    problem = guards.backup_problems(garbage, pg_restore, [], [])[0]
    assert problem.kind == "backup" and "unreadable" in problem.detail
    report = run_cleanup(legacy_dsn, settings_for(tmp_path))
    assert report.dump is not None
    assert guards.backup_problems(report.dump, pg_restore, list(report.plan.dropped_tables), report.plan.schemas) == []
    lacking = guards.backup_problems(report.dump, pg_restore, ["splits.not_there"], ["nowhere"])
    assert lacking[0].detail == "lacks splits.not_there, schema nowhere"


# --------------------------------------------------------------------- the rest


def test_refuses_while_the_application_still_writes_a_legacy_table(legacy_dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(legacy_dsn) as writer:  # an open transaction that writes splits.games
        writer.execute("LOCK TABLE splits.games IN ROW EXCLUSIVE MODE")
        error = refused(legacy_dsn, settings_for(tmp_path, lock_timeout="300ms"))
        writer.rollback()
    assert isinstance(error, LegacyTablesBusy)
    assert "a legacy table is in use (lock_timeout 300ms)" in str(error)


def test_an_empty_database_is_not_taken_for_a_cleaned_up_one(fresh_dsn: str, tmp_path: Path) -> None:
    with pytest.raises(LegacyTableMissing, match="has no legacy table or schema"):
        run_cleanup(fresh_dsn, settings_for(tmp_path))


def test_dry_run_prints_the_plan_and_the_refusal_and_changes_nothing(
    legacy_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        before = legacy_shape(conn)
    shown = {"on_plan": report.cleanup_plan, "step": report.step}
    with pytest.raises(CleanupRefused, match="unmapped legacy tables hold rows"):
        api.cleanup(legacy_dsn, settings_for(tmp_path, disposable=()), dry_run=True, **shown)
    out = capsys.readouterr().out
    assert "drop table splits.raw_mlb_betting_splits (migrated to raw_data.raw_mlb_betting_splits)" in out
    assert "backtesting.alert_history (holds rows: cleanup refuses)" in out
    outcome = api.cleanup(legacy_dsn, settings_for(tmp_path), dry_run=True, **shown)
    assert outcome.guards_passed and outcome.report is None
    report.cleanup(outcome)
    assert "all guards pass" in capsys.readouterr().out
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        assert legacy_shape(conn) == before
    assert not (tmp_path / "backups").exists()


def test_successful_cleanup(legacy_dsn: str, tmp_path: Path) -> None:
    """Drops exactly the migrated tables and the legacy schemas; keeps public, its unmapped
    tables, migration_log and functions; logs every step; the backup is a readable dump."""
    execute(
        legacy_dsn,
        "CREATE FUNCTION public.check_user_permissions(name text) RETURNS text LANGUAGE sql AS 'SELECT name'",
        "CREATE TABLE public.app_settings (key text PRIMARY KEY, value text)",
        "INSERT INTO public.app_settings VALUES ('theme', 'dark')",
    )
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        before = legacy_fingerprints(conn)
    settings = settings_for(tmp_path)
    report = run_cleanup(legacy_dsn, settings)
    sources = {s for m in MAPPINGS for s in m.sources}
    assert set(report.dropped_tables) == sources
    assert report.dropped_schemas == DROPPABLE
    assert report.dump is not None and report.dump.parent == tmp_path / "backups"
    assert report.dump.name.endswith(f"-{report.run_id}.dump")
    assert stat.S_IMODE(report.dump.stat().st_mode) == 0o600
    assert report.fingerprints == {t: before[t] for t in report.plan.dropped_tables}

    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == ["public"]
        public = set(live_catalog.existing_tables(conn, ["public"]))
        # every table of ours (state/schema.py) stays, and none but ours and the app's
        assert public == {"public.app_settings", *(f"public.{name}" for name in schema.NAMES)}
        assert conn.execute("SELECT public.check_user_permissions('x')").fetchone() == ("x",)
        assert conn.execute("SELECT value FROM public.app_settings").fetchone() == ("dark",)
        log = phase3_log(conn)
        backups = conn.execute(
            "SELECT table_source, source_count, source_checksum FROM public.migration_log"
            " WHERE migration_phase = 'Phase3' AND step = 'backup' AND table_source IS NOT NULL"
        ).fetchall()
    assert {t: (c, s) for t, c, s in backups} == report.fingerprints
    assert [(step, status) for step, status, _ in log if step == "drop_schema"] == [("drop_schema", "dropped")] * 8
    assert {src for step, status, src in log if step == "drop_table" and status == "dropped"} == sources
    assert log[-1] == ("cleanup", "completed", None)

    again = run_cleanup(legacy_dsn, settings)  # idempotent: nothing left, nothing refused
    assert again.nothing_done and again.dump is None


def test_plan_names_everything_and_changes_nothing(legacy_dsn: str) -> None:
    settings = Settings(disposable_tables=UNMAPPED, accept_legacy_reads=True)
    with connect(legacy_dsn, settings) as conn:
        before = legacy_shape(conn)
        plan = plan_cleanup(conn, settings)
        assert legacy_shape(conn) == before
    assert plan.schemas == tuple(DROPPABLE)
    assert plan.views == ("public.games_with_betting_data",)
    assert "public.games_id_seq" in plan.kept_schema_names and "public.games" in plan.kept_schema_names
    lines = plan.lines()
    assert lines[0] == "drop table public.sbr_raw_html (migrated to raw_data.sbr_raw_html)"
    assert any(ln.startswith("drop schema action with action.fact_games (holds rows, disposable)") for ln in lines)
    assert lines[-1].startswith("keep schema public")
    assert plan.as_dict()["schemas"] == list(DROPPABLE) or plan.as_dict()["schemas"] == tuple(DROPPABLE)


def test_plan_lines_name_every_view_and_schema(legacy_dsn: str) -> None:
    settings = Settings(disposable_tables=UNMAPPED, accept_legacy_reads=True)
    with connect(legacy_dsn, settings) as conn:
        lines = plan_cleanup(conn, settings).lines()
    assert "drop view public.games_with_betting_data (depends on dropped tables)" in lines
    assert sum(ln.startswith("drop schema ") for ln in lines) == len(DROPPABLE)


def test_pg_tools_match_the_server(legacy_dsn: str) -> None:
    with psycopg.connect(legacy_dsn) as conn:
        major = pg_tools.server_major(conn)
    for tool in ("pg_dump", "pg_restore"):
        path = pg_tools.pg_tool(tool, major)
        assert path.name == tool and (pgbin.program_major(path) or 0) >= major
    with pytest.raises(PgToolMissing, match="pg_dump for PostgreSQL 99 not found"):
        pg_tools.pg_tool("pg_dump", 99)


def test_pg_tools_honour_pgcluster_bindir(legacy_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$PGCLUSTER_BINDIR comes first for the client tools too (as for pgcluster's server):
    a directory of symlinks to the real tools of the server's version wins over
    /usr/lib/postgresql/<major>/bin, and pgcluster finds its server there as well."""
    with psycopg.connect(legacy_dsn) as conn:
        major = pg_tools.server_major(conn)
    links = tmp_path / "bin"
    links.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        (links / tool).symlink_to(pg_tools.pg_tool(tool, major).resolve())
    server = find_bindir()
    for tool in pgbin.SERVER_TOOLS:
        (links / tool).symlink_to((server / tool).resolve())
    monkeypatch.setenv("PGCLUSTER_BINDIR", str(links))
    for tool in ("pg_dump", "pg_restore"):
        found = pg_tools.pg_tool(tool, major)
        assert found == links / tool and pgbin.program_major(found) == major
    assert find_bindir() == links
    monkeypatch.setenv("PGCLUSTER_BINDIR", str(tmp_path / "empty"))  # not there: the usual order
    assert pg_tools.pg_tool("pg_dump", major).parent != links


def test_the_command_line_refuses_with_one_line_and_exit_code_3(legacy_dsn: str, tmp_path: Path) -> None:
    """`python -m data_copy cleanup --dsn DSN` (the defaults: nothing disposable) refuses."""
    import subprocess
    import sys

    root = Path(cleanup.__file__).resolve().parents[2]  # the checkout (data_copy/retire/cleanup.py)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "cleanup", "--dsn", legacy_dsn],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cleanup refused, nothing dropped: unmapped legacy tables")
    assert "Traceback" not in proc.stderr
    dry = subprocess.run(
        [sys.executable, "-m", "data_copy", "cleanup", "--dsn", legacy_dsn, "--dry-run"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(root), "COLUMNS": "200"},
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 3 and "drop schema splits" in dry.stdout
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        assert live_catalog.existing_schemas(conn, LEGACY_SCHEMAS) == list(LEGACY_SCHEMAS)


def test_a_statement_timeout_is_a_refusal_not_a_traceback(legacy_dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        before = legacy_fingerprints(conn)
    with psycopg.connect(legacy_dsn) as holder:  # e.g. a long migration of the application
        holder.execute("LOCK TABLE splits.games IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(CleanupTimedOut) as caught:
            run_cleanup(legacy_dsn, settings_for(tmp_path, statement_timeout="300ms", lock_timeout="5s"))
        holder.rollback()
    error = caught.value
    assert "statement_timeout 300ms reached" in str(error) and "consolidation:statementTimeout" in error.fix
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        assert legacy_fingerprints(conn) == before
        assert ("guard", "refused", None) in phase3_log(conn)
