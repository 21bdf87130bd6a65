"""The cleanup/restore command-line options reach the settings the guards read."""

from pathlib import Path

import pytest

from data_copy import cli
from data_copy.cleanup_plan import CleanupPlan
from data_copy.phase3 import CleanupOutcome
from data_copy.restore import RestoreReport
from data_copy.settings import Settings


def test_disposable_and_backup_dir_options_reach_cleanup(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr(
        cli, "_target", lambda stack, dsn, wait=False: ("postgresql://x/y", Settings(disposable_tables=("a.b",)))
    )

    def cleanup(dsn: str, settings: Settings, dry_run: bool = False, **shown: object) -> CleanupOutcome:
        seen.append(settings)
        return CleanupOutcome(CleanupPlan(), dry_run=dry_run)

    monkeypatch.setattr("data_copy.phase3.cleanup", cleanup)
    cli.cleanup(stack=None, dsn="postgresql://x/y", dry_run=True, disposable=["clean.extra_notes"], backup_dir="/b")
    assert seen[0].disposable_tables == ("a.b", "clean.extra_notes")
    assert seen[0].backup_dir == "/b"


def test_restore_backup_dir_option(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    monkeypatch.setattr(cli, "_target", lambda stack, dsn, wait=False: ("postgresql://x/y", Settings()))

    def restore(dsn: str, settings: Settings, dump: str | None = None, **shown: object) -> RestoreReport:
        seen.append(settings)
        return RestoreReport("run", Path("/b/x.dump"), restored=True)

    monkeypatch.setattr("data_copy.phase3.restore", restore)
    cli.restore(stack=None, dsn="postgresql://x/y", dump=None, backup_dir="/b")
    assert seen[0].backup_dir == "/b"
