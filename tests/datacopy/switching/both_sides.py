"""Helpers for the both-ways tests (no tests here): every invertible mapping written on both
sides at random, and its two sides compared row by row.

What a writer may touch is read from the catalog and the database, so a new mapping is
covered without a line here: an update sets one text column that no key, unique index,
check, foreign key or game lookup involves; an insert copies a random row under a new key
from one sequence both sides share (only where no unique index but the key's would refuse
the copy); a delete removes one of those inserted rows. The comparison casts each new
column back to its legacy column's type (the catalog's inverse columns, never data_copy's
hashes) and joins the two sides by key text.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql
from test_phases import q

from catalog.mappings import MAPPINGS
from data_copy.core.ident import ident
from data_copy.mapping_sql.projection import parts
from data_copy.sync.write_back import inverse_columns

SEQUENCE = "public.both_sides_keys"  # the inserted rows' keys, both sides
FIRST_KEY = 5_000_000  # above every fixture key: a delete takes only rows a writer inserted
_TEXT = re.compile(r"^(?:text|character varying(?:\((\d+)\))?)$")


@dataclass(frozen=True)
class Sides:
    mapping: str
    part: str
    legacy: str
    new: str
    keys: tuple[str, str]  # legacy's, the new table's
    key_types: tuple[str, str]
    columns: tuple[tuple[str, ...], tuple[str, ...]]  # every column but the key, each side
    updated: tuple[str, str] | None  # the text column an update sets, each side
    inserts: bool
    inverse: tuple[tuple[str, str, str], ...]  # (legacy column, its type, the new column)

    def side(self, legacy: bool) -> tuple[str, str, str, tuple[str, ...], str | None]:
        i = 0 if legacy else 1
        return (
            (self.legacy, self.new)[i],
            self.keys[i],
            self.key_types[i],
            self.columns[i],
            self.updated[i] if self.updated else None,
        )


def _columns(dsn: str, table: str) -> dict[str, str]:
    rows = q(
        dsn,
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(%s)"
        " AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        table,
    )
    return dict(rows)


def _constrained(dsn: str, table: str, unique_only: bool = False) -> set[str]:
    """Columns in a unique index of `table` (and, unless `unique_only`, in a check or a
    foreign key)."""
    unique = q(
        dsn,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisunique",
        table,
    )
    checked = q(
        dsn,
        "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid"
        " AND a.attnum = ANY(c.conkey) WHERE c.conrelid = to_regclass(%s) AND c.contype IN ('c', 'f')",
        table,
    )
    return {r[0] for r in unique + ([] if unique_only else checked)}


def _wide_text(type_: str) -> bool:
    found = _TEXT.match(type_)
    return found is not None and int(found.group(1) or 100) >= 6  # room for the writers' values


def invertible(dsn: str) -> list[Sides]:
    """Every mapping that goes both ways, as the writers and the comparison see it."""
    found = []
    for m in MAPPINGS:
        if not m.invertible:
            continue
        part = parts(m)[0]
        legacy, new = part.source_table, part.target.qualified
        types = (_columns(dsn, legacy), _columns(dsn, new))
        keys = (part.source_key, part.target_key)
        untouchable = _constrained(dsn, legacy) | _constrained(dsn, new) | set(m.game_refs.values()) | set(keys)
        inverse = tuple(inverse_columns(m))
        updated = next(
            (
                (lc, tc)
                for lc, lt, tc in inverse
                if not {lc, tc} & untouchable and _wide_text(lt) and _wide_text(types[1].get(tc, ""))
            ),
            None,
        )
        found.append(
            Sides(
                mapping=m.name,
                part=part.name,
                legacy=legacy,
                new=new,
                keys=keys,
                key_types=(types[0][keys[0]], types[1][keys[1]]),
                columns=(tuple(c for c in types[0] if c != keys[0]), tuple(c for c in types[1] if c != keys[1])),
                updated=updated,
                inserts=not (_constrained(dsn, legacy, True) | _constrained(dsn, new, True)) - set(keys),
                inverse=inverse,
            )
        )
    return found


def key_sequence(dsn: str) -> None:
    q(dsn, sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} START {}").format(ident(SEQUENCE), sql.Literal(FIRST_KEY)))


def write(conn: psycopg.Connection, s: Sides, legacy: bool, kind: str, value: str, key: str | None = None) -> bool:
    """One write of `kind` on one side of `s` (an update: of `key`, or of a random row);
    False when `s` allows none of that kind."""
    table, key_column, key_type, columns, updated = s.side(legacy)
    t, k = ident(table), sql.Identifier(key_column)
    if kind == "update" and updated:
        which = sql.SQL("(SELECT {k} FROM {t} ORDER BY random() LIMIT 1)").format(t=t, k=k)
        if key is not None:
            which = sql.SQL("CAST({} AS {})").format(sql.Literal(key), sql.SQL(key_type))
        conn.execute(
            sql.SQL("UPDATE {t} SET {c} = %s WHERE {k} = {which}").format(
                t=t, c=sql.Identifier(updated), k=k, which=which
            ),
            (value,),
        )
    elif kind == "insert" and s.inserts:
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        conn.execute(
            sql.SQL(
                "INSERT INTO {t} ({k}, {names}) SELECT CAST(nextval({seq}) AS {ty}), {names} FROM {t}"
                " ORDER BY random() LIMIT 1"
            ).format(t=t, k=k, names=names, seq=sql.Literal(SEQUENCE), ty=sql.SQL(key_type))
        )
    elif kind == "delete" and s.inserts:
        conn.execute(
            sql.SQL(
                "DELETE FROM {t} WHERE {k} = (SELECT {k} FROM {t} WHERE CAST({k} AS text) >= {first}"
                " AND length(CAST({k} AS text)) = {digits} ORDER BY random() LIMIT 1)"
            ).format(t=t, k=k, first=sql.Literal(str(FIRST_KEY)), digits=sql.Literal(len(str(FIRST_KEY))))
        )
    else:
        return False
    return True


def writer(dsn: str, seed: int, sides: list[Sides], stop: threading.Event, done: list[int]) -> None:
    """Random inserts, updates and deletes on both sides of `sides` until `stop`: the
    application writes the new tables, old code the legacy ones."""
    rng = random.Random(seed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            s = rng.choice(sides)
            kind = rng.choice(("insert", "update", "update", "delete"))
            if write(conn, s, rng.random() < 0.5, kind, f"W{rng.randint(0, 999)}"):
                done[0] += 1
            time.sleep(rng.uniform(0.0, 0.02))


def first_keys(dsn: str, s: Sides, n: int) -> list[str]:
    """The new table's first `n` keys, as text."""
    key = sql.Identifier(s.keys[1])
    rows = q(
        dsn, sql.SQL("SELECT CAST({k} AS text) FROM {t} ORDER BY {k} LIMIT {n}").format(k=key, t=ident(s.new), n=n)
    )
    return [r[0] for r in rows]


def differing(dsn: str, s: Sides) -> set[str]:
    """Keys (text) whose two rows differ, or that one side lacks: each new column cast back
    to its legacy column's type."""
    legacy_row = sql.SQL(", ").join(
        sql.SQL("CAST(l.{} AS {})").format(sql.Identifier(lc), sql.SQL(ty)) for lc, ty, _ in s.inverse
    )
    new_row = sql.SQL(", ").join(
        sql.SQL("CAST(n.{} AS {})").format(sql.Identifier(tc), sql.SQL(ty)) for _, ty, tc in s.inverse
    )
    rows = q(
        dsn,
        sql.SQL(
            "SELECT coalesce(a.k, b.k) FROM (SELECT CAST(l.{lk} AS text) AS k, ROW({lr}) AS r FROM {l} AS l) AS a"
            " FULL JOIN (SELECT CAST(n.{nk} AS text) AS k, ROW({nr}) AS r FROM {n} AS n) AS b ON b.k = a.k"
            " WHERE a.k IS NULL OR b.k IS NULL OR a.r IS DISTINCT FROM b.r"
        ).format(
            lk=sql.Identifier(s.keys[0]),
            lr=legacy_row,
            l=ident(s.legacy),
            nk=sql.Identifier(s.keys[1]),
            nr=new_row,
            n=ident(s.new),
        ),
    )
    return {r[0] for r in rows}


def doubled(dsn: str, s: Sides) -> list[tuple[str, int, int]]:
    """(table, rows, distinct keys) of each side holding a key twice."""
    found = []
    for table, key in ((s.legacy, s.keys[0]), (s.new, s.keys[1])):
        counted = sql.SQL("SELECT count(*), count(DISTINCT {}) FROM {}").format(sql.Identifier(key), ident(table))
        rows, keys = q(dsn, counted)[0]
        if rows != keys:
            found.append((table, rows, keys))
    return found


def explain(dsn: str, part: str, tables: tuple[tuple[str, str], ...], keys: set[str]) -> str:
    """For a failed comparison: each key's row in each (table, key column), its baseline and
    every conflict row it ever had (resolved ones too), so that a rare failure says what
    happened."""
    lines = []
    for key in sorted(keys)[:5]:
        for table, column in tables:
            rows = q(
                dsn,
                sql.SQL("SELECT * FROM {} WHERE CAST({} AS text) = %s").format(ident(table), sql.Identifier(column)),
                key,
            )
            lines.append(f"{table} {key}: {rows}")
        owned = q(dsn, "SELECT h FROM migration_owned_rows WHERE part = %s AND k = %s", part, key)
        listed = q(
            dsn,
            "SELECT kind, first_seen, last_seen, resolved_at FROM migration_conflicts WHERE part = %s AND k = %s",
            part,
            key,
        )
        lines.append(f"baseline {owned}; conflicts {listed}")
    return "\n".join(lines)
