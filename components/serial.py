"""Serialising the privilege changes (the provider's "tuple concurrently updated" trap).

Every postgresql.Grant, DefaultPrivileges and GrantRole rewrites ACL rows in the system
catalogs (pg_namespace.nspacl, pg_class.relacl, pg_default_acl, pg_auth_members); two such
statements touching the same row in concurrent transactions fail with
"tuple concurrently updated". The engine runs independent resources in parallel, so the
components put all of them in ONE dependency chain: each resource depends on the previous
one, `up` applies them one at a time and `destroy` revokes them one at a time in reverse.
Everything else (roles, schemas) still runs in parallel, and nobody has to pass
--parallel 1. (The alternative, an explicit provider with max_connections=1, is known to
hang the provider: terraform-provider-postgresql issues #98 and #514.) Proof that the
chain is needed: tests/integration/test_grant_race.py.
"""

import pulumi


class SerialChain:
    """Hands out ResourceOptions that make each new resource depend on the previous one."""

    def __init__(self, after: list[pulumi.Resource] | None = None) -> None:
        self._last: list[pulumi.Resource] = list(after or [])

    def opts(self, parent: pulumi.Resource, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, depends_on=[*self._last, *(depends_on or [])])

    def add(self, resource: pulumi.Resource) -> None:
        self._last = [resource]
