"""Helpers of the day-2 tests: a throw-away inventory of local hosts and ansible-playbook runs.

The hosts of these inventories are this machine (ansible_connection: local). Where a test needs a
node's k3s or kubelet to answer --version, it gets a STAND-IN script that prints the version it is
told to (not k3s, not kubelet): the gate reads a version, it does not start anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def ansible_playbook() -> str:
    """ansible-playbook of the interpreter running the tests (the project venv), else from PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else "ansible-playbook"


def standin_version_binary(directory: Path, name: str, line: str) -> Path:
    """A STAND-IN for k3s/kubelet that answers --version with `line` and refuses everything else."""
    path = directory / name
    path.write_text(
        "#!/bin/sh\n"
        "# STAND-IN written by tests/unit/day2: not k3s, not kubelet.\n"
        f'if [ "$1" = "--version" ]; then echo "{line}"; exit 0; fi\n'
        'echo "stand-in: $* is not implemented" >&2; exit 64\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def local_inventory(
    directory: Path, hosts: dict[str, dict], groups: dict[str, list[str]], all_vars: dict | None = None
) -> Path:
    """An inventory directory like inventories/<name>: project group_vars linked in, local hosts."""
    inventory = directory / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    os.symlink(PROJECT_ROOT / "group_vars" / "all", inventory / "group_vars" / "all" / "00_project")
    (inventory / "group_vars" / "all" / "50_test.yml").write_text(yaml.safe_dump(all_vars or {}), encoding="utf-8")
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False}
    children = {
        "k8s_cluster": {"children": {"k8s_servers": {}, "k8s_agents": {}}},
    }
    document = {"all": {"hosts": {}, "children": children}}
    for name, host_vars in hosts.items():
        document["all"]["hosts"][name] = {**common, **host_vars}
    for group, members in groups.items():
        entry = {"hosts": dict.fromkeys(members)}
        if group in ("k8s_servers", "k8s_agents"):
            children["k8s_cluster"]["children"][group] = entry
        else:
            children[group] = entry
    (inventory / "hosts.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return inventory


def run_playbook(inventory: Path, playbook: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run(
        [ansible_playbook(), "-i", str(inventory), str(PROJECT_ROOT / "playbooks" / playbook), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
    )


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP of an ansible-playbook run: host -> {ok, changed, failed, ...}."""
    found = {}
    tail = output[output.rfind("PLAY RECAP") :]
    for host, counters in re.findall(r"^(\S+)\s+:\s+(.*)$", tail, re.MULTILINE):
        found[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counters)}
    return found


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))
