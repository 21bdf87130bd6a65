"""switch and rollback keep lock_timeout and retry 55P03 (lock_retry.in_transaction) on a
real PostgreSQL: another session holds a lock on a legacy table the step changes; released
after a short delay the verb waits it out and ends exactly as an undisturbed run; never
released it fails with one line naming the table (exit 6) and has changed nothing."""

from __future__ import annotations

import time

import psycopg
import pytest
from lock_holding import Held, Pauses, short_pauses
from queries import q

from data_copy import api, cli
from data_copy.core import lock_retry
from data_copy.errors import BUSY, TableLocked
from data_copy.settings import Settings
from data_copy.state import phase_events
from data_copy.switching import id_space

LEGACY_ML = "mlb_betting.moneyline"
ML = "core_betting.betting_lines_moneyline"
FAST = Settings(lock_timeout="100ms")


@pytest.fixture(autouse=True)
def pauses(monkeypatch: pytest.MonkeyPatch) -> Pauses:
    return short_pauses(monkeypatch)


def defaults(dsn: str, changes: list[id_space.IdChange]) -> dict[str, str]:
    out = {}
    for c in changes:
        rows = q(
            dsn,
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a"
            " ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = to_regclass(%s) AND a.attname = %s",
            c.legacy_table,
            c.legacy_column,
        )
        out[c.legacy_table] = rows[0][0]
    return out


def switch_state(dsn: str) -> tuple[list[tuple], int | None]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        event = phase_events.current(conn)
        return [r[:5] for r in id_space.recorded(conn)], event.phase if event else None


def planned(dsn: str) -> list[id_space.IdChange]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return id_space.planned(conn)


def cli_line(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`python -m data_copy ARGV` in process (so lock_retry's short pauses hold), with
    --dsn's settings at lock_timeout 100ms: (exit code, stderr)."""
    monkeypatch.setattr(cli, "Settings", lambda: FAST)
    with pytest.raises(SystemExit) as ended:
        cli.main(argv)
    return int(ended.value.code or 0), capsys.readouterr().err


# ------------------------------------------------------------------------------ switch


def test_switch_waits_out_a_lock_and_ends_as_an_undisturbed_switch(tiny_synced: str, pauses: Pauses) -> None:
    changes = planned(tiny_synced)
    assert LEGACY_ML in {c.legacy_table for c in changes}
    held = Held(tiny_synced, LEGACY_ML, "ACCESS SHARE")  # a long SELECT: ALTER TABLE must wait
    pauses.then = lambda: held.release_after(0.3)
    started = time.monotonic()
    done = api.switch(tiny_synced, FAST)
    waited = time.monotonic() - started
    held.close()
    assert len(pauses.seen) >= 1 and waited >= 0.3  # refused, then through once released (0.3 s later)
    assert done.lines == [c.line() for c in changes]
    recorded, phase = switch_state(tiny_synced)
    assert phase == 2
    assert recorded == [
        (c.legacy_table, c.legacy_column, c.original_default, c.legacy_sequence, c.shared_sequence)
        for c in sorted(changes, key=lambda c: c.legacy_table)
    ]
    assert defaults(tiny_synced, changes) == {
        c.legacy_table: f"nextval('{c.shared_sequence}'::regclass)" for c in changes
    }
    assert planned(tiny_synced) == []  # nothing left to switch: no step was half done


def test_switch_under_a_lock_never_released_is_one_line_and_changes_nothing(
    tiny_synced: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lock_retry, "ATTEMPTS", 3)
    changes = planned(tiny_synced)
    before = defaults(tiny_synced, changes)
    held = Held(tiny_synced, LEGACY_ML, "ACCESS SHARE")
    try:
        code, err = cli_line(["switch", "--dsn", tiny_synced], monkeypatch, capsys)
    finally:
        held.close()
    lines = err.strip().splitlines()
    assert code == BUSY and len(lines) == 1, err
    assert lines[0].startswith(
        f"error: switch refused, still phase 1: {LEGACY_ML} is locked by another session (pid {held.pid});"
        " refused 3 time(s) over"
    ), lines[0]
    assert "each after lock_timeout 100ms; this step changed nothing" in lines[0]
    assert "then run the same command again (or raise consolidation:lockTimeout))" in lines[0]
    # nothing of the switch: defaults as before, nothing recorded, still phase 1
    assert defaults(tiny_synced, changes) == before
    assert switch_state(tiny_synced) == ([], 1)
    assert planned(tiny_synced) == changes
    # and once the lock is gone the same command switches
    api.switch(tiny_synced, FAST)
    assert switch_state(tiny_synced)[1] == 2


# ---------------------------------------------------------------------------- rollback


def app_insert_ml(dsn: str) -> int:
    return q(
        dsn,
        f"INSERT INTO {ML} (game_id, sportsbook, home_ml, odds_timestamp)"  # noqa: S608
        f" SELECT min(game_id), 'APP', 111, now() FROM {ML} RETURNING id",
    )[0][0]


def legacy_row(dsn: str, key: int) -> tuple | None:
    rows = q(dsn, f"SELECT id, sportsbook, home_ml FROM {LEGACY_ML} WHERE id = %s", key)  # noqa: S608
    return rows[0] if rows else None


@pytest.mark.parametrize(
    "mode",
    [
        "SHARE",  # blocks the carry-back's writes into legacy (a mapping's transaction)
        "ACCESS SHARE",  # blocks only the last step's ALTER TABLE (the switch undone)
    ],
)
def test_rollback_waits_out_a_lock_and_ends_as_an_undisturbed_rollback(phase2: str, mode: str, pauses: Pauses) -> None:
    switched = id_space_lines(phase2)
    created = app_insert_ml(phase2)
    held = Held(phase2, LEGACY_ML, mode)
    pauses.then = lambda: held.release_after(0.3)
    done = api.rollback(phase2, FAST)
    held.close()
    assert len(pauses.seen) >= 1  # refused while the lock was held (its release waits for the first refusal)
    assert {c.mapping: (c.carried, c.deleted) for c in done.carries if c.carried or c.deleted} == {"moneyline": (1, 0)}
    assert legacy_row(phase2, created) == (created, "APP", 111)  # carried back once
    assert q(phase2, f"SELECT count(*) FROM {LEGACY_ML} WHERE sportsbook = 'APP'") == [(1,)]  # noqa: S608
    assert done.lines == [f"{t}.{col}: DEFAULT {orig} again" for t, col, orig in switched]
    assert switch_state(phase2) == ([], 1)
    assert api.run(phase2).ok  # a mirror again


def id_space_lines(dsn: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return [(r[0], r[1], r[2]) for r in id_space.recorded(conn)]


def test_rollback_under_locks_never_released_is_one_line_and_leaves_no_half_step(
    phase2: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lock_retry, "ATTEMPTS", 3)
    recorded_before = switch_state(phase2)
    created = app_insert_ml(phase2)
    # 1. the carry-back of moneyline is refused whole: nothing of it reaches legacy
    held = Held(phase2, LEGACY_ML, "SHARE")
    try:
        code, err = cli_line(["rollback", "--dsn", phase2], monkeypatch, capsys)
    finally:
        held.close()
    lines = err.strip().splitlines()
    assert code == BUSY and len(lines) == 1, err
    assert lines[0].startswith(
        f"error: rollback of {ML} refused (the mappings before it are carried back and stay so):"
        f" {LEGACY_ML} is locked by another session (pid {held.pid}); refused 3 time(s)"
    ), lines[0]
    assert legacy_row(phase2, created) is None
    assert switch_state(phase2) == recorded_before  # still phase 2, the switch in place
    # 2. every mapping carried back, the switch's undo refused whole: still phase 2
    held = Held(phase2, LEGACY_ML, "ACCESS SHARE")
    try:
        with pytest.raises(TableLocked) as caught:
            api.rollback(phase2, FAST)
    finally:
        held.close()
    line = caught.value.line()
    assert line.startswith(
        f"error: rollback refused, still phase 2 (every mapping is carried back): {LEGACY_ML} is locked by"
        f" another session (pid {held.pid})"
    ), line
    assert legacy_row(phase2, created) == (created, "APP", 111)
    assert switch_state(phase2) == recorded_before
    # 3. the lock gone, rollback again finishes: nothing carried twice
    done = api.rollback(phase2, FAST)
    assert not [c for c in done.carries if c.carried or c.deleted]
    assert q(phase2, f"SELECT count(*) FROM {LEGACY_ML} WHERE sportsbook = 'APP'") == [(1,)]  # noqa: S608
    assert switch_state(phase2) == ([], 1)


def test_in_transaction_inside_a_transaction_is_a_savepoint(tiny_synced: str, pauses: Pauses) -> None:
    """A retried step inside an outer transaction rolls back only itself: the outer
    transaction's earlier work stays and it commits."""
    held = Held(tiny_synced, LEGACY_ML, "ACCESS SHARE")
    pauses.then = lambda: held.release_after(0.3)
    with psycopg.connect(tiny_synced, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '100ms'")
        conn.execute("CREATE TABLE public.ddl_retry_probe (x int)")
        attempts: list[int] = []

        def step() -> None:
            attempts.append(1)
            conn.execute("INSERT INTO public.ddl_retry_probe VALUES (%s)", (len(attempts),))
            conn.execute(f"ALTER TABLE {LEGACY_ML} ALTER COLUMN sportsbook SET DEFAULT 'probe'")

        with conn.transaction():
            conn.execute("INSERT INTO public.ddl_retry_probe VALUES (0)")
            lock_retry.in_transaction(conn, step, what="probe", tables=[LEGACY_ML])
        rows = [r[0] for r in conn.execute("SELECT x FROM public.ddl_retry_probe ORDER BY x").fetchall()]
    held.close()
    assert len(attempts) >= 2
    assert rows == [0, len(attempts)]  # the outer row, and only the last attempt's


def test_the_lock_conflict_table_is_postgresqls() -> None:
    """Symmetric, and the manual's rows for the modes our steps take."""
    table = lock_retry.CONFLICTS
    assert all((a in table[b]) == (b in table[a]) for a in table for b in table)
    assert table["AccessShareLock"] == ("AccessExclusiveLock",)
    assert set(table["ShareLock"]) == {
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    }
    assert "ShareLock" not in table["ShareLock"] and "ShareRowExclusiveLock" in table["ShareRowExclusiveLock"]
    assert len(table["AccessExclusiveLock"]) == 8
