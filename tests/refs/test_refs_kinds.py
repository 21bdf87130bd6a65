"""The four classes of the file finder (issue 25), each in three spellings of the table:
quoted (`"splits"."games"`), upper case (`SPLITS.GAMES`) and mixed case (`Splits.Games`).

1. `name`: table names kept in strings (constants, attributes, properties, lists, option
   defaults, comparisons, DDL tuples), and literals an f-string / .format / % puts in a
   table position;
2. database-qualified names, checked against the database;
3. PL/pgSQL bodies in .sql files, whatever the order of the routine's options;
4. SQL of another dialect (SQLite, DuckDB): `unparsed`, with file, line and the tables.

Plus what must stay silent: prose, log messages, docstrings, module paths, quoted names of
other tables, CTE names, the new schemas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from data_copy.refs import code, sqlscan

ROOT = Path(__file__).resolve().parents[2]

# the same legacy table, splits.games, as PostgreSQL reads each spelling
SPELLINGS = {"quoted": '"splits"."games"', "upper": "SPLITS.GAMES", "mixed": "Splits.Games"}
ONE_PART = {"quoted": '"game_outcomes"', "upper": "GAME_OUTCOMES", "mixed": "Game_Outcomes"}
DB_SPELLINGS = {
    "quoted": '"mlb_betting"."splits"."games"',
    "upper": "MLB_BETTING.SPLITS.GAMES",
    "mixed": "Mlb_Betting.Splits.Games",
}
Found = list[tuple[int, str, str | None]]


def scan(tmp_path: Path, name: str, text: str, database: str | None = None) -> Found:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    report = code.scan_paths([str(path)], database=database)
    return [(f.line, f.kind, f.legacy_table) for f in report.findings]


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


# ------------------------------------------------------------------ 1. names in strings


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_a_string_that_is_only_a_table_name_is_a_name_finding(tmp_path: Path, spelling: str) -> None:
    source = f"""
        import click

        GAMES = {spelling!r}


        class GameRepository:
            table_name = {spelling!r}

            def all(self, conn):
                return conn.execute(f"SELECT * FROM {{self.table_name}}")

            @property
            def source(self):
                return {spelling!r}


        class Processor:
            def required_tables(self):
                return [{spelling!r}, "core_betting.games"]


        INDEXES = [("idx_games_date", {spelling!r}, "game_date")]


        @click.option("--table", default={spelling!r})
        def main(table):
            if table == {spelling!r}:
                return table
    """
    assert scan(tmp_path, "repo.py", source) == [
        (3, "name", "splits.games"),
        (7, "name", "splits.games"),
        (14, "name", "splits.games"),
        (19, "name", "splits.games"),
        (22, "name", "splits.games"),
        (25, "name", "splits.games"),
        (27, "name", "splits.games"),
    ]  # and the f-string on line 10 is not dynamic: its table is the attribute's literal


@pytest.mark.parametrize("spelling", ONE_PART.values(), ids=ONE_PART.keys())
def test_a_literal_put_in_a_table_position_is_a_name_finding_at_its_own_line(tmp_path: Path, spelling: str) -> None:
    """Unqualified: a name only because SQL puts it in a table position (resolved
    through the search path, public here); the same word elsewhere is just a word."""
    source = f"""
        OUTCOMES = {spelling!r}
        LABEL = {spelling!r}


        def outcome(conn, game_id):
            return conn.execute(f"SELECT * FROM {{OUTCOMES}} WHERE game_id = %s", (game_id,))


        def by_format(conn):
            return conn.execute("SELECT count(*) FROM {{t}}".format(t={spelling!r}))


        def by_percent(conn):
            return conn.execute("DELETE FROM %s WHERE false" % {spelling!r})


        def label():
            return LABEL.lower()
    """
    assert scan(tmp_path, "lookup.py", source) == [
        (1, "name", "public.game_outcomes"),
        (10, "name", "public.game_outcomes"),
        (14, "name", "public.game_outcomes"),
    ]


@pytest.mark.parametrize("spelling", ONE_PART.values(), ids=ONE_PART.keys())
def test_a_single_word_held_as_a_table_is_a_name_finding(tmp_path: Path, spelling: str) -> None:
    """A repository's `table_name = "game_outcomes"` whose SQL is built in a base class
    elsewhere: held by a table-named variable, attribute, option, key or parameter."""
    source = f"""
        class OutcomeRepository(BaseRepository):
            table_name = {spelling!r}
            title = {spelling!r}


        def export(conn, source_table={spelling!r}, label={spelling!r}):
            options = {{"table": {spelling!r}, "name": {spelling!r}}}
            required_tables = [{spelling!r}]
            return run(table={spelling!r}, column={spelling!r})
    """
    assert scan(tmp_path, "repo.py", source) == [
        (2, "name", "public.game_outcomes"),
        (6, "name", "public.game_outcomes"),
        (7, "name", "public.game_outcomes"),
        (8, "name", "public.game_outcomes"),
        (9, "name", "public.game_outcomes"),
    ]


def test_a_value_not_known_from_the_module_stays_dynamic(tmp_path: Path) -> None:
    source = """
        TABLE = "splits.games"


        def by_param(conn, table):
            return conn.execute(f"SELECT * FROM {table}")


        def by_loop(conn):
            for table in ("splits.games", "core_betting.games"):
                conn.execute(f"ANALYZE {table}")


        class Base:
            table_name: str

            def count(self, conn):
                return conn.execute(f"SELECT count(*) FROM {self.table_name}")
    """
    assert scan(tmp_path, "dyn.py", source) == [
        (1, "name", "splits.games"),
        (5, "dynamic", None),
        (9, "name", "splits.games"),
        (10, "dynamic", None),
        (17, "dynamic", None),
    ]


def test_statements_kept_as_text_with_run_time_parts(tmp_path: Path) -> None:
    """sqlglot keeps VACUUM / LOCK / REFRESH as text: a run-time part there may be a table."""
    source = """
        KNOWN = "Mlb_Betting.Totals"


        def maintain(conn, t):
            conn.execute(f"VACUUM {t}")
            conn.execute(f"LOCK TABLE {t} IN SHARE MODE")
            conn.execute(f"VACUUM ANALYZE {KNOWN}")
            conn.execute("EXPLAIN ANALYZE SELECT * FROM public.games")
    """
    assert scan(tmp_path, "maintain.py", source) == [
        (1, "name", "mlb_betting.totals"),
        (5, "dynamic", None),
        (6, "dynamic", None),
        (8, "sql", "public.games"),
    ]


def test_names_composed_of_known_literals(tmp_path: Path) -> None:
    source = """
        SCHEMA = "splits"
        GAMES = f"{SCHEMA}.games"
        SPLITS = SCHEMA + ".RAW_MLB_BETTING_SPLITS"
        NEW = f"core_betting.{'games'}"
    """
    assert scan(tmp_path, "composed.py", source) == [
        (2, "name", "splits.games"),
        (3, "name", "splits.raw_mlb_betting_splits"),
    ]


def test_library_calls_that_name_tables(tmp_path: Path) -> None:
    """pandas, SQLAlchemy, Alembic and psycopg take schema and table apart, and quote them:
    their case is exact."""
    source = """
        import pandas as pd
        from alembic import op
        from psycopg import sql
        import rich.table
        from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

        frame = pd.read_sql_table("games", "engine", schema="splits")
        frame.to_sql("moneyline", "engine", schema="mlb_betting", if_exists="append")
        op.create_index("ix_totals_game", "totals", ["game_id"], schema="mlb_betting")
        picks = Table("picks", MetaData(), Column("game_id", Integer, ForeignKey("public.games.id")))
        Q = sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier("splits"), sql.Identifier("games"))
        QUOTED = sql.Identifier("Splits", "Games")
        OURS = pd.read_sql_table("games", "engine", schema="core_betting")
        SHOWN = rich.table.Table("games")  # a table on the screen
    """
    assert scan(tmp_path, "libs.py", source) == [
        (7, "name", "splits.games"),
        (8, "name", "mlb_betting.moneyline"),
        (9, "name", "mlb_betting.totals"),
        (10, "name", "public.games"),
        (11, "name", "splits.games"),
    ]


# ------------------------------------------------------------ 2. database-qualified names


@pytest.mark.parametrize("spelling", DB_SPELLINGS.values(), ids=DB_SPELLINGS.keys())
def test_a_name_qualified_by_our_database_is_a_reference(tmp_path: Path, spelling: str) -> None:
    sql_file = f"SELECT * FROM {spelling};\nSELECT * FROM mlb_betting.core_betting.games;\n"
    py_file = f"Q = 'SELECT * FROM {spelling}'\nT = {spelling!r}\n"
    for database in ("mlb_betting", None):  # None: refs was given no database, any is taken as ours
        assert scan(tmp_path, "q.sql", sql_file, database) == [(1, "sql", "splits.games")]
        assert scan(tmp_path, "q.py", py_file, database) == [(1, "sql", "splits.games"), (2, "name", "splits.games")]


@pytest.mark.parametrize("spelling", DB_SPELLINGS.values(), ids=DB_SPELLINGS.keys())
def test_a_name_qualified_by_another_database_is_unparsed(tmp_path: Path, spelling: str) -> None:
    """PostgreSQL refuses cross-database references: SQL for another database, listed."""
    sql_file = f"SELECT g.id\nFROM {spelling} g;\n"
    py_file = f"T = {spelling!r}\n"
    assert scan(tmp_path, "q.sql", sql_file, "analytics_dw") == [(2, "unparsed", "splits.games")]
    assert scan(tmp_path, "q.py", py_file, "analytics_dw") == [(1, "unparsed", "splits.games")]
    detail = code.scan_paths([str(tmp_path / "q.sql")], database="analytics_dw").findings[0].detail
    assert "not 'analytics_dw'" in detail and "cross-database" in detail


def test_the_database_part_is_read_as_postgresql_reads_it() -> None:
    """Unquoted folds to lower case; quoted keeps its case."""
    quoted = sqlscan.scan('SELECT * FROM "MLB_Betting".splits.games', database="mlb_betting")
    assert [(u.mentions[0].qualified, u.mentions[0].other_database) for u in quoted.unparsed] == [
        ("splits.games", "MLB_Betting")
    ]
    assert quoted.refs == []
    folded = sqlscan.scan("SELECT * FROM MLB_Betting.splits.games", database="mlb_betting")
    assert ([r.qualified for r in folded.refs], folded.unparsed) == (["splits.games"], [])


# ------------------------------------------------------------ 3. PL/pgSQL in .sql files

ROUTINE_HEADS = {
    "returns-void-language-last": ("RETURNS void AS $$", "$$ LANGUAGE plpgsql;"),
    "returns-trigger": ("RETURNS TRIGGER AS $body$", "$body$ LANGUAGE 'plpgsql' VOLATILE COST 100;"),
    "options-first": ("RETURNS SETOF core_betting.games LANGUAGE PLPGSQL SET search_path = tracking AS $f$", "$f$;"),
}


@pytest.mark.parametrize("head", ROUTINE_HEADS.values(), ids=ROUTINE_HEADS.keys())
@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_plpgsql_bodies_in_sql_files(tmp_path: Path, spelling: str, head: tuple[str, str]) -> None:
    opening, closing = head
    text = f"""
        -- grades picks; {spelling} in a comment is not a reference
        CREATE OR REPLACE FUNCTION tracking.grade() {opening}
        DECLARE
            r {spelling}%ROWTYPE;
        BEGIN
            UPDATE tracking.pre_game_recommendations p
            SET won = go.home_win
            FROM (SELECT id, CASE WHEN home_score > 0 THEN true END AS home_win
                  FROM {spelling}) go
            WHERE go.id = p.game_id;
            RAISE NOTICE 'read {spelling}';
            RETURN NULL;
        END;
        {closing}
    """
    assert scan(tmp_path, "grade.sql", text) == [
        (4, "sql", "splits.games"),
        (6, "sql", "tracking.pre_game_recommendations"),
        (9, "sql", "splits.games"),
    ]


def test_routine_signatures_execute_and_sql_bodies(tmp_path: Path) -> None:
    text = """
        CREATE FUNCTION analytics.games_of(p_day date) RETURNS SETOF "splits"."games" LANGUAGE plpgsql AS $$
        DECLARE n bigint;
        BEGIN
            EXECUTE format('SELECT count(*) FROM %I', p_day::text) INTO n;
            EXECUTE 'SELECT count(*) FROM MLB_BETTING.SPREADS' INTO n;
            SELECT CASE WHEN count(*) = 0 THEN 0 ELSE 1 END INTO n
            FROM Mlb_Betting.Totals;
            RETURN QUERY SELECT * FROM core_betting.games;
        END $$;
        CREATE FUNCTION analytics.team(p int) RETURNS text LANGUAGE sql STABLE AS
        'SELECT name FROM Action.Dim_Teams WHERE id = p';
    """
    assert scan(tmp_path, "r.sql", text) == [
        (1, "sql", "splits.games"),
        (4, "dynamic", None),
        (5, "sql", "mlb_betting.spreads"),
        (7, "sql", "mlb_betting.totals"),  # after a CASE's THEN: the statement goes on
        (11, "sql", "action.dim_teams"),
    ]


def test_psql_scripts_variables_and_copy(tmp_path: Path) -> None:
    text = """
        \\set ON_ERROR_STOP on
        SELECT * FROM Splits.Games WHERE game_date = :'day' AND n < :limit;
        \\copy "mlb_betting"."totals" TO 'totals.csv' CSV HEADER
        \\COPY (SELECT * FROM PUBLIC.GAMES WHERE id::text = '1') TO STDOUT
        SELECT a[1:2], '12:30'::time FROM core_betting.games;
    """
    assert scan(tmp_path, "script.sql", text) == [
        (2, "sql", "splits.games"),
        (3, "sql", "mlb_betting.totals"),
        (4, "sql", "public.games"),
    ]


def test_the_database_finder_reads_bodies_the_same_way() -> None:
    body = "BEGIN UPDATE t SET x = go.y FROM (SELECT y FROM Public.Game_Outcomes) go; END"
    result = sqlscan.scan_body(body, "plpgsql", ("public",), "mlb_betting")
    assert [r.qualified for r in result.refs] == ["public.game_outcomes"]


# -------------------------------------------------------------- 4. SQL of another dialect


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_sqlite_and_duckdb_sql_is_unparsed_with_its_tables(tmp_path: Path, spelling: str) -> None:
    sql_file = f"""
        -- the old DuckDB cache; mlb_betting.totals in a comment is not read
        INSERT OR REPLACE INTO {spelling} (id) VALUES (1);
        REPLACE INTO {spelling} (id, note) VALUES (1, 'from mlb_betting.totals');
        CREATE OR REPLACE TABLE {spelling} AS SELECT * FROM read_parquet('mlb_betting.totals.parquet');
        SELECT * EXCLUDE (raw) FROM {spelling} QUALIFY row_number() OVER () = 1;
        INSERT INTO {spelling} (id) VALUES (2) ON CONFLICT DO NOTHING;
    """
    assert scan(tmp_path, "cache.sql", sql_file) == [
        (2, "unparsed", "splits.games"),
        (3, "unparsed", "splits.games"),
        (4, "unparsed", "splits.games"),
        (5, "unparsed", "splits.games"),
        (6, "sql", "splits.games"),  # PostgreSQL's own INSERT ... ON CONFLICT
    ]
    escaped = spelling.replace('"', '\\"')
    py_file = f"""
        def cache(db):
            db.execute("INSERT OR IGNORE INTO {escaped} VALUES (?)", (1,))
            db.execute('''REPLACE INTO game_outcomes (id)  -- not mlb_betting.totals
                          VALUES (?)''', (1,))
    """
    found = scan(tmp_path, "cache.py", py_file)
    assert found == [(2, "unparsed", "splits.games"), (3, "unparsed", "public.game_outcomes")]
    details = [f.detail for f in code.scan_paths([str(tmp_path / "cache.py")]).findings]
    assert details[0] == "not PostgreSQL: INSERT OR IGNORE (SQLite / DuckDB)"
    assert details[1].startswith("PostgreSQL cannot parse it: ")


def test_the_fallback_reads_no_cte_names_comments_or_strings() -> None:
    text = (
        "WITH games AS (SELECT 1) REPLACE INTO t SELECT * FROM games;\n"
        "REPLACE INTO t SELECT 'public.games' /* splits.games */ FROM game_outcomes x;"
    )
    result = sqlscan.scan(text)
    assert [[m.qualified for m in u.mentions] for u in result.unparsed] == [["public.game_outcomes"]]


# ------------------------------------------------------------------------- not findings


def test_prose_logs_docstrings_and_module_paths_are_not_findings(tmp_path: Path) -> None:
    source = '''
        """Reads splits.games and public.game_outcomes (a docstring)."""
        import logging
        from unittest import mock

        log = logging.getLogger("tracking.pre_game_recommendations")


        def save(picks, table):
            """SELECT * FROM splits.games"""
            print("Recommendations saved to: tracking.pre_game_recommendations")
            status = "Recommendations saved to: tracking.pre_game_recommendations"
            log.info("splits.games")
            log.warning("%s rows into %s", len(picks), "splits.games")
            summary = f"{len(picks)} picks -> tracking.pre_game_recommendations"
            column = "splits.games.id"
            other = '"Splits"."Games"'
            new = "core_betting.games"
            label = "games"
            sentence = "Select the games from splits.games"
            # SELECT * FROM splits.games
            with mock.patch("tracking.pre_game_recommendations.save"):
                pass
            if not picks:
                raise ValueError("splits.games is empty")
            return status, summary, column, other, new, label, sentence
    '''
    assert scan(tmp_path, "prose.py", source) == []


# -------------------------------------------------------------------- kinds in the CLI


def test_each_finding_has_a_kind_a_summary_line_and_kinds_filter(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        'GAMES = "splits.games"\n'
        'Q = "SELECT * FROM public.games"\n'
        'DUCK = "INSERT OR REPLACE INTO mlb_betting.totals VALUES (1)"\n'
        "def f(conn, t):\n"
        '    return conn.execute(f"SELECT * FROM {t}")\n'
    )
    every = refs_cli(str(app), "--format", "json")
    assert every.returncode == 1
    assert [(i["line"], i["kind"], i["legacy_table"]) for i in json.loads(every.stdout)] == [
        (1, "name", "splits.games"),
        (2, "sql", "public.games"),
        (3, "unparsed", "mlb_betting.totals"),
        (5, "dynamic", None),
    ]
    assert every.stderr.splitlines() == [
        "refs: sql: 1 reference(s) in SQL text",
        "refs: name: 1 table name(s) in strings, outside SQL",
        "refs: dynamic: 1 statement(s) built at run time (check by hand)",
        "refs: unparsed: 1 statement(s) PostgreSQL cannot read as written (check by hand)",
        "refs: 1 file(s) read",
        "error: references to legacy tables remain: 2 in the files (replace each one listed above with its"
        " registry call (get_table_registry().get_table(...)))",
    ]
    names = refs_cli(str(app), "--kinds", "name")
    assert names.returncode == 1
    assert names.stdout.splitlines() == [
        f"{app}:1: name: splits.games ('splits.games'): use get_table_registry().get_table('games')"
        " -> core_betting.games"
    ]
    assert "refs: 1 file(s) read; 3 more of other kinds not shown (--kinds)" in names.stderr
    unsure = refs_cli(str(app), "--kinds", "dynamic,unparsed")
    assert unsure.returncode == 0  # listed to check by hand; --strict makes them fail
    assert [line.split(": ")[1] for line in unsure.stdout.splitlines()] == ["unparsed", "dynamic"]
    assert refs_cli(str(app), "--kinds", "dynamic,unparsed", "--strict").returncode == 1
    bad = refs_cli(str(app), "--kinds", "sql,prose")
    assert (bad.returncode, bad.stderr.strip()) == (
        2,
        "error: unknown --kinds prose (use some of sql,name,dynamic,unparsed)",
    )
