"""The first copy records its transactions, not its rows (state/ownership.py), on a real PostgreSQL.

A row whose xmin is one of the first copy's chunk transactions is data_copy's, untouched:
every write of ours may update or delete it; a row anyone else wrote or changed is never
touched; `switch` turns the first-copied rows into recorded rows before the application may
write, and so does a run once their transactions grow old.
"""

import psycopg
import pytest
from psycopg import sql
from queries import q

from catalog.mappings import MAPPINGS
from data_copy import api
from data_copy.errors import ForeignRows
from data_copy.mapping_sql.projection import parts
from data_copy.settings import Settings
from data_copy.state import ownership

ML = "core_betting.betting_lines_moneyline"
LEGACY_ML = "mlb_betting.moneyline"
MONEYLINE = next(p for m in MAPPINGS if m.name == "moneyline" for p in parts(m))


def recorded(dsn: str, part: str) -> int:
    return q(dsn, "SELECT count(*) FROM migration_owned_rows WHERE part = %s", part)[0][0]


def xacts(dsn: str, part: str | None = None) -> int:
    if part is None:
        return q(dsn, "SELECT count(*) FROM migration_owned_xacts")[0][0]
    return q(dsn, "SELECT count(*) FROM migration_owned_xacts WHERE part = %s", part)[0][0]


def home_ml(dsn: str, table: str, key: int) -> int | None:
    rows = q(dsn, sql.SQL("SELECT home_ml FROM {} WHERE id = %s").format(sql.Identifier(*table.split("."))), key)
    return rows[0][0] if rows else None


def baseline_totals(dsn: str) -> tuple[int, str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return ownership.owned_totals(conn, MONEYLINE)


def target_rows(dsn: str) -> int:
    return q(dsn, f"SELECT count(*) FROM {ML}")[0][0]  # noqa: S608


def test_first_copy_records_transactions_and_no_row(tiny_synced: str) -> None:
    assert recorded(tiny_synced, "moneyline") == 0 and xacts(tiny_synced, "moneyline") >= 1
    # the games merge's two parts write the same rows: they record rows, as before
    games = [p.name for m in MAPPINGS if m.merge for p in parts(m)]
    assert all(recorded(tiny_synced, name) > 0 and xacts(tiny_synced, name) == 0 for name in games)
    # the baseline is the table as the first copy wrote it
    count, _ = baseline_totals(tiny_synced)
    assert count == target_rows(tiny_synced) > 0


def test_phase1_our_later_writes_reach_first_copied_rows_and_never_a_changed_one(tiny_synced: str) -> None:
    synced, touched, gone = (r[0] for r in q(tiny_synced, f"SELECT id FROM {ML} ORDER BY id LIMIT 3"))  # noqa: S608
    q(tiny_synced, f"UPDATE {ML} SET home_ml = 4242 WHERE id = %s", touched)  # noqa: S608  by hand, in phase 1
    for key, value in ((synced, 901), (touched, 902)):  # old code changes both in legacy
        q(tiny_synced, f"UPDATE {LEGACY_ML} SET home_ml = %s, updated_at = now() WHERE id = %s", value, key)  # noqa: S608
    q(tiny_synced, f"DELETE FROM {LEGACY_ML} WHERE id = %s", gone)  # noqa: S608
    with pytest.raises(ForeignRows) as stop:
        api.run(tiny_synced)
    assert ML in stop.value.line() and str(touched) in stop.value.line()
    assert home_ml(tiny_synced, ML, synced) == 901  # a first-copied row: ours, brought up to date
    assert home_ml(tiny_synced, ML, touched) == 4242  # changed by someone else: never overwritten
    assert home_ml(tiny_synced, ML, gone) is None  # a first-copied row whose legacy row is gone
    assert recorded(tiny_synced, "moneyline") == 1  # the one row we re-wrote is recorded


def test_a_frozen_first_copy_is_still_ours(tiny_synced: str) -> None:
    q(tiny_synced, f"VACUUM (FREEZE) {ML}")  # freezing keeps the raw xmin
    key = q(tiny_synced, f"SELECT min(id) FROM {ML}")[0][0]  # noqa: S608
    q(tiny_synced, f"UPDATE {LEGACY_ML} SET home_ml = 903, updated_at = now() WHERE id = %s", key)  # noqa: S608
    report = api.run(tiny_synced)
    assert report.ok, [r.message for r in report.results if r.message]
    assert home_ml(tiny_synced, ML, key) == 903


def test_switch_records_the_first_copied_rows_before_the_application_writes(tiny_synced: str) -> None:
    before = baseline_totals(tiny_synced)
    done = api.switch(tiny_synced, Settings())
    assert any("first-copied row(s) recorded" in line for line in done.notes)
    assert xacts(tiny_synced) == 0
    assert recorded(tiny_synced, "moneyline") == target_rows(tiny_synced) == before[0]
    assert baseline_totals(tiny_synced) == before  # the same keys and hashes, now recorded
    # phase 2: the application deletes a first-copied row; legacy still has it: never resurrected
    key = q(tiny_synced, f"SELECT min(id) FROM {ML}")[0][0]  # noqa: S608
    q(tiny_synced, f"DELETE FROM {ML} WHERE id = %s", key)  # noqa: S608
    report = api.run(tiny_synced)
    assert report.ok, [r.message for r in report.results if r.message]
    assert home_ml(tiny_synced, ML, key) is None
    assert next(r for r in report.results if r.name == "moneyline").figures["app_deleted"] == 1


def test_a_run_records_first_copies_grown_old(tiny_synced: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ownership, "XACT_AGE_LIMIT", 1)  # every first-copy transaction is old now
    count = target_rows(tiny_synced)
    report = api.run(tiny_synced)
    assert report.ok, [r.message for r in report.results if r.message]
    assert xacts(tiny_synced) == 0 and recorded(tiny_synced, "moneyline") == count


def test_phase1_rows_written_by_another_into_a_first_copy_with_nothing_recorded_stop_the_run(
    tiny_synced: str,
) -> None:
    # nothing recorded for the part: only the rows' xmin tells ours from another's
    assert recorded(tiny_synced, "moneyline") == 0
    changed = q(tiny_synced, f"SELECT min(id) FROM {ML}")[0][0]  # noqa: S608
    q(tiny_synced, f"UPDATE {ML} SET home_ml = 4343 WHERE id = %s", changed)  # noqa: S608  by hand, in phase 1
    q(
        tiny_synced,
        f"INSERT INTO {ML} SELECT (SELECT max(id) + 1000 FROM {ML}), game_id, sportsbook, home_ml, away_ml,"  # noqa: S608
        f" odds_timestamp FROM {ML} WHERE id = %s",
        changed,
    )
    with pytest.raises(ForeignRows) as stop:
        api.run(tiny_synced)
    assert ML in stop.value.line() and "2 row(s)" in stop.value.line(), stop.value.line()
    assert home_ml(tiny_synced, ML, changed) == 4343  # never overwritten
    assert target_rows(tiny_synced) == q(tiny_synced, f"SELECT count(*) FROM {LEGACY_ML}")[0][0] + 1  # noqa: S608


def test_phase1_a_recorded_row_changed_by_another_stops_the_run_and_a_deleted_one_is_copied_again(
    tiny_synced: str,
) -> None:
    key, gone, other = (r[0] for r in q(tiny_synced, f"SELECT id FROM {ML} ORDER BY id LIMIT 3"))  # noqa: S608
    for k in (key, gone, other):  # old code changes them in legacy: the run re-writes and records them
        q(tiny_synced, f"UPDATE {LEGACY_ML} SET home_ml = 904, updated_at = now() WHERE id = %s", k)  # noqa: S608
    assert api.run(tiny_synced).ok
    assert recorded(tiny_synced, "moneyline") == 3
    q(tiny_synced, f"DELETE FROM {ML} WHERE id = %s", gone)  # noqa: S608  by hand, in phase 1
    assert api.run(tiny_synced).ok  # phase 1 is a mirror: a row missing from it is copied again
    assert home_ml(tiny_synced, ML, gone) == 904
    q(tiny_synced, f"UPDATE {ML} SET home_ml = 4444 WHERE id = %s", key)  # noqa: S608  by hand, in phase 1
    with pytest.raises(ForeignRows) as stop:
        api.run(tiny_synced)
    assert ML in stop.value.line() and "1 row(s)" in stop.value.line(), stop.value.line()
    assert home_ml(tiny_synced, ML, key) == 4444  # never overwritten
    assert home_ml(tiny_synced, ML, other) == 904


def test_unowned_counts_a_recorded_key_gone_and_a_first_copied_row_a_recorded_row_overrides(tiny_synced: str) -> None:
    gone, overridden, kept = (r[0] for r in q(tiny_synced, f"SELECT id FROM {ML} ORDER BY id LIMIT 3"))  # noqa: S608
    with psycopg.connect(tiny_synced, autocommit=True) as conn:
        assert ownership.unowned(conn, MONEYLINE) == 0
        h = sql.SQL("SELECT {} FROM {} AS t WHERE t.id = %s").format(
            ownership.target_hash(MONEYLINE), sql.Identifier(*ML.split("."))
        )
        for key, wrong in ((gone, False), (overridden, True), (kept, False)):
            row_hash = conn.execute(h, (key,)).fetchone()[0]
            conn.execute(
                "INSERT INTO migration_owned_rows (part, k, h, u) VALUES ('moneyline', %s, %s, 0)",
                (str(key), row_hash + 1 if wrong else row_hash),
            )
        assert ownership.unowned(conn, MONEYLINE) == 1  # the override with other content
        conn.execute(f"DELETE FROM {ML} WHERE id = %s", (gone,))  # noqa: S608
        assert ownership.unowned(conn, MONEYLINE) == 2  # and the recorded key the table lost
