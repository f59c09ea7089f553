"""execution-environment.yml: its pins agree with the project's one place for each, every Python package
comes from the hash-pinned requirements-ee.txt, and `ansible-builder create` writes the build context
offline. Building the image needs a container engine that reaches the base image's registry, Galaxy,
PyPI and get.helm.sh, which this machine does not (awx/README.md)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from awx_support import ROOT, VENV_BIN

EE_FILE = ROOT / "execution-environment.yml"
VERSIONS = ROOT / "group_vars" / "all" / "versions.yml"
COLLECTION_PLUGINS = ROOT / "collections" / "ansible_collections" / "inference" / "platform" / "plugins"
# Import name -> PyPI name, where they differ.
DISTRIBUTIONS = {"yaml": "PyYAML"}


def ee() -> dict:
    return yaml.safe_load(EE_FILE.read_text(encoding="utf-8"))


def _pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of a lock's `name==version ...` lines."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, rest = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower()] = rest.split()[0]
    return pins


def locked() -> dict[str, str]:
    return _pins(ROOT / "requirements.txt")


def ee_lock() -> Path:
    """The lock execution-environment.yml copies into the build context (additional_build_files)."""
    files = [entry["src"] for entry in ee().get("additional_build_files", [])]
    assert files == ["requirements-ee.txt"], (
        f"execution-environment.yml must add exactly requirements-ee.txt, not {files}"
    )
    return ROOT / files[0]


def ee_pins() -> dict[str, str]:
    return _pins(ee_lock())


def _pip_installs(containerfile: str) -> list[str]:
    """Every RUN line of a Containerfile that runs pip install."""
    return [line for line in containerfile.splitlines() if line.startswith("RUN ") and "pip install" in line]


def test_base_image_is_the_one_pinned_in_versions_yml():
    pinned = yaml.safe_load(VERSIONS.read_text(encoding="utf-8"))["ee_base_image"]
    assert ee()["images"]["base_image"]["name"] == pinned, (
        f"execution-environment.yml base image differs from ee_base_image in group_vars/all/versions.yml ({pinned})"
    )
    assert not pinned.endswith(":latest") and ":" in pinned


def test_helm_version_is_the_one_pinned_in_versions_yml():
    pinned = yaml.safe_load(VERSIONS.read_text(encoding="utf-8"))["helm_version"]
    steps = "\n".join(ee()["additional_build_steps"]["append_final"])
    assert f"ARG HELM_VERSION={pinned}\n" in steps + "\n", f"HELM_VERSION in execution-environment.yml is not {pinned}"
    assert "sha256sum -c" in steps, "the Helm download must be checked against HELM_SHA256"


def test_python_comes_only_from_the_hash_pinned_lock():
    """ansible-builder installs its own ansible_core/ansible_runner/python entries without hashes."""
    deps = ee()["dependencies"]
    for key in ("python", "ansible_core", "ansible_runner"):
        assert key not in deps, f"execution-environment.yml: dependencies.{key} would be installed without hashes"
    steps = ee()["additional_build_steps"]["append_base"]
    assert "COPY _build/configs/requirements-ee.txt /tmp/requirements-ee.txt" in steps
    assert any("pip install" in step and "--require-hashes -r /tmp/requirements-ee.txt" in step for step in steps)
    assert ee()["dependencies"]["exclude"]["python"] == ["~.*"], "the collections' unpinned Python requirements"


@pytest.mark.parametrize(("name", "version"), sorted(ee_pins().items()))
def test_ee_versions_are_requirements_txt_versions(name, version):
    """One version per package: where the project venv has the package too, the EE has the same release."""
    lock = locked()
    if name in lock:
        assert lock[name] == version, (
            f"requirements-ee.txt pins {name}=={version}, requirements.txt {lock[name]}: relock both with "
            "scripts/lock-requirements.sh (it resolves the EE at requirements.txt's versions)"
        )


def test_ee_holds_ansible_core_and_runner_at_the_project_versions():
    pins, lock = ee_pins(), locked()
    for name in ("ansible-core", "ansible-runner"):
        assert name in pins, f"requirements-ee.txt lacks {name}: add it to requirements-ee.in and relock"
        assert pins[name] == lock[name]


def _pinned_collections(tmp_path: Path) -> Path:
    """A collections dir holding only the collections of requirements.yml, the copies Ansible resolves here
    (first on its path; scripts/check-collections.py proves they are the pinned versions)."""
    listing = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "list", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    search_order = list(json.loads(listing))
    root = tmp_path / "collections"
    for entry in yaml.safe_load((ROOT / "requirements.yml").read_text(encoding="utf-8"))["collections"]:
        namespace, name = entry["name"].split(".")
        source = next(Path(p) / namespace / name for p in search_order if (Path(p) / namespace / name).is_dir())
        target = root / "ansible_collections" / namespace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)
    return root


def test_collection_python_requirements_are_locked_and_excluded(tmp_path: Path):
    """ansible-builder's own introspection over the pinned collections: without the exclusion it would pip-install
    their requirements unpinned; with it nothing is left, and every one of them is in the EE lock instead."""
    introspect = pytest.importorskip("ansible_builder._target_scripts.introspect")
    collections = _pinned_collections(tmp_path)
    declared = introspect.filter_requirements(introspect.process(data_dir=str(collections))["python"])
    assert declared, "the pinned collections declare no Python requirement at all: the check would prove nothing"
    pins = ee_pins()
    for line in declared:
        name = re.split(r"[\s\[<>=!~;]", line.strip(), maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in pins, (
            f"a pinned collection requires {line!r}; requirements-ee.txt lacks it: add it to requirements-ee.in and "
            "relock (scripts/lock-requirements.sh)"
        )
    exclude = tmp_path / "exclude-requirements.txt"
    exclude.write_text("\n".join(ee()["dependencies"]["exclude"]["python"]) + "\n", encoding="utf-8")
    data = introspect.process(data_dir=str(collections), exclude_pip=str(exclude))["python"]
    left = introspect.filter_requirements(data, exclude=data.pop("exclude", []))
    assert left == [], f"ansible-builder would still pip-install these without hashes: {left}"


def test_python_deps_cover_what_the_collection_imports():
    """Third-party modules the inference.platform collection imports must be installed in the EE."""
    imports = set()
    for path in COLLECTION_PLUGINS.rglob("*.py"):
        for match in re.finditer(
            r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", path.read_text(encoding="utf-8"), re.MULTILINE
        ):
            imports.add(match.group(1))
    third_party = {name for name in imports if name not in sys.stdlib_module_names} - {
        "ansible",
        "ansible_collections",
        "__future__",
    }
    assert third_party, "the scan found no import at all"
    have = set(ee_pins())
    for name in sorted(third_party):
        assert DISTRIBUTIONS.get(name, name).lower() in have, (
            f"the collection imports {name}; execution-environment.yml lacks it"
        )
    for needed in ("hcloud", "kubernetes", "netaddr", "jmespath"):  # hetzner.hcloud, kubernetes.core, ansible.utils
        assert needed in have


def test_collections_come_from_requirements_yml():
    assert ee()["dependencies"]["galaxy"] == "requirements.yml"


def _offline_prefix() -> list[str]:
    """`unshare -n` (no network at all) when this machine allows it, so the test proves create fetches nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def test_ansible_builder_create_writes_the_build_context_offline(tmp_path: Path):
    builder = VENV_BIN / "ansible-builder"
    assert builder.is_file(), "ansible-builder is not installed in .venv: add ansible-builder==3.2.0 to requirements.in"
    context = tmp_path / "context"
    prefix = _offline_prefix()
    result = subprocess.run(
        [*prefix, str(builder), "create", "-f", str(EE_FILE), "-c", str(context), "--output-filename", "Containerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert f'ARG EE_BASE_IMAGE="{ee()["images"]["base_image"]["name"]}"' in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "helm version" in containerfile
    built = context / "_build"
    assert (built / "requirements.yml").read_text(encoding="utf-8") == (ROOT / "requirements.yml").read_text(
        encoding="utf-8"
    )
    assert (built / "configs" / "requirements-ee.txt").read_bytes() == ee_lock().read_bytes()
    assert not (built / "requirements.txt").exists(), "ansible-builder got a Python list to install without hashes"
    assert "openssh-clients" in (built / "bindep.txt").read_text(encoding="utf-8")
    # Every pip install of the build: the lock with its hashes (in the base stage, before the others run), or
    # packages the lock already installed at the same version, so that step downloads nothing.
    base = containerfile.split("# Galaxy build stage")[0]
    hashed = "RUN $PYCMD -m pip install --no-cache-dir --require-hashes -r /tmp/requirements-ee.txt"
    assert hashed in base, "the base stage must install requirements-ee.txt with --require-hashes"
    pins = ee_pins()
    for run in _pip_installs(containerfile):
        if run.startswith(hashed):
            continue
        wanted = [arg.strip("'\"") for arg in run.split("pip install", 1)[1].split() if not arg.startswith("-")]
        assert wanted, run
        for requirement in wanted:
            name, _, version = requirement.partition("==")
            name = re.sub(r"[-_.]+", "-", name).lower()
            assert name in pins, f"{run!r} installs {name}, which requirements-ee.txt lacks (it would be unhashed)"
            assert version in ("", pins[name]), f"{run!r} asks for {requirement}, the lock holds {pins[name]}"
    if not prefix:
        pytest.skip("created, but `unshare -n` is not allowed here, so not proven offline")
