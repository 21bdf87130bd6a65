#!/usr/bin/env bash
# Finds or builds the Pulumi engine at the versions pinned in toolchain/versions.env:
#   pulumi                      the CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
#   pulumi-language-python      the Python language host (+ pulumi-language-python-exec shim)
#   pulumi-resource-postgresql  the pulumi-postgresql resource provider
#
# Each is taken from PATH when a binary there reports the pinned version; otherwise it is
# built from the Go module proxy with a wrapper module under toolchain/. Everything ends up
# (built, or symlinked from PATH) in one bin directory in a cache OUTSIDE the checkout, keyed
# by version:
#   ${CONSOLIDATION_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consolidation-toolchain}/
#       pulumi-<v>_postgresql-<v>/bin
# Go downloads go to the default module cache ($(go env GOMODCACHE)), also outside.
#
# Usage:
#   bootstrap.sh            print three lines "<absolute path> <version>" (pulumi,
#                           pulumi-language-python, pulumi-resource-postgresql)
#   bootstrap.sh --bin-dir  print only the bin directory (the Makefile puts it on PATH)
# Progress and build logs go to stderr. Exit status is non-zero when a binary is missing,
# unless CONSOLIDATION_ALLOW_NO_ENGINE=1 (then a warning, and MISSING lines).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

MODE=lines
case "${1:-}" in
    "") ;;
    --bin-dir) MODE=bindir ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (use --bin-dir or nothing; --help for more)" ;;
esac

# shellcheck source=versions.env
. "$HERE/versions.env"
: "${PULUMI_VERSION:?missing in versions.env}" "${PULUMI_POSTGRESQL_VERSION:?missing in versions.env}"

# --- the pins must agree with requirements.txt -------------------------------------------
req_pin() { sed -n "s/^$1==\([^ ;#]*\).*/\1/p" "$ROOT/requirements.txt" | head -n1; }
req_pulumi=$(req_pin pulumi)
req_pg=$(req_pin pulumi-postgresql)
[[ $req_pulumi == "$PULUMI_VERSION" ]] || die "requirements.txt pins pulumi==${req_pulumi:-?} but" \
    "toolchain/versions.env pins PULUMI_VERSION=$PULUMI_VERSION: the Python SDK and the CLI must" \
    "be the same version; change one of them"
[[ $req_pg == "$PULUMI_POSTGRESQL_VERSION" ]] || die "requirements.txt pins" \
    "pulumi-postgresql==${req_pg:-?} but toolchain/versions.env pins" \
    "PULUMI_POSTGRESQL_VERSION=$PULUMI_POSTGRESQL_VERSION; they must be equal"

CACHE_ROOT=${CONSOLIDATION_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/consolidation-toolchain}
KEY="pulumi-${PULUMI_VERSION}_postgresql-${PULUMI_POSTGRESQL_VERSION}"
BIN="$CACHE_ROOT/$KEY/bin"
WORK="$CACHE_ROOT/$KEY/build"
TOOLS=(pulumi pulumi-language-python pulumi-resource-postgresql)
declare -A PIN=(
    [pulumi]=$PULUMI_VERSION
    [pulumi-language-python]=$PULUMI_VERSION
    [pulumi-resource-postgresql]=$PULUMI_POSTGRESQL_VERSION
)

# The version a binary reports, without a leading "v" ("" if it cannot say).
tool_version() {
    local exe=$1 name=$2 out
    case $name in
        pulumi) out=$(PULUMI_SKIP_UPDATE_CHECK=true timeout 20 "$exe" version 2>/dev/null) || out= ;;
        *) out=$(timeout 20 "$exe" -version 2>/dev/null) || out= ;;
    esac
    out=${out%%$'\n'*}
    out=${out//[[:space:]]/}
    printf '%s' "${out#v}"
}

complete_in_bin() {
    local t
    for t in "${TOOLS[@]}"; do [[ -x $BIN/$t ]] || return 1; done
    [[ -x $BIN/pulumi-language-python-exec && -x $BIN/pulumi-resource-pulumi-python ]]
}

print_result() {
    if [[ $MODE == bindir ]]; then
        printf '%s\n' "$BIN"
        return
    fi
    local t exe
    for t in "${TOOLS[@]}"; do
        if [[ -x $BIN/$t ]]; then
            exe=$(readlink -f "$BIN/$t")
            printf '%s %s\n' "$exe" "$(tool_version "$exe" "$t")"
        else
            printf 'MISSING %s %s\n' "$t" "${PIN[$t]}"
        fi
    done
}

# --- fast path: a complete cache ---------------------------------------------------------
if complete_in_bin && [[ -f $BIN/.stamp && $(cat "$BIN/.stamp") == "$KEY" ]]; then
    print_result
    exit 0
fi

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
    PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null || die "Go is needed to build the Pulumi engine and is not on PATH"
mkdir -p "$BIN" "$WORK"
# One bootstrap at a time per cache entry (make may call us more than once).
exec 9>"$CACHE_ROOT/$KEY/.lock"
flock 9

# Looks on PATH (outside our own bin dir) for a binary at the pinned version.
find_on_path() {
    local name=$1 want=$2 dir exe
    local IFS=:
    for dir in $PATH; do
        [[ -n $dir && $dir != "$BIN" ]] || continue
        exe="$dir/$name"
        [[ -x $exe && ! -d $exe ]] || continue
        if [[ $(tool_version "$exe" "$name") == "$want" ]]; then
            printf '%s' "$(readlink -f "$exe")"
            return 0
        fi
    done
    return 1
}

go_build() { # <module dir> <output> <package> [ldflags]
    local dir=$1 out=$2 pkg=$3 ldflags=${4:-}
    log "go build $pkg (in $dir) -> $out"
    (cd "$dir" && GOFLAGS=-mod=mod go build -trimpath -buildvcs=false \
        -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") >&2 || return 1
    mv -f "$out.tmp" "$out"
}

module_dir() { # <module@version> -> its directory in the module cache (downloading it)
    (cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# Explains why a module cannot be fetched, with the Go command's own words, then fails.
module_unavailable() { # <what> <module> <version-or-empty> <versions.env variable>
    local what=$1 mod=$2 ver=$3 var=$4 query
    query="$mod@${ver:-latest}"
    log "cannot build $what: $var in toolchain/versions.env is '${ver}'."
    log "\$ go list -m -json $query"
    (cd "$WORK" && GOFLAGS=-mod=mod go list -m -json "$query" 2>&1 | sed 's/^/bootstrap:   /' >&2) || true
    return 1
}

SDK_LDFLAG="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

build_pulumi() {
    grep -q "github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION\$" "$HERE/pulumi/go.mod" \
        || die "toolchain/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3" \
            "v$PULUMI_VERSION; run: cd toolchain/pulumi && go get" \
            "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
            "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION && go mod tidy"
    go_build "$HERE/pulumi" "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$SDK_LDFLAG"
}

build_langhost() {
    local mod=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
    local ver=${PULUMI_LANGUAGE_PYTHON_MODULE_VERSION:-}
    [[ -n $ver ]] || { module_unavailable pulumi-language-python "$mod" "" \
        PULUMI_LANGUAGE_PYTHON_MODULE_VERSION; return 1; }
    local dir="$WORK/langhost"
    rm -rf "$dir" && mkdir -p "$dir" && cp "$HERE/langhost/tools.go" "$dir/"
    cat >"$dir/go.mod" <<EOF
module consolidation.local/toolchain/langhost

go 1.26.6

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
	$mod $ver
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
    (cd "$dir" && go mod tidy >&2) || { module_unavailable pulumi-language-python "$mod" "$ver" \
        PULUMI_LANGUAGE_PYTHON_MODULE_VERSION; return 1; }
    go_build "$dir" "$BIN/pulumi-language-python" "$mod" "$SDK_LDFLAG"
}

build_provider() {
    local mod=github.com/pulumi/pulumi-postgresql/provider/v3
    local ver=${PULUMI_POSTGRESQL_PROVIDER_MODULE_VERSION:-}
    local up=${POSTGRESQL_UPSTREAM_MODULE_VERSION:-} tpsdk=${PULUMI_TERRAFORM_PLUGIN_SDK_VERSION:-}
    if [[ -z $ver || -z $up || -z $tpsdk ]]; then
        module_unavailable pulumi-resource-postgresql "$mod" "$ver" \
            PULUMI_POSTGRESQL_PROVIDER_MODULE_VERSION
        return 1
    fi
    local dir="$WORK/provider"
    rm -rf "$dir" && mkdir -p "$dir" && cp "$HERE/provider/main.go" "$dir/"
    cat >"$dir/go.mod" <<EOF
module consolidation.local/toolchain/provider

go 1.26.6

require (
	$mod $ver
	github.com/cyrilgdn/terraform-provider-postgresql v0.0.0
)

// The provider module replaces these with a local submodule (../upstream) and a fork.
replace github.com/cyrilgdn/terraform-provider-postgresql => github.com/terraform-providers/terraform-provider-postgresql $up

replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 $tpsdk
EOF
    local moddir
    moddir=$(module_dir "$mod@$ver") && [[ -n $moddir ]] \
        || { module_unavailable pulumi-resource-postgresql "$mod" "$ver" \
            PULUMI_POSTGRESQL_PROVIDER_MODULE_VERSION; return 1; }
    python3 - "$moddir/cmd/pulumi-resource-postgresql/schema.json" "$dir/schema-embed.json" \
        "$PULUMI_POSTGRESQL_VERSION" <<'PY'
import json, sys
src, dst, version = sys.argv[1:]
with open(src) as f:
    schema = json.load(f)
schema["version"] = version
with open(dst, "w") as f:
    json.dump(schema, f)
PY
    (cd "$dir" && go mod tidy >&2) || return 1
    go_build "$dir" "$BIN/pulumi-resource-postgresql" . \
        "-X main.version=$PULUMI_POSTGRESQL_VERSION -X $mod/pkg/version.Version=$PULUMI_POSTGRESQL_VERSION"
}

# The exec shim the language host runs; it ships in the sdk/v3 module at the same tag.
install_exec_shim() {
    local sdkdir
    sdkdir=$(module_dir "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")
    [[ -f $sdkdir/python/cmd/pulumi-language-python-exec ]] \
        || die "pulumi-language-python-exec not found in the sdk/v3 module at $sdkdir"
    install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
}

# The host of Pulumi dynamic providers (the permission functions are one); a shell script
# in the sdk/v3 module at the same tag, like the exec shim.
install_dynamic_provider_host() {
    local sdkdir
    sdkdir=$(module_dir "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")
    [[ -f $sdkdir/python/dist/pulumi-resource-pulumi-python ]] \
        || die "pulumi-resource-pulumi-python not found in the sdk/v3 module at $sdkdir"
    install -m 0755 "$sdkdir/python/dist/pulumi-resource-pulumi-python" "$BIN/pulumi-resource-pulumi-python"
}

failed=()
rm -f "$BIN/.stamp"
for t in "${TOOLS[@]}"; do
    if [[ -x $BIN/$t && $(tool_version "$BIN/$t" "$t") == "${PIN[$t]}" ]]; then
        continue
    fi
    rm -f "$BIN/$t"
    if found=$(find_on_path "$t" "${PIN[$t]}"); then
        log "using $t ${PIN[$t]} from PATH: $found"
        ln -sfn "$found" "$BIN/$t"
        continue
    fi
    log "$t ${PIN[$t]} not on PATH: building it (slow on a cold cache; output below)"
    start=$SECONDS
    case $t in
        pulumi) build_pulumi || failed+=("$t") ;;
        pulumi-language-python) build_langhost || failed+=("$t") ;;
        pulumi-resource-postgresql) build_provider || failed+=("$t") ;;
    esac
    [[ -x $BIN/$t ]] && log "built $t in $((SECONDS - start))s"
done
if [[ ! -x $BIN/pulumi-language-python-exec ]]; then
    # Prefer the shim beside a language host found on PATH; else the sdk/v3 module's copy.
    host=$(readlink -f "$BIN/pulumi-language-python" 2>/dev/null || true)
    if [[ -n $host && -x $(dirname "$host")/pulumi-language-python-exec ]]; then
        ln -sfn "$(dirname "$host")/pulumi-language-python-exec" "$BIN/pulumi-language-python-exec"
    else
        install_exec_shim
    fi
fi

[[ -x $BIN/pulumi-resource-pulumi-python ]] || install_dynamic_provider_host

if ((${#failed[@]} == 0)) && complete_in_bin; then
    printf '%s\n' "$KEY" >"$BIN/.stamp"
    print_result
    exit 0
fi

log "NOT AVAILABLE: ${failed[*]} (see the messages above)."
print_result
if [[ ${CONSOLIDATION_ALLOW_NO_ENGINE:-} == 1 ]]; then
    log "WARNING: CONSOLIDATION_ALLOW_NO_ENGINE=1: continuing without ${failed[*]};" \
        "engine tests will be SKIPPED."
    exit 0
fi
exit 1
