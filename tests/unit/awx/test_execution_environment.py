"""execution-environment.yml: its pins agree with the project's one place for each, and `ansible-builder
create` writes the build context offline. Building the image needs a container engine that reaches the
base image's registry, Galaxy, PyPI and get.helm.sh, which this machine does not (awx/README.md)."""

from __future__ import annotations

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


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = version
    return pins


def ee_pins() -> dict[str, str]:
    deps = ee()["dependencies"]
    lines = [*deps["python"], deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"]]
    pins = {}
    for line in lines:
        name, sep, version = line.partition("==")
        assert sep, f"execution-environment.yml: {line!r} is not pinned with =="
        pins[name.lower().replace("_", "-")] = version
    return pins


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


@pytest.mark.parametrize(("name", "version"), sorted(ee_pins().items()))
def test_python_pins_are_the_ones_in_requirements_txt(name, version):
    lock = locked()
    assert name in lock, (
        f"execution-environment.yml pins {name}=={version}, which requirements.txt lacks: add `{name}=={version}` "
        "to requirements.in and relock (scripts/lock-requirements.sh), so it is pinned in one place"
    )
    assert lock[name] == version, f"execution-environment.yml pins {name}=={version}, requirements.txt {lock[name]}"


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
    pins = ee_pins()
    assert (
        f'ARG ANSIBLE_INSTALL_REFS="ansible-core=={pins["ansible-core"]} ansible-runner=={pins["ansible-runner"]}"'
        in containerfile
    )
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "helm version" in containerfile
    built = context / "_build"
    assert (built / "requirements.yml").read_text(encoding="utf-8") == (ROOT / "requirements.yml").read_text(
        encoding="utf-8"
    )
    assert (built / "requirements.txt").read_text(encoding="utf-8").split() == ee()["dependencies"]["python"]
    assert "openssh-clients" in (built / "bindep.txt").read_text(encoding="utf-8")
    if not prefix:
        pytest.skip("created, but `unshare -n` is not allowed here, so not proven offline")
