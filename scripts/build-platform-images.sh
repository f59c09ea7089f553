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
# Both are FROM Debian (<kubeadm_image_debian_release>, debootstrap from the mirror in this machine's apt
# sources; no registry image), labelled io.inference-platform.platform-images=<set key>.
#
# Output (cached by version under ~/.cache/inference-platform/platform-images/; an image is rebuilt only when
# one of its inputs changes: pins, lock lines, source checksum, its build recipe):
#   ~/.cache/inference-platform/platform-images/<llamacpp_version>-litellm-<litellm_version>/
#       images/<name>.tar   OCI archives (podman save --format oci-archive)
#       images.json         the image reference each archive carries
#       SHA256SUMS          sha256 of every file above (`sha256sum -c SHA256SUMS` checks them)
# and the link build/artifacts/platform-images in the repository (build/ is not committed).
#
# Usage: scripts/build-platform-images.sh [--force] [--print-dir] [--no-link] [--load] [--image NAME]
#   --load        also leave the images in podman's store (the tests run them there)
#   --image NAME  build (or find cached) only that image's archive (llama-server or litellm), without assembling
#                 the set: two images can then build side by side (one lock per image)
# Environment: PLATFORM_IMAGES_CACHE (default ~/.cache/inference-platform/platform-images).
# Needs: podman, debootstrap, python3 with pip (downloads the pinned sdist and wheels through this machine's
# pip configuration), root (debootstrap). A run with a complete cache returns in seconds.
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

set_key=$llamacpp_version-litellm-$litellm_version
set_dir=$cache_root/$set_key
repo_link=$repo_root/build/artifacts/platform-images
if [[ $print_dir == 1 ]]; then echo "$set_dir"; exit 0; fi
image_repo=localhost/inference-platform
label_key=io.inference-platform.platform-images
image_names=(llama-server litellm)
declare -A image_ref=(
    [llama-server]=$image_repo/llama-server:$llamacpp_version
    [litellm]=$image_repo/litellm:$litellm_version
)
# Each image's cached archive: components/<name>-<version>/<name>.tar with its stamp.
comp_dir() { echo "$cache_root/components/$1-${image_ref[$1]##*:}"; }
[[ -z $only_image || -n ${image_ref[$only_image]:-} ]] || gb_die "--image: no image named $only_image (${image_names[*]})"

# load_images: the set's images into podman's store (when asked and missing there).
load_images() {
    [[ $load == 1 ]] || return 0
    local n
    for n in "${image_names[@]}"; do
        podman image exists "${image_ref[$n]}" && [[ $(podman image inspect --format \
            "{{index .Labels \"$label_key\"}}" "${image_ref[$n]}") == "$set_key" ]] && continue
        gb_run podman load --quiet -i "$set_dir/images/$n.tar" >/dev/null
    done
}

# Everything an image depends on is in its inputs line; the set is complete when both images' stamps
# record the inputs of this run and every file matches SHA256SUMS.
set_complete() {
    [[ -f $set_dir/stamp && -f $set_dir/SHA256SUMS ]] || return 1
    [[ $(sed -n 's/^llama-server\.//p' "$set_dir/stamp") == "inputs=$(llama_inputs)" ]] || return 1
    [[ $(sed -n 's/^litellm\.//p' "$set_dir/stamp") == "inputs=$(litellm_inputs)" ]] || return 1
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
    gb_run podman import --quiet --change "LABEL $label_key=$set_key" \
        "$cache_root/components/rootfs-$1/rootfs.tar" "$ref" >/dev/null
    temp_refs+=("$ref")
}

# image NAME CONTEXT INPUTS: build ${image_ref[NAME]} from CONTEXT/Containerfile into $(comp_dir NAME)/NAME.tar.
image() {
    local name=$1 ctx=$2 dir t0 inputs=$3 sums
    dir=$(comp_dir "$name")
    t0=$(date +%s)
    rm -rf "$dir" && mkdir -p "$dir"
    gb_run podman build --quiet --pull=never --layers=false --label "$label_key=$set_key" \
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
[[ -z $only_image ]] || { comp_dir "$only_image"; exit 0; }

# --- assemble --------------------------------------------------------------------------------------
mkdir -p "$work/set/images"
for n in "${image_names[@]}"; do
    ln "$(comp_dir "$n")/$n.tar" "$work/set/images/$n.tar" 2>/dev/null || cp "$(comp_dir "$n")/$n.tar" "$work/set/images/$n.tar"
done
{
    printf '{\n  "built_by": "scripts/build-platform-images.sh",\n  "built_at": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '  "versions": {"llamacpp": "%s", "litellm": "%s"},\n  "images": {\n' "$llamacpp_version" "$litellm_version"
    for i in "${!image_names[@]}"; do
        n=${image_names[$i]}
        printf '    "images/%s.tar": "%s"%s\n' "$n" "${image_ref[$n]}" "$( ((i < ${#image_names[@]} - 1)) && echo ,)"
    done
    printf '  }\n}\n'
} >"$work/set/images.json"
(cd "$work/set" && find images images.json -type f -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
t_end=$(date +%s)
{
    echo "llama-server.inputs=$llama_in"
    echo "litellm.inputs=$litellm_in"
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
