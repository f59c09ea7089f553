"""playbooks/upgrade.yml's version gate, run for real with ansible-playbook against local hosts whose
k3s / kubelet is a STAND-IN that only answers --version (day2_support). It proves the refusals (minor
skip, downgrade, unpinned target, wrong form) happen in the gate plays, before any upgrade play, and
that a valid target passes; it does not prove an upgrade (roles/cluster_upgrade/README.md)."""

from __future__ import annotations

import pytest
from day2_support import PROJECT_ROOT, load_yaml, local_inventory, recap, run_playbook, standin_version_binary

PINNED_K3S = load_yaml(PROJECT_ROOT / "group_vars" / "all" / "versions.yml")["k3s_version"]
PINNED_KUBEADM = load_yaml(PROJECT_ROOT / "group_vars" / "all" / "versions.yml")["kubeadm_kubernetes_version"]


def k3s_cluster(tmp_path, server_version: str, agent_version: str):
    bins = tmp_path / "bin"
    bins.mkdir()
    server = standin_version_binary(bins, "k3s-server", f"k3s version {server_version} (stand-in)")
    agent = standin_version_binary(bins, "k3s-agent", f"k3s version {agent_version} (stand-in)")
    return local_inventory(
        tmp_path,
        hosts={
            "server-1": {"cluster_upgrade_k3s_bin": str(server)},
            "gpu-agent-1": {"cluster_upgrade_k3s_bin": str(agent)},
        },
        groups={"k8s_servers": ["server-1"], "k8s_agents": ["gpu-agent-1"], "gpu_nodes": ["gpu-agent-1"]},
        all_vars={"cluster_distribution": "k3s"},
    )


def gate(inventory, target: str, *extra: str):
    return run_playbook(
        inventory, "upgrade.yml", "--tags", "upgrade_gate", "-e", f"upgrade_kubernetes_version={target}", *extra
    )


def assert_refused_before_any_change(run, message: str):
    assert run.returncode != 0, run.stdout[-3000:]
    assert message in " ".join((run.stdout + run.stderr).split()), run.stdout[-3000:]
    assert "PLAY [Upgrade the servers" not in run.stdout
    assert all(counters.get("changed", 0) == 0 for counters in recap(run.stdout).values())


def next_minor(version: str, step: int) -> str:
    major, minor, _ = version.lstrip("v").split("+")[0].split(".")
    return f"v{major}.{int(minor) + step}.1"


def test_refuses_to_skip_a_minor_version(tmp_path):
    inventory = k3s_cluster(tmp_path, PINNED_K3S, PINNED_K3S)
    target = next_minor(PINNED_K3S, 2) + "+k3s1"
    run = gate(inventory, target, "-e", f"k3s_version={target}")
    assert_refused_before_any_change(run, "skips a minor version")


def test_a_lagging_agent_makes_the_next_minor_a_skip(tmp_path):
    lagging = next_minor(PINNED_K3S, -1) + "+k3s1"
    inventory = k3s_cluster(tmp_path, PINNED_K3S, lagging)
    target = next_minor(PINNED_K3S, 1) + "+k3s1"
    run = gate(inventory, target, "-e", f"k3s_version={target}")
    assert_refused_before_any_change(run, f"REFUSED: gpu-agent-1 runs {lagging}")


def test_refuses_a_downgrade(tmp_path):
    newer = next_minor(PINNED_K3S, 1) + "+k3s1"
    inventory = k3s_cluster(tmp_path, newer, newer)
    run = gate(inventory, PINNED_K3S)
    assert_refused_before_any_change(run, "would be a downgrade")


def test_refuses_an_older_k3s_build_of_the_same_patch(tmp_path):
    base = PINNED_K3S.split("+")[0]
    inventory = k3s_cluster(tmp_path, f"{base}+k3s9", f"{base}+k3s9")
    run = gate(inventory, f"{base}+k3s1", "-e", f"k3s_version={base}+k3s1")
    assert_refused_before_any_change(run, "would be a downgrade")


def test_refuses_a_target_other_than_the_pin(tmp_path):
    inventory = k3s_cluster(tmp_path, PINNED_K3S, PINNED_K3S)
    target = next_minor(PINNED_K3S, 1) + "+k3s1"
    run = gate(inventory, target)
    assert_refused_before_any_change(
        run, f"is not the release pinned in group_vars/all/versions.yml (k3s_version: {PINNED_K3S})"
    )


def test_refuses_a_target_of_the_wrong_form(tmp_path):
    inventory = k3s_cluster(tmp_path, PINNED_K3S, PINNED_K3S)
    run = gate(inventory, "1.36")
    assert_refused_before_any_change(run, "is not a k3s version")


def test_refuses_without_a_target(tmp_path):
    inventory = k3s_cluster(tmp_path, PINNED_K3S, PINNED_K3S)
    run = run_playbook(inventory, "upgrade.yml", "--tags", "upgrade_gate")
    assert run.returncode != 0
    assert "upgrade_kubernetes_version" in run.stdout + run.stderr
    assert "PLAY [Gate on the versions" not in run.stdout


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_passes_the_next_minor_and_plans_each_node(tmp_path, check):
    older = next_minor(PINNED_K3S, -1) + "+k3s2"
    inventory = k3s_cluster(tmp_path, older, older)
    run = gate(inventory, PINNED_K3S, *(["--check"] if check else []))
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"server-1: {older} -> {PINNED_K3S}" in run.stdout
    assert f"gpu-agent-1: {older} -> {PINNED_K3S}" in run.stdout
    assert all(counters.get("changed", 0) == 0 for counters in recap(run.stdout).values())


def test_nodes_at_the_target_are_left_alone(tmp_path):
    inventory = k3s_cluster(tmp_path, PINNED_K3S, PINNED_K3S)
    run = gate(inventory, PINNED_K3S)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.stdout.count("already at the target, left alone") == 2


def test_kubeadm_reads_kubelet_and_refuses_a_skip(tmp_path):
    bins = tmp_path / "bin"
    bins.mkdir()
    kubelet = standin_version_binary(bins, "kubelet", f"Kubernetes {PINNED_KUBEADM}")
    inventory = local_inventory(
        tmp_path,
        hosts={"cp-1": {"cluster_upgrade_kubelet_bin": str(kubelet)}},
        groups={"k8s_servers": ["cp-1"]},
        all_vars={"cluster_distribution": "kubeadm"},
    )
    target = next_minor(PINNED_KUBEADM, 2)
    run = gate(inventory, target, "-e", f"kubeadm_kubernetes_version={target}")
    assert_refused_before_any_change(run, "skips a minor version")
    ok = gate(inventory, PINNED_KUBEADM)
    assert ok.returncode == 0, ok.stdout[-3000:]
    assert "cp-1: " + PINNED_KUBEADM + " -> already at the target" in " ".join((ok.stdout + ok.stderr).split())
