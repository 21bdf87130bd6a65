"""Copies and re-syncs one mapping Part inside PostgreSQL: keyed, chunked, idempotent.

Every chunk is one INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE ... WHERE changed,
committed on its own, so a killed run loses at most the chunk in flight and a re-run
neither duplicates nor skips a row. Rows that cannot be copied faithfully are recorded in
migration_rejects with their key and reason, never truncated or dropped silently.
Re-sync reads only rows past the last copied key or changed since the last pass (the
mapping's changed_at columns), so its cost follows the change, not the table.
"""

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from data_copy.journal import REJECTS, STATE
from data_copy.projection import SOURCE, Part, ident

CHUNK_KEYS = 250_000
RESYNC_OVERLAP = "5 minutes"  # rows committed late with an older timestamp are re-read
ROW_ERRORS = (psycopg.errors.IntegrityError, psycopg.errors.DataError)


@dataclass
class CopyResult:
    copied: int = 0
    rejected: int = 0
    mode: str = "full"


def _names(cols: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(c) for c in cols)


def _insert(part: Part, condition: sql.Composable) -> sql.Composable:
    updates = [c for c in part.columns if c != part.target_key]
    target = ident(part.target.qualified)
    return sql.SQL(
        "{with_}INSERT INTO {target} AS t ({cols}) SELECT {exprs} FROM {from_}"
        " WHERE ({where}) AND ({fits}) AND ({cond})"
        " ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        with_=part.with_clause,
        target=target,
        cols=_names(part.columns + list(part.assigned)),
        exprs=sql.SQL(", ").join(part.exprs + list(part.assigned.values())),
        from_=part.from_clause(),
        where=part.where,
        fits=part.fits_condition(),
        cond=condition,
        key=sql.Identifier(part.target_key),
        sets=sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in updates
        ),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in updates),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updates),
    )


def _reject_rows(part: Part, condition: sql.Composable, run_id: object) -> sql.Composable:
    """Records rows failing a fit condition, with the first failing reason."""
    reason = sql.SQL("CASE {} END").format(
        sql.SQL(" ").join(
            sql.SQL("WHEN NOT ({}) THEN {}").format(f.condition, sql.Literal(f.reason)) for f in part.fits
        )
    )
    return sql.SQL(
        "{with_}INSERT INTO {rejects} (run_id, mapping, legacy_key, reason)"
        " SELECT {run}, {mapping}, CAST({s}.{key} AS text), {reason} FROM {from_}"
        " WHERE ({where}) AND ({cond}) AND NOT ({fits})"
    ).format(
        with_=part.with_clause,
        rejects=REJECTS,
        run=sql.Literal(str(run_id)),
        mapping=sql.Literal(part.name),
        s=sql.Identifier(SOURCE),
        key=sql.Identifier(part.source_key),
        reason=reason,
        from_=part.from_clause(),
        where=part.where,
        cond=condition,
        fits=part.fits_condition(),
    )


def _key_between(part: Part, lo: int, hi: int) -> sql.Composable:
    return sql.SQL("{s}.{k} BETWEEN {lo} AND {hi}").format(
        s=sql.Identifier(SOURCE),
        k=sql.Identifier(part.source_key),
        lo=sql.Literal(lo),
        hi=sql.Literal(hi),
    )


def _duplicate_keys(conn: psycopg.Connection, part: Part) -> sql.Composable:
    """Legacy keys that occur more than once (only possible without a unique index): excluded."""
    return sql.SQL(
        "({s}.{k} IS NULL OR {s}.{k} NOT IN"
        " (SELECT {k} FROM {src} WHERE {k} IS NOT NULL GROUP BY {k} HAVING count(*) > 1))"
    ).format(s=sql.Identifier(SOURCE), k=sql.Identifier(part.source_key), src=ident(part.source_table))


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
    ) -> None:
        self.conn = conn
        self.run_id = run_id
        self.on_progress = on_progress or (lambda name, done, total: None)

    # -- state ---------------------------------------------------------------------------
    def _state(self, part: Part) -> tuple[int | None, object] | None:
        row = self.conn.execute(
            sql.SQL("SELECT max_key, changed_since FROM {} WHERE part = %s").format(STATE),
            (part.name,),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def _save_state(self, part: Part, max_key: int | None, changed_since: object) -> None:
        self.conn.execute(
            sql.SQL(
                "INSERT INTO {} (part, max_key, changed_since) VALUES (%s, %s, %s)"
                " ON CONFLICT (part) DO UPDATE SET max_key = EXCLUDED.max_key,"
                " changed_since = EXCLUDED.changed_since, updated_at = now()"
            ).format(STATE),
            (part.name, max_key, changed_since),
        )

    def _source_marks(self, part: Part) -> tuple[int | None, object]:
        """(max key, max changed_at) of the legacy table now: the next re-sync starts here."""
        changed = (
            sql.SQL("max(greatest({}))").format(sql.SQL(", ").join(sql.Identifier(c) for c in part.changed_at))
            if part.changed_at
            else sql.SQL("NULL::timestamptz")
        )
        key = sql.SQL("max({})").format(sql.Identifier(part.source_key)) if part.source_key_is_int else sql.SQL("NULL")
        row = self.conn.execute(
            sql.SQL("SELECT {}, CAST({} AS timestamptz) FROM {}").format(key, changed, ident(part.source_table))
        ).fetchone()
        assert row is not None
        return row[0], row[1]

    # -- copying -------------------------------------------------------------------------
    def _apply(self, part: Part, condition: sql.Composable) -> tuple[int, int]:
        """Copies the rows matching `condition` in one transaction; returns (copied, rejected)."""
        try:
            with self.conn.transaction():
                copied = self.conn.execute(_insert(part, condition)).rowcount
                rejected = self.conn.execute(_reject_rows(part, condition, self.run_id)).rowcount if part.fits else 0
            return max(copied, 0), max(rejected, 0)
        except ROW_ERRORS as error:
            return self._bisect(part, condition, error)

    def _bisect(self, part: Part, condition: sql.Composable, error: Exception) -> tuple[int, int]:
        """A constraint of the target refused some row: split until the rows are isolated."""
        keys = [
            r[0]
            for r in self.conn.execute(
                sql.SQL("{with_}SELECT {s}.{k} FROM {from_} WHERE ({where}) AND ({cond}) AND ({fits})").format(
                    with_=part.with_clause,
                    s=sql.Identifier(SOURCE),
                    k=sql.Identifier(part.source_key),
                    from_=part.from_clause(),
                    where=part.where,
                    cond=condition,
                    fits=part.fits_condition(),
                )
            )
        ]
        if len(keys) <= 1:
            reason = str(error).splitlines()[0]
            with self.conn.transaction():
                self.conn.execute(
                    sql.SQL("INSERT INTO {} (run_id, mapping, legacy_key, reason) VALUES (%s, %s, %s, %s)").format(
                        REJECTS
                    ),
                    (str(self.run_id), part.name, str(keys[0]) if keys else None, reason),
                )
            return 0, 1
        copied = rejected = 0
        half = len(keys) // 2
        for group in (keys[:half], keys[half:]):
            c, r = self._apply(
                part,
                sql.SQL("{s}.{k} = ANY({keys})").format(
                    s=sql.Identifier(SOURCE),
                    k=sql.Identifier(part.source_key),
                    keys=sql.Literal(group),
                ),
            )
            copied, rejected = copied + c, rejected + r
        return copied, rejected

    def copy(self, part: Part) -> CopyResult:
        self.conn.execute(sql.SQL("DELETE FROM {} WHERE mapping = %s").format(REJECTS), (part.name,))
        max_key, changed_since = self._source_marks(part)
        state = self._state(part)
        result = CopyResult(mode="resync" if state else "full")
        base = sql.SQL("TRUE")
        if not _has_unique_key_index(self.conn, part):
            base = _duplicate_keys(self.conn, part)
            self._record_duplicates(part)
        chunks: list[sql.Composable] = []
        if state and part.source_key_is_int and part.changed_at:
            last_key, last_changed = state
            newer = sql.SQL("{s}.{k} > {last}").format(
                s=sql.Identifier(SOURCE),
                k=sql.Identifier(part.source_key),
                last=sql.Literal(last_key or 0),
            )
            changed = (
                sql.SQL("greatest({}) >= CAST({} AS timestamptz) - interval {}").format(
                    sql.SQL(", ").join(col_s(c) for c in part.changed_at),
                    sql.Literal(last_changed),
                    sql.Literal(RESYNC_OVERLAP),
                )
                if last_changed is not None
                else sql.SQL("TRUE")
            )
            chunks = [sql.SQL("({}) AND (({}) OR ({}))").format(base, newer, changed)]
        elif part.source_key_is_int and max_key is not None and _has_unique_key_index(self.conn, part):
            lo_row = self.conn.execute(
                sql.SQL("SELECT min({}) FROM {}").format(sql.Identifier(part.source_key), ident(part.source_table))
            ).fetchone()
            lo = lo_row[0] if lo_row and lo_row[0] is not None else 0
            chunks = [
                sql.SQL("({}) AND ({})").format(base, _key_between(part, start, min(start + CHUNK_KEYS - 1, max_key)))
                for start in range(lo, max_key + 1, CHUNK_KEYS)
            ]
        else:
            chunks = [base]
        for i, condition in enumerate(chunks):
            copied, rejected = self._apply(part, condition)
            result.copied += copied
            result.rejected += rejected
            self.on_progress(part.name, i + 1, len(chunks))
        self._save_state(part, max_key, changed_since)
        return result

    def _record_duplicates(self, part: Part) -> None:
        self.conn.execute(
            sql.SQL(
                "INSERT INTO {rej} (run_id, mapping, legacy_key, reason)"
                " SELECT {run}, {m}, CAST({k} AS text), 'duplicate legacy key (' || count(*) || ' rows)'"
                " FROM {src} WHERE {k} IS NOT NULL GROUP BY {k} HAVING count(*) > 1"
            ).format(
                rej=REJECTS,
                run=sql.Literal(str(self.run_id)),
                m=sql.Literal(part.name),
                k=sql.Identifier(part.source_key),
                src=ident(part.source_table),
            )
        )

    def reconcile(self, part: Part) -> CopyResult:
        """Full keyed pass: upserts every row and deletes target rows whose legacy row is gone."""
        self.conn.execute(sql.SQL("DELETE FROM {} WHERE mapping = %s").format(REJECTS), (part.name,))
        base = sql.SQL("TRUE") if _has_unique_key_index(self.conn, part) else _duplicate_keys(self.conn, part)
        if not isinstance(base, sql.SQL):
            self._record_duplicates(part)
        copied, rejected = self._apply(part, base)
        with self.conn.transaction():
            deleted = self.conn.execute(
                sql.SQL(
                    "{with_}DELETE FROM {target} AS t WHERE ({tw}) AND NOT EXISTS ("
                    "SELECT 1 FROM {from_} WHERE ({where}) AND ({fits}) AND ({key_expr}) = t.{tkey})"
                ).format(
                    with_=part.with_clause,
                    target=ident(part.target.qualified),
                    tw=part.target_where,
                    from_=part.from_clause(),
                    where=part.where,
                    fits=part.fits_condition(),
                    key_expr=part.key_expr(),
                    tkey=sql.Identifier(part.target_key),
                )
            ).rowcount
        return CopyResult(copied=copied + max(deleted, 0), rejected=rejected, mode="reconcile")


def col_s(name: str) -> sql.Composable:
    return sql.Identifier(SOURCE, name)
