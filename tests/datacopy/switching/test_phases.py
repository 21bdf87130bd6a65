"""Issue 9 on a real PostgreSQL, phase by phase: whose rows are whose, and none is ever lost.

Phase 1: an application row in a new table stops the run and is kept. Phase 2: application
rows are kept and counted, legacy inserts/updates/deletes arrive, both-sides conflicts are
listed and not overwritten, ids never collide. Rollback carries rows back (legacy checked
by an independent checksum) or refuses. The recorded phase drives every command.
"""

import subprocess
import sys
import threading
from typing import Any

import psycopg
import pytest
from psycopg import sql
from queries import q

from catalog.legacy import legacy_table
from components.recorded_state import PhaseRefused, read_state
from data_copy import api
from data_copy.errors import ForeignRows, PhaseMismatch, RollbackRefused, SwitchRefused
from data_copy.settings import Settings
from data_copy.state import phase_events
from stack_settings import Connection

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]
ML = "core_betting.betting_lines_moneyline"
LEGACY_ML = "mlb_betting.moneyline"
ML_COLS = [c.name for c in legacy_table(LEGACY_ML).columns]


@pytest.fixture
def phase1(tiny_synced: str) -> str:
    return tiny_synced


def insert_ml(dsn: str, table: str, book: str, home_ml: int) -> int:
    """A moneyline row inserted into `table` (its id from the table's own default), its game
    the smallest game id `table` already has."""
    target = sql.Identifier(*table.split("."))
    return q(
        dsn,
        sql.SQL(
            "INSERT INTO {} (game_id, sportsbook, home_ml, odds_timestamp) SELECT min(game_id), %s, %s, now() FROM {}"
            " RETURNING id"
        ).format(target, target),
        book,
        home_ml,
    )[0][0]


def app_insert_ml(dsn: str, book: str, home_ml: int = 111) -> int:
    """The application inserts a moneyline row into the new table (id from its identity)."""
    return insert_ml(dsn, ML, book, home_ml)


def legacy_insert_ml(dsn: str, book: str, home_ml: int = 222) -> int:
    """Old code inserts into the legacy table (id from the legacy column's default)."""
    return insert_ml(dsn, LEGACY_ML, book, home_ml)


def ml(dsn: str, table: str, key: int) -> tuple | None:
    rows = q(dsn, f"SELECT id, sportsbook, home_ml FROM {table} WHERE id = %s", key)  # noqa: S608
    return rows[0] if rows else None


def result(report: api.RunReport, name: str) -> api.MappingResult:
    return next(r for r in report.results if r.name == name)


def content_md5(dsn: str, table: str) -> str:
    """An independent checksum of the legacy moneyline columns (text form, by id): no
    projection, no hash function of ours."""
    cols = ", ".join(f'CAST("{c}" AS {legacy_table(LEGACY_ML).column(c).type}) AS "{c}"' for c in ML_COLS)
    return q(dsn, f"SELECT md5(string_agg(x::text, '|' ORDER BY x.id)) FROM (SELECT {cols} FROM {table}) AS x")[0][0]  # noqa: S608


# ------------------------------------------------------------------------------ phase 1


def test_phase1_application_row_stops_the_run_and_is_kept(phase1: str) -> None:
    created = app_insert_ml(phase1, "APP")
    changed = q(phase1, f"SELECT min(id) FROM {ML}")[0][0]  # noqa: S608
    q(phase1, f"UPDATE {ML} SET home_ml = 4242 WHERE id = %s", changed)  # noqa: S608
    q(
        phase1,
        "UPDATE core_betting.teams SET full_name = 'App Team' WHERE id = (SELECT min(id) FROM core_betting.teams)",
    )
    spread = q(  # old code goes on writing legacy meanwhile
        phase1,
        "INSERT INTO mlb_betting.spreads (game_id, sportsbook, home_spread, odds_timestamp)"
        " SELECT min(game_id), 'OLD', 1.5, now() FROM mlb_betting.spreads RETURNING id",
    )[0][0]
    colliding = legacy_insert_ml(phase1, "OLD")  # phase 1 has no shared id space: same id as the app's row
    with pytest.raises(ForeignRows) as stop:
        api.run(phase1)
    line = stop.value.line()
    assert ML in line and "2 row(s)" in line and str(created) in line and str(changed) in line
    assert "core_betting.teams" in line and "1 row(s)" in line  # every such table in the one line
    assert q(phase1, "SELECT sportsbook FROM core_betting.betting_lines_spreads WHERE id = %s", spread) == [("OLD",)]
    assert colliding == created and ml(phase1, ML, created) == (created, "APP", 111)  # not overwritten
    assert ml(phase1, ML, created) == (created, "APP", 111)
    assert ml(phase1, ML, changed)[2] == 4242
    # a second run stops again: the rows are never deleted nor reset to legacy
    with pytest.raises(ForeignRows):
        api.run(phase1)
    assert ml(phase1, ML, created) is not None and ml(phase1, ML, changed)[2] == 4242
    # the CLI says it in one line, exit code of its own
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "run", "--dsn", phase1], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == ForeignRows.exit_code
    assert "Traceback" not in proc.stderr  # the progress bars go to stderr too; the error is one line
    assert proc.stderr.strip().splitlines()[-1].startswith("error: phase 1")


def test_phase1_changes_nothing_in_legacy_and_plan_lists_the_switch(phase1: str) -> None:
    defaults = "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'mlb_betting.moneyline'::regclass"
    before = q(phase1, defaults)
    assert api.run(phase1).ok
    assert q(phase1, defaults) == before
    lines = api.phase_plan(phase1, Settings())
    assert lines[0].startswith("phase 1 changes nothing in legacy")
    assert any("mlb_betting.moneyline.id" in line and "betting_lines_moneyline_id_seq" in line for line in lines)


# ------------------------------------------------------------------------------ phase 2


def test_phase2_application_rows_are_kept_and_counted(phase2: str) -> None:
    created = app_insert_ml(phase2, "APP")
    changed, deleted = (r[0] for r in q(phase2, f"SELECT id FROM {ML} ORDER BY id LIMIT 2"))  # noqa: S608
    q(phase2, f"UPDATE {ML} SET home_ml = 4242 WHERE id = %s", changed)  # noqa: S608
    q(phase2, f"DELETE FROM {ML} WHERE id = %s", deleted)  # noqa: S608
    for _ in range(2):  # the second run must not undo anything either
        report = api.run(phase2)
        moneyline = result(report, "moneyline")
        assert report.ok, [r.message for r in report.results if r.message]
        assert moneyline.figures["app_created"] == 1
        assert moneyline.figures["app_changed"] == 1
        assert moneyline.figures["app_deleted"] == 1
        assert ml(phase2, ML, created) == (created, "APP", 111)
        assert ml(phase2, ML, changed)[2] == 4242
        assert ml(phase2, ML, deleted) is None  # not resurrected from legacy
    # the figures are in migration_log and status
    details = q(
        phase2,
        "SELECT details FROM migration_log WHERE step = 'validate' AND mapping = 'moneyline' ORDER BY id DESC LIMIT 1",
    )[0][0]
    assert details["app_created"] == 1 and details["app_changed"] == 1 and details["app_deleted"] == 1
    info = api.status(phase2)
    assert info.phase == 2 and info.figures["moneyline"]["app_created"] == 1
    assert [v for v in api.validate(phase2) if v.name == "moneyline"][0].status == "passed"


def test_phase2_legacy_inserts_updates_deletes_arrive(phase2: str) -> None:
    inserted = legacy_insert_ml(phase2, "OLD")
    updated, deleted = (r[0] for r in q(phase2, f"SELECT id FROM {LEGACY_ML} ORDER BY id LIMIT 2"))  # noqa: S608
    # an update that does not touch updated_at: only the full keyed pass can see it
    q(phase2, f"UPDATE {LEGACY_ML} SET home_ml = 777 WHERE id = %s", updated)  # noqa: S608
    q(phase2, f"DELETE FROM {LEGACY_ML} WHERE id = %s", deleted)  # noqa: S608
    report = api.run(phase2)
    assert report.ok, [r.message for r in report.results if r.message]
    assert ml(phase2, ML, inserted) == (inserted, "OLD", 222)
    assert ml(phase2, ML, updated)[2] == 777
    assert ml(phase2, ML, deleted) is None
    assert result(report, "moneyline").figures["pending"] == 0


def test_phase2_both_sides_conflict_is_listed_and_not_overwritten(phase2: str) -> None:
    key = q(phase2, f"SELECT min(id) FROM {ML}")[0][0]  # noqa: S608
    q(phase2, f"UPDATE {ML} SET home_ml = 1001 WHERE id = %s", key)  # noqa: S608
    q(phase2, f"UPDATE {LEGACY_ML} SET home_ml = 2002, updated_at = now() WHERE id = %s", key)  # noqa: S608
    report = api.run(phase2)
    moneyline = result(report, "moneyline")
    assert moneyline.figures["conflicts"] == 1
    assert "conflict both changed" in moneyline.message and str(key) in moneyline.message
    assert ml(phase2, ML, key)[2] == 1001  # keep-new: the new table's version stays
    listed = q(phase2, "SELECT part, k, kind, policy, resolved_at FROM migration_conflicts")
    assert listed == [("moneyline", str(key), "conflict_both_changed", "keep-new", None)]
    api.run(phase2)  # still there, still listed, still not overwritten
    assert ml(phase2, ML, key)[2] == 1001
    assert q(phase2, "SELECT count(*) FROM migration_conflicts WHERE resolved_at IS NULL") == [(1,)]
    # the application takes legacy's value: the sides agree, the conflict is resolved
    q(
        phase2,
        f"UPDATE {ML} AS t SET home_ml = l.home_ml, updated_at = l.updated_at FROM {LEGACY_ML} AS l"  # noqa: S608
        " WHERE t.id = %s AND l.id = t.id",
        key,
    )
    api.run(phase2)
    assert q(phase2, "SELECT count(*) FROM migration_conflicts WHERE resolved_at IS NULL") == [(0,)]


def test_phase2_concurrent_inserts_on_both_sides_never_collide(phase2: str) -> None:
    per_side = 300
    errors: list[BaseException] = []

    def writer(insert: object, book: str) -> None:
        try:
            with psycopg.connect(phase2, autocommit=True) as conn:
                for i in range(per_side):
                    conn.execute(insert, (book, i))  # type: ignore[arg-type]
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    legacy_sql = (
        f"INSERT INTO {LEGACY_ML} (game_id, sportsbook, home_ml, odds_timestamp)"  # noqa: S608
        " SELECT min(game_id), %s, %s, now() FROM mlb_betting.moneyline"
    )
    new_sql = (
        f"INSERT INTO {ML} (game_id, sportsbook, home_ml, odds_timestamp)"  # noqa: S608
        " SELECT min(game_id), %s, %s, now() FROM core_betting.betting_lines_moneyline"
    )
    threads = [
        threading.Thread(target=writer, args=(sql_, book)) for sql_, book in ((legacy_sql, "OLD"), (new_sql, "APP"))
    ]
    sync = threading.Thread(target=lambda: api.run(phase2))
    for t in (*threads, sync):
        t.start()
    for t in (*threads, sync):
        t.join()
    assert not errors, errors
    report = api.run(phase2)
    assert report.ok, [r.message for r in report.results if r.message]
    moneyline = result(report, "moneyline")
    assert moneyline.figures["conflicts"] == 0 and moneyline.figures["app_created"] == per_side
    legacy_ids = {r[0] for r in q(phase2, f"SELECT id FROM {LEGACY_ML} WHERE sportsbook = 'OLD'")}  # noqa: S608
    app_ids = {r[0] for r in q(phase2, f"SELECT id FROM {ML} WHERE sportsbook = 'APP'")}  # noqa: S608
    assert len(legacy_ids) == len(app_ids) == per_side and not legacy_ids & app_ids
    arrived = {r[0] for r in q(phase2, f"SELECT id FROM {ML} WHERE sportsbook = 'OLD'")}  # noqa: S608
    assert arrived == legacy_ids


def test_switch_needs_passing_validations_and_happens_once(phase2: str) -> None:
    with pytest.raises(SwitchRefused):
        api.switch(phase2, Settings())
    assert [e.event for e in phase_events.history(psycopg.connect(phase2))] == [
        phase_events.STARTED,
        phase_events.SWITCHED,
    ]


# -------------------------------------------------------------------- recorded phase


def test_stack_and_database_disagreeing_is_one_line_saying_what_to_run(phase2: str) -> None:
    with psycopg.connect(phase2, autocommit=True) as conn:
        with pytest.raises(PhaseMismatch) as mismatch:
            phase_events.resolve(conn, Settings(phase=1, stack="dev"))
        assert "deployed at phase 1 but the database is in phase 2" in str(mismatch.value)
        assert "python -m data_copy rollback --stack dev" in mismatch.value.line()
        assert phase_events.resolve(conn, Settings(phase=2, stack="dev")) == 2
        assert phase_events.resolve(conn, Settings()) == 2  # --dsn: the recorded phase
    with pytest.raises(PhaseMismatch):
        api.run(phase2, Settings(phase=1, stack="dev"))


def test_stack_preview_refuses_phase1_while_phase2_rows_are_not_carried_back(
    phase2: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import urlsplit

    from components import peek

    opened: list[str] = []
    real_read_only = peek.read_only

    def counted(*args: Any) -> psycopg.Connection:  # the real connection, counted
        opened.append(args[-1])
        return real_read_only(*args)

    monkeypatch.setattr(peek, "read_only", counted)
    url = urlsplit(phase2)
    connection = Connection(url.hostname or "", url.port or 5432, url.path.lstrip("/"), url.username or "", "disable")
    with pytest.raises(PhaseRefused) as refused:
        read_state(connection, url.password, deployed=1, stack="dev")
    assert "python -m data_copy rollback --stack dev" in str(refused.value)
    opened.clear()
    state = read_state(connection, url.password, deployed=2, stack="dev")
    assert len(opened) == 1, "the phase guard and both outputs share one connection"
    assert state.phase == 2 and state.validations
    assert {v["status"] for v in state.validations.values()} == {"passed"}
    api.rollback(phase2, Settings())
    assert read_state(connection, url.password, deployed=1, stack="dev").phase == 1
    with pytest.raises(PhaseRefused, match="data_copy switch --stack dev"):
        read_state(connection, url.password, deployed=2, stack="dev")


# ------------------------------------------------------------------------------ rollback


def test_rollback_carries_rows_back_exactly_and_undoes_the_switch(phase2: str) -> None:
    defaults = "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'mlb_betting.moneyline'::regclass"
    created = app_insert_ml(phase2, "APP")
    changed, deleted = (r[0] for r in q(phase2, f"SELECT id FROM {ML} ORDER BY id LIMIT 2"))  # noqa: S608
    q(phase2, f"UPDATE {ML} SET home_ml = 4242, sportsbook = 'Changed' WHERE id = %s", changed)  # noqa: S608
    q(phase2, f"DELETE FROM {ML} WHERE id = %s", deleted)  # noqa: S608
    assert any("nextval('core_betting." in r[0] for r in q(phase2, defaults))
    done = api.rollback(phase2, Settings())
    carried = {c.mapping: (c.carried, c.deleted) for c in done.carries if c.carried or c.deleted}
    assert carried == {"moneyline": (2, 1)}
    assert ml(phase2, LEGACY_ML, created) == (created, "APP", 111)
    assert ml(phase2, LEGACY_ML, changed) == (changed, "Changed", 4242)
    assert ml(phase2, LEGACY_ML, deleted) is None
    assert content_md5(phase2, LEGACY_ML) == content_md5(phase2, ML)
    assert not any("core_betting" in r[0] for r in q(phase2, defaults))
    # back in phase 1: a mirror again, nothing foreign, the legacy serial past every id
    assert api.status(phase2).phase == 1
    report = api.run(phase2)
    assert report.ok, [r.message for r in report.results if r.message]
    after = legacy_insert_ml(phase2, "AFTER")
    assert after > created
    # and the next switch shares the id space again
    assert api.run(phase2).ok
    api.switch(phase2, Settings())
    ids = {legacy_insert_ml(phase2, "OLD2"), app_insert_ml(phase2, "APP2"), after}
    assert len(ids) == 3
    assert api.run(phase2).ok


def test_rollback_refuses_for_a_merge_naming_table_and_count_then_accepts_loss(phase2: str) -> None:
    q(
        phase2,
        "INSERT INTO core_betting.games (home_team, away_team, game_date, game_datetime, game_status)"
        " VALUES ('NYY', 'BOS', '2030-01-01', '2030-01-01 18:00+00', 'scheduled')",
    )
    created = app_insert_ml(phase2, "APP")
    before = content_md5(phase2, LEGACY_ML)
    with pytest.raises(RollbackRefused) as refused:
        api.rollback(phase2, Settings())
    line = refused.value.line()
    assert "core_betting.games (1 row(s)" in line and "--accept-loss core_betting.games" in line
    assert api.status(phase2).phase == 2 and content_md5(phase2, LEGACY_ML) == before  # nothing changed
    api.rollback(phase2, Settings(), accept_loss=("core_betting.games",))
    assert ml(phase2, LEGACY_ML, created) is not None
    saved = q(phase2, "SELECT mapping, row_data->>'home_team' FROM migration_rollback_lost")
    assert saved == [("games", "NYY")]
    assert api.run(phase2).ok


def test_rollback_refuses_to_overwrite_or_delete_what_old_code_changed_in_legacy(phase2: str) -> None:
    changed, deleted = (r[0] for r in q(phase2, f"SELECT id FROM {ML} ORDER BY id LIMIT 2"))  # noqa: S608
    # since the last sync: the application changed one row and deleted another, old code
    # changed both in legacy; no run came between them and the rollback
    q(phase2, f"UPDATE {ML} SET home_ml = 1001 WHERE id = %s", changed)  # noqa: S608
    q(phase2, f"DELETE FROM {ML} WHERE id = %s", deleted)  # noqa: S608
    q(phase2, f"UPDATE {LEGACY_ML} SET home_ml = 2002, updated_at = now() WHERE id = ANY(%s)", [changed, deleted])  # noqa: S608
    before = content_md5(phase2, LEGACY_ML)
    with pytest.raises(RollbackRefused) as refused:
        api.rollback(phase2, Settings(), accept_loss=("core_betting.games",))
    line = refused.value.line()
    assert f"{ML} / {LEGACY_ML} (2 key(s)" in line and str(changed) in line and str(deleted) in line, line
    assert content_md5(phase2, LEGACY_ML) == before and api.status(phase2).phase == 2
    assert ml(phase2, LEGACY_ML, changed)[2] == 2002 and ml(phase2, LEGACY_ML, deleted)[2] == 2002
    # the user settles both keys (the application's version of one, legacy's of the other)
    q(
        phase2,
        f"UPDATE {LEGACY_ML} AS l SET home_ml = t.home_ml, updated_at = t.updated_at FROM {ML} AS t"  # noqa: S608
        " WHERE l.id = %s AND t.id = l.id",
        changed,
    )
    q(phase2, f"DELETE FROM {LEGACY_ML} WHERE id = %s", deleted)  # noqa: S608
    api.rollback(phase2, Settings())
    assert ml(phase2, LEGACY_ML, changed)[2] == 1001 and ml(phase2, LEGACY_ML, deleted) is None
    assert content_md5(phase2, LEGACY_ML) == content_md5(phase2, ML)
    assert api.run(phase2).ok


# ----------------------------------------------------------------------------- phase 3


def test_cleanup_refuses_when_phase2_was_never_reached_and_drops_nothing(phase1: str, tmp_path: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "data_copy", "cleanup", "--dsn", phase1, "--backup-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3, proc.stderr
    assert "cleanup needs phase 2 recorded, but it is in phase 1" in proc.stderr
    assert q(phase1, "SELECT to_regclass('mlb_betting.moneyline') IS NOT NULL") == [(True,)]


def test_cleanup_refuses_after_a_legacy_write_and_a_read_by_others(phase2: str, tmp_path: object) -> None:
    from data_copy import api

    settings = Settings(backup_dir=str(tmp_path))
    assert api.run(phase2).ok
    legacy_insert_ml(phase2, "LATE")
    q(phase2, "SELECT count(*) FROM mlb_betting.spreads")  # someone else reads legacy
    with pytest.raises(Exception) as refused:
        api.cleanup(phase2, settings, dry_run=True)
    text = str(refused.value)
    assert "legacy written since the last sync" in text and "mlb_betting.moneyline: 1 inserted" in text
    assert "legacy read by others since phase 2 began" in text and "mlb_betting.spreads" in text
    # a sync brings the write over; the read can be accepted explicitly
    assert api.run(phase2).ok
    with pytest.raises(Exception) as still:
        api.cleanup(phase2, settings, dry_run=True)
    assert "legacy written" not in str(still.value) and "mlb_betting.spreads" in str(still.value)
    from dataclasses import replace

    accepted = replace(settings, accept_legacy_reads=True)
    try:
        api.cleanup(phase2, accepted, dry_run=True)
    except Exception as other:  # noqa: BLE001 - other guards may refuse; the phase ones must not
        assert "legacy read" not in str(other) and "legacy written" not in str(other) and "phase 2" not in str(other)


def test_rollback_refuses_rows_legacy_constraints_refuse_and_changes_nothing_of_that_table(phase2: str) -> None:
    game = q(
        phase2,
        "INSERT INTO core_betting.games (home_team, away_team, game_date, game_datetime, game_status)"
        " VALUES ('NYY', 'BOS', '2030-01-01', '2030-01-01 18:00+00', 'scheduled') RETURNING id",
    )[0][0]
    line = q(
        phase2,
        f"INSERT INTO {ML} (game_id, sportsbook, home_ml, odds_timestamp) VALUES (%s, 'APP', 1, now()) RETURNING id",  # noqa: S608
        game,
    )[0][0]
    with pytest.raises(RollbackRefused) as refused:
        api.rollback(phase2, Settings(), accept_loss=("core_betting.games",))
    assert "rollback refused for core_betting.games: a constraint refuses" in refused.value.line()
    assert q(phase2, "SELECT count(*) FROM core_betting.games WHERE id = %s", game) == [(1,)]
    assert ml(phase2, LEGACY_ML, line) is None and ml(phase2, ML, line) is not None  # kept in the new table
    assert api.status(phase2).phase == 2
