"""The cleanup/restore command-line options reach the settings the guards read."""

import pytest

from data_copy import cli
from data_copy.settings import Settings


def test_disposable_and_backup_dir_options_reach_cleanup(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr(
        cli, "_target", lambda stack, dsn, wait=False: ("postgresql://x/y", Settings(disposable_tables=("a.b",)))
    )
    monkeypatch.setattr("data_copy.cleanup.main", lambda dsn, settings, dry_run=False: seen.append(settings))
    cli.cleanup(stack=None, dsn="postgresql://x/y", dry_run=True, disposable=["clean.extra_notes"], backup_dir="/b")
    assert seen[0].disposable_tables == ("a.b", "clean.extra_notes")
    assert seen[0].backup_dir == "/b"


def test_restore_backup_dir_option(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr(cli, "_target", lambda stack, dsn, wait=False: ("postgresql://x/y", Settings()))
    monkeypatch.setattr("data_copy.restore.main", lambda dsn, settings, dump=None: seen.append(settings))
    cli.restore(stack=None, dsn="postgresql://x/y", dump=None, backup_dir="/b")
    assert seen[0].backup_dir == "/b"
