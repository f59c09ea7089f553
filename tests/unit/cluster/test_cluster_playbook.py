"""Order of playbooks/cluster.yml: kubeadm nodes readied at once, then first server alone, other servers one
at a time, then agents."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml
from cluster_support import ansible_playbook

ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = ROOT / "playbooks" / "cluster.yml"
HA_INVENTORY = ROOT / "tests" / "fixtures" / "cluster" / "render" / "ha.yml"


def plays():
    return yaml.safe_load(PLAYBOOK.read_text())


def test_every_play_is_tagged_cluster():
    assert all("cluster" in play["tags"] for play in plays())


def test_plays_take_every_node_then_first_server_then_other_servers_serially_then_agents():
    install = [play for play in plays() if any("include_role" in str(task) for task in play.get("tasks", []))]
    assert [play["hosts"] for play in install] == ["k8s_cluster", "k8s_servers[0]", "k8s_servers[1:]", "k8s_agents"]
    assert install[2]["serial"] == 1
    assert "serial" not in install[0] and "serial" not in install[1]


def test_kubeadm_nodes_are_readied_at_once_before_any_join():
    (task,) = plays()[1]["tasks"]
    assert task["ansible.builtin.include_role"] == {"name": "kubeadm", "tasks_from": "node.yml"}
    assert task["when"] == "cluster_distribution == 'kubeadm'"


def test_role_is_picked_by_cluster_distribution():
    for play in plays()[2:]:
        (task,) = play["tasks"]
        assert task["ansible.builtin.include_role"]["name"] == "{{ cluster_distribution }}"


def test_ansible_resolves_the_plays_to_the_expected_hosts_in_order():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [ansible_playbook(), "-i", str(HA_INVENTORY), str(PLAYBOOK), "--list-hosts"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    hosts: dict[str, list[str]] = {}
    current = None
    for line in proc.stdout.splitlines():
        play = re.match(r"\s*play #\d+ \(([^)]*)\)", line)
        if play:
            current = hosts.setdefault(play.group(1), [])
        elif current is not None and re.fullmatch(r"\s{6}\S+", line):
            current.append(line.strip())
    hosts = {pattern: sorted(names) for pattern, names in hosts.items()}
    assert hosts["k8s_cluster"] == ["cp-1", "cp-2", "cp-3", "cpu-1", "gpu-1"]
    assert hosts["k8s_servers[0]"] == ["cp-1"]
    assert hosts["k8s_servers[1:]"] == ["cp-2", "cp-3"]
    assert hosts["k8s_agents"] == ["cpu-1", "gpu-1"]
