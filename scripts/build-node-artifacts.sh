#!/usr/bin/env bash
# Build the kubeadm role's air-gapped node artifacts (kubeadm_install_source: local) from their Go
# modules, with `go` itself, and the OCI image archives kubeadm needs with podman, for the versions
# pinned in group_vars/all/versions.yml. No binary or image can be downloaded on these machines;
# Go modules and Debian packages can. A connected site fetches the same layout from the upstream
# releases instead (playbooks/kubeadm_artifacts.yml).
#
# What is built (each from its module at its pin, cached by version under
# ~/.cache/inference-platform/node-artifacts/components/<name>-<version>/):
#   kubernetes     kubelet kubeadm kubectl kube-proxy kube-scheduler   k8s.io/kubernetes (the scratch module
#                  kube-apiserver kube-controller-manager etcd           technique of build-control-plane.sh,
#                                                                       which builds the last three)
#   containerd     containerd containerd-shim-runc-v2 ctr              github.com/containerd/containerd/v2
#   runc           runc (static, with seccomp: cgo + libseccomp.a)      github.com/opencontainers/runc
#   cni-plugins    bridge host-local loopback portmap ... and flannel   github.com/containernetworking/plugins;
#                  (the flannel CNI plugin is this project's own, scripts/node-artifacts/cni-flannel: the
#                  upstream flannel-io/cni-plugin module is refused by the Go module proxy)
#   crictl         crictl                                               sigs.k8s.io/cri-tools
#   coredns        coredns                                              github.com/coredns/coredns
#   flannel        flanneld                                             github.com/flannel-io/flannel
#   pause          pause (C, static)                                    k8s.io/kubernetes's build/pause
#   node-base      a Debian rootfs with iptables, nftables, conntrack   debootstrap, from the mirror in
#                  (the base of the kube-proxy and flannel images)      this machine's apt sources
# and the images, FROM scratch (kube-apiserver, kube-controller-manager, kube-scheduler, etcd,
# coredns, pause) or FROM node-base (kube-proxy, flannel), named <repository>/<name>:<tag> where
# <repository> is kubeadm_local_image_repository (roles/kubeadm/defaults/main.yml) and the tags are
# the ones kubeadm asks for (`kubeadm config images list` with the role's configuration).
#
# Output, assembled for the Kubernetes version and re-assembled when any input changes:
#   ~/.cache/inference-platform/node-artifacts/<kubernetes version>/
#       bin/      kubeadm kubelet kubectl containerd containerd-shim-runc-v2 ctr runc crictl
#       cni/      the CNI plugins (installed into /opt/cni/bin)
#       images/   <name>.tar OCI archives (podman save --format oci-archive)
#       artifacts.json   the versions and image names the set was built for
#       SHA256SUMS       sha256 of every file above (`sha256sum -c SHA256SUMS` checks them)
# and the link build/artifacts/kubeadm/<kubernetes version> in the repository (build/ is not
# committed), which is where the kubeadm role looks by default (kubeadm_local_artifacts_dir).
#
# Usage: scripts/build-node-artifacts.sh [--force] [--print-dir] [--no-link]
# Environment: NODE_ARTIFACTS_CACHE (default ~/.cache/inference-platform/node-artifacts),
#              GO, CONTROL_PLANE_CACHE (see build-control-plane.sh); GOPROXY as `go env` has it.
# Needs: go, gcc and libseccomp-dev (static runc), podman, debootstrap, root (debootstrap).
# A run with a complete cache (every file matching the checksums recorded) returns at once.
set -euo pipefail
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
gb_init build-node-artifacts

cache_root=${NODE_ARTIFACTS_CACHE:-$gb_cache_home/node-artifacts}
force=0
print_dir=0
link=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --force) force=1; shift ;;
        --print-dir) print_dir=1; shift ;;
        --no-link) link=0; shift ;;
        -h|--help) gb_usage "${BASH_SOURCE[0]}"; exit 0 ;;
        *) gb_die "unknown argument: $1 (see --help)" ;;
    esac
done

# --- pins ------------------------------------------------------------------------------------------
pin() { local v; v=$(gb_pin "$1"); [[ -n $v ]] || gb_die "no $1 in group_vars/all/versions.yml"; printf '%s\n' "$v"; }
k8s_version=$(pin kubeadm_kubernetes_version)
containerd_version=$(pin kubeadm_containerd_version)
runc_version=$(pin kubeadm_runc_version)
cni_version=$(pin kubeadm_cni_plugins_version)
crictl_version=$(pin kubeadm_crictl_version)
etcd_version=$(pin kubeadm_etcd_version)
coredns_version=$(pin kubeadm_coredns_version)
pause_version=$(pin kubeadm_pause_version)
flannel_version=$(pin kubeadm_flannel_version)
flannel_vpc_version=$(pin kubeadm_flannel_build_tencentcloud_vpc_version)
base_release=$(pin kubeadm_image_debian_release)
image_repo=$(sed -n "s/^kubeadm_local_image_repository:[[:space:]]*[\"']\{0,1\}\([^\"'[:space:]#]*\).*/\1/p" \
    "$repo_root/roles/kubeadm/defaults/main.yml")
[[ -n $image_repo ]] || gb_die "no kubeadm_local_image_repository in roles/kubeadm/defaults/main.yml"
[[ $k8s_version =~ ^v1\.[0-9]+\.[0-9]+$ ]] || gb_die "kubeadm_kubernetes_version is not a release tag: $k8s_version"

set_dir=$cache_root/$k8s_version
repo_link=$repo_root/build/artifacts/kubeadm/$k8s_version
if [[ $print_dir == 1 ]]; then echo "$set_dir"; exit 0; fi

# The images and their tags, as kubeadm names them with imageRepository = image_repo (etcd's tag
# carries kubeadm's image revision suffix -0; CoreDNS's image is <repository>/coredns there).
declare -A image_tag=(
    [kube-apiserver]=$k8s_version [kube-controller-manager]=$k8s_version [kube-scheduler]=$k8s_version
    [kube-proxy]=$k8s_version [etcd]=${etcd_version#v}-0 [coredns]=$coredns_version [pause]=$pause_version
    [flannel]=$flannel_version
)
image_names=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns pause flannel)
base_packages=(iptables nftables conntrack ca-certificates)
flannel_cni_src=$repo_root/scripts/node-artifacts/cni-flannel/main.go

# Everything the assembled set depends on: a change to any of them re-assembles it.
set_inputs() {
    printf '%s\n' "kubernetes=$k8s_version" "containerd=$containerd_version" "runc=$runc_version" \
        "cni_plugins=$cni_version" "crictl=$crictl_version" "etcd=$etcd_version" "coredns=$coredns_version" \
        "pause=$pause_version" "flannel=$flannel_version" "flannel_vpc=$flannel_vpc_version" \
        "image_debian_release=$base_release" \
        "image_repository=$image_repo" "script=$(cat "${BASH_SOURCE[0]}" "$repo_root/scripts/lib/go-build.sh" \
        "$flannel_cni_src" | sha256sum | cut -c1-16)"
}

set_complete() {
    [[ -f $set_dir/stamp && -f $set_dir/SHA256SUMS ]] || return 1
    [[ $(sed -n 's/^input\.//p' "$set_dir/stamp") == "$(set_inputs)" ]] || return 1
    (cd "$set_dir" && sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1)
}

publish_link() {
    [[ $link == 1 ]] || return 0
    mkdir -p "$(dirname "$repo_link")"
    if [[ -L $repo_link || ! -e $repo_link ]]; then
        ln -sfn "$set_dir" "$repo_link"
    else
        gb_log "left $repo_link alone: it is a directory, not this script's link"
    fi
}

if [[ $force == 0 ]] && set_complete; then
    gb_log "cached: $set_dir ($(sed -n 's/^built_at=//p' "$set_dir/stamp"))"
    publish_link
    echo "$set_dir"
    exit 0
fi

gb_go_env
mkdir -p "$cache_root/components"
if ! gb_lock "$cache_root/.build.lock" set_complete && [[ $force == 0 ]]; then
    publish_link
    echo "$set_dir"
    exit 0
fi
t_start=$(date +%s)
declare -A comp_bin=()
timings=()

# component NAME INPUTS BUILDER FILE...: build FILEs into components/NAME/bin with BUILDER (which
# writes into $out and may use $src) unless the stamp records the same INPUTS and their checksums.
component() {
    local name=$1 inputs=$2 builder=$3 f t0
    shift 3
    local dir=$cache_root/components/$name
    comp_bin[$name]=$dir/bin
    if [[ $force == 0 && -f $dir/stamp ]] && grep -qxF "inputs=$inputs" "$dir/stamp" &&
        gb_stamp_ok "$dir/stamp" "$dir/bin" "$@"; then
        gb_log "cached: $name ($inputs)"
        return 0
    fi
    t0=$(date +%s)
    rm -rf "$dir/bin.tmp" && mkdir -p "$dir/bin.tmp"
    out=$dir/bin.tmp src=$dir/src "$builder"
    for f in "$@"; do [[ -f $dir/bin.tmp/$f ]] || gb_die "$name: $f was not built"; done
    rm -rf "$dir/bin" && mv "$dir/bin.tmp" "$dir/bin"
    {
        echo "inputs=$inputs"
        echo "go_version=$("$go_bin" env GOVERSION)"
        echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "seconds=$(($(date +%s) - t0))"
        gb_stamp_sums "$dir/bin"
    } >"$dir/stamp"
    timings+=("$name=$(($(date +%s) - t0))s")
    gb_log "built $name in $(($(date +%s) - t0)) s"
}

# expect WHAT ACTUAL PATTERN: a built program must report the version it was built for.
expect() { [[ $2 == *"$3"* ]] || gb_die "$1 reports '${2%%$'\n'*}', expected '$3'"; }

# --- builders --------------------------------------------------------------------------------------
k8s_node_bins=(kubelet kubeadm kubectl kube-proxy kube-scheduler)
build_kubernetes() {
    gb_kubernetes_module "$k8s_version" "$src" inference-platform.local/kubernetes-node-build
    local pkgs=("${k8s_node_bins[@]/#/k8s.io/kubernetes/cmd/}") b
    (cd "$src" && gb_run "$go_bin" get "${pkgs[@]/%/@$k8s_version}" &&
        gb_run "$go_bin" build -trimpath -ldflags "$(gb_kubernetes_ldflags "$k8s_version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" \
            -o "$out/" "${pkgs[@]}")
    for b in kubelet kube-proxy kube-scheduler; do expect "$b" "$("$out/$b" --version)" "Kubernetes $k8s_version"; done
    expect kubeadm "$("$out/kubeadm" version -o short)" "$k8s_version"
    expect kubectl "$("$out/kubectl" version --client)" "Client Version: $k8s_version"
}

build_containerd() {
    local mod=github.com/containerd/containerd/v2 dir
    dir=$(gb_module_dir "$mod@$containerd_version")
    gb_refuse_replaces "$dir" "$mod@$containerd_version"
    gb_scratch_module "$src" inference-platform.local/containerd-build "$(gb_go_directive "$dir/go.mod")" "$mod $containerd_version"
    local ld="-s -w -X $mod/version.Version=$containerd_version -X $mod/version.Revision=module-$containerd_version -X $mod/version.Package=$mod"
    (cd "$src" && gb_run "$go_bin" get "$mod/cmd/containerd@$containerd_version" "$mod/cmd/containerd-shim-runc-v2@$containerd_version" \
            "$mod/cmd/ctr@$containerd_version" &&
        gb_run "$go_bin" build -trimpath -tags "urfave_cli_no_docs osusergo netgo static_build" -ldflags "$ld" \
            -o "$out/" "$mod/cmd/containerd" "$mod/cmd/ctr" &&
        gb_run "$go_bin" build -trimpath -tags "urfave_cli_no_docs osusergo netgo static_build no_grpc" -ldflags "$ld" \
            -o "$out/" "$mod/cmd/containerd-shim-runc-v2")
    expect containerd "$("$out/containerd" --version)" " $containerd_version "
}

build_runc() {
    local mod=github.com/opencontainers/runc dir
    dir=$(gb_module_dir "$mod@$runc_version")
    gb_refuse_replaces "$dir" "$mod@$runc_version"
    [[ -f /usr/lib/x86_64-linux-gnu/libseccomp.a || -n $(find /usr/lib* -name libseccomp.a -print -quit 2>/dev/null) ]] ||
        gb_die "runc is built static with seccomp: install libseccomp-dev (scripts/setup.sh does)"
    gb_scratch_module "$src" inference-platform.local/runc-build "$(gb_go_directive "$dir/go.mod")" "$mod $runc_version"
    # runc's nsenter is C: cgo, linked statically like runc's own `make static`.
    (cd "$src" && export CGO_ENABLED=1 && gb_run "$go_bin" get "$mod@$runc_version" &&
        gb_run "$go_bin" build -trimpath -tags "seccomp urfave_cli_no_docs netgo osusergo" \
            -ldflags "-s -w -X main.gitCommit=module-$runc_version -extldflags -static" -o "$out/runc" "$mod")
    local says
    says=$("$out/runc" --version)
    expect runc "$says" "runc version ${runc_version#v}"
    expect runc "$says" "libseccomp: "
}

cni_plugins=(main/bridge main/dummy main/host-device main/ipvlan main/loopback main/macvlan main/ptp main/tap main/vlan
    ipam/dhcp ipam/host-local ipam/static meta/bandwidth meta/firewall meta/portmap meta/sbr meta/tuning meta/vrf)
cni_files=("${cni_plugins[@]##*/}" flannel)
build_cni_plugins() {
    local mod=github.com/containernetworking/plugins dir flannel_rev
    dir=$(gb_module_dir "$mod@$cni_version")
    gb_refuse_replaces "$dir" "$mod@$cni_version"
    gb_scratch_module "$src" inference-platform.local/cni-build "$(gb_go_directive "$dir/go.mod")" "$mod $cni_version"
    mkdir -p "$src/cmd/flannel" && cp "$flannel_cni_src" "$src/cmd/flannel/main.go"
    flannel_rev=$(gb_sha256 "$flannel_cni_src" | cut -c1-12)
    local pkgs=("${cni_plugins[@]/#/$mod/plugins/}")
    (cd "$src" && gb_run "$go_bin" get "${pkgs[@]/%/@$cni_version}" &&
        gb_run "$go_bin" build -trimpath -ldflags "-s -w -X $mod/pkg/utils/buildversion.BuildVersion=$cni_version" \
            -o "$out/" "${pkgs[@]}" &&
        gb_run "$go_bin" vet ./cmd/flannel &&
        gb_run "$go_bin" build -trimpath -ldflags "-s -w -X main.buildVersion=source-$flannel_rev" -o "$out/flannel" ./cmd/flannel)
    expect bridge "$(CNI_COMMAND=VERSION "$out/bridge" </dev/null)" '"supportedVersions"'
    expect flannel "$(CNI_COMMAND=VERSION "$out/flannel" </dev/null)" '"1.1.0"'
}

build_crictl() {
    local mod=sigs.k8s.io/cri-tools dir
    dir=$(gb_module_dir "$mod@$crictl_version")
    gb_refuse_replaces "$dir" "$mod@$crictl_version"
    gb_scratch_module "$src" inference-platform.local/crictl-build "$(gb_go_directive "$dir/go.mod")" "$mod $crictl_version"
    (cd "$src" && gb_run "$go_bin" get "$mod/cmd/crictl@$crictl_version" &&
        gb_run "$go_bin" build -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$crictl_version" -o "$out/crictl" "$mod/cmd/crictl")
    expect crictl "$("$out/crictl" --version)" "$crictl_version"
}

build_coredns() {
    local mod=github.com/coredns/coredns dir
    dir=$(gb_module_dir "$mod@$coredns_version")
    gb_refuse_replaces "$dir" "$mod@$coredns_version"
    gb_scratch_module "$src" inference-platform.local/coredns-build "$(gb_go_directive "$dir/go.mod")" "$mod $coredns_version"
    (cd "$src" && gb_run "$go_bin" get "$mod@$coredns_version" &&
        gb_run "$go_bin" build -trimpath -ldflags "-s -w -X $mod/coremain.GitCommit=module-$coredns_version" -o "$out/coredns" "$mod")
    expect coredns "$("$out/coredns" -version)" "CoreDNS-${coredns_version#v}"
}

# flanneld links every backend, among them Tencent Cloud's VPC routes (never used here), whose SDK module
# version flannel pins the Go module proxy refuses: the scratch module replaces it with the served release
# kubeadm_flannel_build_tencentcloud_vpc_version. The udp backend is C: cgo, linked statically.
build_flannel() {
    local mod=github.com/flannel-io/flannel dir vpc=github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc
    dir=$(gb_module_dir "$mod@$flannel_version")
    gb_refuse_replaces "$dir" "$mod@$flannel_version"
    gb_scratch_module "$src" inference-platform.local/flannel-build "$(gb_go_directive "$dir/go.mod")" "$mod $flannel_version"
    printf '\nreplace %s => %s %s\n' "$vpc" "$vpc" "$flannel_vpc_version" >>"$src/go.mod"
    (cd "$src" && export CGO_ENABLED=1 && gb_run "$go_bin" get "$mod@$flannel_version" &&
        gb_run "$go_bin" build -trimpath -tags "netgo osusergo" \
            -ldflags "-s -w -X $mod/pkg/version.Version=$flannel_version -extldflags -static" -o "$out/flanneld" "$mod")
    expect flanneld "$("$out/flanneld" --version 2>&1)" "$flannel_version"
}

build_pause() {
    local dir tag
    dir=$(gb_module_dir "k8s.io/kubernetes@$k8s_version")
    tag=$(sed -n 's/^TAG ?= \(.*\)$/\1/p' "$dir/build/pause/Makefile")
    [[ $tag == "$pause_version" ]] ||
        gb_die "k8s.io/kubernetes@$k8s_version builds pause $tag, but kubeadm_pause_version pins $pause_version"
    gb_run gcc -Os -Wall -Werror -static -DVERSION="v$pause_version-module-$k8s_version" \
        -o "$out/pause" "$dir/build/pause/linux/pause.c"
    expect pause "$("$out/pause" -v)" "v$pause_version"
}

# The Debian archive this machine's apt uses for base_release (as roles/lab reads it): no mirror is
# written in the repository.
debian_mirror() {
    local uri
    uri=$(apt-get indextargets --no-release-info --format '$(SITE) $(RELEASE) $(COMPONENT) $(IDENTIFIER)' 2>/dev/null |
        awk -v rel="$base_release" '$2 == rel && $3 == "main" && $4 == "Packages" { print $1; exit }')
    [[ -n $uri ]] || gb_die "no Debian archive for $base_release (main) in this machine's apt sources (apt-get indextargets)"
    echo "$uri"
}

build_node_base() {
    command -v debootstrap >/dev/null || gb_die "debootstrap is needed for the image base (scripts/setup.sh installs it)"
    local mirror rootfs=$out/rootfs
    mirror=$(debian_mirror)
    gb_run debootstrap --variant=minbase --include="$(IFS=,; echo "${base_packages[*]}")" "$base_release" "$rootfs" "$mirror" \
        >"$out/debootstrap.log" 2>&1 || { tail -n 20 "$out/debootstrap.log" >&2; gb_die "debootstrap failed"; }
    # What an image needs at run time only: no package lists, caches or docs.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
        "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -cf "$out/rootfs.tar" .
    rm -rf "$rootfs" "$out/debootstrap.log"
}

# --- components ----------------------------------------------------------------------------------
control_plane_bin=$("$repo_root/scripts/build-control-plane.sh" --version "$k8s_version" --etcd-version "$etcd_version")
component "kubernetes-$k8s_version" "$k8s_version" build_kubernetes "${k8s_node_bins[@]}"
component "containerd-$containerd_version" "$containerd_version" build_containerd containerd containerd-shim-runc-v2 ctr
component "runc-$runc_version" "$runc_version static seccomp" build_runc runc
component "cni-plugins-$cni_version" "$cni_version flannel-cni $(gb_sha256 "$flannel_cni_src")" build_cni_plugins "${cni_files[@]}"
component "crictl-$crictl_version" "$crictl_version" build_crictl crictl
component "coredns-$coredns_version" "$coredns_version" build_coredns coredns
component "flannel-$flannel_version" "$flannel_version static, tencentcloud vpc $flannel_vpc_version" build_flannel flanneld
component "pause-$pause_version" "$pause_version from k8s.io/kubernetes@$k8s_version" build_pause pause
component "node-base-$base_release" "$base_release ${base_packages[*]}" build_node_base rootfs.tar

# --- images ----------------------------------------------------------------------------------------
command -v podman >/dev/null || gb_die "podman is needed to build the images"
work=$(mktemp -d "$cache_root/.assemble.XXXXXX")
built_refs=()
cleanup() {
    local ref
    for ref in "${built_refs[@]}"; do podman rmi --force "$ref" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
base_ref=localhost/inference-platform/node-base:$base_release
label=io.inference-platform.node-artifacts=$k8s_version

gb_run podman import --change "LABEL $label" "${comp_bin[node-base-$base_release]}/rootfs.tar" "$base_ref" >/dev/null
built_refs+=("$base_ref")
# The files a FROM scratch image needs besides its program: /tmp, users, name service order, CAs.
scratch_root=$work/scratch-root
mkdir -p "$scratch_root/tmp" "$scratch_root/etc/ssl/certs"
chmod 1777 "$scratch_root/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$scratch_root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$scratch_root/etc/group"
printf 'hosts: files dns\n' >"$scratch_root/etc/nsswitch.conf"
tar -xf "${comp_bin[node-base-$base_release]}/rootfs.tar" -C "$work" ./etc/ssl/certs/ca-certificates.crt
cp "$work/etc/ssl/certs/ca-certificates.crt" "$scratch_root/etc/ssl/certs/"

# image NAME FROM PROGRAM_PATH SOURCE_FILE [USER]: build <repo>/NAME:<tag> and save it as an OCI archive.
image() {
    local name=$1 from=$2 path=$3 file=$4 user=${5:-} ctx=$work/ctx-$1 ref=$image_repo/$1:${image_tag[$1]}
    mkdir -p "$ctx"
    cp "$file" "$ctx/program"
    {
        echo "FROM $from"
        [[ $from == scratch ]] && { cp -a "$scratch_root" "$ctx/root"; echo "COPY root/ /"; }
        echo "COPY program $path"
        echo "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"
        [[ -n $user ]] && echo "USER $user"
        echo "ENTRYPOINT [\"$path\"]"
    } >"$ctx/Containerfile"
    gb_run podman build --quiet --label "$label" --pull=never -t "$ref" -f "$ctx/Containerfile" "$ctx" >/dev/null
    built_refs+=("$ref")
    gb_run podman save --quiet --format oci-archive -o "$work/set/images/$name.tar" "$ref"
}

mkdir -p "$work/set/bin" "$work/set/cni" "$work/set/images"
k8s_bin=${comp_bin[kubernetes-$k8s_version]}
image kube-apiserver scratch /usr/local/bin/kube-apiserver "$control_plane_bin/kube-apiserver"
image kube-controller-manager scratch /usr/local/bin/kube-controller-manager "$control_plane_bin/kube-controller-manager"
image kube-scheduler scratch /usr/local/bin/kube-scheduler "$k8s_bin/kube-scheduler"
image etcd scratch /usr/local/bin/etcd "$control_plane_bin/etcd"
image coredns scratch /coredns "${comp_bin[coredns-$coredns_version]}/coredns"
image pause scratch /pause "${comp_bin[pause-$pause_version]}/pause" 65535:65535
image kube-proxy "$base_ref" /usr/local/bin/kube-proxy "$k8s_bin/kube-proxy"
image flannel "$base_ref" /opt/bin/flanneld "${comp_bin[flannel-$flannel_version]}/flanneld"

# --- assemble --------------------------------------------------------------------------------------
cp "$k8s_bin"/{kubeadm,kubelet,kubectl} "$work/set/bin/"
cp "${comp_bin[containerd-$containerd_version]}"/{containerd,containerd-shim-runc-v2,ctr} "$work/set/bin/"
cp "${comp_bin[runc-$runc_version]}/runc" "${comp_bin[crictl-$crictl_version]}/crictl" "$work/set/bin/"
cp "${comp_bin[cni-plugins-$cni_version]}"/* "$work/set/cni/"
chmod 0755 "$work"/set/bin/* "$work"/set/cni/*
{
    printf '{\n  "built_by": "scripts/build-node-artifacts.sh (from Go modules)",\n'
    printf '  "built_at": "%s",\n  "versions": {\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '    "kubernetes": "%s",\n    "containerd": "%s",\n    "runc": "%s",\n' "$k8s_version" "$containerd_version" "$runc_version"
    printf '    "cni_plugins": "%s",\n    "crictl": "%s",\n    "etcd": "%s",\n' "$cni_version" "$crictl_version" "$etcd_version"
    printf '    "coredns": "%s",\n    "pause": "%s",\n    "flannel": "%s"\n  },\n' "$coredns_version" "$pause_version" "$flannel_version"
    printf '  "image_repository": "%s",\n  "images": {\n' "$image_repo"
    for i in "${!image_names[@]}"; do
        n=${image_names[$i]}
        printf '    "images/%s.tar": "%s/%s:%s"%s\n' "$n" "$image_repo" "$n" "${image_tag[$n]}" \
            "$( ((i < ${#image_names[@]} - 1)) && echo ,)"
    done
    printf '  }\n}\n'
} >"$work/set/artifacts.json"
(cd "$work/set" && find bin cni images artifacts.json -type f -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
t_end=$(date +%s)
{
    set_inputs | sed 's/^/input./'
    echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds_total=$((t_end - t_start))"
    ((${#timings[@]} == 0)) || printf 'seconds.%s\n' "${timings[@]}"
} >"$work/set/stamp"
rm -rf "$set_dir.old"
[[ -e $set_dir ]] && mv "$set_dir" "$set_dir.old"
mv "$work/set" "$set_dir"
rm -rf "$set_dir.old"
publish_link
gb_log "assembled in $((t_end - t_start)) s${timings[*]:+ (built: ${timings[*]})}: $set_dir ($(du -sh "$set_dir" | cut -f1))"
echo "$set_dir"
