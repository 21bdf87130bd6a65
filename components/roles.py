"""The eight group roles and the owner role (all NOLOGIN), from catalog.ROLES / OWNER_ROLE."""

from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql

from catalog import OWNER_ROLE, ROLES
from components.naming import RoleNames
from components.serial import SerialChain


@dataclass
class RolesArgs:
    names: RoleNames
    chain: SerialChain  # the GrantRole resources join the privilege chain


class Roles(pulumi.ComponentResource):
    """Group roles + the owner role, which holds every group role WITH ADMIN OPTION.

    The owner owns the schemas, the tables data_copy creates (under SET ROLE) and the
    SECURITY DEFINER grant_user_permissions; ADMIN OPTION on the group roles is exactly
    the right that function needs (GRANT <group> TO <user>), nothing more (no CREATEROLE).
    The membership itself is declared on the owner Role (`roles`), because the provider
    reads a role's memberships back into that attribute: declaring it there keeps refresh
    free of drift, and the GrantRole resources then add the ADMIN OPTION to it.
    """

    groups: dict[str, postgresql.Role]
    owner: postgresql.Role
    admin_grants: list[postgresql.GrantRole]

    def __init__(self, name: str, args: RolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("consolidation:index:Roles", name, None, opts)
        names = args.names
        child = pulumi.ResourceOptions(parent=self)
        self.groups = {
            role.name: postgresql.Role(
                f"{name}-{role.name}",
                name=names.actual(role.name),
                login=False,
                opts=child,
            )
            for role in ROLES
        }
        self.owner = postgresql.Role(
            f"{name}-{OWNER_ROLE}",
            name=names.owner,
            login=False,
            roles=[g.name for g in self.groups.values()],
            opts=child,
        )
        self.admin_grants = []
        for role in ROLES:
            grant = postgresql.GrantRole(
                f"{name}-{OWNER_ROLE}-admin-{role.name}",
                role=self.owner.name,
                grant_role=self.groups[role.name].name,
                with_admin_option=True,
                opts=args.chain.opts(self),
            )
            args.chain.add(grant)
            self.admin_grants.append(grant)
        self.names = pulumi.Output.from_input(names.all())
        self.register_outputs({"names": self.names, "owner": self.owner.name})
