"""The row hash (mapping_sql/row_hash.py) and the upgrade of stored hashes from its older
form (state/hash_form.py), on a real PostgreSQL: the hash tells apart every change to a
row, whatever the session's TimeZone; a phase-2 database whose baseline was recorded in
the old form keeps every key's class through the upgrade; cleanup's guard accepts a
validation logged in the old form while legacy is unchanged, and only then."""

from __future__ import annotations

import psycopg
from psycopg import sql
from test_both_ways import conflicts, ids
from test_phases import LEGACY_ML, ML, q, result

from catalog.mappings import MAPPINGS
from data_copy import api
from data_copy.mapping_sql.projection import Part, parts
from data_copy.mapping_sql.row_hash import FORM, target_hash
from data_copy.retire import guards
from data_copy.settings import Settings
from data_copy.state import hash_form
from data_copy.state.ownership import target_key_text
from data_copy.state.schema import CHUNKS, HASH_FORM, OWNED
from data_copy.validation import part_check

MONEYLINE_MAPPING = next(m for m in MAPPINGS if m.name == "moneyline")
MONEYLINE: Part = parts(MONEYLINE_MAPPING)[0]


def _hashes(dsn: str, rows: list[dict[str, object]], timezone: str = "UTC") -> list[int]:
    """target_hash of each row (columns not given keep the first row's values), computed
    over a temporary table shaped like the new table."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
        conn.execute(sql.SQL("CREATE TEMP TABLE x (LIKE {}, n int)").format(sql.Identifier(*ML.split("."))))
        base = conn.execute(sql.SQL("SELECT * FROM {} ORDER BY id LIMIT 1").format(sql.Identifier(*ML.split("."))))
        names = [d.name for d in base.description or []]
        first = dict(zip(names, base.fetchone() or (), strict=True))
        for n, changes in enumerate(rows):
            values = first | changes
            conn.execute(
                sql.SQL("INSERT INTO x ({}, n) VALUES ({}, %s)").format(
                    sql.SQL(", ").join(map(sql.Identifier, names)), sql.SQL(", ").join(sql.Placeholder() * len(names))
                ),
                [*(values[c] for c in names), n],
            )
        found = conn.execute(sql.SQL("SELECT {} FROM x AS t ORDER BY n").format(target_hash(MONEYLINE))).fetchall()
        return [int(r[0]) for r in found]


def test_the_row_hash_tells_apart_every_change_to_a_row_in_any_time_zone(tiny_synced: str) -> None:
    base: dict[str, object] = {
        "home_ml": 120,
        "away_ml": -140,
        "sportsbook": "DraftKings",
        "home_bets_percentage": 50.0,
        "steam_move": True,
        "odds_timestamp": "2024-04-01 12:00:00+00",
    }
    variants: list[dict[str, object]] = [
        base,
        base | {"home_ml": -111},  # an integer
        base | {"home_ml": None},  # a value becomes NULL
        base | {"home_ml": -140, "away_ml": 120},  # the same two values, swapped between columns
        base | {"sportsbook": "Pinnacle"},  # text
        base | {"sportsbook": "Pinnacle\\'"},  # a backslash and a quote
        base | {"home_bets_percentage": 50.01},  # numeric
        base | {"home_bets_percentage": None},
        base | {"steam_move": False},  # the other two states of a boolean
        base | {"steam_move": None},
        base | {"odds_timestamp": "2024-04-01 12:00:00.000001+00"},  # timestamptz, one microsecond later
    ]
    hashes = _hashes(tiny_synced, variants)
    assert len(set(hashes)) == len(hashes), hashes
    # stored hashes must not depend on the session: the same rows in another time zone
    assert _hashes(tiny_synced, variants, "Asia/Kathmandu") == hashes
    # summed over rows (a checksum), a value moved to another row is a change too
    a, b, c, d = _hashes(
        tiny_synced,
        [
            {"home_ml": 1, "away_ml": 2},
            {"home_ml": 3, "away_ml": 4},
            {"home_ml": 3, "away_ml": 2},
            {"home_ml": 1, "away_ml": 4},
        ],
    )
    assert a + b != c + d


def _to_form_1(dsn: str) -> int:
    """Rewrites the stored baseline as the old version left it: each record's hash in
    form 1 (every record equals its row after a passing run), and no form recorded."""
    written = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for m in MAPPINGS:
            for part in parts(m):
                rows = part.select_target(
                    sql.SQL("{} AS k, {} AS old, {} AS new").format(
                        target_key_text(part), target_hash(part, form=1), target_hash(part)
                    )
                )
                written += conn.execute(
                    sql.SQL(
                        "UPDATE {} AS o SET h = t.old FROM ({}) AS t WHERE o.part = %s AND o.k = t.k AND o.h = t.new"
                    ).format(OWNED, rows),
                    (part.name,),
                ).rowcount
        records = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(OWNED)).fetchone()
        assert records and written == records[0]  # every record was its row's: all rewritten
        conn.execute(sql.SQL("DELETE FROM {}").format(HASH_FORM))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (part, lo, hi, source_count, source_hash, target_count, target_hash)"
                " VALUES ('moneyline', 0, 65535, 1, 1, 1, 1)"
            ).format(CHUNKS)
        )
    return written


def test_a_baseline_recorded_in_the_old_form_keeps_every_keys_class_through_the_upgrade(phase2: str) -> None:
    dsn = phase2
    assert api.run(dsn).ok
    assert _to_form_1(dsn) > 0
    a, b, c, d = ids(dsn, ML, 4)
    q(dsn, f"UPDATE {ML} SET home_ml = 4242 WHERE id = ANY(%s)", [a, c])  # noqa: S608 - the application
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = -7 WHERE id = ANY(%s)", [b, c])  # noqa: S608 - old code
    q(dsn, f"DELETE FROM {ML} WHERE id = %s", d)  # noqa: S608
    # `status` and `plan` pass no gate: their carry-back survey reads the records as upgraded
    (carry,) = [c for c in api.pending_carry_back(dsn, Settings()) if c.mapping == "moneyline"]
    assert (carry.carried, carry.deleted, carry.both_changed) == (2, 1, 1), carry  # a and c; d; c
    assert q(dsn, "SELECT count(*) FROM migration_row_hash") == [(0,)]  # read-only: nothing kept
    report = api.run(dsn)
    assert any("upgraded from form 1" in n for n in report.notes), report.notes
    assert q(dsn, "SELECT form FROM migration_row_hash") == [(FORM,)]
    assert q(dsn, "SELECT count(*) FROM migration_chunk_hashes") == [(0,)]
    figures = result(report, "moneyline").figures
    # a: the application's change, kept; b: legacy's change, brought over; c: both, a
    # conflict; d: the application's delete, kept
    assert (figures["app_changed"], figures["app_deleted"], figures["conflicts"]) == (1, 1, 1), figures
    assert q(dsn, f"SELECT home_ml FROM {ML} WHERE id = %s", a) == [(4242,)]  # noqa: S608
    assert q(dsn, f"SELECT away_ml FROM {ML} WHERE id = %s", b) == [(-7,)]  # noqa: S608
    assert conflicts(dsn) == {str(c)}
    assert q(dsn, f"SELECT away_ml FROM {ML} WHERE id = %s", c) != [(-7,)]  # noqa: S608 - not overwritten
    assert q(dsn, f"SELECT count(*) FROM {ML} WHERE id = %s", d) == [(0,)]  # noqa: S608
    assert report.ok, [r.message for r in report.results if r.message]
    # the next run finds the same, with nothing more to upgrade
    again = api.run(dsn)
    assert not any("upgraded" in n for n in again.notes)
    assert result(again, "moneyline").figures == figures | {"pending": 0}


def test_cleanups_guard_reads_a_validation_logged_in_the_old_form_as_it_was_computed(phase2: str) -> None:
    dsn = phase2
    assert api.run(dsn).ok
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT set_config('TimeZone', %s, false)", (Settings().legacy_timezone,))
        old = part_check.source_state(conn, MONEYLINE_MAPPING, 1)[1]
        conn.execute(
            "UPDATE migration_log SET source_checksum = %s WHERE id = (SELECT max(id) FROM migration_log"
            " WHERE step = 'validate' AND mapping = 'moneyline')",
            (old,),
        )
        assert not [p for p in guards.validation_problems(conn, Settings()) if p.subject == "moneyline"]
    (key,) = ids(dsn, LEGACY_ML, 1)
    q(dsn, f"UPDATE {LEGACY_ML} SET away_ml = away_ml + 1 WHERE id = %s", key)  # noqa: S608
    with psycopg.connect(dsn, autocommit=True) as conn:
        stale = [p for p in guards.validation_problems(conn, Settings()) if p.subject == "moneyline"]
    assert [p.kind for p in stale] == ["validation_stale"], stale


def test_a_new_database_records_the_current_form_and_rehashes_nothing(tiny_synced: str) -> None:
    assert q(tiny_synced, "SELECT form FROM migration_row_hash") == [(FORM,)]
    with psycopg.connect(tiny_synced, autocommit=True) as conn, conn.transaction():
        said: list[str] = []
        hash_form.upgrade(conn, said.append)
        assert said == [] and hash_form.stored(conn) == FORM
