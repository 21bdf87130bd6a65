"""Fixtures of the engine tests.

engine  (function) test_stack_support.Engine: the session's cluster, a fresh database, the
                   engine's env and CLI; FAILS (never skips) when pulumi or the provider
                   is missing
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pulumi import automation as auto
from test_stack_support import ENGINE, Engine

from pgcluster import Cluster


@pytest.fixture
def engine(
    require_engine: Callable[..., None],
    pg_cluster: Cluster,
    fresh_dsn: str,
    pulumi_env: dict[str, str],
    pulumi_command: auto.PulumiCommand,
) -> Engine:
    require_engine(*ENGINE)
    return Engine(pg_cluster, fresh_dsn, pulumi_env, pulumi_command)
