// Command pulumi-resource-postgresql: the pulumi-postgresql provider, built by
// toolchain/bootstrap.sh from the Go module proxy.
//
// The provider module's own main embeds a generated schema-embed.json that the module does
// not ship. bootstrap.sh copies this file into a scratch build directory, writes go.mod
// there (versions from toolchain/versions.env), copies the module's
// cmd/pulumi-resource-postgresql/schema.json beside it as schema-embed.json with "version"
// set, and builds with -ldflags setting main.version and the provider's version.Version.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	postgresql "github.com/pulumi/pulumi-postgresql/provider/v3"
)

//go:embed schema-embed.json
var pulumiSchema []byte

// version is set at build time: -ldflags "-X main.version=3.18.2".
var version = "0.0.0-dev"

func main() {
	tfbridge.Main("postgresql", version, postgresql.Provider(), pulumiSchema)
}
