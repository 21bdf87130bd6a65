"""A mapping as SQL, built once from catalog/: the projection (Parts), key sets, the row hash,
the new tables' DDL and indexes, schema drift. Imports core."""
