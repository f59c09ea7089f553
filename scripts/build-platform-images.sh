#!/usr/bin/env bash
# Build the platform's own container images the air-gapped lab runs (no registry is reachable on these
# machines), with podman, as OCI archives for the kubeadm role to import into every node's containerd
# (kubeadm_local_extra_images_dir). Each image is built from pinned, checked sources only:
#
#   localhost/inference-platform/llama-server:<llamacpp_version>
#       llama.cpp's llama-server (CPU, GGML_NATIVE=OFF: any x86-64 host), compiled in a throwaway build stage
#       from the llama.cpp source vendored in llama-cpp-python's sdist (the version and sha256
#       requirements-servers.txt pins; its CHANGELOG must name llamacpp_build_commit). Laid out like
#       upstream's ghcr.io/ggml-org/llama.cpp:server-<build> (llamacpp_image): /app/llama-server, WORKDIR /app,
#       ENTRYPOINT ["/app/llama-server"], LLAMA_ARG_HOST=0.0.0.0, curl present; runs as any non-root UID on a
#       read-only root (USER 65534 by default, where upstream's runs as root).
#   localhost/inference-platform/litellm:<litellm_version>
#       the LiteLLM proxy installed with `pip install --require-hashes` from the project's lock
#       requirements-servers.txt (without llama-cpp-python and what only it needs), laid out like upstream's
#       litellm-non_root image (litellm_image), so the litellm role's Deployment runs it unchanged:
#       ENTRYPOINT ["litellm"], the packaged admin UI (pre-restructured) in /var/lib/litellm/ui and its logos in
#       /var/lib/litellm/assets, python3 on PATH, USER 65534, LITELLM_LOCAL_MODEL_COST_MAP=True.
#       No database: master key only. LiteLLM's database features (virtual keys, teams, budgets) need its
#       Prisma engines, which `prisma generate` downloads at run time from a host that is not reachable here
#       and no package registry carries; this image has none.
#   localhost/inference-platform/{keda,keda-metrics-apiserver,keda-admission-webhooks}:<keda_version>
#       KEDA's operator, metrics API server and admission webhooks, built from the Go module
#       github.com/kedacore/keda/v2 (its own go.mod and replaces), at the paths KEDA's chart runs them
#       (/keda, /keda-adapter, /keda-admission-webhooks).
#   localhost/inference-platform/{prometheus-operator,prometheus-config-reloader}:<monitoring_prometheus_operator_version>
#   localhost/inference-platform/prometheus:<monitoring_prometheus_version>   (no web UI assets: API and rules only)
#   localhost/inference-platform/alertmanager:<monitoring_alertmanager_version>   (no web UI: its npm build is skipped; API)
#   localhost/inference-platform/kube-state-metrics:<monitoring_kube_state_metrics_version>
#   localhost/inference-platform/node-exporter:<monitoring_node_exporter_version>
#       what kube-prometheus-stack runs by default (Grafana aside), each built from its Go module on this machine
#       (the Go caches of scripts/lib/go-build.sh) and laid out as upstream's image: the binary at upstream's path
#       as ENTRYPOINT, USER 65534. These Go images are FROM scratch (static binaries, like upstream's distroless
#       ones) plus the CA bundle and passwd/group entries taken from the Debian base below.
# The llama-server and LiteLLM images are FROM Debian (<kubeadm_image_debian_release>, debootstrap from the mirror
# in this machine's apt sources; no registry image). Every image is labelled io.inference-platform.platform-images
# with its own <name>-<version>.
#
# Output (cached by version under ~/.cache/inference-platform/platform-images/; an image is rebuilt only when
# one of its inputs changes: pins, lock lines, source checksum, its build recipe):
#   ~/.cache/inference-platform/platform-images/set-<hash of every image's reference>/
#       images/<name>.tar   OCI archives (podman save --format oci-archive)
#       images.json         the image reference each archive carries
#       SHA256SUMS          sha256 of every file above (`sha256sum -c SHA256SUMS` checks them)
# and the link build/artifacts/platform-images in the repository (build/ is not committed).
#
# Usage: scripts/build-platform-images.sh [--force] [--print-dir] [--no-link] [--load] [--image NAME]
#   --load        also leave the images in podman's store (the tests run them there)
#   --image NAME  build (or find cached) only that image's archive (llama-server, litellm, keda, ...), without
#                 assembling the set: two images can then build side by side (one lock per image)
# Environment: PLATFORM_IMAGES_CACHE (default ~/.cache/inference-platform/platform-images).
# Needs: podman, debootstrap, python3 with pip (downloads the pinned sdist and wheels through this machine's
# pip configuration), Go (modules through this machine's GOPROXY), root (debootstrap). A run with a complete cache
# returns in seconds. Cold, the Go programs take most of an hour on 2 cores (KEDA alone ~20 min).
set -euo pipefail
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
gb_init build-platform-images

cache_root=${PLATFORM_IMAGES_CACHE:-$gb_cache_home/platform-images}
force=0
print_dir=0
link=1
load=0
only_image=
while [[ $# -gt 0 ]]; do
    case $1 in
        --force) force=1; shift ;;
        --print-dir) print_dir=1; shift ;;
        --no-link) link=0; shift ;;
        --load) load=1; shift ;;
        --image) only_image=${2:-}; shift 2 ;;
        -h|--help) gb_usage "${BASH_SOURCE[0]}"; exit 0 ;;
        *) gb_die "unknown argument: $1 (see --help)" ;;
    esac
done

# --- pins ------------------------------------------------------------------------------------------
pin() { local v; v=$(gb_pin "$1"); [[ -n $v ]] || gb_die "no $1 in group_vars/all/versions.yml"; printf '%s\n' "$v"; }
llamacpp_version=$(pin llamacpp_version)
llamacpp_commit=$(pin llamacpp_build_commit)
litellm_version=$(pin litellm_version)
keda_version=$(pin keda_version)
prometheus_version=$(pin monitoring_prometheus_version)
prometheus_operator_version=$(pin monitoring_prometheus_operator_version)
alertmanager_version=$(pin monitoring_alertmanager_version)
kube_state_metrics_version=$(pin monitoring_kube_state_metrics_version)
node_exporter_version=$(pin monitoring_node_exporter_version)
base_release=$(pin kubeadm_image_debian_release)
[[ $llamacpp_version =~ ^b[0-9]+$ ]] || gb_die "llamacpp_version is not a llama.cpp release build tag (bNNNN): $llamacpp_version"
lock=$repo_root/requirements-servers.txt
# lock_line NAME: NAME's pinned line of the lock (name==version --hash=sha256:...).
lock_line() { grep -iE "^$1==" "$lock" | head -n1; }
llamacpp_python_line=$(lock_line 'llama[-_]cpp[-_]python')
[[ $llamacpp_python_line =~ ==([^[:space:]]+)[[:space:]]+--hash=sha256:([0-9a-f]{64}) ]] ||
    gb_die "no hash-pinned llama-cpp-python line in requirements-servers.txt"
llamacpp_python_version=${BASH_REMATCH[1]}
llamacpp_python_sha256=${BASH_REMATCH[2]}
[[ $(lock_line litellm) == "litellm==$litellm_version "* ]] ||
    gb_die "requirements-servers.txt does not pin litellm==$litellm_version (scripts/lock-requirements.sh)"
# In the lock for llama-cpp-python (its server extra, its build) or the tests only: not in the LiteLLM image.
# (pip --require-hashes refuses the install if LiteLLM needed one of them.)
litellm_left_out=(llama-cpp-python scikit-build-core pathspec diskcache starlette-context gguf pip)

image_repo=localhost/inference-platform
label_key=io.inference-platform.platform-images
image_names=(llama-server litellm keda keda-metrics-apiserver keda-admission-webhooks prometheus-operator
    prometheus-config-reloader prometheus alertmanager kube-state-metrics node-exporter)
declare -A image_ref=(
    [llama-server]=$image_repo/llama-server:$llamacpp_version
    [litellm]=$image_repo/litellm:$litellm_version
    [keda]=$image_repo/keda:$keda_version
    [keda-metrics-apiserver]=$image_repo/keda-metrics-apiserver:$keda_version
    [keda-admission-webhooks]=$image_repo/keda-admission-webhooks:$keda_version
    [prometheus-operator]=$image_repo/prometheus-operator:$prometheus_operator_version
    [prometheus-config-reloader]=$image_repo/prometheus-config-reloader:$prometheus_operator_version
    [prometheus]=$image_repo/prometheus:$prometheus_version
    [alertmanager]=$image_repo/alertmanager:$alertmanager_version
    [kube-state-metrics]=$image_repo/kube-state-metrics:$kube_state_metrics_version
    [node-exporter]=$image_repo/node-exporter:$node_exporter_version
)
# The set is named after the references it holds: a new version of any image is a new set.
set_key=set-$(for n in "${image_names[@]}"; do echo "${image_ref[$n]}"; done | sha256sum | cut -c1-12)
set_dir=$cache_root/$set_key
repo_link=$repo_root/build/artifacts/platform-images
if [[ $print_dir == 1 ]]; then echo "$set_dir"; exit 0; fi
# Each image's cached archive: components/<name>-<version>/<name>.tar with its stamp; <name>-<version> is also the
# value of its label.
comp_key() { echo "$1-${image_ref[$1]##*:}"; }
comp_dir() { echo "$cache_root/components/$(comp_key "$1")"; }
[[ -z $only_image || -n ${image_ref[$only_image]:-} ]] || gb_die "--image: no image named $only_image (${image_names[*]})"

# load_images: the set's images into podman's store (when asked and missing there).
load_images() {
    [[ $load == 1 ]] || return 0
    local n
    for n in "${image_names[@]}"; do
        podman image exists "${image_ref[$n]}" && [[ $(podman image inspect --format \
            "{{index .Labels \"$label_key\"}}" "${image_ref[$n]}") == "$(comp_key "$n")" ]] && continue
        gb_run podman load --quiet -i "$set_dir/images/$n.tar" >/dev/null
    done
}

# Everything an image depends on is in its inputs line; the set is complete when every image's line in its stamp
# records the inputs of this run and every file matches SHA256SUMS.
set_complete() {
    local n
    [[ -f $set_dir/stamp && -f $set_dir/SHA256SUMS ]] || return 1
    for n in "${image_names[@]}"; do
        [[ $(sed -n "s/^$n\\.//p" "$set_dir/stamp") == "inputs=$(inputs_of "$n")" ]] || return 1
    done
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

# --- build recipes (their text is part of each image's inputs) --------------------------------------
runtime_packages=(ca-certificates curl libgomp1)
python_packages=(ca-certificates python3 python3-venv)
builder_packages=(g++ make cmake)

llama_containerfile() {
    cat <<EOF
FROM $image_repo/platform-builder:$base_release AS build
COPY llama.cpp /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF \\
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF \\
        -DLLAMA_BUILD_NUMBER=${llamacpp_version#b} -DLLAMA_BUILD_COMMIT=$llamacpp_commit >/dev/null \\
    && cmake --build /build --target llama-server -j \$(nproc) \\
    && strip /build/bin/llama-server
FROM $image_repo/platform-base:$base_release
COPY --from=build /build/bin/llama-server /app/llama-server
ENV LLAMA_ARG_HOST=0.0.0.0
WORKDIR /app
USER 65534:65534
ENTRYPOINT ["/app/llama-server"]
EOF
}

# The admin UI as upstream's non-root image ships it: every exported page <route>.html moved to
# <route>/index.html (what LiteLLM would do at start on a writable copy) and the ready marker it checks.
ui_restructure_py() {
    cat <<'EOF'
import os
import sys

root = sys.argv[1]
for cur, _dirs, files in os.walk(root):
    if os.path.relpath(cur, root).split(os.sep)[0] in ("_next", "litellm-asset-prefix"):
        continue
    for name in files:
        if name.endswith(".html") and name != "index.html":
            target = os.path.join(cur, name[: -len(".html")])
            os.makedirs(target, exist_ok=True)
            os.replace(os.path.join(cur, name), os.path.join(target, "index.html"))
open(os.path.join(root, ".litellm_ui_ready"), "w").close()
EOF
}

litellm_containerfile() {
    cat <<EOF
FROM $image_repo/platform-python:$base_release AS build
COPY wheels /wheels
COPY restructure-ui.py /restructure-ui.py
RUN python3 -m venv /opt/litellm \\
    && /opt/litellm/bin/python -m pip install --quiet --no-index --find-links /wheels --require-hashes \\
        --no-cache-dir -r /wheels/requirements.txt \\
    && pkg=\$(/opt/litellm/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/litellm/proxy \\
    && mkdir -p /var/lib/litellm/ui /var/lib/litellm/assets \\
    && cp -R "\$pkg/_experimental/out/." /var/lib/litellm/ui/ \\
    && python3 /restructure-ui.py /var/lib/litellm/ui \\
    && cp "\$pkg"/logo*.png /var/lib/litellm/assets/ \\
    && test -f /var/lib/litellm/ui/index.html
FROM $image_repo/platform-python:$base_release
COPY --from=build /opt/litellm /opt/litellm
COPY --from=build /var/lib/litellm /var/lib/litellm
ENV PATH=/opt/litellm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    HOME=/tmp LITELLM_NON_ROOT=true LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False PYTHONUNBUFFERED=1
USER 65534:65534
ENTRYPOINT ["litellm"]
EOF
}

sha_of() { sha256sum | cut -c1-16; }
llama_inputs() {
    printf '%s' "llamacpp=$llamacpp_version commit=$llamacpp_commit sdist=$llamacpp_python_version:${llamacpp_python_sha256:0:16}" \
        " base=$base_release:${runtime_packages[*]}:${builder_packages[*]} recipe=$(llama_containerfile | sha_of)"
}
litellm_filtered_lock() {
    local skip
    skip=$(IFS='|'; echo "${litellm_left_out[*]}" | sed 's/-/[-_]/g')
    grep -E '^[A-Za-z0-9]' "$lock" | grep -viE "^($skip)==" | sort -f
}
litellm_inputs() {
    printf '%s' "litellm=$litellm_version lock=$(litellm_filtered_lock | sha_of)" \
        " base=$base_release:${python_packages[*]} recipe=$({ litellm_containerfile; ui_restructure_py; } | sha_of)"
}

# Go programs (KEDA and the Prometheus stack).
# Per image: the module, its version, the package, where upstream's image keeps the binary (its ENTRYPOINT) and
# the working directory. Prometheus vX.Y.Z is published as the Go module v0.X0Y.Z (v3.14.0 -> v0.314.0).
prometheus_module_version() {
    local v=${1#v} major minor patch
    IFS=. read -r major minor patch <<<"$v"
    printf 'v0.%d%02d.%d\n' "$major" "$minor" "$patch"
}
declare -A go_module=(
    [keda]=github.com/kedacore/keda/v2 [keda-metrics-apiserver]=github.com/kedacore/keda/v2
    [keda-admission-webhooks]=github.com/kedacore/keda/v2
    [prometheus-operator]=github.com/prometheus-operator/prometheus-operator
    [prometheus-config-reloader]=github.com/prometheus-operator/prometheus-operator
    [prometheus]=github.com/prometheus/prometheus [alertmanager]=github.com/prometheus/alertmanager
    [kube-state-metrics]=k8s.io/kube-state-metrics/v2 [node-exporter]=github.com/prometheus/node_exporter
)
declare -A go_version=(
    [keda]=v$keda_version [keda-metrics-apiserver]=v$keda_version [keda-admission-webhooks]=v$keda_version
    [prometheus-operator]=$prometheus_operator_version [prometheus-config-reloader]=$prometheus_operator_version
    [prometheus]=$(prometheus_module_version "$prometheus_version") [alertmanager]=$alertmanager_version
    [kube-state-metrics]=$kube_state_metrics_version [node-exporter]=$node_exporter_version
)
declare -A go_package=(
    [keda]=./cmd/operator [keda-metrics-apiserver]=./cmd/adapter [keda-admission-webhooks]=./cmd/webhooks
    [prometheus-operator]=./cmd/operator [prometheus-config-reloader]=./cmd/prometheus-config-reloader
    [prometheus]=./cmd/prometheus [alertmanager]=./cmd/alertmanager [kube-state-metrics]=. [node-exporter]=.
)
declare -A go_path=(
    [keda]=/keda [keda-metrics-apiserver]=/keda-adapter [keda-admission-webhooks]=/keda-admission-webhooks
    [prometheus-operator]=/bin/operator [prometheus-config-reloader]=/bin/prometheus-config-reloader
    [prometheus]=/bin/prometheus [alertmanager]=/bin/alertmanager [kube-state-metrics]=/kube-state-metrics
    [node-exporter]=/bin/node_exporter
)
declare -A go_workdir=([prometheus]=/prometheus [alertmanager]=/alertmanager)
# Web UI assets a program embeds that its release builds with npm first (not in the module's zip): a page saying so
# stands in for the UI, the API is whole. (Prometheus embeds its UI only with the builtinassets tag, not set here.)
declare -A go_ui_assets=([alertmanager]=ui/app/dist)

# go_ldflags NAME: strip, and the version stamps the program's own build sets (its --version).
go_ldflags() {
    local name=$1 tag=${image_ref[$1]##*:} p=github.com/prometheus/common/version
    case ${go_module[$name]} in
        github.com/kedacore/keda/v2)
            echo "-s -w -X github.com/kedacore/keda/v2/version.Version=$tag -X github.com/kedacore/keda/v2/version.GitCommit=go-module" ;;
        *)
            echo "-s -w -X $p.Version=${tag#v} -X $p.Revision=go-module-${go_version[$name]} -X $p.Branch=HEAD -X $p.BuildUser=inference-platform" ;;
    esac
}

go_containerfile() {
    local name=$1
    cat <<EOF
FROM scratch
COPY rootfs/ /
COPY $name ${go_path[$name]}
WORKDIR ${go_workdir[$name]:-/}
USER 65534:65534
ENTRYPOINT ["${go_path[$name]}"]
EOF
}
# The scratch image's files besides the binary: users root and nobody, and /tmp.
go_passwd() { printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'; }
go_group() { printf 'root:x:0:\nnogroup:x:65534:\n'; }

# The Go toolchain as scripts/lib/go-build.sh finds it (GO, else go on PATH, else /usr/local/go/bin/go).
go_toolchain=$("${GO:-$(command -v go || echo /usr/local/go/bin/go)}" env GOVERSION 2>/dev/null || echo none)
go_inputs() {
    printf '%s' "module=${go_module[$1]}@${go_version[$1]} package=${go_package[$1]} go=$go_toolchain" \
        " ldflags=$(go_ldflags "$1" | sha_of) ui=${go_ui_assets[$1]:-embedded} base=$base_release:${runtime_packages[*]}" \
        " recipe=$({ go_containerfile "$1"; go_passwd; go_group; } | sha_of)"
}
inputs_of() {
    case $1 in
        llama-server) llama_inputs ;;
        litellm) litellm_inputs ;;
        *) go_inputs "$1" ;;
    esac
}

if [[ -z $only_image && $force == 0 ]] && set_complete; then
    gb_log "cached: $set_dir ($(sed -n 's/^built_at=//p' "$set_dir/stamp"))"
    publish_link
    load_images
    echo "$set_dir"
    exit 0
fi

command -v podman >/dev/null || gb_die "podman is needed to build the images"
gb_nice=(nice -n 19)
if command -v ionice >/dev/null 2>&1 && ionice -c3 true 2>/dev/null; then gb_nice+=(ionice -c3); fi
mkdir -p "$cache_root/components"
if [[ -z $only_image ]] && ! gb_lock "$cache_root/.build.lock" set_complete && [[ $force == 0 ]]; then
    publish_link
    load_images
    echo "$set_dir"
    exit 0
fi
t_start=$(date +%s)
timings=()
work=$(mktemp -d "$cache_root/.assemble.XXXXXX")
temp_refs=()
cleanup() {
    local ref
    for ref in "${temp_refs[@]}"; do podman rmi --force "$ref" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# The Debian archive this machine's apt uses for base_release (as roles/lab reads it): no mirror is
# written in the repository.
debian_mirror() {
    local uri
    uri=$(apt-get indextargets --no-release-info --format '$(SITE) $(RELEASE) $(COMPONENT) $(IDENTIFIER)' 2>/dev/null |
        awk -v rel="$base_release" '$2 == rel && $3 == "main" && $4 == "Packages" { print $1; exit }')
    [[ -n $uri ]] || gb_die "no Debian archive for $base_release (main) in this machine's apt sources (apt-get indextargets)"
    echo "$uri"
}

# rootfs NAME PACKAGE...: components/rootfs-NAME/rootfs.tar, a debootstrapped Debian with PACKAGEs (cached).
rootfs() {
    local name=$1 dir=$cache_root/components/rootfs-$1 t0 mirror sums
    shift
    local inputs="$base_release $*"
    if [[ -f $dir/stamp ]] && grep -qxF "inputs=$inputs" "$dir/stamp" && gb_stamp_ok "$dir/stamp" "$dir" rootfs.tar; then
        gb_log "cached: rootfs $name ($inputs)"
        return 0
    fi
    command -v debootstrap >/dev/null || gb_die "debootstrap is needed for the image bases (scripts/setup.sh installs it)"
    t0=$(date +%s)
    mirror=$(debian_mirror)
    rm -rf "$dir" && mkdir -p "$dir"
    gb_run debootstrap --variant=minbase --include="$(IFS=,; echo "$*")" "$base_release" "$dir/rootfs" "$mirror" \
        >"$dir/debootstrap.log" 2>&1 || { tail -n 20 "$dir/debootstrap.log" >&2; gb_die "debootstrap failed"; }
    rm -rf "$dir"/rootfs/var/lib/apt/lists/* "$dir"/rootfs/var/cache/apt/* "$dir"/rootfs/usr/share/doc/* \
        "$dir"/rootfs/usr/share/man/* "$dir"/rootfs/usr/share/locale/*
    tar --numeric-owner -C "$dir/rootfs" -cf "$dir/rootfs.tar" .
    rm -rf "$dir/rootfs" "$dir/debootstrap.log"
    sums=$(gb_stamp_sums "$dir")
    { echo "inputs=$inputs"; echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "$sums"; } >"$dir/stamp"
    timings+=("rootfs-$name=$(($(date +%s) - t0))s")
}

# base_image NAME: import components/rootfs-NAME as $image_repo/platform-NAME:<release> for this run's builds.
base_image() {
    local ref=$image_repo/platform-$1:$base_release
    gb_run podman import --quiet --change "LABEL $label_key=platform-$1-$base_release" \
        "$cache_root/components/rootfs-$1/rootfs.tar" "$ref" >/dev/null
    temp_refs+=("$ref")
}

# image NAME CONTEXT INPUTS: build ${image_ref[NAME]} from CONTEXT/Containerfile into $(comp_dir NAME)/NAME.tar.
image() {
    local name=$1 ctx=$2 dir t0 inputs=$3 sums
    dir=$(comp_dir "$name")
    t0=$(date +%s)
    rm -rf "$dir" && mkdir -p "$dir"
    gb_run podman build --quiet --pull=never --layers=false --label "$label_key=$(comp_key "$name")" \
        --label "org.opencontainers.image.version=${image_ref[$name]##*:}" \
        -t "${image_ref[$name]}" -f "$ctx/Containerfile" "$ctx" >/dev/null ||
        gb_die "podman build of ${image_ref[$name]} failed (above). Its RUN steps need a working container runtime:" \
            "on these machines the lab's podman settings (playbooks/lab.yml -e lab_state=image writes them)"
    [[ $load == 1 ]] || temp_refs+=("${image_ref[$name]}")
    gb_run podman save --quiet --format oci-archive -o "$dir/$name.tar" "${image_ref[$name]}"
    sums=$(gb_stamp_sums "$dir")
    { echo "inputs=$inputs"; echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "seconds=$(($(date +%s) - t0))"
      echo "$sums"; } >"$dir/stamp"
    timings+=("$name=$(($(date +%s) - t0))s")
    gb_log "built ${image_ref[$name]} in $(($(date +%s) - t0)) s"
}

# image_cached NAME INPUTS: its archive is there, matching its stamp, built from INPUTS.
image_cached() {
    local dir
    dir=$(comp_dir "$1")
    [[ $force == 0 && -f $dir/stamp ]] && grep -qxF "inputs=$2" "$dir/stamp" && gb_stamp_ok "$dir/stamp" "$dir" "$1.tar"
}

# --- llama-server ----------------------------------------------------------------------------------
# want NAME INPUTS: NAME is to be built by this run (asked for, not cached). Holds NAME's lock (fd 8) while it
# builds, so a run with --image NAME beside this one builds it once.
want() {
    [[ -z $only_image || $only_image == "$1" ]] || return 1
    exec 8>"$cache_root/.build-$1.lock"
    flock 8
    if image_cached "$1" "$2"; then gb_log "cached: ${image_ref[$1]}"; exec 8>&-; return 1; fi
    return 0
}
done_image() { exec 8>&-; [[ -z $only_image ]] || { comp_dir "$only_image"; exit 0; }; }

llama_in=$(llama_inputs)
if want llama-server "$llama_in"; then
    rootfs base "${runtime_packages[@]}"
    rootfs builder "${builder_packages[@]}"
    sdist_dir=$work/sdist
    mkdir -p "$sdist_dir"
    gb_run python3 -m pip download --quiet --no-binary :all: --no-deps -d "$sdist_dir" \
        "llama-cpp-python==$llamacpp_python_version"
    sdist=$(find "$sdist_dir" -name 'llama_cpp_python-*.tar.gz' -print -quit)
    [[ -n $sdist && $(gb_sha256 "$sdist") == "$llamacpp_python_sha256" ]] ||
        gb_die "llama-cpp-python $llamacpp_python_version's sdist does not match requirements-servers.txt's sha256"
    ctx=$work/ctx-llama-server
    mkdir -p "$ctx"
    tar -xzf "$sdist" -C "$work"
    src_root=$work/llama_cpp_python-$llamacpp_python_version
    # The vendored llama.cpp must be the pinned build: llama-cpp-python's CHANGELOG names it per release.
    awk -v v="[$llamacpp_python_version]" 'index($0, "## " v) == 1 { on = 1; next } on && /^## / { exit } on' \
        "$src_root/CHANGELOG.md" | grep -q "llama.cpp@$llamacpp_commit" ||
        gb_die "llama-cpp-python $llamacpp_python_version's CHANGELOG does not name llama.cpp@$llamacpp_commit (llamacpp_build_commit)"
    mv "$src_root/vendor/llama.cpp" "$ctx/llama.cpp"
    rm -rf "$src_root" "$ctx/llama.cpp/models"/*.gguf
    llama_containerfile >"$ctx/Containerfile"
    base_image base
    base_image builder
    image llama-server "$ctx" "$llama_in"
    done_image
fi

# --- litellm ---------------------------------------------------------------------------------------
litellm_in=$(litellm_inputs)
if want litellm "$litellm_in"; then
    rootfs python "${python_packages[@]}"
    ctx=$work/ctx-litellm
    mkdir -p "$ctx/wheels"
    litellm_filtered_lock >"$ctx/wheels/requirements.txt"
    # Wheels only (the image has no compiler), each checked against its lock hash by pip. The lock holds one
    # wheel per package, the one pip picks for CPython 3.11 on Debian 12 x86_64: this machine, and the image.
    [[ $(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') == 3.11 ]] ||
        gb_die "python3 must be 3.11 (the lock's and the image's Python) to download the locked wheels"
    gb_run python3 -m pip download --quiet --only-binary :all: --no-deps --require-hashes \
        -d "$ctx/wheels" -r "$ctx/wheels/requirements.txt"
    litellm_containerfile >"$ctx/Containerfile"
    ui_restructure_py >"$ctx/restructure-ui.py"
    base_image python
    image litellm "$ctx" "$litellm_in"
    done_image
fi
# --- Go programs: KEDA and the Prometheus stack (their tables and recipes are above) ----------------
# go_source MODULE VERSION: a writable copy of the module's source in $work (once per run) to build in as the main
# module, so its own replace directives hold. A replace to a directory of the repository (a nested module, which the
# module's zip leaves out) is filled with that nested module at the same version (its tag of the same release).
# Prints the directory.
declare -A go_src_done=()
go_source() {
    local module=$1 version=$2 dir src target nested
    dir=$work/src-$(echo "$module@$version" | tr '/@' '__')
    if [[ -z ${go_src_done[$dir]:-} ]]; then
        src=$(gb_module_dir "$module@$version")
        rm -rf "$dir" && cp -R "$src" "$dir" && chmod -R u+w "$dir"
        while read -r nested target; do
            [[ -n $nested ]] || continue
            [[ $nested == "$module"/* && $target == ./* ]] ||
                gb_die "$module@$version replaces $nested with $target: not a nested module of its own; not built"
            # The nested module's tag of the same release: the repository's tree that upstream's build compiled.
            src=$(gb_module_dir "$nested@$version")
            rm -rf "${dir:?}/$target" && mkdir -p "$(dirname "$dir/$target")" && cp -R "$src" "$dir/$target"
            chmod -R u+w "$dir/$target"
        done < <(sed -n 's#^[[:space:]]*\(replace[[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\)[[:space:]]*=>[[:space:]]*\(\./[^[:space:]]*\)[[:space:]]*$#\2 \3#p' \
            "$dir/go.mod")
        go_src_done[$dir]=1
    fi
    printf '%s\n' "$dir"
}

for name in "${image_names[@]}"; do
    [[ -n ${go_module[$name]:-} ]] || continue
    name_in=$(go_inputs "$name")
    want "$name" "$name_in" || continue
    [[ -n ${go_bin:-} ]] || gb_go_env
    rootfs base "${runtime_packages[@]}"
    ctx=$work/ctx-$name
    mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp"
    chmod 1777 "$ctx/rootfs/tmp"
    tar -xf "$cache_root/components/rootfs-base/rootfs.tar" -C "$ctx/rootfs" ./etc/ssl/certs/ca-certificates.crt
    go_passwd >"$ctx/rootfs/etc/passwd"
    go_group >"$ctx/rootfs/etc/group"
    src=$(go_source "${go_module[$name]}" "${go_version[$name]}")
    if [[ -n ${go_ui_assets[$name]:-} && ! -e $src/${go_ui_assets[$name]} ]]; then
        mkdir -p "$src/${go_ui_assets[$name]}"
        printf '<!doctype html><title>%s</title><p>%s</p>\n' "$name" \
            "The web UI is not built into this image (scripts/build-platform-images.sh); the API is served." \
            >"$src/${go_ui_assets[$name]}/index.html"
    fi
    t0=$(date +%s)
    (cd "$src" && gb_run "$go_bin" build -trimpath -ldflags "$(go_ldflags "$name")" -o "$ctx/$name" "${go_package[$name]}") ||
        gb_die "go build of ${go_module[$name]}@${go_version[$name]} ${go_package[$name]} failed (above)"
    gb_log "built ${go_module[$name]}@${go_version[$name]} ${go_package[$name]} in $(($(date +%s) - t0)) s"
    go_containerfile "$name" >"$ctx/Containerfile"
    image "$name" "$ctx" "$name_in"
    done_image
done

[[ -z $only_image ]] || { comp_dir "$only_image"; exit 0; }

# --- assemble --------------------------------------------------------------------------------------
mkdir -p "$work/set/images"
for n in "${image_names[@]}"; do
    ln "$(comp_dir "$n")/$n.tar" "$work/set/images/$n.tar" 2>/dev/null || cp "$(comp_dir "$n")/$n.tar" "$work/set/images/$n.tar"
done
{
    printf '{\n  "built_by": "scripts/build-platform-images.sh",\n  "built_at": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '  "images": {\n'
    for i in "${!image_names[@]}"; do
        n=${image_names[$i]}
        printf '    "images/%s.tar": "%s"%s\n' "$n" "${image_ref[$n]}" "$( ((i < ${#image_names[@]} - 1)) && echo ,)"
    done
    printf '  }\n}\n'
} >"$work/set/images.json"
(cd "$work/set" && find images images.json -type f -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
t_end=$(date +%s)
{
    for n in "${image_names[@]}"; do echo "$n.inputs=$(inputs_of "$n")"; done
    echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds_total=$((t_end - t_start))"
    ((${#timings[@]} == 0)) || printf 'seconds.%s\n' "${timings[@]}"
} >"$work/set/stamp"
rm -rf "$set_dir.old"
[[ -e $set_dir ]] && mv "$set_dir" "$set_dir.old"
mv "$work/set" "$set_dir"
rm -rf "$set_dir.old"
publish_link
load_images
gb_log "assembled in $((t_end - t_start)) s${timings[*]:+ (built: ${timings[*]})}: $set_dir ($(du -sh "$set_dir" | cut -f1))"
echo "$set_dir"
