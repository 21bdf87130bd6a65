"""Fixtures of the integration tests.

validated_template  (session) str: the name of a template database: legacy_fixture's tiny
                    database, the consolidated schemas and a passing validation per
                    mapping, phase 2 recorded (cleanup_support.build_legacy); each
                    test takes its own copy (cleanup_support.database_from)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cleanup_support import build_legacy, create_database

from pgcluster import Cluster


@pytest.fixture(scope="session")
def validated_template(pg_cluster: Cluster) -> Iterator[str]:
    name = f"tmpl_validated_{uuid.uuid4().hex[:8]}"
    build_legacy(create_database(pg_cluster, name))
    yield name
    pg_cluster.drop_database(name)
