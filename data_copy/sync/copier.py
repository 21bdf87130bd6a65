"""Copies and re-syncs one mapping Part inside PostgreSQL: keyed, chunked, idempotent.

Each chunk is one INSERT ... SELECT committed on its own: a plain INSERT while the target
part is still empty (the fast path, as fast as a hand-written script), otherwise
INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE changed. A killed run loses at most the
chunk in flight; the re-run finds a non-empty target and upserts, so no row is lost or
duplicated. Rows that cannot be copied faithfully never reach the target: the projection's
fit conditions keep them out, and a target constraint that still refuses a row makes the
chunk split until that row is isolated. Why a legacy row was left out (migration_rejects)
is worked out only when validation finds a difference, so a clean copy pays nothing for it.
Re-sync reads only rows past the last copied key or changed since the last pass (the
mapping's changed_at columns), so its cost follows the change, not the table.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from data_copy.core import pacing
from data_copy.core.ident import ident
from data_copy.core.progress import silent
from data_copy.errors import first_line
from data_copy.mapping_sql.projection import SOURCE, TRUE, Part
from data_copy.state import dirty_keys, faults, ownership, phase_events
from data_copy.state.schema import REJECTS, STATE
from data_copy.sync import gone_rows

CHUNK_KEYS = 250_000
RESYNC_OVERLAP = "5 minutes"  # rows committed late with an older timestamp are re-read
ROW_ERRORS = (psycopg.errors.IntegrityError, psycopg.errors.DataError)
# a key that occurs twice in the legacy table (possible only without a unique index)
DUPLICATE_ERRORS = (psycopg.errors.UniqueViolation, psycopg.errors.CardinalityViolation)
# reason prefix of a row a target constraint refused (found by splitting a chunk): such
# rows are found only while copying, so this run's are kept when rejects are worked out anew
REFUSED = "refused by the new table: "


@dataclass
class CopyResult:
    copied: int = 0
    rejected: int = 0
    mode: str = "full"


def _names(cols: list[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c) for c in cols)


def _key(part: Part) -> sql.Identifier:
    return sql.Identifier(SOURCE, part.source_key)


def _insert(
    part: Part, condition: sql.Composable, upsert: bool, phase: int = 1, mark: bool = False, by_xact: bool = False
) -> sql.Composed:
    """The INSERT of the rows matching `condition`, recording each row written in the
    ownership baseline (and, with `mark`, its key as dirty for incremental validation);
    an existing row is updated only while it is still ours, untouched. `by_xact`: a first
    copy whose transaction is recorded instead (ownership.record_first_copy): a bare INSERT."""
    if upsert:  # rows equal to their baseline need no write (and phase 2 never resurrects)
        condition = sql.SQL("({}) AND {}").format(condition, ownership.source_filter(part, phase))
    statement = sql.SQL("{with_}INSERT INTO {target} AS t ({cols}) {select}").format(
        with_=part.with_clause,
        target=ident(part.target.qualified),
        cols=_names(part.columns + list(part.assigned)),
        select=part.select(sql.SQL(", ").join(part.exprs + list(part.assigned.values())), condition, with_=False),
    )
    if not upsert:
        return statement if by_xact else ownership.recording(part, statement, first=True)
    updates = [c for c in part.columns if c != part.target_key]
    return ownership.recording(
        part,
        sql.SQL("{} ON CONFLICT ({}) DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({}) AND {}").format(
            statement,
            sql.Identifier(part.target_key),
            sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in updates
            ),
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in updates),
            sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updates),
            ownership.guard(part),
        ),
        also=dirty_keys.marking(part, "w") if mark else sql.SQL(""),
    )


def _reject_rows(part: Part, run_id: object, keys: sql.Composable = TRUE) -> sql.Composed:
    """Records every legacy row (of `keys`, over the legacy row s) failing a fit condition,
    with the first failing reason."""
    reason = sql.SQL("CASE {} END").format(
        sql.SQL(" ").join(
            sql.SQL("WHEN NOT ({}) THEN {}").format(
                f.condition,
                sql.Literal(f.reason)
                if f.detail is None
                else sql.SQL("{} || {}").format(sql.Literal(f.reason), f.detail),
            )
            for f in part.fits
        )
    )
    what = sql.SQL("{run}, {mapping}, CAST({key} AS text), {reason}").format(
        run=sql.Literal(str(run_id)), mapping=sql.Literal(part.name), key=_key(part), reason=reason
    )
    return sql.SQL("{with_}INSERT INTO {rejects} (run_id, mapping, legacy_key, reason) {select}").format(
        with_=part.with_clause, rejects=REJECTS, select=part.select(what, keys, fitting=False, with_=False)
    )


def _key_between(part: Part, lo: int, hi: int) -> sql.Composed:
    return sql.SQL("{} BETWEEN {} AND {}").format(_key(part), sql.Literal(lo), sql.Literal(hi))


def _why(error: Exception) -> str:
    """The refusal in one line, with the server's detail (which key, which value)."""
    first = first_line(error)
    detail = getattr(getattr(error, "diag", None), "message_detail", None)
    return f"{first} ({detail})" if detail else first


def _has_unique_key_index(conn: psycopg.Connection, part: Part) -> bool:
    row = conn.execute(
        "SELECT bool_or(i.indisunique) FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
        " WHERE i.indrelid = %s::regclass AND i.indnatts = 1 AND a.attname = %s",
        (part.source_table, part.source_key),
    ).fetchone()
    return bool(row and row[0])


class Copier:
    def __init__(
        self,
        conn: psycopg.Connection,
        run_id: object,
        on_progress: Callable[[str, int, int], None] | None = None,
        phase: int = 1,
        pacer: "pacing.Pacer | None" = None,
    ) -> None:
        self.conn = conn
        self.pacer = pacer  # None: full speed
        self.run_id = run_id
        self.phase = phase
        self.on_progress = on_progress or silent
        self._duplicates: dict[str, sql.Composable] = {}  # part -> condition excluding them
        self._mark: set[str] = set()  # parts whose writes are recorded as dirty keys
        # parts re-synced by scanning legacy in this run (change capture feeds the others)
        self.scanned: set[str] = set()
        self._temp_tables = 0
        self._never_switched: bool | None = None

    # -- state ---------------------------------------------------------------------------
    def _state(self, part: Part) -> tuple[int | None, object] | None:
        row = self.conn.execute(
            sql.SQL("SELECT max_key, changed_since FROM {} WHERE part = %s").format(STATE),
            (part.name,),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def excludes(self, part: Part) -> bool:
        """True when this session keeps duplicate legacy keys of `part` out (a temporary table)."""
        return part.name in self._duplicates

    def forget_exclusions(self) -> None:
        self._duplicates.clear()

    def first_copy(self, part: Part) -> bool:
        return self._state(part) is None

    def _save_state(self, part: Part, max_key: int | None, changed_since: object) -> None:
        self.conn.execute(
            sql.SQL(
                "INSERT INTO {} (part, max_key, changed_since) VALUES (%s, %s, %s)"
                " ON CONFLICT (part) DO UPDATE SET max_key = EXCLUDED.max_key,"
                " changed_since = EXCLUDED.changed_since, updated_at = now()"
            ).format(STATE),
            (part.name, max_key, changed_since),
        )

    def _source_marks(self, part: Part, indexed: bool) -> tuple[int | None, int | None, object]:
        """(min key, max key, now) at the start of a pass: the next re-sync reads rows with a
        larger key or changed since then. Keys come from the index only (no table scan);
        without one, re-sync relies on the changed_at columns (and validation backs it)."""
        k = sql.Identifier(part.source_key)
        keys = sql.SQL("min({k}), max({k})").format(k=k) if indexed else sql.SQL("NULL, NULL")
        row = self.conn.execute(
            sql.SQL("SELECT {}, statement_timestamp() FROM {}").format(keys, ident(part.source_table))
            if indexed
            else sql.SQL("SELECT NULL, NULL, statement_timestamp()")
        ).fetchone()
        assert row is not None
        return row[0], row[1], row[2]

    def _target_empty(self, part: Part) -> bool:
        row = self.conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {} AS t WHERE {})").format(
                ident(part.target.qualified), part.target_where
            )
        ).fetchone()
        return bool(row and row[0])

    # -- rejects -------------------------------------------------------------------------
    def _reject(self, part: Part, key: object, reason: str) -> None:
        """Records a row a target constraint refused (once per run, however often it is re-read)."""
        self.conn.execute(
            sql.SQL(
                "INSERT INTO {r} (run_id, mapping, legacy_key, reason) SELECT %s, %s, %s, %s"
                " WHERE NOT EXISTS (SELECT 1 FROM {r} WHERE run_id = %s AND mapping = %s"
                " AND legacy_key IS NOT DISTINCT FROM %s AND reason = %s)"
            ).format(r=REJECTS),
            (str(self.run_id), part.name, None if key is None else str(key), REFUSED + reason) * 2,
        )

    def _forget_rejects(self, part: Part) -> None:
        """Drops the part's rejects, except rows refused by a constraint during this run."""
        self.conn.execute(
            sql.SQL("DELETE FROM {} WHERE mapping = %s AND NOT (run_id = %s AND starts_with(reason, %s))").format(
                REJECTS
            ),
            (part.name, str(self.run_id), REFUSED),
        )

    def _exclude_duplicates(self, part: Part) -> bool:
        """Finds legacy keys that occur more than once, records them, keeps them out after."""
        if part.name in self._duplicates or _has_unique_key_index(self.conn, part):
            return False
        self._temp_tables += 1
        table = sql.Identifier(f"duplicate_keys_{self._temp_tables}")
        k, src = sql.Identifier(part.source_key), ident(part.source_table)
        self.conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE {t} AS SELECT {k} AS k, count(*) AS n FROM {src}"
                " WHERE {k} IS NOT NULL GROUP BY {k} HAVING count(*) > 1"
            ).format(t=table, k=k, src=src)
        )
        self.conn.execute(
            sql.SQL(
                # one reject per legacy row, so copied + rejected = legacy rows
                "INSERT INTO {rej} (run_id, mapping, legacy_key, reason)"
                " SELECT {run}, {m}, CAST(d.k AS text), 'duplicate legacy key (' || d.n || ' rows)'"
                " FROM {t} AS d JOIN {src} AS s ON s.{k} = d.k"
            ).format(rej=REJECTS, run=sql.Literal(str(self.run_id)), m=sql.Literal(part.name), t=table, src=src, k=k)
        )
        self._duplicates[part.name] = sql.SQL("NOT EXISTS (SELECT 1 FROM {t} WHERE {t}.k = {key})").format(
            t=table, key=_key(part)
        )
        return True

    def record_rejects(self, part: Part) -> int:
        """Works out which legacy rows were left out and why (run when validation differs)."""
        with self.conn.transaction():
            self._forget_rejects(part)
            self._duplicates.pop(part.name, None)
            self._exclude_duplicates(part)
            if part.fits:
                self.conn.execute(_reject_rows(part, self.run_id))
        row = self.conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE mapping = %s").format(REJECTS), (part.name,)
        ).fetchone()
        return row[0] if row else 0

    def reject_unfit(self, part: Part, keys: sql.Composable) -> int:
        """Records the legacy rows of `keys` (over s) that do not fit and are not rejected
        yet, as rejects (a keyed apply: the changed keys' earlier rejects were forgotten
        with the change); rows recorded."""
        if not part.fits:
            return 0
        new = sql.SQL(
            "({}) AND NOT EXISTS (SELECT 1 FROM {} AS r WHERE r.mapping = {} AND r.legacy_key = CAST({} AS text))"
        ).format(keys, REJECTS, sql.Literal(part.name), _key(part))
        return max(self.conn.execute(_reject_rows(part, self.run_id, new)).rowcount, 0)

    # -- copying -------------------------------------------------------------------------
    def _by_xact(self, part: Part) -> bool:
        """A first copy may record its transactions instead of its rows (ownership) until
        the database is first switched to phase 2; not the games merge, whose two parts
        write the same rows."""
        if self._never_switched is None:
            self._never_switched = not phase_events.ever_switched(self.conn)
        return self._never_switched and part.mapping.merge is None

    def _condition(self, part: Part, condition: sql.Composable) -> sql.Composable:
        excluded = self._duplicates.get(part.name)
        return condition if excluded is None else sql.SQL("({}) AND ({})").format(condition, excluded)

    def _apply(self, part: Part, condition: sql.Composable, upsert: bool) -> tuple[int, int]:
        """Copies the rows matching `condition` in one transaction; returns (copied, rejected)."""
        # rows inside a savepoint would carry its subtransaction's xid: top level only
        by_xact = not upsert and self._by_xact(part) and self.conn.info.transaction_status == TransactionStatus.IDLE
        try:
            with self.conn.transaction():
                statement = _insert(
                    part, self._condition(part, condition), upsert, self.phase, part.name in self._mark, by_xact
                )
                copied = self.conn.execute(statement).rowcount
                if by_xact and copied > 0:
                    ownership.record_first_copy(self.conn, part)
            return max(copied, 0), 0
        except DUPLICATE_ERRORS as error:
            if not faults.refused_by(error, part.target.qualified):  # ours: StateInconsistent
                raise
            if self._exclude_duplicates(part):
                return self._apply(part, condition, upsert)
            return self._bisect(part, condition, upsert, error)
        except ROW_ERRORS as error:
            if not faults.refused_by(error, part.target.qualified):  # only the new table's refusal is a reject
                raise
            return self._bisect(part, condition, upsert, error)

    def _bisect(self, part: Part, condition: sql.Composable, upsert: bool, error: Exception) -> tuple[int, int]:
        """A target constraint refused some row: split the chunk until that row is isolated."""

        def select(what: sql.Composable) -> sql.Composed:
            return part.select(what, self._condition(part, condition))

        halves: list[sql.Composable]
        if part.source_key_is_int:  # split the key range: memory stays flat however large
            row = self.conn.execute(select(sql.SQL("min({k}), max({k})").format(k=_key(part)))).fetchone()
            lo, hi = row if row else (None, None)
            if lo is None or lo == hi:
                self._reject(part, lo, _why(error))
                return 0, 1
            mid = (lo + hi) // 2
            halves = [_key_between(part, lo, mid), _key_between(part, mid + 1, hi)]
        else:  # small tables with text keys: split the list of keys
            keys = [r[0] for r in self.conn.execute(select(_key(part)))]
            if len(keys) <= 1:
                self._reject(part, keys[0] if keys else None, _why(error))
                return 0, 1
            half = len(keys) // 2
            halves = [
                sql.SQL("{} = ANY({})").format(_key(part), sql.Literal(group)) for group in (keys[:half], keys[half:])
            ]
        copied = rejected = 0
        for half_condition in halves:
            c, r = self._apply(part, sql.SQL("({}) AND ({})").format(condition, half_condition), upsert)
            copied, rejected = copied + c, rejected + r
        return copied, rejected

    def _track(self, part: Part, marked: bool = True) -> None:
        """Marks writes as dirty keys once a full validation stored the part's chunks (and
        `marked`: the caller does not record them itself)."""
        if marked and dirty_keys.tracked(self.conn, part):
            self._mark.add(part.name)
        else:
            self._mark.discard(part.name)

    def copy(self, part: Part) -> CopyResult:
        self._forget_rejects(part)
        self._track(part)
        indexed = part.source_key_is_int and _has_unique_key_index(self.conn, part)
        lo, max_key, started = self._source_marks(part, indexed)
        state = self._state(part)
        # an empty target (first run, not a restart after a kill) cannot conflict: plain INSERT;
        # not under a baseline (phase 2: the application emptied it; its deletes must hold)
        upsert = state is not None or not self._target_empty(part) or ownership.has_baseline(self.conn, part)
        result = CopyResult(mode="resync" if state else "full")
        if state:  # a re-sync that scans legacy: it cannot see deletes, so no incremental validation
            self.scanned.add(part.name)
        chunks: list[sql.Composable]
        if state and (part.changed_at or state[0] is not None):
            last_key, last_changed = state
            since: list[sql.Composable] = []
            if last_key is not None:
                since.append(sql.SQL("{} > {}").format(_key(part), sql.Literal(last_key)))
            if part.changed_at and last_changed is not None:
                since.append(
                    sql.SQL("greatest({}) >= CAST({} AS timestamptz) - interval {}").format(
                        sql.SQL(", ").join(sql.Identifier(SOURCE, c) for c in part.changed_at),
                        sql.Literal(last_changed),
                        sql.Literal(RESYNC_OVERLAP),
                    )
                )
            chunks = [sql.SQL(" OR ").join(since) if since else sql.SQL("TRUE")]
        elif indexed and lo is not None and max_key is not None:
            chunks = [
                _key_between(part, start, min(start + CHUNK_KEYS - 1, max_key))
                for start in range(lo, max_key + 1, CHUNK_KEYS)
            ]
        else:
            chunks = [sql.SQL("TRUE")]
        if self.pacer is not None and indexed and lo is not None and max_key is not None and not state:
            self._paced(part, lo, max_key, upsert, result)
        else:
            for i, condition in enumerate(chunks):
                copied, rejected = self._apply(part, condition, upsert)
                result.copied += copied
                result.rejected += rejected
                self.on_progress(part.name, i + 1, len(chunks))
        self._save_state(part, max_key, started)
        return result

    def _paced(self, part: Part, lo: int, max_key: int, upsert: bool, result: CopyResult) -> None:
        """The first copy in key ranges re-sized to the pace's duration, resting after each
        and waiting while the server shows strain (core/pacing.py)."""
        pacer = self.pacer
        assert pacer is not None
        start = lo
        while start <= max_key:
            pacer.breathe()
            end = min(start + pacer.keys - 1, max_key)
            began = time.monotonic()
            copied, rejected = self._apply(part, _key_between(part, start, end), upsert)
            result.copied += copied
            result.rejected += rejected
            self.on_progress(part.name, end - lo + 1, max_key - lo + 1)
            pacer.chunk_done(end - start + 1, time.monotonic() - began)
            start = end + 1

    def reconcile(
        self,
        part: Part,
        keys: sql.Composable | None = None,
        target_keys: sql.Composable | None = None,
        deletes: bool = True,
        marked: bool = True,
    ) -> CopyResult:
        """Full keyed pass: upserts every row and deletes the target rows whose legacy row is
        gone, but only rows data_copy wrote and nobody changed since (ownership.guard).
        With `keys` (over the legacy row `s`) and `target_keys` (over the target row `t`):
        only those keys (change capture's apply by key). `marked=False`: the caller has
        recorded the keys as dirty itself."""
        self._track(part, marked)
        copied, rejected = self._apply(part, keys or sql.SQL("TRUE"), upsert=True)
        deleted = self._delete_gone(part, keys, target_keys) if deletes else 0
        return CopyResult(copied=copied + deleted, rejected=rejected, mode="reconcile")

    def delete_gone(
        self,
        part: Part,
        target_keys: sql.Composable | None = None,
        keys: sql.Composable | None = None,
        marked: bool = True,
    ) -> int:
        """Deletes the target rows (of `target_keys`, or all) whose legacy row (of `keys`, or
        any) is gone, but only rows data_copy wrote and nobody changed since
        (ownership.guard); rows deleted."""
        self._track(part, marked)
        return self._delete_gone(part, keys, target_keys)

    def _delete_gone(
        self, part: Part, keys: sql.Composable | None = None, target_keys: sql.Composable | None = None
    ) -> int:
        """delete_gone, the tracking already decided (sync/gone_rows.py)."""
        legacy = self._condition(
            part,
            sql.SQL("({}) AND ({}) = t.{}").format(
                keys or sql.SQL("TRUE"), part.key_expr(), sql.Identifier(part.target_key)
            ),
        )
        whole_table = keys is None and target_keys is None
        return gone_rows.delete(self.conn, part, legacy, target_keys, whole_table, part.name in self._mark)
