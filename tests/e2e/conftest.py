"""Fixtures of the engine tests.

engine  (function) test_stack_support.Engine: the session's cluster, a fresh database, the
                   engine's env and CLI; FAILS (never skips) when pulumi or the provider
                   is missing
mini    (function) standin_support.Mini: a small inline program of postgresql resources on
                   that database, with the stand-in's statement log; destroyed afterwards
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pulumi import automation as auto
from standin_support import Mini, mini_stack
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


@pytest.fixture
def mini(toolchain, engine: Engine, tmp_path: Path) -> Iterator[Mini]:
    with mini_stack(toolchain.provider_kind.startswith("stand-in"), engine, tmp_path) as m:
        yield m
