"""Project conventions every role and pin must keep (docs/architecture.md, DEVELOPERS.md)."""

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ROLES = sorted(path for path in (PROJECT_ROOT / "roles").iterdir() if path.is_dir())


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_check_collections():
    spec = importlib.util.spec_from_file_location(
        "check_collections", PROJECT_ROOT / "scripts" / "check-collections.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_role_has_its_manual_spec_and_readme(role):
    for required in ("README.md", "defaults/main.yml", "meta/main.yml", "meta/argument_specs.yml", "tasks/main.yml"):
        assert (role / required).is_file(), f"roles/{role.name} lacks {required}"


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_role_defaults_are_prefixed_commented_and_specified(role):
    defaults_file = role / "defaults" / "main.yml"
    defaults = load_yaml(defaults_file) or {}
    spec = load_yaml(role / "meta" / "argument_specs.yml")["argument_specs"]["main"].get("options", {})
    lines = defaults_file.read_text(encoding="utf-8").splitlines()
    for name in defaults:
        assert name.startswith(f"{role.name}_"), f"roles/{role.name}: default {name} lacks the prefix {role.name}_"
        assert name in spec, f"roles/{role.name}: {name} is in defaults/main.yml but not in meta/argument_specs.yml"
        line_number = next(index for index, line in enumerate(lines) if line.startswith(f"{name}:"))
        assert lines[line_number - 1].lstrip().startswith("#"), (
            f"roles/{role.name}/defaults/main.yml: {name} needs a one-line comment above it"
        )


def test_versions_file_pins_every_value():
    versions = load_yaml(PROJECT_ROOT / "group_vars" / "all" / "versions.yml")
    for name, value in versions.items():
        flat = yaml.safe_dump(value)
        assert "latest" not in flat.lower(), f"group_vars/all/versions.yml: {name} is not pinned ({value!r})"


def test_requirements_lock_pins_every_top_level_requirement():
    def pins(path: Path) -> dict[str, str]:
        found = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, version = line.partition("==")
                assert version, f"{path.name}: {line!r} is not pinned with =="
                found[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = version.split()[0]
        return found

    top_level = pins(PROJECT_ROOT / "requirements.in")
    locked = pins(PROJECT_ROOT / "requirements.txt")
    for name, version in top_level.items():
        assert locked.get(name) == version, (
            f"requirements.txt has {name}=={locked.get(name)}, requirements.in says {version}"
        )


def test_collection_check_names_every_mismatch():
    check = load_check_collections()
    problems = check.mismatches(
        {"kubernetes.core": "6.2.0", "hetzner.hcloud": "5.4.0", "ansible.posix": "2.1.0"},
        {"kubernetes.core": "6.2.0", "hetzner.hcloud": "5.5.0"},
    )
    assert problems == [
        "ansible.posix: pinned 2.1.0 in requirements.yml, but Ansible finds no copy of it",
        "hetzner.hcloud: pinned 5.4.0 in requirements.yml, but Ansible resolves 5.5.0",
    ]


def test_ad_hoc_commands_use_playbooks_as_their_playbook_dir():
    config = (PROJECT_ROOT / "ansible.cfg").read_text(encoding="utf-8")
    assert re.search(r"^playbook_dir = \./playbooks$", config, re.MULTILINE)
    assert not (PROJECT_ROOT / "playbooks" / "group_vars").exists(), "playbook group_vars would outrank inventories"


def _registry_hosts() -> set[str]:
    """The package registries this machine is configured to use, read from the clients' own configuration."""
    found: set[str] = set()
    reads = [
        ["go", "env", "GOPROXY"],
        ["apt-get", "indextargets", "--no-release-info", "--format", "$(SITE)"],
        ["pip", "config", "list"],
    ]
    for argv in reads:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except FileNotFoundError:
            continue
        found |= set(re.findall(r"https?://([a-z0-9.-]+\.[a-z]+)", done.stdout))
    return {host for host in found if host not in ("localhost",)}


def test_no_package_registry_host_is_written_in_the_repository():
    """Each client (go, apt, pip) uses the machine's own configuration; the repository never names a registry host
    (issue 19). Fixtures copied from upstream (tests/fixtures) are left out, as they quote upstream text."""
    hosts = _registry_hosts()
    assert hosts, "could not read any registry host from go, apt or pip: the check would prove nothing"
    files = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    hits = []
    for name in files.stdout.splitlines():
        path = PROJECT_ROOT / name
        if name.startswith("tests/fixtures/") or not path.is_file() or path.is_symlink():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{name}: {host}" for host in sorted(hosts) if host in text]
    assert hits == []
