//go:build tools

// Package tools names the Python language host's main package so a wrapper module can build
// it. toolchain/bootstrap.sh writes this directory's go.mod into a scratch copy (it requires
// pkg/v3 and sdk/v3 at the CLI's tag and the language host module at the pseudo-version
// from toolchain/versions.env, repeating pkg/v3's non-local replaces).
package tools

import _ "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"
