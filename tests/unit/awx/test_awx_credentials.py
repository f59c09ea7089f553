"""Custom credential types of awx/awx.yml: each injects what a module, inventory plugin or role reads.

The readers are found in the sources themselves: the installed collections' plugins (code and docs:
env_fallback lists, inventory plugin `env:` entries, "can also be specified via X" texts) and the
project's roles and playbooks (lookup('ansible.builtin.env', 'X')). A real AWX is needed to prove
that AWX renders the injectors as written (awx/README.md).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import ansible
import pytest
from awx_support import CREDENTIAL_FIELD_KEYS, ROOT, definition

COLLECTIONS = Path(ansible.__file__).resolve().parent.parent / "ansible_collections"
USED_COLLECTIONS = ["hetzner/hcloud", "community/hrobot", "kubernetes/core"]
PROJECT_DIRS = ["roles", "playbooks", "group_vars", "inventories"]
# Where each injected variable must be read (a subset of what the scan finds; pins the important readers).
EXPECTED_READERS = {
    "HCLOUD_TOKEN": ["hetzner/hcloud/plugins/module_utils/hcloud.py", "hetzner/hcloud/plugins/inventory/hcloud.py"],
    "HROBOT_API_USER": ["community/hrobot/plugins/inventory/robot.py"],
    "HROBOT_API_PASSWORD": ["community/hrobot/plugins/inventory/robot.py"],
    "HF_TOKEN": ["roles/vllm/defaults/main.yml"],
    "LITELLM_MASTER_KEY": ["roles/verify/defaults/main.yml", "playbooks/tenant_key.yml"],
}
# Input fields of AWX's built-in Machine credential type that awx_configure may fill.
MACHINE_FIELDS = {
    "username",
    "password",
    "ssh_key_data",
    "ssh_key_unlock",
    "become_method",
    "become_username",
    "become_password",
}
SECRET_WORDS = ("token", "password", "key", "kubeconfig")


@functools.lru_cache(maxsize=1)
def _sources() -> list[tuple[str, str]]:
    found = []
    for collection in USED_COLLECTIONS:
        for path in sorted((COLLECTIONS / collection / "plugins").rglob("*.py")):
            found.append((str(path.relative_to(COLLECTIONS)), path.read_text(encoding="utf-8", errors="replace")))
    return found


def readers_of(variable: str) -> list[str]:
    """Files that read the environment variable: collection plugins naming it, project files looking it up."""
    word = re.compile(rf"(?<![A-Z0-9_]){re.escape(variable)}(?![A-Z0-9_])")
    found = [name for name, text in _sources() if word.search(text)]
    lookup = re.compile(rf"lookup\(\s*'ansible\.builtin\.env'\s*,\s*'{re.escape(variable)}'\s*\)")
    for directory in PROJECT_DIRS:
        for path in sorted((ROOT / directory).rglob("*.yml")):
            if lookup.search(path.read_text(encoding="utf-8", errors="replace")):
                found.append(str(path.relative_to(ROOT)))
    return found


def injected_env() -> list[tuple[str, str]]:
    return [
        (credential_type["name"], variable)
        for credential_type in definition()["awx_credential_types"]
        for variable in credential_type["injectors"].get("env", {})
    ]


@pytest.mark.parametrize(("credential_type", "variable"), injected_env(), ids=lambda value: value)
def test_every_injected_variable_is_read_by_a_module_plugin_or_role(credential_type, variable):
    readers = readers_of(variable)
    assert readers, f"credential type {credential_type!r} injects {variable}, but no module, plugin or role reads it"
    missing = set(EXPECTED_READERS.get(variable, [])) - set(readers)
    assert not missing, f"{variable} is no longer read by {sorted(missing)} (found: {readers})"


def test_the_reader_scan_can_fail():
    """Positive control: a variable nothing reads is reported as unread."""
    assert readers_of("INFERENCE_PLATFORM_NOBODY_READS_THIS") == []
    assert readers_of("HCLOUD_TOKEN_EXTRA") == []


def test_the_required_injections_are_there():
    env = {variable for _name, variable in injected_env()}
    assert set(EXPECTED_READERS) <= env, f"not injected by any credential type: {sorted(set(EXPECTED_READERS) - env)}"


@pytest.mark.parametrize("credential_type", definition()["awx_credential_types"], ids=lambda item: item["name"])
def test_injectors_use_only_declared_inputs(credential_type):
    fields = credential_type["inputs"]["fields"]
    ids = {field["id"] for field in fields}
    assert set(credential_type["inputs"].get("required", [])) <= ids
    files = {key.split(".", 1)[1] for key in credential_type["injectors"].get("file", {})}
    for key in credential_type["injectors"].get("file", {}):
        assert re.fullmatch(r"template(\.\w+)?", key), (
            f"{credential_type['name']}: file injector key {key} is not template.<name>"
        )
    for section in ("env", "extra_vars", "file"):
        for key, template in credential_type["injectors"].get(section, {}).items():
            for name in re.findall(r"\{\{\s*([\w.]+)\s*\}\}", template):
                if name.startswith("tower.filename."):
                    assert name.split(".", 2)[2] in files, f"{credential_type['name']}: {key} names an undeclared file"
                else:
                    assert name in ids, f"{credential_type['name']}: {key} uses {name}, not an input field"
    for field in fields:
        assert set(field) <= CREDENTIAL_FIELD_KEYS
        if any(word in field["id"] for word in SECRET_WORDS):
            assert field.get("secret") is True, (
                f"{credential_type['name']}: {field['id']} holds a secret; mark it secret: true"
            )
    assert credential_type["kind"] == "cloud", (
        "custom types of kind cloud can be attached to jobs and inventory sources"
    )
    assert not any(variable.startswith("ANSIBLE_") for variable in credential_type["injectors"].get("env", {}))


@pytest.mark.parametrize("credential", definition()["awx_credentials"], ids=lambda item: item["name"])
def test_credentials_fill_the_inputs_of_their_type(credential):
    types = {credential_type["name"]: credential_type for credential_type in definition()["awx_credential_types"]}
    if credential["credential_type"] in types:
        inputs = types[credential["credential_type"]]["inputs"]
        fields = {field["id"] for field in inputs["fields"]}
        assert set(credential["inputs_from_env"]) <= fields
        assert set(inputs.get("required", [])) <= set(credential["inputs_from_env"]), "a required input is not filled"
    else:
        assert credential["credential_type"] == "Machine", (
            f"{credential['name']}: unknown type {credential['credential_type']}"
        )
        assert set(credential["inputs_from_env"]) <= MACHINE_FIELDS
    for variable in credential["inputs_from_env"].values():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", variable), (
            f"{credential['name']}: {variable} is not an environment variable name"
        )


def injected_extra_vars() -> list[tuple[str, str]]:
    return [
        (credential_type["name"], variable)
        for credential_type in definition()["awx_credential_types"]
        for variable in credential_type["injectors"].get("extra_vars", {})
    ]


@pytest.mark.parametrize(("credential_type", "variable"), injected_extra_vars(), ids=lambda value: value)
def test_every_injected_extra_variable_is_a_project_variable(credential_type, variable):
    """An injected extra variable must be one the project defines (group_vars/all), e.g. cluster_kubeconfig."""
    defined = set()
    for path in sorted((ROOT / "group_vars" / "all").glob("*.yml")):
        defined |= set(re.findall(r"^([a-z_][a-z0-9_]*):", path.read_text(encoding="utf-8"), re.MULTILINE))
    assert variable in defined, f"credential type {credential_type!r} injects {variable}, which no group_vars define"


def test_the_kubeconfig_credential_hands_over_the_cluster_kubeconfig():
    """The platform and day-2 jobs act on cluster_kubeconfig, never on K8S_AUTH_KUBECONFIG (issue 14)."""
    (kubeconfig,) = [t for t in definition()["awx_credential_types"] if t["name"] == "Kubernetes kubeconfig"]
    assert kubeconfig["injectors"]["extra_vars"] == {"cluster_kubeconfig": "{{ tower.filename.kubeconfig }}"}
    assert "K8S_AUTH_KUBECONFIG" not in kubeconfig["injectors"].get("env", {})
