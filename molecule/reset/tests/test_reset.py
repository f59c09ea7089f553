"""What playbooks/reset.yml leaves on the lab hosts (molecule/reset): the cluster's files, services,
processes, mounts, interfaces and netfilter rules are gone; what is not the cluster's stays. The
k3s binary here was a STAND-IN (not k3s) and the debris was made by debris.yml inside each
container's own namespaces: this proves the reset's clean-up, not a real k3s node's teardown
(roles/node_reset/README.md says what only a real node proves)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The ansible-playbook of the venv that runs these tests.
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))


def test_k3s_files_and_data_directories_are_gone(host):
    for path in (
        "/usr/local/bin/k3s",
        "/etc/rancher",
        "/var/lib/rancher",
        "/var/lib/kubelet",
        "/var/lib/cni",
        "/run/k3s",
        "/etc/systemd/system/k3s.service",
        "/etc/systemd/system/k3s-agent.service",
    ):
        assert not host.file(path).exists, f"{path} is still there"


def test_units_are_gone_from_systemd(host):
    units = host.run("systemctl list-unit-files --no-legend --plain 'k3s*'")
    assert units.stdout.strip() == "", units.stdout


def test_no_cluster_mount_is_left(host):
    targets = host.check_output("findmnt --raw --noheadings --output TARGET").splitlines()
    left = [t for t in targets if re.match(r"^(/var/lib/kubelet|/var/lib/rancher|/run/k3s)(/|$)|^/run/netns/cni-", t)]
    assert left == []
    assert not host.file("/run/netns/cni-1a2b3c4d-standin").exists


def test_cni_interfaces_are_gone(host):
    links = host.check_output("ip -o link show")
    for name in ("cni0", "flannel.1", "cali0a1b2c3d4e", "podeth0"):
        assert f" {name}:" not in links and f" {name}@" not in links, f"{name} is still there"
    assert " lo:" in links


def test_cluster_iptables_rules_are_gone_and_others_stay(host):
    rules = host.check_output("iptables-save") + host.check_output("ip6tables-save")
    for marker in ("KUBE-", "FLANNEL", "CNI-"):
        assert marker not in rules, f"{marker} rules are still there"
    assert "-A INPUT -s 198.51.100.7/32 -j ADMIN-KEEP" in rules


def test_cluster_nftables_table_is_gone_and_host_firewall_stays(host):
    tables = host.check_output("nft list tables").splitlines()
    assert "table ip kube-proxy" not in tables
    assert "table inet inference_platform" in tables


def test_container_shim_and_its_child_were_killed(host):
    processes = host.check_output("ps -e -o args=")
    assert "containerd-shim" not in processes
    assert "sleep 86399" not in processes


def test_host_preparation_outside_the_cluster_stays(host):
    assert host.file("/etc/sysctl.d/90-inference-platform.conf").exists
    assert host.file("/etc/inference-platform/firewall.nft").exists


@pytest.fixture(scope="module")
def second_reset():
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            str(inventory),
            str(PROJECT / "playbooks" / "reset.yml"),
            "-e",
            "confirm_reset=inference",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
    )


def test_second_reset_changes_nothing(second_reset):
    recap = second_reset.stdout[second_reset.stdout.rfind("PLAY RECAP") :]
    assert second_reset.returncode == 0, second_reset.stdout[-3000:] + second_reset.stderr[-2000:]
    for name in ("molecule-reset-server-1", "molecule-reset-agent-1"):
        assert re.search(rf"{name}\s+:\s+ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", recap), recap


def test_wrong_confirmation_is_refused_before_any_host(second_reset):
    run = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent),
            str(PROJECT / "playbooks" / "reset.yml"),
            "-e",
            "confirm_reset=another-cluster",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
    )
    assert run.returncode != 0
    assert "REFUSED: reset destroys the cluster 'inference'" in " ".join((run.stdout + run.stderr).split())
    recap = run.stdout[run.stdout.rfind("PLAY RECAP") :]
    assert "molecule-reset" not in recap
