"""The games merge when legacy deletes or adds a public game (sync/merge_moves.py), on a real
PostgreSQL, phase 1 and phase 2: a deleted public game's row, paired with a splits game,
becomes that game's row in place (it stopped every phase-1 run as a foreign row, and was a
phase-2 conflict); an unpaired one goes, and what found it by its MLB id is rejected as a
fresh copy rejects it (phase 1 stopped as a foreign row; phase 2 passed with the game
still there); a new public game pairing a splits-only game takes its place in one run (a
foreign key refused it at every run); a row the application changed stays as it is."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from queries import q

from data_copy import api
from data_copy.settings import Settings

GAMES = "core_betting.games"
RECS = "analytics.betting_recommendations"


@pytest.fixture(params=[1, 2], ids=["phase1", "phase2"])
def phase(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def synced(phase: int, tiny_synced: str) -> str:
    if phase == 2:
        api.switch(tiny_synced, Settings())
    return tiny_synced


def _referenced(dsn: str, paired: bool, public: bool = True) -> tuple[int, str | None, str]:
    """(id, legacy_splits_id, MLB id) of a game recommendations point at."""
    rows = q(
        dsn,
        f"SELECT g.id, g.legacy_splits_id, g.mlb_stats_api_game_id FROM {GAMES} AS g"  # noqa: S608
        f" WHERE (g.legacy_splits_id IS NOT NULL) = %s AND (g.id IN (SELECT id FROM public.games)) = %s"
        f" AND EXISTS (SELECT 1 FROM {RECS} AS r WHERE r.game_id = g.id) ORDER BY g.id LIMIT 1",
        paired,
        public,
    )
    assert rows, "the tiny fixture has such a game"
    return rows[0]


def _recs(dsn: str, game: int) -> int:
    return q(dsn, f"SELECT count(*) FROM {RECS} WHERE game_id = %s", game)[0][0]  # noqa: S608


def test_a_deleted_public_game_paired_with_a_splits_game_becomes_that_games_row_in_place(synced: str) -> None:
    game, splits_key, _ = _referenced(synced, paired=True)
    recs = _recs(synced, game)
    assert q(synced, f"SELECT sportsbookreview_game_id IS NOT NULL FROM {GAMES} WHERE id = %s", game) == [(True,)]  # noqa: S608
    q(synced, "DELETE FROM public.games WHERE id = %s", game)
    report = api.run(synced)
    assert report.ok, [r.message for r in report.results if r.message]
    # the same row, now the splits game's: what only public.games filled is back to defaults
    assert q(synced, f"SELECT legacy_splits_id, sportsbookreview_game_id FROM {GAMES} WHERE id = %s", game) == [  # noqa: S608
        (splits_key, None)
    ]
    assert _recs(synced, game) == recs  # what pointed at it still does
    owned = q(
        synced,
        "SELECT part, k FROM migration_owned_rows WHERE part LIKE 'games/%%' AND k = ANY(%s)",
        [str(game), splits_key],
    )
    assert owned == [("games/splits_only", splits_key)]
    assert q(synced, "SELECT count(*) FROM migration_conflicts") == [(0,)]


def test_a_deleted_unpaired_public_game_goes_and_what_found_it_is_rejected_as_a_fresh_copy_would(synced: str) -> None:
    game, _, mlb = _referenced(synced, paired=False)
    referrers = q(synced, "SELECT id FROM clean.betting_recommendations WHERE game_id = %s ORDER BY id", mlb)
    assert referrers
    q(synced, "DELETE FROM public.games WHERE id = %s", game)
    report = api.run(synced)
    assert q(synced, f"SELECT count(*) FROM {GAMES} WHERE id = %s", game) == [(0,)]  # noqa: S608
    assert _recs(synced, game) == 0
    # legacy keeps rows that find no game: rejected, named, as a first copy would (both phases)
    failed = {r.name: r.message for r in report.results if r.status != "passed"}
    assert set(failed) <= {"betting_recommendations", "game_outcomes"} and "betting_recommendations" in failed
    rejected = q(
        synced, "SELECT legacy_key FROM migration_rejects WHERE mapping = 'betting_recommendations' ORDER BY 1"
    )
    assert sorted(int(r[0]) for r in rejected) == [r[0] for r in referrers]


def test_a_new_public_game_pairing_a_splits_only_game_takes_its_place_in_one_run(synced: str) -> None:
    splits_only, splits_key, mlb = _referenced(synced, paired=True, public=False)
    recs = _recs(synced, splits_only)
    with psycopg.connect(synced, autocommit=True) as conn:
        row = conn.execute("SELECT * FROM public.games ORDER BY id LIMIT 1")
        names = [d.name for d in row.description or [] if d.name != "id"]
        values = dict(zip([d.name for d in row.description or []], row.fetchone() or (), strict=True))
        values |= {"mlb_stats_api_game_id": mlb, "sportsbookreview_game_id": None, "action_network_game_id": None}
        values |= {"vsin_game_id": None}
        new = conn.execute(
            sql.SQL("INSERT INTO public.games ({}) VALUES ({}) RETURNING id").format(
                sql.SQL(", ").join(map(sql.Identifier, names)), sql.SQL(", ").join(sql.Placeholder() * len(names))
            ),
            [values[n] for n in names],
        ).fetchone()[0]  # type: ignore[index]
    report = api.run(synced)
    assert report.ok, [r.message for r in report.results if r.message]
    assert q(synced, f"SELECT id FROM {GAMES} WHERE legacy_splits_id = %s", splits_key) == [(new,)]  # noqa: S608
    assert q(synced, f"SELECT count(*) FROM {GAMES} WHERE id = %s", splits_only) == [(0,)]  # noqa: S608
    assert _recs(synced, new) == recs


def test_phase2_a_game_row_the_application_changed_stays_as_it_left_it(tiny_synced: str) -> None:
    api.switch(tiny_synced, Settings())
    game, splits_key, _ = _referenced(tiny_synced, paired=True)
    q(tiny_synced, f"UPDATE {GAMES} SET vsin_game_id = 'app' WHERE id = %s", game)  # noqa: S608
    before = q(tiny_synced, f"SELECT * FROM {GAMES} WHERE id = %s", game)  # noqa: S608
    q(tiny_synced, "DELETE FROM public.games WHERE id = %s", game)
    report = api.run(tiny_synced)
    assert report.ok, [r.message for r in report.results if r.message]
    assert q(tiny_synced, f"SELECT * FROM {GAMES} WHERE id = %s", game) == before  # noqa: S608
    assert q(tiny_synced, "SELECT part, k FROM migration_conflicts WHERE resolved_at IS NULL") == [
        ("games/splits_only", splits_key)
    ]
