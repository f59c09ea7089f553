"""What the kubeadm role leaves on the lab hosts: containerd with drop-ins and the kubeadm config.

No Kubernetes package is installed here and kubeadm never runs (kubeadm_start_cluster: false).
containerd is Debian's real one, so the merge of the drop-ins is proven on a running containerd.
"""

import base64
import os
import subprocess
import tomllib
from pathlib import Path

import pytest
import testinfra
import yaml

NODES = ["molecule-kadm-server-1", "molecule-kadm-agent-1"]
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
SCENARIO = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", SCENARIO.parents[1]))


def node(name):
    return testinfra.get_host(f"podman://{name}")


def write(host, path, content):
    """Write a file on the host without shell quoting (base64 through the command line)."""
    encoded = base64.b64encode(content.encode()).decode()
    host.run_expect([0], f"echo {encoded} | base64 -d > {path}")


def cri_runtimes(name):
    """The CRI runtimes of the configuration the running containerd merged from all its files."""
    dump = tomllib.loads(node(name).check_output("containerd config dump"))
    return dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]


@pytest.mark.parametrize("name", NODES)
def test_containerd_runs_and_imports_the_drop_in_directory(name):
    host = node(name)
    assert host.service("containerd").is_running
    assert host.service("containerd").is_enabled
    lines = host.file("/etc/containerd/config.toml").content_string.splitlines()
    assert 'imports = ["/etc/containerd/conf.d/*.toml"]' in lines
    assert sum(line.startswith("version") for line in lines) == 1


@pytest.mark.parametrize("name", NODES)
def test_running_containerd_uses_the_systemd_cgroup_driver(name):
    assert cri_runtimes(name)["runc"]["options"]["SystemdCgroup"] is True


def test_nvidia_drop_in_survives_and_is_merged():
    host = node("molecule-kadm-agent-1")
    assert host.file("/etc/containerd/conf.d/99-nvidia.toml").content_string.startswith(
        "# written by molecule/kubeadm/prepare.yml"
    )
    runtimes = cri_runtimes("molecule-kadm-agent-1")
    assert runtimes["nvidia"]["options"]["BinaryName"] == "/usr/local/nvidia/toolkit/nvidia-container-runtime"
    # runc keeps the systemd cgroup driver in the merged configuration (containerd 1.6 takes the
    # CRI section of the last drop-in, which is why prepare.yml's NVIDIA drop-in carries it).
    assert runtimes["runc"]["options"]["SystemdCgroup"] is True


def test_drop_in_that_loses_the_systemd_cgroup_driver_is_refused():
    """A later drop-in with only the nvidia runtime replaces the role's CRI section on containerd 1.x."""
    host = node("molecule-kadm-agent-1")
    path = "/etc/containerd/conf.d/99-nvidia.toml"
    original = host.file(path).content_string
    bare = (
        "version = 2\n"
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n'
        '  runtime_type = "io.containerd.runc.v2"\n'
    )
    write(host, path, bare)
    try:
        env = dict(os.environ, ANSIBLE_NOCOLOR="1")
        env["ANSIBLE_ROLES_PATH"] = str(PROJECT / "roles")
        env["ANSIBLE_COLLECTIONS_PATH"] = str(PROJECT / "collections")
        proc = subprocess.run(
            [
                "ansible-playbook",
                *("-i", str(EPHEMERAL / "inventory"), str(SCENARIO / "converge.yml")),
                *("--limit", "molecule-kadm-agent-1"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        out = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0
        assert "does not set SystemdCgroup = true for runc" in out
    finally:
        write(host, path, original)
    assert host.file(path).content_string == original


@pytest.mark.parametrize("name", NODES)
def test_kernel_settings_persisted(name):
    host = node(name)
    assert host.file("/etc/modules-load.d/50-kubernetes.conf").content_string.split()[-2:] == [
        "overlay",
        "br_netfilter",
    ]
    assert "net.ipv4.ip_forward = 1" in host.file("/etc/sysctl.d/50-kubernetes.conf").content_string


def test_kubeadm_config_on_the_first_server():
    cfg_file = node("molecule-kadm-server-1").file("/etc/kubernetes/kubeadm-config.yaml")
    assert cfg_file.mode == 0o600
    docs = {doc["kind"]: doc for doc in yaml.safe_load_all(cfg_file.content_string)}
    assert docs["InitConfiguration"]["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert docs["InitConfiguration"]["localAPIEndpoint"]["advertiseAddress"] == "10.0.1.10"
    assert docs["ClusterConfiguration"]["networking"] == {"podSubnet": "10.42.0.0/16", "serviceSubnet": "10.43.0.0/16"}
    assert docs["ClusterConfiguration"]["controlPlaneEndpoint"] == "10.0.1.10:6443"
    assert docs["KubeletConfiguration"]["cgroupDriver"] == "systemd"
    assert not node("molecule-kadm-agent-1").file("/etc/kubernetes/kubeadm-config.yaml").exists
