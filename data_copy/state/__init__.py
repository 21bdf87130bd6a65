"""Our bookkeeping, every table in one place (schema.py): the journal, the run lock, the
ownership baseline and the three-way classification of keys (classification.py), the phase
record, conflicts, legacy activity, dirty keys, the new tables' identity (identity.py), and
the state gate (gate.py) with its checks (consistency.py); a failure of our own tables told
apart from the owners' data (faults.py); what `reset` drops (start_over.py).
Imports mapping_sql and core."""
