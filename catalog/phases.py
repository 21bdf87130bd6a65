"""Phase rules that are data: the conflict policies of phase 2 (pure data, no I/O).

A conflict is a key changed on both sides (legacy by code not yet switched, the new table
by the application) since the last sync. It is never resolved silently: it is listed in
public.migration_conflicts and in the report, and the policy says which version stays.
"""

KEEP_NEW = "keep-new"  # the new table (the system of record from phase 2) keeps its version
CONFLICT_POLICIES: tuple[str, ...] = (KEEP_NEW,)
DEFAULT_CONFLICT_POLICY = KEEP_NEW
CONFLICT_POLICY_KEY = "consolidation:conflictPolicy"
