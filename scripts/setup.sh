#!/usr/bin/env bash
# Prepare this machine to run the project: Debian packages, the project venv (.venv) with the
# pinned Python set, ansible-test's offline pip bootstrap, and a check that the collections
# Ansible resolves match requirements.yml. Safe to run again: each step checks before it acts.
# Used by `make lab`, `make test` and .ci/run; nothing here needs to be done by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
# podman + runc run the lab hosts and Molecule platforms; debootstrap builds their image;
# make runs the entry points; cmake and a C/C++ compiler build llama.cpp for the real-server
# tests; prometheus ships promtool, which tests the alert rules; libseccomp-dev and pkg-config let
# scripts/build-node-artifacts.sh link runc statically with seccomp.
debian_packages=(podman runc debootstrap make git cmake gcc g++ prometheus libseccomp-dev pkg-config)
missing=()
for package in "${debian_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${missing[*]}"
    say "install them as root:  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Project venv ------------------------------------------------------------------------------
python="${INFERENCE_PLATFORM_PYTHON:-python3.11}"
if ! command -v "$python" >/dev/null; then
  say "$python not found: the project needs Python 3.11 (set INFERENCE_PLATFORM_PYTHON to its path)"
  exit 1
fi
# A venv is created from its hash-pinned lock (scripts/lock-requirements.sh): first the pip the lock
# pins, then every package, each file checked against its sha256 (--require-hashes refuses any other).
# The lock is also the build constraint: a source distribution pip builds gets only the locked,
# hash-checked build requirements. A venv is re-created when its lock changes (sha256 stamp).
create_venv() {  # create_venv VENV LOCK
  local venv=$1 lock=$2 pip_lock
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip_lock="$venv/.pip-lock.txt"
  if ! grep -E '^pip==' "$lock" > "$pip_lock"; then
    say "$lock pins no pip: regenerate it with scripts/lock-requirements.sh"
    exit 1
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$pip_lock"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$lock" --build-constraint "$lock"
}
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
  say "creating .venv from requirements.txt"
  create_venv .venv requirements.txt
  echo "$wanted" > "$stamp"
fi

# --- Venv of the real servers the integration tests start -----------------------------------------
# llama-cpp-python (pip builds llama.cpp from source: minutes on a cold machine, then pip's wheel
# cache makes it instant) and LiteLLM run from their own venv, as they would from their own images:
# LiteLLM pins openai 2.x while the collection's modules use openai 3.x from requirements.txt. The
# LiteLLM version is litellm_version in group_vars/all/versions.yml, the one the deployment runs.
servers_stamp=.venv-servers/.requirements.sha256
servers_wanted=$(sha256sum requirements-servers.txt | cut -d' ' -f1)
if [[ ! -x .venv-servers/bin/python || ! -f $servers_stamp || $(cat "$servers_stamp") != "$servers_wanted" ]]; then
  say "creating .venv-servers from requirements-servers.txt (builds llama.cpp when pip has no cached wheel)"
  create_venv .venv-servers requirements-servers.txt
  echo "$servers_wanted" > "$servers_stamp"
fi

# --- ansible-test offline pip bootstrap ---------------------------------------------------------
# ansible-test downloads a get-pip script into its cache; this machine cannot reach that host, so
# the project's own equivalent goes into the cache under the name ansible-test looks for.
pip_version=$(.venv/bin/python - <<'PY'
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
PY
)
cache_file="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! cmp -s scripts/ansible_test_pip_bootstrap.py "$cache_file" 2>/dev/null; then
  mkdir -p "$(dirname "$cache_file")"
  cp scripts/ansible_test_pip_bootstrap.py "$cache_file"
  say "installed the offline pip bootstrap for ansible-test at $cache_file"
fi

# --- Collections ---------------------------------------------------------------------------------
if [[ ${INFERENCE_PLATFORM_COLLECTIONS:-bundled} == galaxy ]]; then
  .venv/bin/ansible-galaxy collection install -r requirements.yml -p "$HOME/.ansible/collections"
fi
.venv/bin/python scripts/check-collections.py
say "ready (.venv: $(.venv/bin/ansible --version | sed -n 1p))"
