"""Cleanup's phase guards: the database has been in phase 2, and legacy is quiet.

"Quiet" (README, "Who writes where"): no insert, update or delete on a mapped legacy table
since the last sync started, and no read of one by anything but data_copy since the
switch to phase 2, as far as pg_stat_user_tables shows (state/legacy_activity.py says what it cannot see).
Writes cannot be overridden: a `run` brings them over, then cleanup sees legacy quiet.
Reads can be, with --accept-legacy-reads (a report or a backup job that reads legacy and
will be pointed at the new tables, or has been already).
"""

import psycopg

from data_copy.retire.refusals import Problem
from data_copy.settings import Settings
from data_copy.state import legacy_activity, phase_events


def problems(conn: psycopg.Connection, settings: Settings) -> list[Problem]:
    event = phase_events.current(conn)
    recorded = event.phase if event else None
    if event is None or recorded != 2:
        what = "nothing is recorded (data_copy never ran)" if recorded is None else f"it is in phase {recorded}"
        return [Problem("phase", "database", f"cleanup needs phase 2 recorded, but {what}")]
    found = [Problem("legacy_written", a.table, a.figure) for a in legacy_activity.writes_since_last_sync(conn)]
    if not settings.accept_legacy_reads:
        found += [
            Problem("legacy_read", a.table, a.figure)
            for a in legacy_activity.reads_by_others_since(conn, event.recorded_at)
        ]
    return found
