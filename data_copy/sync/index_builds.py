"""The new tables' indexes and foreign keys, built one by one after the load.

complete() creates every missing secondary index and foreign key of the catalog, each in
its own transaction, so one that legacy data refuses (an orphan, a duplicate) neither
crashes the run nor undoes the others: the refused rows are written to migration_rejects
with the reason (an orphan names the missing parent key) and the mapping fails. What a
table lacks, and the statements, are mapping_sql/indexes.py's.
"""

import functools

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS_BY_TARGET
from catalog.tables import TABLES, Table
from data_copy.core import lock_retry, pacing
from data_copy.core.ident import ident
from data_copy.core.progress import Progress, silent
from data_copy.errors import first_line
from data_copy.mapping_sql.indexes import Piece, mapping_of, missing, pieces
from data_copy.state import faults
from data_copy.state.schema import REJECTS

STEP = "indexes and foreign keys"


def _rejecting(
    run_id: object, t: Table, key: sql.Composable, reason: sql.Composable, rows: sql.Composable
) -> sql.Composed:
    """INSERT of one reject per row of `rows` (a FROM ... clause): its key as text and reason."""
    return sql.SQL(
        "INSERT INTO {rej} (run_id, mapping, legacy_key, reason)"
        " SELECT {run}, {m}, CAST({key} AS text), {reason} {rows}"
    ).format(rej=REJECTS, run=sql.Literal(str(run_id)), m=sql.Literal(mapping_of(t)), key=key, reason=reason, rows=rows)


def _record_orphans(conn: psycopg.Connection, piece: Piece, run_id: object) -> int:
    """The rows of the new table whose parent key does not exist, as rejects."""
    fk, t = piece.fk, piece.table
    assert fk is not None
    m = MAPPINGS_BY_TARGET.get(t.qualified)
    key = m.key[0] if m else t.primary_key[0] if t.primary_key else "ctid"
    child_cols = sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in fk.columns)
    matched = sql.SQL(" AND ").join(
        sql.SQL("p.{} = c.{}").format(sql.Identifier(r), sql.Identifier(c))
        for c, r in zip(fk.columns, fk.ref_columns, strict=True)
    )
    not_null = sql.SQL(" AND ").join(sql.SQL("c.{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.columns)
    reason = sql.SQL("{} || CAST(ROW({}) AS text) || {}").format(
        sql.Literal(f"orphan: ({', '.join(fk.columns)}) = "),
        child_cols,
        sql.Literal(f" has no parent row in {fk.references} ({', '.join(fk.ref_columns)}); foreign key not created"),
    )
    rows = sql.SQL(
        "FROM {child} AS c WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {matched})"
    ).format(child=ident(t.qualified), not_null=not_null, parent=ident(fk.references), matched=matched)
    return conn.execute(_rejecting(run_id, t, sql.Identifier("c", key), reason, rows)).rowcount


def _record_duplicates(conn: psycopg.Connection, piece: Piece, run_id: object) -> int:
    t = piece.table
    cols = [c.split(" ")[0] for c in piece.unique]
    names = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    why = sql.Literal(f"duplicate ({', '.join(cols)}): unique index {piece.name} not created; ")
    return conn.execute(
        _rejecting(
            run_id,
            t,
            sql.SQL("ROW({})").format(names),
            sql.SQL("{} || count(*) || ' rows'").format(why),
            sql.SQL("FROM {} GROUP BY {} HAVING count(*) > 1").format(ident(t.qualified), names),
        )
    ).rowcount


def _create(conn: psycopg.Connection, owner_role: str, piece: Piece) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner_role)))
        conn.execute(piece.statement)


def complete(
    conn: psycopg.Connection,
    owner_role: str,
    run_id: object,
    progress: Progress | None = None,
    pacer: "pacing.Pacer | None" = None,
    tables: tuple[Table, ...] = TABLES,
    kinds: tuple[str, ...] = ("index", "foreign key"),
    indexed: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Creates every missing index and foreign key of `tables` (of `kinds`), one
    transaction each (as `owner_role`), each retried while a lock timeout refuses it
    (lock_retry), each after the pacer's breath when the run is paced; not the indexes of
    the `indexed` tables (this run tried them already: overlap.py). Returns table -> what
    could not be created and why."""
    progress = progress or silent
    todo: list[Piece] = []
    for t in tables:
        gaps = set(missing(conn, t))
        todo += [
            p
            for p in pieces(t)
            if f"{p.kind} {p.name}" in gaps and p.kind in kinds and not (p.kind == "index" and t.qualified in indexed)
        ]
    problems: dict[str, list[str]] = {}
    progress(STEP, 0, len(todo))
    for i, piece in enumerate(todo, 1):
        if pacer is not None:
            pacer.breathe()
        try:
            lock_retry.retrying(functools.partial(_create, conn, owner_role, piece))
        except (psycopg.errors.ForeignKeyViolation, psycopg.errors.UniqueViolation) as error:
            if not faults.refused_by(error, piece.table.qualified):  # only the new table's rows are rejects
                raise
            with conn.transaction():
                if piece.fk is not None:
                    n = _record_orphans(conn, piece, run_id)
                    what = f"{n} orphan rows (in migration_rejects)"
                else:
                    n = _record_duplicates(conn, piece, run_id)
                    what = f"{n} duplicate keys (in migration_rejects)"
            problems.setdefault(piece.table.qualified, []).append(f"{piece.kind} {piece.name} not created: {what}")
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled, psycopg.errors.DataError) as error:
            problems.setdefault(piece.table.qualified, []).append(
                f"{piece.kind} {piece.name} not created: {first_line(error)}"
            )
        progress(STEP, i, len(todo))
    return problems


def move_identities(conn: psycopg.Connection, owner_role: str) -> None:
    """Identity sequences past the copied ids, only ever forward (the application draws
    ids from them too in phase 2)."""
    lock_retry.retrying(lambda: _move_identities(conn, owner_role))


def _move_identities(conn: psycopg.Connection, owner_role: str) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner_role)))
        for t in TABLES:
            for c in t.columns:
                if c.identity:
                    conn.execute(
                        sql.SQL(
                            "SELECT setval(seq, greatest((SELECT max({ci}) FROM {ti}),"
                            " pg_sequence_last_value(CAST(seq AS regclass)), 1))"
                            " FROM pg_get_serial_sequence({t}, {c}) AS seq"
                        ).format(
                            t=sql.Literal(t.qualified),
                            c=sql.Literal(c.name),
                            ci=sql.Identifier(c.name),
                            ti=ident(t.qualified),
                        )
                    )


def finish(
    conn: psycopg.Connection,
    owner_role: str,
    run_id: object,
    progress: Progress | None = None,
    pacer: "pacing.Pacer | None" = None,
    indexed: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """After the load: indexes (but those of `indexed`) and FKs (never crashing on legacy
    data), then identities."""
    problems = complete(conn, owner_role, run_id, progress, pacer, indexed=indexed)
    move_identities(conn, owner_role)
    return problems
