"""The state gate every verb that reads or writes data passes first: the structure is
deployed, our tables exist, the phase the database records (checked against the stack's
deployed one) is one this verb may run in, and our bookkeeping agrees with itself and the
new tables (state/consistency.py) before anything is written."""

import psycopg

from catalog.schemas import SCHEMA_NAMES
from data_copy.errors import PhaseMismatch, PhaseNotDeployed
from data_copy.settings import Settings
from data_copy.state import consistency, hash_form, phase_events, schema
from data_copy.state.consistency import Note

__all__ = ["Note", "ensure_state"]


def _require_structure(conn: psycopg.Connection, settings: Settings) -> None:
    present = {
        r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMA_NAMES),))
    }
    missing = [s for s in SCHEMA_NAMES if s not in present]
    if missing:
        raise PhaseNotDeployed(f"the consolidated schemas are not deployed yet (missing: {', '.join(missing)})")
    role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.owner_role,)).fetchone()
    if not role:
        raise PhaseNotDeployed(f"the owner role {settings.owner_role} does not exist")


def _unsaid(line: str) -> None:
    return None


def ensure_state(
    conn: psycopg.Connection, settings: Settings, allowed_deployed: tuple[int, ...] = (), note: Note = _unsaid
) -> int:
    """Structure deployed, our state tables exist; the recorded phase (checked against
    the stack's deployed one, which may also be one of `allowed_deployed`); the bookkeeping
    checked (StateInconsistent, or what phase 1 cleared said through `note`); the stored
    row hashes in the current form (state/hash_form.py, said through `note`)."""
    _require_structure(conn, settings)
    missing = schema.missing(conn)
    with conn.transaction():  # a refusal leaves all as it was: a missing table of ours stays missing
        schema.ensure(conn)
        phase = phase_events.resolve(conn, settings, allowed_deployed)
        if phase == 3:
            raise PhaseMismatch(
                "the database is in phase 3: the legacy tables are dropped",
                fix="`python -m data_copy restore` brings them back",
            )
        consistency.check(conn, phase, missing, note)
        hash_form.upgrade(conn, note)
    return phase
