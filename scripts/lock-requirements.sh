#!/usr/bin/env bash
# Generate the three hash-pinned Python locks from their inputs, with pip's own resolver
# (`pip install --dry-run --report`), in a throwaway venv with the same Python the project uses:
#
#   requirements.in         -> requirements.txt          project venv (.venv), this machine's platform
#   requirements-servers.in -> requirements-servers.txt  servers venv (.venv-servers), this machine's
#                              platform, plus litellm[proxy]==<litellm_version> from
#                              group_vars/all/versions.yml (the version the deployment runs)
#   requirements-ee.in      -> requirements-ee.txt       execution environment: UBI 9 x86_64 (glibc
#                              2.34), CPython 3.11, wheels only, at requirements.txt's versions
#
# Every lock line is `name==version --hash=sha256:<digest of the file pip chose>`, so
# `pip install --require-hashes` refuses any other file. The venv locks also pin pip itself, and the
# build requirements of every source distribution they hold (setup.sh passes the lock as
# --build-constraint, which makes pip check those hashes too).
# A lock keeps the versions it already pins unless its input asks for another one;
# `--upgrade` resolves every lock afresh, `--upgrade servers` (or project, ee) only the ones named. pip's own configuration decides which index is used; none is named here.
# Run it after changing an input or litellm_version; commit the inputs and the locks together.
set -euo pipefail
cd "$(dirname "$0")/.."

upgrade=""
if [[ ${1:-} == --upgrade ]]; then
  shift
  upgrade="${*:-project servers ee}"
fi
for name in $upgrade; do
  [[ $name == project || $name == servers || $name == ee ]] || { echo "usage: $0 [--upgrade [project] [servers] [ee]]" >&2; exit 2; }
done

python="${INFERENCE_PLATFORM_PYTHON:-python3.11}"
# The pip that resolves (and that setup.sh installs into both venvs first), checked by its hash.
pip_version=26.3
pip_sha256=f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
echo "pip==$pip_version --hash=sha256:$pip_sha256" > "$scratch/pip.txt"
"$scratch/venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$scratch/pip.txt"

SCRATCH="$scratch" "$scratch/venv/bin/python" - "$upgrade" "$pip_version" "$pip_sha256" <<'PY'
"""Resolve each input with pip and write its hash-pinned lock (see the shell comment above)."""

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

UPGRADE = set(sys.argv[1].split())
PIP_VERSION, PIP_SHA256 = sys.argv[2], sys.argv[3]
SCRATCH = Path(os.environ["SCRATCH"])
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
VERSIONS = Path("group_vars/all/versions.yml")
# UBI 9 ships glibc 2.34: every manylinux tag up to 2.34, newest first (pip does not expand them itself).
EE_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(34, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
EE_TARGET = ["--only-binary", ":all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
EE_TARGET += [arg for platform in EE_PLATFORMS for arg in ("--platform", platform)]


def fail(message):
    sys.exit(f"lock-requirements: {message}")


def canon(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path):
    """{canonical name: version} of the `name==version` lines of a requirements file (missing: {})."""
    found = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
            if match:
                found[canon(match.group(1))] = match.group(3)
    return found


def litellm_version():
    match = re.search(r"""^litellm_version:\s*["']?([^"'\s#]+)["']?\s*(#.*)?$""", VERSIONS.read_text(), re.M)
    if not match:
        fail(f"no litellm_version in {VERSIONS}")
    return match.group(1)


def resolve(name, inputs, constraints, target=()):
    """What pip would install for `inputs` under `constraints`: [(name, version, sha256, filename)]."""
    work = SCRATCH / name
    work.mkdir(exist_ok=True)
    constraint_file = work / "constraints.txt"
    constraint_file.write_text("".join(f"{n}=={v}\n" for n, v in sorted(constraints.items())))
    report = work / "report.json"
    command = [*PIP, "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report)]
    command += [*inputs, "-c", str(constraint_file), *target]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        fail(
            f"{name}: pip could not resolve it{' under the versions the lock already pins' if constraints else ''}"
            f" (rerun with --upgrade to resolve afresh):\n{result.stderr[-3000:]}"
        )
    items = []
    for item in json.loads(report.read_text())["install"]:
        info = item["download_info"]
        sha256 = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        if not sha256:
            fail(f"{name}: {info['url']} came without a sha256 from the index; a lock needs one for every file")
        filename = info["url"].rsplit("/", 1)[-1]
        items.append((item["metadata"]["name"], item["metadata"]["version"], sha256, filename))
    return items


def build_requirements(name, item):
    """[build-system] requires of a source distribution (the lock records its hash, so check it too)."""
    dist, version, sha256, filename = item
    work = SCRATCH / name / "sdists"
    subprocess.run(
        [*PIP, "download", "--quiet", "--no-deps", "--no-binary", dist, f"{dist}=={version}", "-d", str(work)],
        check=True,
    )
    path = work / filename
    digest = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]
    if digest != sha256:
        fail(f"{name}: {filename} downloaded with sha256 {digest}, the index said {sha256}")
    if filename.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            member = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/pyproject.toml"))
            pyproject = tomllib.loads(archive.read(member).decode())
    else:
        with tarfile.open(path) as archive:
            member = next(m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml"))
            pyproject = tomllib.loads(archive.extractfile(member).read().decode())
    # PEP 517's fallback when a source tree does not declare its build system
    return pyproject.get("build-system", {}).get("requires", ["setuptools>=40.8.0"])


def kept(name, lock, source):
    """The versions `lock` already pins, minus what `source` pins itself (the input decides those)."""
    if name in UPGRADE:
        return {}
    return {n: v for n, v in pins(lock).items() if n not in pins(source) and n != "pip"}


def write(lock, header, items):
    seen = {}
    for dist, version, sha256, _ in items:
        if canon(dist) in seen and seen[canon(dist)][0] != version:
            fail(f"{lock}: {dist} resolved twice ({seen[canon(dist)][0]} and {version})")
        seen[canon(dist)] = (version, f"{dist}=={version} --hash=sha256:{sha256}\n")
    body = "".join(line for _, (_, line) in sorted(seen.items()))
    lock.write_text("".join(f"# {line}\n" if line else "#\n" for line in header) + body)
    print(f"{lock}: {len(seen)} packages, each with its sha256")


def check_pip(name, items):
    for dist, version, sha256, _ in items:
        if canon(dist) == "pip" and (version, sha256) != (PIP_VERSION, PIP_SHA256):
            fail(f"{name}: pip resolved to {version} ({sha256}), not the pinned {PIP_VERSION} ({PIP_SHA256})")


HOST = "For CPython 3.11, linux x86_64 (this project's machines, Debian 12). scripts/setup.sh installs it:"
INSTALL = "  pip install --require-hashes -r {lock} --build-constraint {lock}"

# --- project venv ---------------------------------------------------------------------------------
project = Path("requirements.txt")
items = resolve("project", ["-r", "requirements.in", f"pip=={PIP_VERSION}"], kept("project", project, Path("requirements.in")))
check_pip("project", items)
write(
    project,
    [
        "Complete hash-pinned Python set of the project venv (.venv): the controller and the tests.",
        f"Generated by scripts/lock-requirements.sh from requirements.in with pip {PIP_VERSION}; do not edit.",
        HOST,
        INSTALL.format(lock=project),
    ],
    items,
)

# --- servers venv ---------------------------------------------------------------------------------
servers = Path("requirements-servers.txt")
gateway = f"litellm[proxy]=={litellm_version()}"
inputs = ["-r", "requirements-servers.in", gateway, f"pip=={PIP_VERSION}"]
constraints = {n: v for n, v in kept("servers", servers, Path("requirements-servers.in")).items() if n != "litellm"}
build = {}
while True:
    items = resolve("servers", [*inputs, *sorted({r for reqs in build.values() for r in reqs})], constraints)
    sdists = {canon(i[0]): i for i in items if not i[3].endswith(".whl")}
    if set(sdists) <= set(build):
        break
    for name in sorted(set(sdists) - set(build)):
        build[name] = build_requirements("servers", sdists[name])
check_pip("servers", items)
built = ", ".join(f"{sdists[n][0]}: {' '.join(reqs)}" for n, reqs in sorted(build.items())) or "none"
write(
    servers,
    [
        "Complete hash-pinned Python set of the servers venv (.venv-servers): the real servers the",
        "integration tests start (tests/integration/README.md).",
        f"Generated by scripts/lock-requirements.sh from requirements-servers.in and {gateway}",
        f"(litellm_version in group_vars/all/versions.yml) with pip {PIP_VERSION}; do not edit.",
        HOST,
        INSTALL.format(lock=servers),
        "Source distributions are built by pip; their build requirements are locked here too:",
        f"  {built}",
    ],
    items,
)

# --- execution environment -----------------------------------------------------------------------
ee = Path("requirements-ee.txt")
constraints = {**kept("ee", ee, Path("requirements-ee.in")), **{n: v for n, v in pins(project).items() if n != "pip"}}
constraints = {n: v for n, v in constraints.items() if n not in pins(Path("requirements-ee.in"))}
items = resolve("ee", ["-r", "requirements-ee.in"], constraints, EE_TARGET)
write(
    ee,
    [
        "Complete hash-pinned Python set of the AWX execution environment (execution-environment.yml",
        "installs it in the image's base stage with pip install --require-hashes).",
        f"Generated by scripts/lock-requirements.sh from requirements-ee.in with pip {PIP_VERSION}, at the versions",
        "requirements.txt pins for the packages both hold; do not edit.",
        "For the EE: UBI 9 x86_64 (glibc 2.34), CPython 3.11, manylinux wheels only.",
    ],
    items,
)
PY
