"""Pulumi ComponentResources built from catalog/: roles, schemas, grants + default
privileges, and the permission functions (components/database.py ties them together).

Kept import-free on purpose: the SQL-function dynamic provider is unpickled in its own
process by importing components.sql_function, which should not pull in the rest.
"""
