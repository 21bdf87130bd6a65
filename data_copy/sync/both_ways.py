"""Phase 2 both ways: the application's writes to a new table carried back into legacy, in
each sync, so that code still reading legacy sees them (consolidation:carryBack).

Only for a mapping that inverts exactly (catalog Mapping.invertible; the games merge does
not: a new row cannot be split back into public.games and splits.games), and per row only
where the round trip holds (sync/write_back.py). The keys come from the change stream: the
new table's changes that do not carry our replication origin are the application's, read
from the slot with legacy's (capture/stream.py), so a sync costs what the application
changed; the first sync after the opt-in looks at every row once. The open conflicts' keys
are looked at again in every sync: when old code writes legacy back to what was synced, the
application's change, read from the stream while the key was a conflict, is the only
change left, and goes back like any other. In the settle's
transaction, after legacy's changes were brought over, each of those keys is classified
three ways (legacy now, the new table now, the baseline: state/ownership.py):
- the application created or changed it and legacy did not: the row goes back;
- the application deleted it and legacy did not change it: legacy's row is deleted;
- both sides changed it since the last sync: a conflict, listed in migration_conflicts
  and never written in either direction;
- a row that does not round-trip is counted and left (the rollback names them too).
The baseline follows each written row, so the next sync sees the key in sync. Our writes
to legacy carry our origin, so they never come back as legacy changes. A written row that
does not land as it was (a legacy trigger, generated column or default changed it) makes
the mapping refuse carry-back, named, and nothing of it is written in that sync.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from data_copy.capture import stream
from data_copy.capture.stream import Capture
from data_copy.core import planner
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.projection import Part
from data_copy.state import classification, conflicts, dirty_keys
from data_copy.state.schema import CAPTURE_CHANGES
from data_copy.sync import change_apply, write_back

_BACK = sql.Identifier("carry_back")  # the rows of one part on their way back (write_back.round_trip)
_GOES_BACK = ("app_created", "app_changed")


@dataclass
class Carried:
    written: int = 0  # legacy rows inserted or updated with the application's version
    deleted: int = 0  # legacy rows deleted because the application deleted them
    conflicts: int = 0  # keys both sides changed: listed, not written
    not_exact: int = 0  # rows that do not round-trip: left in the new table only
    refused: str = ""  # why the mapping refused carry-back in this sync ("" when it did not)

    def figures(self) -> dict[str, int]:
        return {
            "carried_back": self.written,
            "deleted_back": self.deleted,
            "not_carried_back": self.not_exact + self.conflicts,
        }


def position_name(part: Part) -> str:
    """The part's position of the new table's changes carried back (beside its own)."""
    return f"{part.name}<-"


def _changed(cap: Capture, part: Part, pos: str, upto: str) -> sql.Composed:
    """SELECT the distinct keys (text) of the new table the application changed in (pos, upto],
    and the open conflicts' keys: a conflict whose legacy side went back to the baseline is
    the application's change, and that change was read when the key was still a conflict."""
    return sql.SQL(
        "SELECT k FROM {} WHERE slot = {} AND tbl = {} AND lsn > CAST({} AS pg_lsn)"
        " AND lsn <= CAST({} AS pg_lsn) AND k IS NOT NULL UNION {}"
    ).format(
        CAPTURE_CHANGES,
        sql.Literal(cap.slot),
        sql.Literal(part.target.qualified),
        sql.Literal(pos),
        sql.Literal(upto),
        conflicts.open_keys(part),
    )


def _kinds(conn: psycopg.Connection, part: Part, keys: classification.Keys) -> dict[str, list[str]]:
    """Key texts per kind carry-back acts on (the application's, the conflicts), among
    `keys`: only those reach the client (the first sync looks at every key, most in sync)."""
    acted_on = [*_GOES_BACK, "app_deleted", *classification.CONFLICTS]
    found: dict[str, list[str]] = {}
    for kind, label in conn.execute(
        sql.SQL("SELECT kind, label FROM ({}) AS x WHERE kind = ANY({})").format(
            classification.classified(part, keys), sql.Literal(acted_on)
        )
    ):
        found.setdefault(kind, []).append(str(label))
    return found


def carry(conn: psycopg.Connection, cap: Capture, part: Part, run_id: object, policy: str) -> Carried:
    """The application's changes to `part`'s new table since the last sync, carried back
    into legacy, in the caller's (settle) transaction."""
    done = Carried()
    pos = stream.position(conn, cap, position_name(part))
    upto = change_apply.visible_upto(conn, cap, [part.target.qualified], pos)  # as legacy's changes
    with planner.keyed(conn, nested_loops=not part.joined):
        batches: Iterable[classification.Keys] = [classification.ALL_KEYS]
        if pos is not None:
            changed = _changed(cap, part, pos, upto)
            dirty_keys.mark_selected(conn, part, changed)  # the next incremental check classifies them
            batches = classification.key_batches(conn, part, changed)
        kinds: dict[str, list[str]] = {}
        for keys in batches:
            found = _kinds(conn, part, keys)
            if any(kind in found for kind in classification.CONFLICTS):
                conflicts.record(conn, part, run_id, policy, keys)
            for kind, labels in found.items():
                kinds.setdefault(kind, []).extend(labels)
        both = [k for kind in classification.CONFLICTS for k in kinds.get(kind, [])]
        done.conflicts = len(both)
        back = [k for kind in _GOES_BACK for k in kinds.get(kind, [])]
        gone = kinds.get("app_deleted", [])
        if back or gone:
            among = key_sets.among(sql.Identifier("t", part.target_key), back, part.target.column(part.target_key).type)
            with conn.transaction():
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_BACK))
                conn.execute(write_back.round_trip(part, _BACK, among))
                row = conn.execute(sql.SQL("SELECT count(*) FILTER (WHERE NOT exact) FROM {}").format(_BACK)).fetchone()
                done.not_exact = int(row[0]) if row else 0
                done.written, done.deleted = write_back.write(
                    conn, part, _BACK, key_sets.among(sql.Identifier("o", "k"), gone, "text")
                )
                missed = write_back.not_landed(conn, part, _BACK)
                if missed:
                    done.refused = (
                        f"{part.target.qualified}: rows written back into {part.source_table} do not give the"
                        f" new rows back (keys {', '.join(missed)}): a trigger, generated column or default"
                        " changes them; carry-back refused for this mapping"
                    )
                    done.written = done.deleted = 0
                    raise psycopg.Rollback()  # this sync writes nothing of it back
    if not done.refused:
        stream.record(conn, cap, position_name(part), upto)
    return done
