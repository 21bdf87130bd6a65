"""One mapping brought up to date and checked: the re-sync and validation in one
snapshot (settle), the checks it runs, and how its result is logged."""

import psycopg

from catalog.mappings import Mapping
from catalog.phases import DEFAULT_CONFLICT_POLICY
from data_copy.capture import stream
from data_copy.mapping_sql.projection import Part, parts
from data_copy.state import classification, conflicts, dirty_keys
from data_copy.sync import both_ways, change_apply
from data_copy.sync.copier import Copier
from data_copy.validation import mapping_check, phase_check
from data_copy.validation.hasher import Hasher

SETTLE_ATTEMPTS = 3  # the application writing the new tables (phase 2) may conflict


def settle(
    conn: psycopg.Connection,
    copier: Copier,
    m: Mapping,
    part_list: list[Part],
    checksums: bool,
    phase: int = 1,
    policy: str = DEFAULT_CONFLICT_POLICY,
    cap: stream.Capture | None = None,
    hasher: Hasher | None = None,
    incremental: bool = False,
    carry_back: bool = False,
) -> tuple[int, mapping_check.MappingResult]:
    """Re-syncs and validates in ONE repeatable-read snapshot, so rows the application
    writes meanwhile cannot make a correct copy look wrong: they belong to the next run.
    The hasher's connections share that snapshot but not its writes: used only while this
    transaction has written no row of the mapping's tables. `carry_back`: phase 2 both
    ways, the application's changes go back into legacy too (sync/both_ways.py)."""
    for attempt in range(1, SETTLE_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                copied = change_apply.sync(conn, copier, cap, m, part_list)
                carried = None
                if carry_back and phase == 2 and cap is not None and m.invertible:
                    carried = both_ways.carry(conn, cap, part_list[0], copier.run_id, policy)
                    copied += carried.written + carried.deleted
                pool = hasher if copied == 0 else None
                result = mapping_check.check_mapping(
                    conn, m, part_list, checksums, phase, pool, incremental and captured(cap, m, copier)
                )
                if result.status != "passed":
                    # why rows are missing is worked out only now: a clean copy never pays for it
                    for part in part_list:
                        copier.record_rejects(part)
                    result = mapping_check.check_mapping(conn, m, part_list, checksums, phase, pool)
                    unexplained = (
                        any(c.target_count + c.rejected != c.source_count for c in result.checks)
                        if phase == 1
                        else result.status != "passed"  # phase 2: legacy changes still to bring over
                    )
                    if not result.rejected or unexplained:
                        # rows not explained (a change the watermark could not see, an update
                        # without a timestamp, a delete, a constraint refusal whose reject
                        # went with an earlier run): one full keyed pass records them
                        copied += sum(copier.reconcile(part).copied for part in part_list)
                        result = mapping_check.check_mapping(conn, m, part_list, checksums, phase)
                        if cap and m.name in cap.modes:  # the report says the keyed apply was not enough
                            cap.modes[m.name] += ", then a full reconcile"
                if phase == 1:
                    result.foreign = mapping_check.foreign(conn, m, part_list, result)
                else:
                    for part, check in zip(part_list, result.checks, strict=True):
                        repair = check.classes.n(*classification.UNRECORDED)
                        listed = check.classes.n(*classification.CONFLICTS) or conflicts.any_open(conn, part)
                        for keys in phase_check.checked_keys(conn, part, check) if repair or listed else ():
                            if repair:
                                classification.repair_baseline(conn, part, keys)
                            if listed:
                                conflicts.record(conn, part, copier.run_id, policy, keys)
                if carried is not None:
                    result.figures.update(carried.figures())
                    if carried.refused:  # legacy's readers would not see the application's writes
                        result.status = "failed"
                        result.message = "; ".join(filter(None, (result.message, carried.refused)))
                if phase == 2 and result.status == "passed":  # every key checked: the marks start again
                    for part in part_list:
                        dirty_keys.forget(conn, part)
            return copied, result
        except psycopg.errors.SerializationFailure:
            copier.forget_exclusions()  # their temporary tables went with the transaction
            if attempt == SETTLE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def captured(cap: stream.Capture | None, m: Mapping, copier: Copier) -> bool:
    """True when change capture brought every change of `m` over by key, so the keys it
    recorded are all that changed: only then may the validation re-hash just those (a
    keyless change's deletes record their keys too: change_apply.py). A re-sync that scanned
    legacy cannot see deletes: its validation stays full (and finds what it misses)."""
    if cap is None or cap.modes.get(m.name) != "capture":
        return False
    part_list = parts(m)
    return all(p.source_table in cap.tables and p.name not in copier.scanned for p in part_list)
