"""The new tables' keys, indexes and foreign keys: created one by one after the load, and checked.

complete() creates every missing secondary index and foreign key of the catalog, each in
its own transaction, so one that legacy data refuses (an orphan, a duplicate) neither
crashes the run nor undoes the others: the refused rows are written to migration_rejects
with the reason (an orphan names the missing parent key) and the mapping fails. missing()
lists every catalog key, CHECK, index and foreign key that does not exist or is not valid;
validation fails a mapping with any, and cleanup refuses.
"""

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from catalog.mappings import MAPPINGS, MAPPINGS_BY_TARGET
from catalog.tables import TABLES, ForeignKey, Table, table
from data_copy import lock_retry, pacing
from data_copy.ddl import index_name, index_sql
from data_copy.errors import first_line
from data_copy.ident import ident
from data_copy.journal import REJECTS

Progress = Callable[[str, int, int], None]
STEP = "indexes and foreign keys"


def fk_name(t: Table, fk: ForeignKey) -> str:
    return "_".join([t.name, *fk.columns, "fkey"])[:63]


def _names(cols: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(c) for c in cols)


def fk_sql(t: Table, fk: ForeignKey) -> sql.Composable:
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})").format(
        ident(t.qualified),
        sql.Identifier(fk_name(t, fk)),
        _names(fk.columns),
        ident(fk.references),
        _names(fk.ref_columns),
    )


@dataclass
class Piece:
    table: Table
    kind: str  # index | foreign key
    name: str
    statement: sql.Composable
    fk: ForeignKey | None = None
    unique: tuple[str, ...] = ()


def pieces(t: Table) -> list[Piece]:
    found = [
        Piece(t, "index", index_name(t, ix.columns), statement, unique=ix.columns if ix.unique else ())
        for ix, statement in zip(t.indexes, index_sql(t), strict=True)
    ]
    found += [Piece(t, "foreign key", fk_name(t, fk), fk_sql(t, fk), fk=fk) for fk in t.foreign_keys]
    return found


def _present(conn: psycopg.Connection, t: Table) -> tuple[dict[str, bool], dict[str, tuple[str, bool, list[str]]]]:
    """(index name -> valid, constraint name -> (type, validated, columns)) on table t."""
    indexes = {
        r[0]: bool(r[1])
        for r in conn.execute(
            "SELECT c.relname, i.indisvalid AND i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = to_regclass(%s)",
            (t.qualified,),
        )
    }
    constraints = {
        r[0]: (r[1], bool(r[2]), list(r[3] or []))
        for r in conn.execute(
            "SELECT k.conname, k.contype, k.convalidated,"
            " (SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_attribute a"
            "  WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey))"
            " FROM pg_constraint k WHERE k.conrelid = to_regclass(%s)",
            (t.qualified,),
        )
    }
    return indexes, constraints


def missing(conn: psycopg.Connection, t: Table) -> list[str]:
    """Every catalog key, CHECK, index and foreign key of `t` that is absent or not valid."""
    exists = conn.execute("SELECT to_regclass(%s)", (t.qualified,)).fetchone()
    if not exists or exists[0] is None:
        return [f"table {t.qualified}"]
    indexes, constraints = _present(conn, t)
    by_columns = {(kind, tuple(cols)): valid for kind, valid, cols in constraints.values()}
    gaps: list[str] = []
    if t.primary_key and not by_columns.get(("p", tuple(sorted(t.primary_key)))):
        gaps.append(f"primary key ({', '.join(t.primary_key)})")
    for unique in t.unique:
        if not by_columns.get(("u", tuple(sorted(unique)))):
            gaps.append(f"unique ({', '.join(unique)})")
    checks = sum(1 for kind, valid, _ in constraints.values() if kind == "c" and valid)
    if checks < len(t.checks):
        gaps.append(f"{len(t.checks) - checks} of {len(t.checks)} CHECK constraints")
    for piece in pieces(t):
        if piece.kind == "index":
            if not indexes.get(piece.name):
                gaps.append(f"index {piece.name}" + (" (invalid)" if piece.name in indexes else ""))
        else:
            found = constraints.get(piece.name)
            if found is None or found[0] != "f" or not found[1]:
                gaps.append(f"foreign key {piece.name}" + (" (not validated)" if found else ""))
    return gaps


def mapping_of(t: Table) -> str:
    m = MAPPINGS_BY_TARGET.get(t.qualified)
    return m.name if m else t.qualified


def _rejecting(
    run_id: object, t: Table, key: sql.Composable, reason: sql.Composable, rows: sql.Composable
) -> sql.Composable:
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
    progress = progress or (lambda name, done, total: None)
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
            lock_retry.retrying(lambda piece=piece: _create(conn, owner_role, piece))
        except (psycopg.errors.ForeignKeyViolation, psycopg.errors.UniqueViolation):
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


def problems(conn: psycopg.Connection) -> list:
    """Cleanup guard: every mapped table's missing or invalid keys, indexes and FKs."""
    from data_copy.problems import Problem

    found = []
    for m in MAPPINGS:
        gaps = missing(conn, table(m.target))
        if gaps:
            found.append(Problem("structure", m.target, "lacks " + ", ".join(gaps)))
    return found
