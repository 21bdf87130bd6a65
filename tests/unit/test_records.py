"""Pure logic: the backup record cleanup writes and restore reads, and the error classes."""

from pathlib import Path

import pytest

from data_copy import errors
from data_copy.errors import DataCopyError, first_line
from data_copy.retire.backup_record import BackupRecord

RECORD = BackupRecord(
    run_id="0f4c8a8e-9d1e-4c43-9b0e-3c1c2f6d7a10",
    dump=Path("/backups/20261201T120000Z-0f4c8a8e-9d1e-4c43-9b0e-3c1c2f6d7a10.dump"),
    sha256="ab" * 32,
    schemas=("splits", "action"),
    kept_names=("public.games", "public.games_pkey"),
    views=("public.games_with_betting_data",),
    tables={"splits.games": (3, "-12"), "public.games": (2, "7")},
    pg_dump="/usr/lib/postgresql/15/bin/pg_dump",
    plan={"tables": ["public.games"], "holding": []},
)


def test_a_backup_record_reads_back_what_it_wrote() -> None:
    details = RECORD.to_json()
    assert details["file"] == RECORD.dump.name and details["dump"] == str(RECORD.dump)
    back = BackupRecord.from_json(RECORD.run_id, details, RECORD.tables)
    assert back == RECORD
    moved = Path("/elsewhere") / RECORD.dump.name
    assert BackupRecord.from_json(RECORD.run_id, details, RECORD.tables, moved).dump == moved


def test_a_backup_record_reads_the_details_cleanup_wrote_before_the_record_existed() -> None:
    # what migration_log holds from cleanups that logged the plan's dataclass as a dict
    old = {
        "dump": "/backups/x.dump",
        "file": "x.dump",
        "sha256": "cd" * 32,
        "pg_dump": "/usr/bin/pg_dump",
        "plan": {
            "tables": ["splits.games"],
            "views": ["public.v"],
            "schemas": ["splits"],
            "schema_tables": [],
            "kept_schema_names": ["public.v"],
            "mapping_of": {"splits.games": "games"},
        },
    }
    back = BackupRecord.from_json("r", old, {"splits.games": (1, "2")})
    assert (back.schemas, back.kept_names, back.views) == (("splits",), ("public.v",), ("public.v",))
    assert back.sha256 == "cd" * 32 and back.dump == Path("/backups/x.dump")
    assert back.to_json()["plan"]["mapping_of"] == {"splits.games": "games"}  # the rest is kept


def test_error_classes_declare_their_exit_code_and_fix() -> None:
    assert (errors.ConnectionLost.exit_code, errors.ConnectionLost.fix.startswith("check that the server")) == (
        errors.DATABASE,
        True,
    )
    assert errors.LegacyTablesBusy.exit_code == errors.REFUSED  # inherited from CleanupRefused
    assert errors.RestoreFailed("x").line() == "error: x"  # no fix declared: none printed
    assert errors.BadDsn("bad", fix="do this").line() == "error: bad (do this)"  # a raise's own fix wins
    assert errors.BadDsn("bad").fix == errors.BadDsn.fix
    every = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, DataCopyError)]
    assert all(c.exit_code in errors.EXIT_CODES for c in every)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ValueError("first\nsecond"), "first"),
        (ValueError("  \n padded \n"), "padded"),
        (ValueError(""), "ValueError"),
    ],
)
def test_first_line_without_a_server_message(error: BaseException, line: str) -> None:
    assert first_line(error) == line


def test_cleanup_records_what_restore_needs_of_its_backup() -> None:
    from data_copy.retire.backup import Backup, record
    from data_copy.retire.cleanup_plan import CleanupPlan

    plan = CleanupPlan(
        tables=("splits.games",), views=("public.v",), schemas=("splits",), kept_schema_names=("public.v",)
    )
    backup = Backup(RECORD.dump, "ef" * 32, Path("/bin/pg_dump"), Path("/bin/pg_restore"), {"splits.games": (1, "9")})
    made = record(backup, plan, "run-1")
    assert (made.run_id, made.dump, made.sha256, made.tables) == ("run-1", backup.path, backup.sha256, backup.tables)
    assert (made.schemas, made.kept_names, made.views, made.pg_dump) == (
        ("splits",),
        ("public.v",),
        ("public.v",),
        "/bin/pg_dump",
    )
    assert BackupRecord.from_json("run-1", made.to_json(), made.tables).to_json() == made.to_json()
