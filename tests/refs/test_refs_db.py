"""`refs --dsn` against a real PostgreSQL: one object of each kind, and pg_stat_statements.

The legacy database is legacy_fixture's tiny one (its own legacy views and foreign keys
reference mapped tables: that baseline is checked too); each test adds objects and
checks that exactly those are found, with the right kind, legacy table and way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import legacy_fixture
from data_copy.refs import db
from pgcluster import Cluster

ROOT = Path(__file__).resolve().parents[2]

BASELINE = {
    ("foreign key", "table constraint fact_games_dim_away_team_actionid_fkey on action.fact_games", "action.dim_teams"),
    ("foreign key", "table constraint fact_games_dim_home_team_actionid_fkey on action.fact_games", "action.dim_teams"),
    ("view", "view action.teams_formatted", "action.dim_teams"),
    ("view", "view backtesting.performance_trends", "backtesting.strategy_performance"),
    ("view", "view backtesting.strategy_performance_summary", "backtesting.strategy_performance"),
    ("view", "view public.games_with_betting_data", "public.games"),
    ("view", "view timing_analysis.current_timing_performance", "timing_analysis.timing_bucket_performance"),
}
"""What the fixture's own legacy objects reference (the user's catalog has these views and keys)."""

OBJECTS = [
    "CREATE SCHEMA app",
    "CREATE VIEW app.v_games AS SELECT id FROM splits.games",
    "CREATE MATERIALIZED VIEW app.mv_totals AS SELECT count(*) AS n FROM mlb_betting.totals",
    # bodies: pg_depend does not see them
    "CREATE FUNCTION app.team_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM action.dim_teams'",
    "CREATE FUNCTION app.spread_count() RETURNS bigint LANGUAGE plpgsql SET search_path = mlb_betting, public"
    " AS $$BEGIN RETURN (SELECT count(*) FROM spreads); END$$",
    "CREATE PROCEDURE app.purge() LANGUAGE plpgsql AS"
    " $$BEGIN DELETE FROM clean.betting_recommendations WHERE false; END$$",
    # dynamic SQL: listed apart
    "CREATE FUNCTION app.count_of(t text) RETURNS bigint LANGUAGE plpgsql AS"
    " $$DECLARE n bigint; BEGIN EXECUTE format('SELECT count(*) FROM %I', t) INTO n; RETURN n; END$$",
    # not references: a comment, a CTE named like a legacy table, a new-looking table
    "CREATE FUNCTION app.harmless() RETURNS bigint LANGUAGE plpgsql AS"
    " $$BEGIN -- once read public.game_outcomes\n RETURN (WITH games AS (SELECT 1) SELECT count(*) FROM games); END$$",
    # a trigger and a rule attached to legacy tables, a rule and a foreign key and a
    # column default on a table of ours
    "CREATE FUNCTION app.noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
    "CREATE TRIGGER app_touch AFTER INSERT ON tracking.pre_game_recommendations"
    " FOR EACH ROW EXECUTE FUNCTION app.noop()",
    "CREATE RULE app_no_delete AS ON DELETE TO public.sbr_raw_html DO INSTEAD NOTHING",
    "CREATE TABLE app.audit (id int)",
    "CREATE RULE app_audit AS ON UPDATE TO app.audit DO ALSO"
    " DELETE FROM backtesting.orchestrator_update_triggers WHERE false",
    "CREATE TABLE app.picks (id bigint DEFAULT nextval('public.games_id_seq'),"
    " game_id int REFERENCES public.games (id))",
]

EXPECTED = {
    ("view", "view app.v_games", "splits.games", "pg_depend"),
    ("materialized view", "materialized view app.mv_totals", "mlb_betting.totals", "pg_depend"),
    ("function", "function app.team_count()", "action.dim_teams", "body"),
    ("function", "function app.spread_count()", "mlb_betting.spreads", "body"),
    ("procedure", "procedure app.purge()", "clean.betting_recommendations", "body"),
    (
        "trigger",
        "trigger app_touch on tracking.pre_game_recommendations",
        "tracking.pre_game_recommendations",
        "attached",
    ),
    ("rule", "rule app_no_delete on public.sbr_raw_html", "public.sbr_raw_html", "attached"),
    ("rule", "rule app_audit on app.audit", "backtesting.orchestrator_update_triggers", "pg_depend"),
    ("foreign key", "table constraint picks_game_id_fkey on app.picks", "public.games", "pg_depend"),
    ("column default", "default value for app.picks.id", "public.games", "pg_depend"),
}


@pytest.fixture
def legacy_dsn(fresh_dsn: str) -> Iterator[str]:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny")
    yield fresh_dsn


def scan(dsn: str) -> db.DbReport:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return db.scan_database(conn)


def found(report: db.DbReport) -> set[tuple[str, str, str, str]]:
    return {(f.kind, f.object, f.legacy_table, f.via) for f in report.findings}


def test_the_fixture_baseline(legacy_dsn: str) -> None:
    report = scan(legacy_dsn)
    assert {(f.kind, f.object, f.legacy_table) for f in report.findings} == BASELINE
    assert len(report.findings) == 7
    assert len(report.present) == 15  # every mapped legacy table exists
    assert all(f.legacy_object for f in report.findings)  # the user's own legacy views and keys


def test_one_object_of_each_kind(legacy_dsn: str) -> None:
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        for statement in OBJECTS:
            conn.execute(statement)
    report = scan(legacy_dsn)
    new = {f for f in found(report) if f[:3] not in BASELINE}
    assert new == EXPECTED
    assert len(report.findings) == len(BASELINE) + len(EXPECTED) == 17
    assert not [f for f in report.findings if "harmless" in f.object or "noop" in f.object]
    legacy = {
        f.object for f in report.findings if f.legacy_object and (f.kind, f.object, f.legacy_table) not in BASELINE
    }
    assert legacy == {
        "trigger app_touch on tracking.pre_game_recommendations",
        "rule app_no_delete on public.sbr_raw_html",
    }  # attached to legacy tables; the rule on app.audit is ours
    assert report.dynamic == ["function app.count_of(pg_catalog.text): PL/pgSQL EXECUTE of a string built at run time"]


def test_statements_seen_by_pg_stat_statements(pg_cluster: Cluster, legacy_dsn: str) -> None:
    role = f"refs_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'refs-test'").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA splits TO {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT SELECT ON splits.games TO {}").format(sql.Identifier(role)))
    try:
        app_dsn = f"postgresql://{role}:refs-test@{pg_cluster.host}:{pg_cluster.port}/{legacy_dsn.rsplit('/', 1)[1]}"
        with psycopg.connect(app_dsn, autocommit=True) as app:
            for game in ("a", "b", "c"):
                app.execute("SELECT count(*) FROM splits.games WHERE id <> %s", (game,))
        report = scan(legacy_dsn)
        mine = [s for s in report.statements if s.role == role]
        assert [(s.calls, s.legacy_tables) for s in mine] == [(3, ("splits.games",))]
        assert mine[0].query == "SELECT count(*) FROM splits.games WHERE id <> $1"
        assert report.statements_note == ""
    finally:
        with psycopg.connect(legacy_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON splits.games FROM {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA splits FROM {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_without_the_extension_it_says_so(legacy_dsn: str) -> None:
    report = scan(legacy_dsn)
    assert report.statements == []
    assert report.statements_note.startswith("pg_stat_statements is not installed in this database")


def refs_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "data_copy", "refs", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_cli_on_the_database(legacy_dsn: str) -> None:
    proc = refs_cli("--dsn", legacy_dsn, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    items = json.loads(proc.stdout)
    assert {(i["kind"], i["object"], i["legacy_table"]) for i in items} == BASELINE
    assert {i["new_table"] for i in items if i["legacy_table"] == "public.games"} == {"core_betting.games"}
    text = refs_cli("--dsn", legacy_dsn)
    assert (
        "database: view public.games_with_betting_data: public.games (pg_depend):"
        " use get_table_registry().get_table('games') -> core_betting.games"
        " [in a legacy schema: reads legacy data after the switch; phase 3 drops it]" in text.stdout.splitlines()
    )
    assert (
        text.stderr.strip().splitlines()[-1].startswith("error: references to legacy tables remain: 7 in the database")
    )


def test_database_qualified_names_are_checked_against_the_connected_database(legacy_dsn: str, tmp_path: Path) -> None:
    """With --dsn, the catalog part must name the database connected to (as PostgreSQL
    reads it); another database's name is unparsed; --database must agree with --dsn."""
    dbname = legacy_dsn.rsplit("/", 1)[1]
    app = tmp_path / "q.sql"
    app.write_text(f"SELECT * FROM {dbname.upper()}.splits.games;\nSELECT * FROM other_db.public.games;\n")
    with psycopg.connect(legacy_dsn, autocommit=True) as conn:
        # PostgreSQL itself: the first runs, the second is refused
        conn.execute(f"SELECT count(*) FROM {dbname.upper()}.splits.games")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="cross-database references"):
            conn.execute("SELECT count(*) FROM other_db.public.games")
    proc = refs_cli(str(app), "--dsn", legacy_dsn, "--format", "json")
    items = [i for i in json.loads(proc.stdout) if "file" in i]
    assert [(i["line"], i["kind"], i["legacy_table"]) for i in items] == [
        (1, "sql", "splits.games"),
        (2, "unparsed", "public.games"),
    ]
    assert f"not {dbname!r}" in items[1]["detail"]
    mismatch = refs_cli(str(app), "--dsn", legacy_dsn, "--database", "mlb_betting")
    assert mismatch.returncode == 2
    assert mismatch.stderr.strip() == (
        f"error: --database 'mlb_betting', but the connection is to database {dbname!r}"
        " (leave --database out, or connect to that database)"
    )
