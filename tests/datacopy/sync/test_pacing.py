"""Pacing (data_copy/core/pacing.py) and DDL lock-timeout retries (core/lock_retry.py) on a real
PostgreSQL: a paced run waits while a session waits for a lock, the default run does not,
and an index refused by a lock timeout is retried until the lock is gone."""

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

import legacy_fixture
from data_copy import api
from data_copy.core import lock_retry, pacing
from data_copy.core.connection import connect
from data_copy.errors import BadArguments
from data_copy.settings import Settings
from data_copy.sync import index_builds

INDEX = "raw_mlb_betting_splits_game_datetime_idx"


class LockWait:
    """A session holding ACCESS EXCLUSIVE on a table and another one waiting for it: the
    strain an application shows when it queues behind a lock."""

    def __init__(self, dsn: str, table: str) -> None:
        self.holder = psycopg.connect(dsn)
        self.holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        self.waiter = psycopg.connect(dsn, autocommit=True)
        self.thread = threading.Thread(target=lambda: self.waiter.execute(f"SELECT count(*) FROM {table}"), daemon=True)
        self.thread.start()
        with psycopg.connect(dsn, autocommit=True) as probe:
            for _ in range(100):
                if pacing.strain(probe):
                    return
                time.sleep(0.05)
        raise AssertionError("the waiting session never showed up in pg_stat_activity")

    def release(self) -> None:
        self.holder.rollback()
        self.thread.join(10)
        self.holder.close()
        self.waiter.close()


@pytest.fixture
def tiny_dsn(fresh_dsn: str) -> Iterator[str]:
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        legacy_fixture.build(conn, "tiny", seed=42, awkward=False)
        conn.execute("CREATE TABLE public.app_queue (id int)")  # the application's own table
    api.bootstrap_structure(fresh_dsn)
    yield fresh_dsn


def test_pace_durations() -> None:
    assert pacing.parse_pace("") == 0 and pacing.parse_pace("off") == 0
    assert pacing.parse_pace("250ms") == 0.25 and pacing.parse_pace("1.5s") == 1.5
    with pytest.raises(BadArguments, match="pace 'fast' is not a duration"):
        pacing.parse_pace("fast")


def test_chunks_are_resized_toward_the_target_duration() -> None:
    slept: list[float] = []
    pacer = pacing.Pacer(None, 0.2, 250_000, sleep=slept.append)  # type: ignore[arg-type]
    assert pacer.keys == pacing.FIRST_KEYS
    pacer.chunk_done(20_000, 0.1)  # twice too fast: doubled (at most)
    assert pacer.keys == 40_000
    pacer.chunk_done(40_000, 0.8)  # four times too slow: halved (at most)
    assert pacer.keys == 20_000
    pacer.chunk_done(20_000, 0.25)
    assert pacer.keys == 16_000
    assert slept == [0.1 * pacing.REST_FRACTION, 0.8 * pacing.REST_FRACTION, 0.25 * pacing.REST_FRACTION]


def test_the_pacer_waits_while_a_session_waits_for_a_lock(tiny_dsn: str) -> None:
    conn = connect(tiny_dsn, Settings())
    pacer = pacing.Pacer(conn, 0.2, 250_000)
    assert pacer.breathe() == 0.0  # calm: no wait
    strain = LockWait(tiny_dsn, "public.app_queue")
    threading.Timer(1.5, strain.release).start()
    waited = pacer.breathe()
    assert 1.2 <= waited < 10, waited
    assert pacer.pauses == ["1 session(s) waiting for a lock"]
    assert pacer.breathe() == 0.0
    conn.close()


def test_a_paced_run_pauses_under_strain_and_the_default_run_does_not(tiny_dsn: str) -> None:
    # the first run creates the capture slot, which waits for every open transaction
    # (the lock holder's too): the strained runs below are the later ones
    assert api.run(tiny_dsn).ok
    strain = LockWait(tiny_dsn, "public.app_queue")
    try:
        report = api.run(tiny_dsn)  # default: full speed, whatever the strain
        assert report.ok and report.pace == {}
        assert strain.thread.is_alive()  # the application still waits: the run did not
    finally:
        strain.release()
    strain = LockWait(tiny_dsn, "public.app_queue")
    threading.Timer(2.0, strain.release).start()
    started = time.monotonic()
    report = api.run(tiny_dsn, Settings(pace="100ms"))
    assert report.ok
    assert report.pace["paused_s"] >= 1.5 and time.monotonic() - started >= 1.5
    assert report.pace["pauses"][0] == "1 session(s) waiting for a lock"


def _drop_index_and_hold_the_table(dsn: str) -> psycopg.Connection:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP INDEX raw_data.{INDEX}")
    holder = psycopg.connect(dsn)
    holder.execute("LOCK TABLE raw_data.raw_mlb_betting_splits IN ACCESS EXCLUSIVE MODE")
    return holder


def _index_exists(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (f"raw_data.{INDEX}",)).fetchone()
    return bool(row and row[0])


def test_a_ddl_step_refused_by_lock_timeout_is_retried(tiny_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.run(tiny_dsn).ok
    settings = Settings(lock_timeout="200ms")
    # without retries the 55P03 refusal is the end of it: the index is reported missing
    monkeypatch.setattr(lock_retry, "ATTEMPTS", 1)
    holder = _drop_index_and_hold_the_table(tiny_dsn)
    with connect(tiny_dsn, settings) as conn:
        problems = index_builds.complete(conn, settings.owner_role, uuid.uuid4())
    holder.rollback()
    holder.close()
    assert "lock timeout" in " ".join(problems["raw_data.raw_mlb_betting_splits"])
    assert not _index_exists(tiny_dsn)
    # with them, the step waits out the lock (held 1.2 s, six times the lock_timeout)
    monkeypatch.setattr(lock_retry, "ATTEMPTS", 6)
    holder = psycopg.connect(tiny_dsn)
    holder.execute("LOCK TABLE raw_data.raw_mlb_betting_splits IN ACCESS EXCLUSIVE MODE")
    threading.Timer(1.2, holder.rollback).start()
    started = time.monotonic()
    with connect(tiny_dsn, settings) as conn:
        problems = index_builds.complete(conn, settings.owner_role, uuid.uuid4())
    assert problems == {}
    assert time.monotonic() - started >= 1.0
    assert _index_exists(tiny_dsn)
    holder.close()
