#!/usr/bin/env bash
# Finds or builds the Pulumi engine at the versions pinned in toolchain/versions.env:
#   pulumi                      the CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi), built
#                               from the Go module proxy when not on PATH (cached, see below)
#   pulumi-resource-postgresql  the REAL pulumi-postgresql provider when one of the pinned
#                               version is on PATH or in the Pulumi plugin cache
#                               (${PULUMI_HOME:-~/.pulumi}/plugins/resource-postgresql-v<v>/);
#                               otherwise the STAND-IN (provider_standin/, test tooling): a
#                               launcher that runs it with this checkout's .venv python.
#                               Nothing is downloaded for it.
#   pulumi-language-python      the REAL Python language host when one of the pinned version
#                               is on PATH or in the Pulumi plugin cache
#                               (${PULUMI_HOME:-~/.pulumi}/plugins/language-python-v<v>/);
#                               otherwise the STAND-IN (langhost_standin/, test tooling): a
#                               launcher that runs it with this checkout's .venv python.
#
# The CLI is built into a cache OUTSIDE the checkout, keyed by version:
#   ${CONSOLIDATION_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/consolidation-toolchain}/
#       pulumi-<v>_postgresql-<v>/bin
# and this checkout's bin directory, .state/toolchain/bin (git-ignored), links to it and
# holds the provider chosen for this checkout (so clones sharing the cache never run each
# other's stand-in).
#
# Usage:
#   bootstrap.sh            one line per tool: "<absolute path> <version> [kind]", kind
#                           "real" or "stand-in (...)" for the language host and the provider
#   bootstrap.sh --bin-dir  print only the checkout's bin directory (the Makefile puts it on PATH)
# Progress and build logs go to stderr. Exit status is non-zero only when the CLI is missing
# (or .venv, which the stand-ins run with).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

MODE=lines
case "${1:-}" in
    "") ;;
    --bin-dir) MODE=bindir ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
LOCAL="$ROOT/.state/toolchain/bin"
STANDIN_MARKER="consolidation-provider-standin"
LANGHOST_STANDIN_MARKER="consolidation-langhost-standin"

# Whether a file is one of our stand-ins' launchers (never taken for a real plugin).
is_standin() { [[ -f $1 ]] && grep -q -e "$STANDIN_MARKER" -e "$LANGHOST_STANDIN_MARKER" "$1" 2>/dev/null; }

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

# Looks on PATH (outside our own bin dir) for a binary at the pinned version.
find_on_path() {
    local name=$1 want=$2 dir exe
    local IFS=:
    for dir in $PATH; do
        [[ -n $dir && $dir != "$BIN" && $dir != "$LOCAL" ]] || continue
        is_standin "$dir/$name" && continue
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

# The Python SDK's two shims, both in the sdk/v3 module at the same tag: the exec shim the
# language host runs, and the host of Pulumi dynamic providers (the permission functions
# are one), a shell script.
install_sdk_file() { # <path in the sdk/v3 module> -> $BIN/<its file name>
    local sdkdir name=${1##*/}
    sdkdir=$(module_dir "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")
    [[ -f $sdkdir/$1 ]] || die "$name not found in the sdk/v3 module at $sdkdir"
    install -m 0755 "$sdkdir/$1" "$BIN/$name"
}
install_exec_shim() { install_sdk_file python/cmd/pulumi-language-python-exec; }
install_dynamic_provider_host() { install_sdk_file python/dist/pulumi-resource-pulumi-python; }


# --- 1. the shared cache: the CLI and the Python SDK's two shims -------------------------
cache_complete() {
    [[ -x $BIN/pulumi && -x $BIN/pulumi-language-python-exec && -x $BIN/pulumi-resource-pulumi-python \
        && -f $BIN/.stamp && $(cat "$BIN/.stamp") == "$KEY" ]]
}
if ! cache_complete; then
    if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
        PATH="$PATH:/usr/local/go/bin"
    fi
    command -v go >/dev/null || die "Go is needed to build the Pulumi CLI and is not on PATH"
    mkdir -p "$BIN" "$WORK"
    exec 9>"$CACHE_ROOT/$KEY/.lock"   # one bootstrap at a time per cache entry
    flock 9
    if ! cache_complete; then
        rm -f "$BIN/.stamp"
        if [[ ! -x $BIN/pulumi || $(tool_version "$BIN/pulumi" pulumi) != "$PULUMI_VERSION" ]]; then
            rm -f "$BIN/pulumi"
            if found=$(find_on_path pulumi "$PULUMI_VERSION"); then
                log "using pulumi $PULUMI_VERSION from PATH: $found"
                ln -sfn "$found" "$BIN/pulumi"
            else
                log "pulumi $PULUMI_VERSION not on PATH: building it (about 4 minutes on a cold cache)"
                start=$SECONDS
                build_pulumi || die "building the Pulumi CLI failed (see the messages above)"
                log "built pulumi in $((SECONDS - start))s"
            fi
        fi
        [[ -x $BIN/pulumi-language-python-exec ]] || install_exec_shim
        [[ -x $BIN/pulumi-resource-pulumi-python ]] || install_dynamic_provider_host
        # Only when versions.env names their Go modules (never on this machine, see README).
        if [[ -n ${PULUMI_LANGUAGE_PYTHON_MODULE_VERSION:-} && ! -x $BIN/pulumi-language-python ]]; then
            build_langhost || log "building pulumi-language-python failed (see above)"
        fi
        if [[ -n ${PULUMI_POSTGRESQL_PROVIDER_MODULE_VERSION:-} && ! -x $BIN/pulumi-resource-postgresql ]]; then
            build_provider || log "building pulumi-resource-postgresql failed (see above)"
        fi
        printf '%s\n' "$KEY" >"$BIN/.stamp"
    fi
    exec 9>&-
fi

# --- 2. this checkout's bin directory -----------------------------------------------------
mkdir -p "$LOCAL"
exec 8>"$LOCAL/../.lock"
flock 8
for t in pulumi pulumi-language-python-exec pulumi-resource-pulumi-python; do
    ln -sfn "$BIN/$t" "$LOCAL/$t"
done

need_venv() {
    [[ -x $ROOT/.venv/bin/python ]] || die "$ROOT/.venv/bin/python is missing: run \`make venv\` first" \
        "(the stand-ins run with the project's virtualenv)"
}

# A real plugin: on PATH, in the Pulumi plugin cache, or built into the cache (step 1).
real_plugin() { # <binary name> <version> <plugin cache directory name>
    local name=$1 version=$2 cachedir=$3 found cached
    if found=$(find_on_path "$name" "$version"); then
        printf '%s' "$found"
        return 0
    fi
    cached="${PULUMI_HOME:-${HOME:-/tmp}/.pulumi}/plugins/$cachedir/$name"
    if [[ -x $cached ]] && ! is_standin "$cached"; then
        printf '%s' "$(readlink -f "$cached")"
        return 0
    fi
    if [[ -x $BIN/$name ]] && ! is_standin "$BIN/$name"; then
        printf '%s' "$(readlink -f "$BIN/$name")"
        return 0
    fi
    return 1
}

# The real host runs the pulumi-language-python-exec beside it; the stand-in is told this one.
LANGHOST="$LOCAL/pulumi-language-python"
if found=$(real_plugin pulumi-language-python "$PULUMI_VERSION" "language-python-v$PULUMI_VERSION"); then
    ln -sfn "$found" "$LANGHOST"
    LANGHOST_KIND="real"
else
    need_venv
    rm -f "$LANGHOST"
    cat >"$LANGHOST.tmp" <<EOF
#!/bin/sh
# $LANGHOST_STANDIN_MARKER: the STAND-IN for pulumi-language-python $PULUMI_VERSION
# (test tooling, langhost_standin/ in $ROOT), written by toolchain/bootstrap.sh because no
# real language host of that version is on PATH or in the Pulumi plugin cache.
exec "$ROOT/.venv/bin/python" "$ROOT/langhost_standin/__main__.py" -use-executor "$LOCAL/pulumi-language-python-exec" "\$@"
EOF
    chmod 0755 "$LANGHOST.tmp"
    mv -f "$LANGHOST.tmp" "$LANGHOST"
    LANGHOST_KIND="stand-in (langhost_standin/, test tooling: no real pulumi-language-python $PULUMI_VERSION on PATH or in the plugin cache)"
fi

PROVIDER="$LOCAL/pulumi-resource-postgresql"
if found=$(real_plugin pulumi-resource-postgresql "$PULUMI_POSTGRESQL_VERSION" \
    "resource-postgresql-v$PULUMI_POSTGRESQL_VERSION"); then
    ln -sfn "$found" "$PROVIDER"
    PROVIDER_KIND="real"
else
    need_venv
    rm -f "$PROVIDER"
    cat >"$PROVIDER.tmp" <<EOF
#!/bin/sh
# $STANDIN_MARKER: the STAND-IN for pulumi-resource-postgresql $PULUMI_POSTGRESQL_VERSION
# (test tooling, provider_standin/ in $ROOT), written by toolchain/bootstrap.sh because no
# real provider of that version is on PATH or in the Pulumi plugin cache.
PYTHONPATH="$ROOT\${PYTHONPATH:+:\$PYTHONPATH}" exec "$ROOT/.venv/bin/python" -m provider_standin "\$@"
EOF
    chmod 0755 "$PROVIDER.tmp"
    mv -f "$PROVIDER.tmp" "$PROVIDER"
    PROVIDER_KIND="stand-in (provider_standin/, test tooling: no real provider $PULUMI_POSTGRESQL_VERSION on PATH or in the plugin cache)"
fi
exec 8>&-

if [[ $MODE == bindir ]]; then
    printf '%s\n' "$LOCAL"
    exit 0
fi
printf '%s %s\n' "$(readlink -f "$LOCAL/pulumi")" "$(tool_version "$LOCAL/pulumi" pulumi)"
printf '%s %s %s\n' "$LANGHOST" "$(tool_version "$LANGHOST" pulumi-language-python)" "$LANGHOST_KIND"
printf '%s %s %s\n' "$PROVIDER" "$(tool_version "$PROVIDER" pulumi-resource-postgresql)" "$PROVIDER_KIND"
