"""Our bookkeeping, every table in one place (schema.py): the journal, the run lock, the ownership
baseline, the phase record, conflicts, legacy activity, dirty keys, and the state gate. Imports
mapping_sql and core."""
