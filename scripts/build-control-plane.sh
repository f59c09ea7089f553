#!/usr/bin/env bash
# Build a real Kubernetes control plane (kube-apiserver, kube-controller-manager, etcd) from Go
# modules through the Go module proxy, with `go` itself, and cache it by version outside the repo.
#
# Why: k3s cannot be had as a Go module here (`go list -m -versions github.com/k3s-io/k3s` answers
# "403 Forbidden ... This module version is not available"), so this is the fallback of issue 8.
# Nothing of the modules' source or of the binaries ever goes into the repository: they live in
#   ${CONTROL_PLANE_CACHE:-~/.cache/inference-platform/control-plane}/<kubernetes version>/
#       bin/kube-apiserver bin/kube-controller-manager bin/etcd    the binaries
#       stamp                                                       versions, checksums, timings
#   .../control-plane/go/{mod,build}                                GOMODCACHE / GOCACHE (shared)
#   .../control-plane/<version>/src/{kubernetes,etcd}/go.mod        the scratch build modules
#
# Technique: k8s.io/kubernetes's go.mod replaces its staging modules (k8s.io/api, k8s.io/apiserver,
# k8s.io/client-go, ...) with ./staging/src/... paths that are not in the module zip. A scratch
# module requires k8s.io/kubernetes vX.Y.Z and replaces every one of those staging modules with its
# published release v0.Y.Z (the list is read from k8s.io/kubernetes's own go.mod in the module
# cache), then `go build`s k8s.io/kubernetes/cmd/kube-apiserver and cmd/kube-controller-manager.
# etcd is built the same way from go.etcd.io/etcd/server/v3 at the version k8s.io/kubernetes's
# go.mod pins (the etcd its release is tested with), unless ETCD_VERSION says otherwise.
#
# Usage: scripts/build-control-plane.sh [--version vX.Y.Z] [--etcd-version vA.B.C]
#                                       [--no-controller-manager] [--force] [--print-dir]
#                                       [--trim-build-cache]
# Environment: KUBERNETES_VERSION, ETCD_VERSION, CONTROL_PLANE_CACHE, BUILD_CONTROLLER_MANAGER=0|1,
#              CONTROL_PLANE_GOMODCACHE / CONTROL_PLANE_GOCACHE (default: under CONTROL_PLANE_CACHE/go),
#              GO (default: go on PATH, else /usr/local/go/bin/go), GOPROXY/GOFLAGS as usual.
# Default version: kubeadm_kubernetes_version in group_vars/all/versions.yml (the Kubernetes
# release the project pins; k3s_version v1.35.4+k3s1 carries the same Kubernetes), else v1.35.4.
#
# --trim-build-cache empties GOCACHE (about 2.8 GB for v1.35.4) after a successful build; the module
# cache (about 0.8 GB) stays, so another version recompiles from scratch but downloads less.
#
# A run with a complete cache (binaries present, checksums matching the stamp) returns at once.
# Builds run under `nice -n 19` (and `ionice -c3` when available): the machines are shared.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inference-platform/control-plane}
version=${KUBERNETES_VERSION:-}
etcd_version=${ETCD_VERSION:-}
build_kcm=${BUILD_CONTROLLER_MANAGER:-1}
force=0
print_dir=0
trim=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
log() { printf '[build-control-plane] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --version) version=${2:?--version needs a value}; shift 2 ;;
        --version=*) version=${1#*=}; shift ;;
        --etcd-version) etcd_version=${2:?--etcd-version needs a value}; shift 2 ;;
        --etcd-version=*) etcd_version=${1#*=}; shift ;;
        --no-controller-manager) build_kcm=0; shift ;;
        --force) force=1; shift ;;
        --print-dir) print_dir=1; shift ;;
        --trim-build-cache) trim=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

if [[ -z $version ]]; then
    versions_file=$repo_root/group_vars/all/versions.yml
    if [[ -r $versions_file ]]; then
        version=$(sed -n 's/^kubeadm_kubernetes_version:[[:space:]]*["'\'']\{0,1\}\(v[0-9][^"'\''[:space:]]*\).*/\1/p' \
            "$versions_file" | head -n1)
    fi
    version=${version:-v1.35.4}
fi
[[ $version =~ ^v1\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || die "not a Kubernetes release tag: $version"
# k8s.io/kubernetes v1.Y.Z  <->  staging modules (k8s.io/api, ...) v0.Y.Z
staging_version=v0.${version#v1.}

version_dir=$cache_root/$version
bin_dir=$version_dir/bin
stamp=$version_dir/stamp
if [[ $print_dir == 1 ]]; then
    echo "$bin_dir"
    exit 0
fi

wanted_bins=(kube-apiserver etcd)
[[ $build_kcm == 1 ]] && wanted_bins+=(kube-controller-manager)

# --- cache check: every wanted binary present and matching the checksum recorded in the stamp ---
cache_complete() {
    [[ -f $stamp ]] || return 1
    grep -qx "kubernetes_version=$version" "$stamp" || return 1
    if [[ -n $etcd_version ]]; then grep -qx "etcd_version=$etcd_version" "$stamp" || return 1; fi
    local b sum
    for b in "${wanted_bins[@]}"; do
        [[ -x $bin_dir/$b ]] || return 1
        sum=$(sed -n "s/^sha256_${b//-/_}=//p" "$stamp")
        [[ -n $sum ]] || return 1
        [[ $(sha256sum "$bin_dir/$b" | cut -d' ' -f1) == "$sum" ]] || return 1
    done
}

if [[ $force == 0 ]] && cache_complete; then
    log "cached: $bin_dir (${wanted_bins[*]}; $(grep -E '^(etcd_version|built_at)=' "$stamp" | tr '\n' ' '))"
    echo "$bin_dir"
    exit 0
fi

# --- build ---------------------------------------------------------------------------------------
go_bin=${GO:-$(command -v go || true)}
[[ -n $go_bin ]] || go_bin=/usr/local/go/bin/go
[[ -x $go_bin ]] || die "no Go toolchain found (set GO=/path/to/go); Go >= 1.25 is needed"

mkdir -p "$version_dir" "$cache_root/go"
exec 9>"$cache_root/.$version.lock"
if ! flock -n 9; then
    log "another build of $version is running; waiting for it"
    flock 9
    if [[ $force == 0 ]] && cache_complete; then echo "$bin_dir"; exit 0; fi
fi

export GOMODCACHE=${CONTROL_PLANE_GOMODCACHE:-$cache_root/go/mod}
export GOCACHE=${CONTROL_PLANE_GOCACHE:-$cache_root/go/build}
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=mod"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOWORK=off

nice_cmd=(nice -n 19)
if command -v ionice >/dev/null 2>&1 && ionice -c3 true 2>/dev/null; then nice_cmd+=(ionice -c3); fi
run() { log "+ $*"; "${nice_cmd[@]}" "$@"; }

t_start=$(date +%s)
log "Kubernetes $version (staging modules $staging_version), go: $("$go_bin" version), cache: $cache_root"

# 1. k8s.io/kubernetes's own go.mod, from the module cache, names the staging modules and etcd.
k8s_dir=$(run "$go_bin" mod download -json "k8s.io/kubernetes@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[[ -n $k8s_dir && -f $k8s_dir/go.mod ]] || die "go mod download k8s.io/kubernetes@$version gave no module directory"
mapfile -t staging_modules < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' \
    "$k8s_dir/go.mod")
[[ ${#staging_modules[@]} -gt 0 ]] || die "no ./staging replace lines found in $k8s_dir/go.mod"
go_directive=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$k8s_dir/go.mod")
godebug_lines=$(grep -E '^godebug ' "$k8s_dir/go.mod" || true)
if [[ -z $etcd_version ]]; then
    etcd_version=$(sed -n 's#^[[:space:]]*go\.etcd\.io/etcd/server/v3[[:space:]]\{1,\}\(v[^[:space:]]*\).*#\1#p' \
        "$k8s_dir/go.mod" | head -n1)
    [[ -n $etcd_version ]] || die "k8s.io/kubernetes@$version's go.mod names no go.etcd.io/etcd/server/v3; set ETCD_VERSION"
fi
log "staging modules pinned to $staging_version: ${#staging_modules[@]}; etcd $etcd_version"

# 2. Scratch module for Kubernetes: require k8s.io/kubernetes, replace staging modules.
k8s_src=$version_dir/src/kubernetes
rm -rf "$k8s_src" && mkdir -p "$k8s_src"
{
    echo "// Generated by scripts/build-control-plane.sh; scratch module, never committed."
    echo "module inference-platform.local/control-plane-build"
    echo
    echo "go ${go_directive:-1.25.0}"
    [[ -n $godebug_lines ]] && { echo; echo "$godebug_lines"; }
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    for m in "${staging_modules[@]}"; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"; done
    echo ")"
} >"$k8s_src/go.mod"

k8s_pkgs=(k8s.io/kubernetes/cmd/kube-apiserver)
[[ $build_kcm == 1 ]] && k8s_pkgs+=(k8s.io/kubernetes/cmd/kube-controller-manager)

# Version information, as Kubernetes's own build (hack/lib/version.sh) stamps it.
k8s_minor=${version#v1.}; k8s_minor=${k8s_minor%%.*}
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
k8s_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
    k8s_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
    k8s_ldflags+=" -X $p.gitCommit=go-module-k8s.io/kubernetes@$version"
done

# `go get` of the packages downloads what they import and records exactly the requirements and
# go.sum lines the build needs (MVS keeps k8s.io/kubernetes's own pins: nothing else is required).
(cd "$k8s_src" && run "$go_bin" get "${k8s_pkgs[@]/%/@$version}")
t_dl_done=$(date +%s)
mkdir -p "$bin_dir.tmp"
(cd "$k8s_src" && run "$go_bin" build -trimpath -ldflags "$k8s_ldflags" -o "$bin_dir.tmp/" "${k8s_pkgs[@]}")
t_k8s_done=$(date +%s)

# 3. Scratch module for etcd (the server module's root package is the etcd main program).
etcd_src=$version_dir/src/etcd
rm -rf "$etcd_src" && mkdir -p "$etcd_src"
printf '// Generated by scripts/build-control-plane.sh; scratch module, never committed.\nmodule inference-platform.local/etcd-build\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "${go_directive:-1.25.0}" "$etcd_version" >"$etcd_src/go.mod"
(cd "$etcd_src" && run "$go_bin" get "go.etcd.io/etcd/server/v3@$etcd_version" &&
 run "$go_bin" build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version" \
     -o "$bin_dir.tmp/etcd" go.etcd.io/etcd/server/v3)
t_end=$(date +%s)

# 4. Smoke check, then publish binaries and the stamp atomically.
# (Outputs are captured first: `cmd | grep -q` would SIGPIPE cmd and fail under pipefail.)
apiserver_says=$("$bin_dir.tmp/kube-apiserver" --version)
[[ $apiserver_says == "Kubernetes $version" ]] ||
    die "built kube-apiserver reports '$apiserver_says', expected 'Kubernetes $version'"
if [[ $build_kcm == 1 ]]; then
    kcm_says=$("$bin_dir.tmp/kube-controller-manager" --version)
    [[ $kcm_says == "Kubernetes $version" ]] ||
        die "built kube-controller-manager reports '$kcm_says', expected 'Kubernetes $version'"
fi
etcd_says=$("$bin_dir.tmp/etcd" --version)
[[ $etcd_says == *"etcd Version: ${etcd_version#v}"* ]] ||
    die "built etcd reports '${etcd_says%%$'\n'*}', expected etcd Version: ${etcd_version#v}"
rm -rf "$bin_dir" && mv "$bin_dir.tmp" "$bin_dir"
{
    echo "kubernetes_version=$version"
    echo "staging_version=$staging_version"
    echo "etcd_version=$etcd_version"
    echo "go_version=$("$go_bin" env GOVERSION)"
    echo "built_at=$build_date"
    echo "seconds_download_kubernetes=$((t_dl_done - t_start))"
    echo "seconds_build_kubernetes=$((t_k8s_done - t_dl_done))"
    echo "seconds_download_and_build_etcd=$((t_end - t_k8s_done))"
    echo "seconds_total=$((t_end - t_start))"
    for b in "$bin_dir"/*; do
        n=$(basename "$b")
        echo "sha256_${n//-/_}=$(sha256sum "$b" | cut -d' ' -f1)"
    done
} >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
log "built in $((t_end - t_start)) s: ${wanted_bins[*]} -> $bin_dir"
if [[ $trim == 1 ]]; then
    run "$go_bin" clean -cache
    log "emptied the Go build cache $GOCACHE"
fi
echo "$bin_dir"
