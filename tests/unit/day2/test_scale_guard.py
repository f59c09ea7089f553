"""playbooks/scale.yml refuses, on the controller and before any host is touched, new hosts that are not
GPU agents of the inventory, and takes the list as JSON or as a comma-separated string (AWX, CLI)."""

from __future__ import annotations

import pytest
from day2_support import local_inventory, recap, run_playbook


@pytest.fixture
def inventory(tmp_path):
    return local_inventory(
        tmp_path,
        hosts={"server-1": {}, "gpu-1": {}, "gpu-new": {}, "cpu-new": {}},
        groups={
            "k8s_servers": ["server-1"],
            "k8s_agents": ["gpu-1", "gpu-new", "cpu-new"],
            "gpu_nodes": ["gpu-1", "gpu-new"],
        },
    )


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ('{"scale_new_hosts": ["cpu-new"]}', "not in gpu_nodes: cpu-new"),
        ('{"scale_new_hosts": ["gpu-9"]}', "Not in k8s_agents: gpu-9"),
        ("scale_new_hosts=gpu-new,server-1", "servers: server-1"),
    ],
    ids=["not-a-gpu-node", "not-in-inventory", "a-server"],
)
def test_refused_before_any_host(inventory, hosts, message):
    run = run_playbook(inventory, "scale.yml", "-e", hosts, "--check")
    assert run.returncode != 0
    assert message in " ".join((run.stdout + run.stderr).split())
    assert set(recap(run.stdout)) == {"localhost"}


def test_missing_list_is_refused_by_the_argument_spec(inventory):
    run = run_playbook(inventory, "scale.yml")
    assert run.returncode != 0
    assert "scale_new_hosts" in run.stdout + run.stderr
    assert set(recap(run.stdout)) == {"localhost"}


@pytest.mark.parametrize(
    "hosts", ['{"scale_new_hosts": ["gpu-new"]}', "scale_new_hosts=gpu-new"], ids=["json", "string"]
)
def test_new_hosts_are_the_only_targets(inventory, hosts):
    run = run_playbook(inventory, "scale.yml", "-e", hosts, "--list-hosts")
    assert run.returncode == 0, run.stdout + run.stderr
    for play in ("Prepare the new hosts", "Join the new hosts as agents", "Wait for the new nodes' GPUs"):
        section = run.stdout.split(play, 1)[1].split("play #", 1)[0]
        assert "gpu-new" in section and "gpu-1" not in section and "server-1" not in section
