"""Phase 2: a legacy row the new table cannot hold (its game id matches no game) fails the
run, named in migration_rejects, in a full check and in an incremental one, on a real
PostgreSQL; and passes again once legacy fixes it. Before, the phase-2 check read only the
rows that fit, so it passed, no reject was ever recorded, and old code's row never reached
the new table without a word."""

from __future__ import annotations

import pytest
from queries import q

from data_copy import api

LEGACY = "clean.betting_recommendations"


def _orphan(dsn: str) -> int:
    """A copy of a legacy recommendation under a new id, its game id matching no game."""
    columns = [
        r[0]
        for r in q(
            dsn,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'clean'"
            " AND table_name = 'betting_recommendations' AND column_name NOT IN ('id', 'game_id')"
            " ORDER BY ordinal_position",
        )
    ]
    listed = ", ".join(columns)
    return q(
        dsn,
        f"INSERT INTO {LEGACY} (id, game_id, {listed}) SELECT max(id) OVER () + 1000, 'no-such-game', {listed}"  # noqa: S608
        f" FROM {LEGACY} ORDER BY id LIMIT 1 RETURNING id",
    )[0][0]


def _failed(report: api.RunReport) -> dict[str, str]:
    return {r.name: r.message or "" for r in report.results if r.status != "passed"}


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_phase2_a_legacy_row_the_new_table_cannot_hold_fails_the_run_named_until_fixed(
    phase2: str, incremental: bool
) -> None:
    assert api.run(phase2).ok  # a full check passed: the next one may be incremental
    key = _orphan(phase2)
    for _ in range(2):  # and again: the reject stays until legacy changes the row
        report = api.run(phase2, incremental=incremental)
        assert _failed(report) == {
            "betting_recommendations": "betting_recommendations: 1 rejected rows (see public.migration_rejects)"
        }
        assert q(phase2, "SELECT legacy_key, reason FROM migration_rejects") == [
            (str(key), "game_id matches no game (or several) in core_betting.games")
        ]
    q(phase2, f"DELETE FROM {LEGACY} WHERE id = %s", key)  # noqa: S608
    report = api.run(phase2, incremental=incremental)
    assert report.ok, _failed(report)
    assert q(phase2, "SELECT count(*) FROM migration_rejects") == [(0,)]
