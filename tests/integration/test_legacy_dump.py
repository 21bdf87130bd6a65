"""make demo LEGACY_DUMP=...: every pg_dump format users have, of the demo's own legacy data.

The source is built by the demo's generator (legacy_fixture, awkward cases included);
each dump is loaded by demo.legacy_dump into a fresh database, and every legacy table
must come back with the same rows (count and content checksum). A rehearsal on the
whole-database custom dump then accounts for every legacy row (copied + rejected).
"""

import subprocess
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from catalog import LEGACY_SCHEMAS
from data_copy import api
from demo.legacy_dump import CUSTOM, DIRECTORY, PLAIN, TAR, DumpError, load
from pgcluster import Cluster

LEGACY = LEGACY_SCHEMAS  # the catalog's list: the dump must carry every legacy schema


def _fingerprints(dsn: str, schemas: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = ANY(%s) ORDER BY 1",
            (list(schemas),),
        ).fetchall()
        found = {}
        for (name,) in tables:
            schema, table = name.split(".")
            row = conn.execute(
                psycopg.sql.SQL(
                    "SELECT count(*), coalesce(sum(hashtext(t::text)::numeric), 0)::text FROM {} AS t"
                ).format(psycopg.sql.Identifier(schema, table))
            ).fetchone()
            assert row is not None
            found[name] = (row[0], row[1])
    return found


@pytest.fixture(scope="module")
def source(pg_cluster: Cluster) -> Iterator[str]:
    import legacy_fixture

    name = f"src_{uuid.uuid4().hex[:12]}"
    dsn = pg_cluster.create_database(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny")
    yield dsn
    pg_cluster.drop_database(name)


def _dump(pg_cluster: Cluster, source: str, target: Path, *args: str) -> Path:
    subprocess.run([str(pg_cluster.bindir / "pg_dump"), *args, "-f", str(target), "-d", source], check=True)
    return target


CASES = {
    "plain whole database": ((), PLAIN, LEGACY),
    "custom whole database": (("-Fc",), CUSTOM, LEGACY),
    "directory whole database": (("-Fd",), DIRECTORY, LEGACY),
    "tar whole database": (("-Ft",), TAR, LEGACY),
    "custom, some schemas": (("-Fc", "-n", "splits", "-n", "mlb_betting"), CUSTOM, ("splits", "mlb_betting")),
    "plain, some schemas with public": (("-n", "public", "-n", "action"), PLAIN, ("public", "action")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_dump_format_loads_the_legacy_data_intact(
    case: str, source: str, pg_cluster: Cluster, fresh_dsn: str, tmp_path: Path
) -> None:
    args, kind, schemas = CASES[case]
    dump = _dump(pg_cluster, source, tmp_path / "legacy.dump", *args)
    loaded, skipped = load(fresh_dsn, dump, str(pg_cluster.bindir))
    assert loaded == kind
    assert all("does not exist" in line for line in skipped)  # only references outside the dump
    expected = _fingerprints(source, schemas)
    assert len(expected) >= 2 and sum(n for n, _ in expected.values()) > 0
    assert _fingerprints(fresh_dsn, schemas) == expected
    assert _fingerprints(fresh_dsn, tuple(s for s in LEGACY if s not in schemas)) == {}


def test_rehearsal_on_a_whole_custom_dump_accounts_for_every_legacy_row(
    source: str,
    pg_cluster: Cluster,
    fresh_dsn: str,
    tmp_path: Path,
    row_accounting: Callable[[str, Iterable[Any]], dict[str, tuple[int, int, int]]],
) -> None:
    dump = _dump(pg_cluster, source, tmp_path / "legacy.dump", "-Fc")
    load(fresh_dsn, dump, str(pg_cluster.bindir))
    api.bootstrap_structure(fresh_dsn)
    report = api.run(fresh_dsn)
    for name, (legacy, new_rows, rejected) in row_accounting(fresh_dsn, report.results).items():
        assert new_rows + rejected == legacy, (name, legacy, new_rows, rejected)


def test_a_file_that_is_no_dump_is_one_clear_error(fresh_dsn: str, pg_cluster: Cluster, tmp_path: Path) -> None:
    bad = tmp_path / "notes.sql"
    bad.write_text("this is not SQL;\n")
    with pytest.raises(DumpError, match="loading the plain SQL dump"):
        load(fresh_dsn, bad, str(pg_cluster.bindir))
    empty_dir = tmp_path / "d"
    empty_dir.mkdir()
    with pytest.raises(DumpError, match="without toc.dat"):
        load(fresh_dsn, empty_dir, str(pg_cluster.bindir))
