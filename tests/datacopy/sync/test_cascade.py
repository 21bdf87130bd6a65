"""A legacy delete that cascades to another mapping's rows, on a real PostgreSQL.

Legacy declares public.sbr_parsed_games(raw_html_id) ON DELETE CASCADE to public.sbr_raw_html;
the new tables declare the same foreign key without a cascade. sbr_raw_html settles before
sbr_parsed_games (copy order), so its delete of the parent waited on the children still in
the new table: every run then stopped with an internal error (ForeignKeyViolation), in
phase 1 and phase 2 alike. A refused settle now lets its children settle once out of turn
(their cascaded deletes go first) and is tried again; a parent the application still holds
a child of fails, named, in one line, after every other mapping settled. So does a
carried-back delete a legacy foreign key refuses (action.fact_games -> action.dim_teams).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from queries import q

from data_copy import api
from data_copy.settings import Settings

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]


def _parent_with_children(dsn: str) -> tuple[int, int]:
    parent, children = q(
        dsn, "SELECT raw_html_id, count(*) FROM public.sbr_parsed_games GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    )[0]
    assert children > 0
    return int(parent), int(children)


@pytest.mark.parametrize("phase", [1, 2])
def test_a_legacy_delete_that_cascades_to_a_later_mappings_rows_is_synced(tiny_synced: str, phase: int) -> None:
    dsn = tiny_synced
    if phase == 2:
        api.switch(dsn, Settings())
    parent, children = _parent_with_children(dsn)
    assert q(dsn, "SELECT count(*) FROM raw_data.sbr_parsed_games WHERE raw_html_id = %s", parent) == [(children,)]
    q(dsn, "DELETE FROM public.sbr_raw_html WHERE id = %s", parent)  # old code; legacy cascades
    for _ in range(2):
        report = api.run(dsn)
        assert report.ok, [(r.name, r.message) for r in report.results if r.status != "passed"]
    assert q(dsn, "SELECT count(*) FROM raw_data.sbr_raw_html WHERE id = %s", parent) == [(0,)]
    assert q(dsn, "SELECT count(*) FROM raw_data.sbr_parsed_games WHERE raw_html_id = %s", parent) == [(0,)]
    for legacy, new in (
        ("public.sbr_raw_html", "raw_data.sbr_raw_html"),
        ("public.sbr_parsed_games", "raw_data.sbr_parsed_games"),
    ):
        assert q(dsn, f"SELECT count(*) FROM {legacy}") == q(dsn, f"SELECT count(*) FROM {new}")  # noqa: S608


@pytest.mark.parametrize("phase", [1, 2])
def test_a_new_parent_and_child_arriving_with_a_cascaded_delete_pass_in_one_run(tiny_synced: str, phase: int) -> None:
    """The parent's settle, refused by the cascaded delete, inserts its new row only after
    its children settled once out of turn: the new child, settled again at its turn, finds
    its parent and is no orphan reject (with the parent merely tried last, the child
    failed that run as an orphan)."""
    dsn = tiny_synced
    if phase == 2:
        api.switch(dsn, Settings())
    parent, _ = _parent_with_children(dsn)
    q(dsn, "DELETE FROM public.sbr_raw_html WHERE id = %s", parent)
    new_parent = "INSERT INTO public.sbr_raw_html (source_url, html_content) VALUES ('u:new', '<p/>') RETURNING id"
    born = q(dsn, new_parent)[0][0]
    q(
        dsn,
        "INSERT INTO public.sbr_parsed_games (raw_html_id, game_data) SELECT %s, game_data FROM public.sbr_parsed_games"
        " ORDER BY id LIMIT 1",
        born,
    )
    report = api.run(dsn)
    assert report.ok, [(r.name, r.message) for r in report.results if r.status != "passed"]
    assert q(dsn, "SELECT count(*) FROM raw_data.sbr_parsed_games WHERE raw_html_id = %s", born) == [(1,)]
    assert q(dsn, "SELECT count(*) FROM migration_rejects") == [(0,)]


def test_a_parent_whose_child_the_application_holds_fails_named_and_nothing_is_lost(phase2: str) -> None:
    """Phase 2: the application changed a child row, old code deleted its parent (legacy
    cascades): the child is a conflict and stays; its parent cannot go, so sbr_raw_html
    fails with the foreign key named (exit 1, one line), not as an internal error, and every
    other mapping is synced."""
    dsn = phase2
    parent, _ = _parent_with_children(dsn)
    child = q(dsn, "SELECT id FROM raw_data.sbr_parsed_games WHERE raw_html_id = %s ORDER BY id LIMIT 1", parent)[0][0]
    q(dsn, "UPDATE raw_data.sbr_parsed_games SET legacy_status = 'APPX' WHERE id = %s", child)  # the application
    q(dsn, "DELETE FROM public.sbr_raw_html WHERE id = %s", parent)  # old code
    done = subprocess.run(
        [sys.executable, "-m", "data_copy", "run", "--dsn", dsn], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "sbr_parsed_games_raw_html_id_fkey" in done.stdout + done.stderr, done.stdout[-2000:]
    report = api.run(dsn)
    failed = {r.name: r.message for r in report.results if r.status != "passed"}
    assert list(failed) == ["sbr_raw_html"], failed
    assert "still referenced" in failed["sbr_raw_html"], failed
    logged = q(
        dsn,
        "SELECT status, error_message FROM migration_log WHERE step = 'copy' AND mapping = 'sbr_raw_html'"
        " ORDER BY started_at DESC LIMIT 1",
    )
    assert logged[0][0] == "failed" and "still referenced" in logged[0][1], logged
    assert q(dsn, "SELECT legacy_status FROM raw_data.sbr_parsed_games WHERE id = %s", child) == [("APPX",)]
    assert q(dsn, "SELECT count(*) FROM raw_data.sbr_raw_html WHERE id = %s", parent) == [(1,)]
    listed = q(dsn, "SELECT k FROM migration_conflicts WHERE part = 'sbr_parsed_games' AND resolved_at IS NULL")
    assert (str(child),) in listed, listed


def test_a_carried_back_delete_legacy_still_references_fails_named(phase2: str) -> None:
    """Both ways: the application deleted a team that legacy's action.fact_games still
    references (ON DELETE RESTRICT there): carry-back cannot delete it, so teams fails with
    the legacy foreign key named, not as an internal error; nothing of it is lost."""
    dsn = phase2
    back = Settings(carry_back=("teams",))
    assert api.run(dsn, back).ok
    team = q(dsn, "SELECT dim_home_team_actionid FROM action.fact_games ORDER BY 1 LIMIT 1")[0][0]
    q(dsn, "DELETE FROM core_betting.teams WHERE team_id = %s", team)  # the application
    report = api.run(dsn, back)
    failed = {r.name: r.message for r in report.results if r.status != "passed"}
    assert list(failed) == ["teams"], failed
    assert "fact_games_dim_home_team_actionid_fkey" in failed["teams"], failed
    assert q(dsn, "SELECT count(*) FROM action.dim_teams WHERE team_id = %s", team) == [(1,)]
    assert q(dsn, "SELECT count(*) FROM core_betting.teams WHERE team_id = %s", team) == [(0,)]
