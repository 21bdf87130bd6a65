"""TEST TOOLING: a stand-in for the pulumi-postgresql 3.18.2 resource provider plugin.

The real provider (a Go binary bridging terraform-provider-postgresql) cannot be built on
this machine: its Go modules are not served here. This package is a Pulumi resource
provider plugin written on the Pulumi SDK's own provider server
(`pulumi.provider.experimental`) that runs, on the real PostgreSQL server, the statements
the real provider runs (../shared/spec/pulumi-postgresql-behaviour.md; README.md here maps
every resource and operation to its statements and to the upstream source file).

It is NOT a mock: every Create/Read/Update/Delete executes SQL against the database the
Provider resource points at, with the same transactions and advisory locks.
"""

PROVIDER_VERSION = "3.18.2"
STANDIN_NOTICE = (
    "pulumi-resource-postgresql: this is the STAND-IN (provider_standin/, test tooling), "
    "not the real pulumi-postgresql provider"
)
