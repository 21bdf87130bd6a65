"""The stack side of issue 9 on the real engine: a stack rollback cannot skip the carry-back.

phase 1 up + data_copy run; phase 2 preview fails until `data_copy switch`; phase 2 up;
the application writes a new table; phase 1 preview fails naming `data_copy rollback`;
after the rollback (the row is carried back into legacy) phase 1 up succeeds.
"""

from __future__ import annotations

import psycopg
import pytest
from pulumi import automation as auto
from test_stack_support import Engine, stack_on, unique

import legacy_fixture
from data_copy import api
from data_copy.settings import Settings

pytestmark = pytest.mark.e2e


def _refused(stack: auto.Stack) -> str:
    with pytest.raises(auto.errors.CommandError) as info:
        stack.preview(on_output=lambda _line: None)
    assert "Traceback" not in str(info.value)
    return str(info.value)


def test_preview_refuses_a_phase_the_database_has_not_reached_or_left(engine: Engine) -> None:
    with psycopg.connect(engine.dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny")
    prefix = unique("g") + "_"
    settings = Settings(role_prefix=prefix)
    with stack_on(engine, prefix) as d:
        name = d.stack.name
        assert d.up()[0].summary.result == "succeeded"
        assert api.run(engine.dsn, settings).ok

        d.set_phase(2)
        assert f"run `python -m data_copy switch --stack {name}` first" in _refused(d.stack)
        api.switch(engine.dsn, settings)
        up = d.up()[0]
        assert up.summary.result == "succeeded"
        # the phase guard's read also fills the outputs: the database's recorded phase and
        # the run's validations (one read-only connection)
        assert up.outputs["recordedPhase"].value == 2
        assert up.outputs["validation"].value
        assert {v["status"] for v in up.outputs["validation"].value.values()} == {"passed"}

        with psycopg.connect(engine.dsn, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO core_betting.betting_lines_moneyline (game_id, sportsbook, home_ml, odds_timestamp)"
                " SELECT min(game_id), 'APP', 123, now() FROM core_betting.betting_lines_moneyline RETURNING id"
            ).fetchone()
        assert row is not None
        d.set_phase(1)
        text = _refused(d.stack)
        assert "phase-2 rows in the new tables have not been carried back" in text
        assert f"python -m data_copy rollback --stack {name}" in text

        api.rollback(engine.dsn, settings)
        up = d.up()[0]
        assert up.summary.result == "succeeded"
        assert up.outputs["recordedPhase"].value == 1
        with psycopg.connect(engine.dsn, autocommit=True) as conn:
            back = conn.execute("SELECT sportsbook, home_ml FROM mlb_betting.moneyline WHERE id = %s", row).fetchone()
        assert back == ("APP", 123)
