"""What the Terraform bridge (pulumi-terraform-bridge v3.136.0, as pulumi-postgresql 3.18.2
configures it) adds around the upstream resource functions: which replacements delete
first, the Check failures of a ValidateFunc, and how a resource's error is handed on.
"""

import json

from pulumi.provider.experimental import provider as p

from provider_standin import default_privileges, grant, role, schema

# Grant has `DeleteBeforeReplace: true` (pulumi-postgresql provider/resources.go:96-99).
# Every `name` property is auto-named (resources.go:149 SetAutonaming), and a replacement
# whose `name` was given rather than auto-named is delete-before-replace (bridge
# pkg/tfbridge/provider.go:1275-1276, schema.go:193-245 nameRequiresDeleteBeforeReplace):
# Schema and Role, whose name the stand-in requires. (Role has no ForceNew field: it is
# never replaced.) GrantRole and DefaultPrivileges are create-before-delete.
DELETE_BEFORE_REPLACE = frozenset({grant.TOKEN, schema.TOKEN, role.TOKEN})

# object_type's ValidateFunc, StringInSlice(<list>, false): exact match, run in Check
OBJECT_TYPES: dict[str, tuple[str, ...]] = {
    grant.TOKEN: grant.OBJECT_TYPES,
    default_privileges.TOKEN: default_privileges.OBJECT_TYPES,
}


def check_failures(token: str, name: str, object_type: object) -> list[p.CheckFailure]:
    """The SDK's message (`expected object_type to be one of [...], got x`, the list as Go's
    %q prints a []string) with the bridge's pointer to the value (check_failures.go:173-190;
    the property is left empty, as the bridge does)."""
    allowed = OBJECT_TYPES.get(token)
    if allowed is None or not isinstance(object_type, str) or object_type in allowed:
        return []
    listed = " ".join(json.dumps(v) for v in allowed)
    reason = f"expected object_type to be one of [{listed}], got {object_type}. Examine values at '{name}.objectType'."
    return [p.CheckFailure("", reason)]


class BridgeError(Exception):
    """A resource operation's error as the bridge reports it (several lines)."""


_PREFIX = {"create": "", "update": "updating", "delete": "deleting", "read": "refreshing"}


def resource_error(op: str, urn: str, message: str) -> BridgeError:
    """The SDK's diagnostics become a go-multierror (tfshim/sdk-v2 diagnostics.go:32-40,
    provider2.go:563-581: `1 error occurred:\\n\\t* <error>\\n\\n`); the bridge hands it on
    as is for a failed Create (provider.go:1363-1368), and prefixed `updating <urn>: `,
    `deleting <urn>: ` or `refreshing <urn>: ` for Update, Delete and Read (:1756, :1856, :1505)."""
    text = f"1 error occurred:\n\t* {message}\n\n"
    return BridgeError(f"{_PREFIX[op]} {urn}: {text}" if _PREFIX[op] else text)
