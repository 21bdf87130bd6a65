"""grant_user_permissions and check_user_permissions (see components/permission_sql.py)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.naming import RoleNames
from components.permission_sql import check_function, grant_function
from components.serial import SerialChain
from components.sql_function import SqlFunction


@dataclass
class PermissionFunctionsArgs:
    names: RoleNames
    connection: pulumi.Input[Mapping[str, Any]]  # incl. the password as a secret
    chain: SerialChain
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # roles and schemas


class PermissionFunctions(pulumi.ComponentResource):
    def __init__(self, name: str, args: PermissionFunctionsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("consolidation:index:PermissionFunctions", name, None, opts)
        grant_spec = grant_function(args.names)
        check_spec = check_function(args.names)
        self.grant_user_permissions = SqlFunction(
            f"{name}-{grant_spec.name}",
            grant_spec,
            args.connection,
            opts=args.chain.opts(self, depends_on=args.depends_on),
        )
        args.chain.add(self.grant_user_permissions)
        self.check_user_permissions = SqlFunction(
            f"{name}-{check_spec.name}",
            check_spec,
            args.connection,
            opts=args.chain.opts(self, depends_on=args.depends_on),
        )
        args.chain.add(self.check_user_permissions)
        self.summary: dict[str, Any] = {
            "grant": grant_spec.identity,
            "check": check_spec.identity,
            "owner": grant_spec.owner,
            "executableBy": list(grant_spec.execute_roles),
            "userTypes": args.names.user_types(),
        }
        self.register_outputs({"summary": self.summary})
