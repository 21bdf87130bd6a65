"""Fixtures of the data_copy tests.

legacy_with  (function) build(rows) -> str: the fresh database holding the empty legacy
                        schemas (keys included), the given rows (an INSERT script) and the
                        consolidated structure (api.bootstrap_structure); its URL
small_legacy (function) str: legacy_fixture's small database + the consolidated structure
tiny_synced  (function) str: legacy_fixture's tiny database + the structure + a first run
                        that passed (phase 1, synced)
phase2       (function) str: tiny_synced, then `switch` (the database records phase 2)
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

import legacy_fixture
from data_copy import api
from data_copy.settings import Settings


@pytest.fixture
def legacy_with(fresh_dsn: str) -> Callable[[str], str]:
    def build(rows: str) -> str:
        with psycopg.connect(fresh_dsn, autocommit=True) as conn:
            legacy_fixture.build_with_rows(conn, rows)
        api.bootstrap_structure(fresh_dsn)
        return fresh_dsn

    return build


def _fixture_database(dsn: str, scale: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, scale)
    api.bootstrap_structure(dsn)
    return dsn


@pytest.fixture
def small_legacy(fresh_dsn: str) -> str:
    return _fixture_database(fresh_dsn, "small")


@pytest.fixture
def tiny_synced(fresh_dsn: str) -> str:
    report = api.run(_fixture_database(fresh_dsn, "tiny"))
    assert report.ok, [r.message for r in report.results if r.message]
    return fresh_dsn


@pytest.fixture
def phase2(tiny_synced: str) -> str:
    api.switch(tiny_synced, Settings())
    return tiny_synced
