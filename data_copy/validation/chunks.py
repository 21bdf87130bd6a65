"""Validation by key-range chunk: per-chunk checksums in our state, and the keys changed since.

A full validation hashes both sides of a Part grouped by chunk of its integer key (`key >>
CHUNK_BITS`, 65,536 keys a chunk), on several connections that share one snapshot
(hasher.py), and keeps every chunk's (count, checksum) of both sides in
`public.migration_chunk_hashes`. With one connection (a server whose one query already
uses every CPU) it hashes each side whole, faster, and keeps that as one chunk; only when
the sides differ does it hash them by chunk, to find where. The Part's totals are the sums of its chunks, so they are
exactly what the whole-table check (part_check.py) computes (the same numbers cleanup recomputes). A
chunk whose two sides differ is bisected down to ranges of LEAF_KEYS keys, whose rows are
diffed: the result names the keys that are missing, extra or changed.

Every key written since (the copier's upserts and deletes record theirs with RETURNING, in
the same statement; the change capture calls mark_dirty for every legacy change it applies)
is listed in `public.migration_dirty_keys`. An incremental validation re-hashes
on both sides only those keys: its cost follows the change, not the table. Why keys and not
whole chunks: 1 % of rows updated at random (the bench's and an application's usual mix)
touch every chunk of any useful width (1 - 0.99^4096 = 100 %), so re-hashing dirty chunks
would cost a full validation.

An incremental validation trusts that record: a write nobody marked (a legacy delete
while no change capture runs, someone editing a new table by hand in phase 1) is seen only
by a full one. So `run` and `validate` hash everything unless told `--incremental`;
`run --incremental` re-hashes only the keys of mappings change capture fed by key from
keyed legacy tables (settle.captured: a scanning re-sync cannot see deletes), and cleanup
requires that the latest validation was full (not_full()). The keys stay recorded until
the next full validation.
"""

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from catalog.legacy import legacy_table
from data_copy.core import planner
from data_copy.core.ident import ident
from data_copy.mapping_sql import key_sets
from data_copy.mapping_sql.projection import INTEGER_TYPES, SOURCE, Part
from data_copy.mapping_sql.row_hash import source_hash, target_hash
from data_copy.state import dirty_keys, schema
from data_copy.state.schema import CHUNKS, LOG, REJECTS
from data_copy.validation import part_check
from data_copy.validation.part_check import PartCheck, explain, merge_differences

CHUNK_BITS = 16  # 65,536 keys a chunk
LEAF_KEYS = 512  # a bisection stops at ranges this small and diffs their rows
MAX_BISECTED = 8  # more differing chunks than this: one diff of the whole part instead
WHOLE = -(2**63)  # lo of the one chunk of a Part that is not chunked by key


def chunked(part: Part) -> bool:
    """Parts whose legacy key and target key are the same integer are chunked by key range
    (legacy rows with a NULL key form one more chunk, lo = WHOLE); the others (small tables
    with text keys) are one chunk."""
    return part.source_key_is_int and part.target.column(part.target_key).type in INTEGER_TYPES


def _nullable_key(part: Part) -> bool:
    return legacy_table(part.source_table).column(part.source_key).nullable


@dataclass
class Chunk:
    lo: int
    source_count: int = 0
    source_hash: int = 0
    target_count: int = 0
    target_hash: int = 0

    @property
    def matches(self) -> bool:
        return self.source_count == self.target_count and self.source_hash == self.target_hash


def _between(key: sql.Composable, lo: int, hi: int) -> sql.Composed:
    return sql.SQL("{} BETWEEN {} AND {}").format(key, sql.Literal(lo), sql.Literal(hi))


def source_key(part: Part) -> sql.Identifier:
    return sql.Identifier(SOURCE, part.source_key)


def target_key(part: Part) -> sql.Identifier:
    return sql.Identifier("t", part.target_key)


def _chunks(
    key: sql.Composable, lo: int, hi: int, bits: int | None, nulls: bool = False
) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """(join, group, condition) adding the chunk to every row of keys lo..hi (and, with
    `nulls`, of NULL keys: chunk NULL). The chunk comes from a join with the series of
    chunks rather than from GROUP BY key >> bits: the planner then knows how few groups
    there are and hashes them in parallel, where it otherwise sorts every (wide) row."""
    between = _between(key, lo, hi)
    condition = sql.SQL("({} OR {} IS NULL)").format(between, key) if nulls else between
    if bits is None:
        return sql.SQL(""), sql.SQL("0"), condition
    join = sql.SQL(" {} JOIN generate_series({}, {}) AS chunk(g) ON chunk.g = {} >> {}").format(
        sql.SQL("LEFT" if nulls else ""), sql.Literal(lo >> bits), sql.Literal(hi >> bits), key, sql.Literal(bits)
    )
    return join, sql.SQL("chunk.g"), condition


def source_rows(part: Part, cond: sql.Composable) -> sql.Composed:
    """The legacy rows of the part meeting `cond`, copyable or not: (k, ok, h) where h is
    the hash of what a copyable row becomes (NULL for the others)."""
    return part.select(
        sql.SQL("{k} AS k, ({fits}) AS ok, CASE WHEN {fits} THEN {h} END AS h").format(
            k=source_key(part), fits=part.fits_condition(), h=source_hash(part)
        ),
        cond,
        fitting=None,
        with_=False,
    )


def _source_sql(part: Part, lo: int, hi: int, bits: int | None, nulls: bool = False) -> sql.Composed:
    """(chunk, rows, checksum of the copyable ones) of the legacy side over keys lo..hi."""
    join, group, _ = _chunks(sql.SQL("x.k"), lo, hi, bits, nulls)
    _, _, between = _chunks(source_key(part), lo, hi, None, nulls)
    return sql.SQL(
        "{with_}SELECT {group}, count(*), coalesce(sum(x.h) FILTER (WHERE x.ok), 0) FROM ({rows}) AS x{join} GROUP BY 1"
    ).format(with_=part.with_clause, group=group, rows=source_rows(part, between), join=join)


def _target_sql(part: Part, lo: int, hi: int, bits: int | None) -> sql.Composed:
    join, group, between = _chunks(target_key(part), lo, hi, bits)
    return sql.SQL(
        "SELECT {group}, count(*), coalesce(sum({h}), 0) FROM {t} AS t{join} WHERE ({tw}) AND {between} GROUP BY 1"
    ).format(
        group=group,
        h=target_hash(part),
        t=ident(part.target.qualified),
        join=join,
        tw=part.target_where,
        between=between,
    )


def hash_range(
    conn: psycopg.Connection, part: Part, lo: int, hi: int, bits: int, nulls: bool = True
) -> dict[int, Chunk]:
    """Both sides of keys lo..hi, per chunk (lo of the chunk -> Chunk); with `nulls`, legacy
    rows with a NULL key too (chunk WHOLE: they are never copied, rejects explain them)."""
    found: dict[int, Chunk] = {}
    for side, statement in (
        ("source", _source_sql(part, lo, hi, bits, nulls and _nullable_key(part))),
        ("target", _target_sql(part, lo, hi, bits)),
    ):
        with planner.whole_table(conn):
            rows = conn.execute(statement).fetchall()
        for g, n, h in rows:
            at = WHOLE if g is None else int(g) << bits
            chunk = found.setdefault(at, Chunk(at))
            setattr(chunk, f"{side}_count", int(n))
            setattr(chunk, f"{side}_hash", int(h))
    return found


def _range_totals(conn: psycopg.Connection, part: Part, lo: int, hi: int) -> tuple[int, int, int, int]:
    s = conn.execute(_source_sql(part, lo, hi, None)).fetchone()
    t = conn.execute(_target_sql(part, lo, hi, None)).fetchone()
    sc, sh = (int(s[1]), int(s[2])) if s else (0, 0)
    tc, th = (int(t[1]), int(t[2])) if t else (0, 0)
    return sc, sh, tc, th


def key_bounds(conn: psycopg.Connection, part: Part) -> tuple[int, int] | None:
    """Smallest and largest key on either side (from the key indexes), None when both are empty."""
    s = conn.execute(
        sql.SQL("SELECT min({k}), max({k}) FROM {src} AS {a}").format(
            k=source_key(part), src=ident(part.source_table), a=sql.Identifier(SOURCE)
        )
    ).fetchone()
    t = conn.execute(
        sql.SQL("SELECT min({k}), max({k}) FROM {t} AS t").format(k=target_key(part), t=ident(part.target.qualified))
    ).fetchone()
    lows = [row[0] for row in (s, t) if row is not None and row[0] is not None]
    highs = [row[1] for row in (s, t) if row is not None and row[1] is not None]
    return (int(min(lows)), int(max(highs))) if lows else None


# ----------------------------------------------------------------------- checks


@dataclass
class ChunkedCheck(PartCheck):
    """A PartCheck computed by chunk; `incremental`: only the dirty keys were re-hashed, and
    the counts and checksums are those of the full validation at `full_at`."""

    incremental: bool = False
    verified_keys: int = 0
    chunks: int = 0
    mismatched_chunks: list[int] = field(default_factory=list)
    full_at: object = None

    @property
    def passed(self) -> bool:
        return super().passed and not self.differences


def _store(conn: psycopg.Connection, part: Part, chunks: dict[int, Chunk], bits: int) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE part = %s").format(CHUNKS), (part.name,))
    width = 1 << bits
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {} (part, lo, hi, source_count, source_hash, target_count, target_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ).format(CHUNKS),
            [
                (
                    part.name,
                    c.lo,
                    2**63 - 1 if c.lo == WHOLE else c.lo + width - 1,
                    c.source_count,
                    c.source_hash,
                    c.target_count,
                    c.target_hash,
                )
                for c in chunks.values()
            ],
        )
    # marks made by transactions this snapshot cannot see stay for the next validation
    dirty_keys.forget(conn, part)


def rejected_rows(conn: psycopg.Connection, part: Part) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE mapping = %s").format(REJECTS), (part.name,)).fetchone()
    return int(row[0]) if row else 0


def bisect(conn: psycopg.Connection, part: Part, lo: int, hi: int, result: PartCheck, indexed: bool = True) -> int:
    """Halves lo..hi while the two sides differ, diffs the rows of every differing range of
    at most LEAF_KEYS keys into result.differences. Returns the statements it ran."""
    # a leaf, or (not indexed) every range would scan the whole legacy table: diff it at once
    if hi - lo + 1 <= LEAF_KEYS or not indexed:
        found = PartCheck(part.name, 0, 0)
        explain(
            conn,
            part,
            found,
            source_cond=_between(source_key(part), lo, hi),
            target_cond=_between(target_key(part), lo, hi),
        )
        merge_differences(result, found)
        return 1
    mid = (lo + hi) // 2
    ran = 0
    for a, b in ((lo, mid), (mid + 1, hi)):
        sc, sh, tc, th = _range_totals(conn, part, a, b)
        ran += 2
        if (sc, sh) != (tc, th):
            ran += bisect(conn, part, a, b, result, indexed)
    return ran


def full_check(conn: psycopg.Connection, part: Part, hasher: "object | None" = None) -> ChunkedCheck:
    """Hashes every chunk of both sides (on `hasher`'s connections when given: hasher.py),
    stores them, clears the part's dirty keys and names the rows of every differing chunk."""
    bits = CHUNK_BITS

    spread = chunked(part) and hasher is not None and getattr(hasher, "workers", 1) > 1
    if spread:
        bounds = key_bounds(conn, part) or (0, 0)  # (0, 0): still counts legacy rows with NULL keys
        chunks = hasher.hash(part, bounds[0], bounds[1], bits)  # type: ignore[union-attr]
    else:  # one connection: one ungrouped hash per side is the fastest form (bench/ANALYSIS.md)
        sc, sh = part_check.source_totals(conn, part)
        tc, th = part_check.target_totals(conn, part)
        chunks = {WHOLE: Chunk(WHOLE, sc, int(sh or 0), tc, int(th or 0))}
        if chunked(part) and not chunks[WHOLE].matches:  # something differs: find where, by chunk
            bounds = key_bounds(conn, part) or (0, 0)
            chunks = hash_range(conn, part, bounds[0], bounds[1], bits)
    _store(conn, part, chunks, bits)
    result = ChunkedCheck(
        part.name,
        sum(c.source_count for c in chunks.values()),
        sum(c.target_count for c in chunks.values()),
        str(sum(c.source_hash for c in chunks.values())),
        str(sum(c.target_hash for c in chunks.values())),
        rejected_rows(conn, part),
        chunks=len(chunks),
    )
    result.mismatched_chunks = sorted(lo for lo, c in chunks.items() if not c.matches)
    ranges = [lo for lo in result.mismatched_chunks if lo != WHOLE]  # NULL keys: rejects explain them
    if not chunked(part) or len(ranges) > MAX_BISECTED:
        if result.mismatched_chunks:
            explain(conn, part, result)  # one FULL JOIN of the part names them all
    else:
        indexed = key_indexed(conn, part)
        for lo in ranges:
            bisect(conn, part, lo, lo + (1 << bits) - 1, result, indexed)
    return result


def key_indexed(conn: psycopg.Connection, part: Part) -> bool:
    return key_sets.indexed(conn, part.source_table, part.source_key)


def not_full(conn: psycopg.Connection) -> dict[str, object]:
    """Mappings whose latest validation was incremental (mapping -> its completed_at):
    cleanup needs a full one (`validate --full`), the only kind that reads every row."""
    if not schema.exists(conn, LOG):
        return {}
    return {
        mapping: completed
        for mapping, completed, incremental in conn.execute(
            sql.SQL(
                "SELECT DISTINCT ON (mapping) mapping, completed_at, coalesce(details->>'incremental', '') = 'true'"
                " FROM {} WHERE step = 'validate' AND completed_at IS NOT NULL AND mapping IS NOT NULL"
                " ORDER BY mapping, completed_at DESC, id DESC"
            ).format(LOG)
        )
        if incremental
    }
