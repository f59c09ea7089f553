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
# Technique (scripts/lib/go-build.sh, gb_kubernetes_module): k8s.io/kubernetes's go.mod replaces its
# staging modules (k8s.io/api, k8s.io/apiserver, k8s.io/client-go, ...) with ./staging/src/... paths
# that are not in the module zip. A scratch module requires k8s.io/kubernetes vX.Y.Z and replaces
# every one of those staging modules with its published release v0.Y.Z (the list is read from
# k8s.io/kubernetes's own go.mod in the module cache), then `go build`s
# k8s.io/kubernetes/cmd/kube-apiserver and cmd/kube-controller-manager. etcd is built the same way
# from go.etcd.io/etcd/server/v3 at the version k8s.io/kubernetes's go.mod pins (the etcd its
# release is tested with), unless ETCD_VERSION says otherwise.
#
# Usage: scripts/build-control-plane.sh [--version vX.Y.Z] [--etcd-version vA.B.C]
#                                       [--no-controller-manager] [--force] [--print-dir]
#                                       [--trim-build-cache]
# Environment: KUBERNETES_VERSION, ETCD_VERSION, CONTROL_PLANE_CACHE, BUILD_CONTROLLER_MANAGER=0|1,
#              CONTROL_PLANE_GOMODCACHE / CONTROL_PLANE_GOCACHE (default: under CONTROL_PLANE_CACHE/go),
#              GO (default: go on PATH, else /usr/local/go/bin/go); GOPROXY/GOFLAGS as `go env` has them.
# Default version: kubeadm_kubernetes_version in group_vars/all/versions.yml (the Kubernetes
# release the project pins; k3s_version v1.35.4+k3s1 carries the same Kubernetes), else v1.35.4.
#
# --trim-build-cache empties GOCACHE (about 2.8 GB for v1.35.4) after a successful build; the module
# cache (about 0.8 GB) stays, so another version recompiles from scratch but downloads less.
#
# A run with a complete cache (binaries present, checksums matching the stamp) returns at once.
# Builds run under `nice -n 19` (and `ionice -c3` when available): the machines are shared.
set -euo pipefail
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
gb_init build-control-plane

cache_root=${CONTROL_PLANE_CACHE:-$gb_cache_home/control-plane}
version=${KUBERNETES_VERSION:-}
etcd_version=${ETCD_VERSION:-}
build_kcm=${BUILD_CONTROLLER_MANAGER:-1}
force=0
print_dir=0
trim=0

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
        -h|--help) gb_usage "${BASH_SOURCE[0]}"; exit 0 ;;
        *) gb_die "unknown argument: $1 (see --help)" ;;
    esac
done

version=${version:-$(gb_pin kubeadm_kubernetes_version)}
version=${version:-v1.35.4}
[[ $version =~ ^v1\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || gb_die "not a Kubernetes release tag: $version"

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
    gb_stamp_ok "$stamp" "$bin_dir" "${wanted_bins[@]}"
}

if [[ $force == 0 ]] && cache_complete; then
    gb_log "cached: $bin_dir (${wanted_bins[*]}; $(grep -E '^(etcd_version|built_at)=' "$stamp" | tr '\n' ' '))"
    echo "$bin_dir"
    exit 0
fi

# --- build ---------------------------------------------------------------------------------------
gb_go_env
mkdir -p "$version_dir"
if ! gb_lock "$cache_root/.$version.lock" cache_complete && [[ $force == 0 ]]; then
    echo "$bin_dir"
    exit 0
fi

t_start=$(date +%s)
gb_log "Kubernetes $version, go: $("$go_bin" version), cache: $cache_root"

# 1. Scratch module for Kubernetes; k8s.io/kubernetes's own go.mod also names etcd's version.
k8s_src=$version_dir/src/kubernetes
gb_kubernetes_module "$version" "$k8s_src" inference-platform.local/control-plane-build
if [[ -z $etcd_version ]]; then
    etcd_version=$(sed -n 's#^[[:space:]]*go\.etcd\.io/etcd/server/v3[[:space:]]\{1,\}\(v[^[:space:]]*\).*#\1#p' \
        "$gb_k8s_dir/go.mod" | head -n1)
    [[ -n $etcd_version ]] || gb_die "k8s.io/kubernetes@$version's go.mod names no go.etcd.io/etcd/server/v3; set ETCD_VERSION"
fi
go_directive=$(gb_go_directive "$gb_k8s_dir/go.mod")

k8s_pkgs=(k8s.io/kubernetes/cmd/kube-apiserver)
[[ $build_kcm == 1 ]] && k8s_pkgs+=(k8s.io/kubernetes/cmd/kube-controller-manager)
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# `go get` of the packages downloads what they import and records exactly the requirements and
# go.sum lines the build needs (MVS keeps k8s.io/kubernetes's own pins: nothing else is required).
(cd "$k8s_src" && gb_run "$go_bin" get "${k8s_pkgs[@]/%/@$version}")
t_dl_done=$(date +%s)
rm -rf "$bin_dir.tmp" && mkdir -p "$bin_dir.tmp"
(cd "$k8s_src" && gb_run "$go_bin" build -trimpath -ldflags "$(gb_kubernetes_ldflags "$version" "$build_date")" \
    -o "$bin_dir.tmp/" "${k8s_pkgs[@]}")
t_k8s_done=$(date +%s)

# 2. Scratch module for etcd (the server module's root package is the etcd main program).
etcd_src=$version_dir/src/etcd
gb_scratch_module "$etcd_src" inference-platform.local/etcd-build "$go_directive" "go.etcd.io/etcd/server/v3 $etcd_version"
(cd "$etcd_src" && gb_run "$go_bin" get "go.etcd.io/etcd/server/v3@$etcd_version" &&
 gb_run "$go_bin" build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version" \
     -o "$bin_dir.tmp/etcd" go.etcd.io/etcd/server/v3)
t_end=$(date +%s)

# 3. Smoke check, then publish binaries and the stamp atomically.
# (Outputs are captured first: `cmd | grep -q` would SIGPIPE cmd and fail under pipefail.)
apiserver_says=$("$bin_dir.tmp/kube-apiserver" --version)
[[ $apiserver_says == "Kubernetes $version" ]] ||
    gb_die "built kube-apiserver reports '$apiserver_says', expected 'Kubernetes $version'"
if [[ $build_kcm == 1 ]]; then
    kcm_says=$("$bin_dir.tmp/kube-controller-manager" --version)
    [[ $kcm_says == "Kubernetes $version" ]] ||
        gb_die "built kube-controller-manager reports '$kcm_says', expected 'Kubernetes $version'"
fi
etcd_says=$("$bin_dir.tmp/etcd" --version)
[[ $etcd_says == *"etcd Version: ${etcd_version#v}"* ]] ||
    gb_die "built etcd reports '${etcd_says%%$'\n'*}', expected etcd Version: ${etcd_version#v}"
rm -rf "$bin_dir" && mv "$bin_dir.tmp" "$bin_dir"
{
    echo "kubernetes_version=$version"
    echo "staging_version=v0.${version#v1.}"
    echo "etcd_version=$etcd_version"
    echo "go_version=$("$go_bin" env GOVERSION)"
    echo "built_at=$build_date"
    echo "seconds_download_kubernetes=$((t_dl_done - t_start))"
    echo "seconds_build_kubernetes=$((t_k8s_done - t_dl_done))"
    echo "seconds_download_and_build_etcd=$((t_end - t_k8s_done))"
    echo "seconds_total=$((t_end - t_start))"
    gb_stamp_sums "$bin_dir"
} >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
gb_log "built in $((t_end - t_start)) s: ${wanted_bins[*]} -> $bin_dir"
if [[ $trim == 1 ]]; then
    gb_run "$go_bin" clean -cache
    gb_log "emptied the Go build cache $GOCACHE"
fi
echo "$bin_dir"
