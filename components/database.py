"""ConsolidatedDatabase: everything the stack manages in one database, and its provider."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_postgresql as postgresql

from components.grants import Grants, GrantsArgs
from components.permission_functions import PermissionFunctions, PermissionFunctionsArgs
from components.roles import Roles, RolesArgs
from components.schemas import Schemas, SchemasArgs
from components.serial import SerialChain
from stack_settings import Connection, RoleNames, libpq_params

PROVIDER_CONNECT_TIMEOUT_S = 15
# libpq keyword (stack_settings.libpq_params) -> the provider's argument of the same meaning
PROVIDER_ARGUMENTS = {
    "host": "host",
    "port": "port",
    "dbname": "database",
    "user": "username",
    "sslmode": "sslmode",
    "connect_timeout": "connect_timeout",
}


def make_provider(name: str, connection: Connection, password: pulumi.Input[str] | None) -> postgresql.Provider:
    """An explicit provider configured from the stack's postgresql:* keys.

    Explicit so that every resource uses exactly this connection (and the config keys
    are validated by stack_settings/config.py); superuser=True because the project's
    connecting user is the cluster's superuser (it creates roles and sets owners). The
    parameters are the ones every other connection of the project uses (libpq_params);
    the password stays a Pulumi secret, so it is passed as is.
    """
    params = libpq_params(connection, connect_timeout=PROVIDER_CONNECT_TIMEOUT_S)
    return postgresql.Provider(
        name,
        password=password,
        superuser=True,
        **{PROVIDER_ARGUMENTS[key]: value for key, value in params.items()},
    )


def function_connection(connection: Connection, password: pulumi.Input[str] | None) -> pulumi.Output[Mapping[str, Any]]:
    """The same connection for the SQL-function resources; secret when a password is set."""
    plain = connection.as_output()
    if password is None:
        return pulumi.Output.from_input({**plain, "password": None})
    return pulumi.Output.secret(password).apply(lambda pw: {**plain, "password": pw})


@dataclass
class ConsolidatedDatabaseArgs:
    database: str
    names: RoleNames
    connection: pulumi.Input[Mapping[str, Any]]  # for the SQL-function and owner-role resources
    phase: int = 1


class ConsolidatedDatabase(pulumi.ComponentResource):
    """Roles, schemas, grants + default privileges and the two permission functions."""

    def __init__(
        self,
        name: str,
        args: ConsolidatedDatabaseArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("consolidation:index:ConsolidatedDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        chain = SerialChain()
        self.roles = Roles(
            f"{name}-roles",
            RolesArgs(names=args.names, chain=chain, connection=args.connection),
            opts=child,
        )
        self.schemas = Schemas(
            f"{name}-schemas",
            SchemasArgs(database=args.database, owner=self.roles.owner.name),
            opts=child,
        )
        self.grants = Grants(
            f"{name}-grants",
            GrantsArgs(
                database=args.database,
                owner=self.roles.owner.name,
                roles={k: r.name for k, r in self.roles.groups.items()},
                schemas={k: s.name for k, s in self.schemas.schemas.items()},
                chain=chain,
                phase=args.phase,
            ),
            opts=child,
        )
        self.functions = PermissionFunctions(
            f"{name}-functions",
            PermissionFunctionsArgs(
                names=args.names,
                connection=args.connection,
                chain=chain,
                depends_on=[self.roles.owner, *self.roles.groups.values()],
            ),
            opts=child,
        )
        self.role_names = args.names.all()
        self.owner_role = args.names.owner
        self.schema_names = list(self.schemas.schemas)
        self.register_outputs(
            {
                "roles": self.role_names,
                "ownerRole": self.owner_role,
                "schemas": self.schema_names,
                "permissionFunctions": self.functions.summary,
            }
        )
