"""Fixtures of the data_copy tests.

legacy_with  (function) build(rows) -> str: the fresh database holding the empty legacy
                        schemas (keys included), the given rows (an INSERT script) and the
                        consolidated structure (api.bootstrap_structure); its URL
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

import legacy_fixture
from data_copy import api


@pytest.fixture
def legacy_with(fresh_dsn: str) -> Callable[[str], str]:
    def build(rows: str) -> str:
        with psycopg.connect(fresh_dsn, autocommit=True) as conn:
            legacy_fixture.build_with_rows(conn, rows)
        api.bootstrap_structure(fresh_dsn)
        return fresh_dsn

    return build
