"""The project defaults in group_vars/ are loaded for every inventory, and inventories override them.

Each inventory under inventories/ links the top-level group_vars entries into its own
group_vars (00_project) and overrides values in 50_<inventory>.yml. These tests ask Ansible itself
(ansible-inventory) what a host of each inventory sees, so a broken link, a wrong link depth or a
file order that lets the defaults win is caught.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
INVENTORIES = sorted(path for path in (PROJECT_ROOT / "inventories").iterdir() if path.is_dir())
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin"


def project_defaults() -> dict:
    merged: dict = {}
    for vars_file in sorted((PROJECT_ROOT / "group_vars" / "all").glob("*.yml")):
        merged.update(yaml.safe_load(vars_file.read_text(encoding="utf-8")) or {})
    return merged


def inventory_overrides(inventory: Path) -> dict:
    merged: dict = {}
    for vars_file in sorted((inventory / "group_vars" / "all").glob("[1-9]*.yml")):
        merged.update(yaml.safe_load(vars_file.read_text(encoding="utf-8")) or {})
    return merged


def host_vars_seen_by_ansible(inventory: Path, tmp_path: Path) -> dict:
    """Vars of a probe host added beside the inventory, as ansible-inventory merges them."""
    probe = tmp_path / "probe.yml"
    probe.write_text(yaml.safe_dump({"all": {"hosts": {"probe-host": {"node_ip": "10.0.0.99"}}}}))
    result = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(inventory), "-i", str(probe), "--host", "probe-host"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HCLOUD_TOKEN": ""},
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda path: path.name)
def test_every_top_level_group_vars_entry_is_linked(inventory):
    for entry in (PROJECT_ROOT / "group_vars").iterdir():
        link = inventory / "group_vars" / entry.name / "00_project"
        assert link.is_symlink(), f"{link} must link to group_vars/{entry.name}"
        assert link.resolve() == entry.resolve(), f"{link} points at {link.resolve()}, not {entry}"


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda path: path.name)
def test_project_defaults_reach_every_host(inventory, tmp_path):
    seen = host_vars_seen_by_ansible(inventory, tmp_path)
    overrides = inventory_overrides(inventory)
    for name, default in project_defaults().items():
        assert name in seen, f"{inventory.name}: {name} from group_vars/all is not loaded"
        if name not in overrides and "{{" not in str(default):
            assert seen[name] == default, f"{inventory.name}: {name} is {seen[name]!r}, expected {default!r}"


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda path: path.name)
def test_inventory_overrides_win_over_project_defaults(inventory, tmp_path):
    overrides = inventory_overrides(inventory)
    assert "cluster_name" in overrides, f"{inventory.name} must name its cluster"
    seen = host_vars_seen_by_ansible(inventory, tmp_path)
    for name, value in overrides.items():
        assert seen[name] == value, f"{inventory.name}: {name} is {seen[name]!r}, the inventory says {value!r}"


def test_the_override_test_would_notice_defaults_winning(tmp_path):
    """A copy of an inventory whose override sorts before the defaults must lose: proves file order matters."""
    copy = tmp_path / "inventories" / "reordered"
    (copy / "group_vars" / "all").mkdir(parents=True)
    (copy / "group_vars" / "all" / "00_early.yml").write_text("cluster_name: early\n")
    (copy / "group_vars" / "all" / "10_project").symlink_to(PROJECT_ROOT / "group_vars" / "all")
    seen = host_vars_seen_by_ansible(copy, tmp_path)
    assert seen["cluster_name"] == project_defaults()["cluster_name"]
