"""Pure rules of issue 9: which stack phase a recorded phase allows, what to run, and how
statistics deltas survive a reset (no I/O)."""

from components.recorded_state import phase_problem
from data_copy.state.legacy_activity import _delta
from data_copy.state.phase_events import _what_to_run


def test_stack_phase_against_recorded_phase() -> None:
    assert phase_problem(None, 1, "dev") is None  # data_copy never ran: nothing to protect
    assert phase_problem(None, 2, "dev") is None
    assert phase_problem(1, 1, "dev") is None
    assert phase_problem(2, 2, "dev") is None
    assert "python -m data_copy rollback --stack dev" in (phase_problem(2, 1, "dev") or "")
    assert "python -m data_copy switch --stack dev" in (phase_problem(1, 2, "dev") or "")


def test_what_to_run_names_the_command() -> None:
    assert "data_copy switch --stack s" in _what_to_run("s", deployed=2, recorded=1)
    assert "data_copy rollback --stack s" in _what_to_run("s", deployed=1, recorded=2)
    assert "data_copy restore --stack s" in _what_to_run("s", deployed=2, recorded=3)


def test_statistics_delta_and_reset() -> None:
    names = ("seq_scan", "idx_scan")
    assert _delta({"seq_scan": 5, "idx_scan": 2}, {"seq_scan": 3, "idx_scan": 2}, names) == (
        {"seq_scan": 2, "idx_scan": 0},
        False,
    )
    # a reset (or a database copied from a template): what was counted since
    assert _delta({"seq_scan": 1, "idx_scan": 0}, {"seq_scan": 3, "idx_scan": 2}, names) == (
        {"seq_scan": 1, "idx_scan": 0},
        True,
    )
