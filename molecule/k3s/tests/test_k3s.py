"""What the k3s role leaves on the lab hosts, converged with a STAND-IN k3s binary.

Nothing here proves a running k3s: the stand-in cannot start, and k3s_start_service is false. These
tests prove artifact verification and refusal, the rendered configuration, the token's handling,
the servers' join order and that a further run changes nothing and prints no token.
"""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import testinfra
import yaml

SERVERS = {
    "molecule-k3s-server-1": "10.0.1.10",
    "molecule-k3s-server-2": "10.0.1.11",
    "molecule-k3s-server-3": "10.0.1.12",
}
AGENTS = {"molecule-k3s-agent-1": "10.0.1.21"}
NODES = {**SERVERS, **AGENTS}
FIRST = "molecule-k3s-server-1"
API = "https://10.0.1.10:6443"

EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
SCENARIO = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", SCENARIO.parents[1]))
ARTIFACTS = EPHEMERAL / "k3s-artifacts"


def node(name):
    return testinfra.get_host(f"podman://{name}")


def config(name):
    return yaml.safe_load(node(name).file("/etc/rancher/k3s/config.yaml").content_string)


def run_converge(*extra):
    """Run the scenario's converge playbook as Molecule does, and return (rc, combined output)."""
    env = dict(os.environ)
    env["ANSIBLE_ROLES_PATH"] = str(PROJECT / "roles")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(PROJECT / "collections")
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    if (EPHEMERAL / "ansible.cfg").exists():
        env["ANSIBLE_CONFIG"] = str(EPHEMERAL / "ansible.cfg")
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(EPHEMERAL / "inventory"), str(SCENARIO / "converge.yml"), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def checksums():
    lines = (ARTIFACTS / "sha256sum-amd64.txt").read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


# --- artifacts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NODES))
def test_binary_is_the_verified_stand_in(name, checksums):
    binary = node(name).file("/usr/local/bin/k3s")
    assert binary.user == "root"
    assert binary.mode == 0o755
    assert binary.sha256sum == checksums["k3s"]
    assert "stand-in, not k3s" in node(name).check_output("/usr/local/bin/k3s --version")


@pytest.mark.parametrize("name", sorted(NODES))
def test_airgap_images_are_where_k3s_imports_them(name, checksums):
    images = node(name).file("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst")
    assert images.mode == 0o644
    assert images.sha256sum == checksums["k3s-airgap-images-amd64.tar.zst"]


# --- token ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token():
    return node(FIRST).file("/etc/rancher/k3s/cluster-token").content_string.strip()


def test_token_is_a_random_256_bit_secret(token):
    assert re.fullmatch(r"[0-9a-f]{64}", token)


@pytest.mark.parametrize("name", sorted(NODES))
def test_every_node_has_the_same_root_only_token(name, token):
    token_file = node(name).file("/etc/rancher/k3s/cluster-token")
    assert (token_file.user, token_file.group, token_file.mode) == ("root", "root", 0o600)
    assert token_file.content_string.strip() == token


@pytest.mark.parametrize("name", sorted(NODES))
def test_token_is_not_in_the_config(name, token):
    cfg = node(name).file("/etc/rancher/k3s/config.yaml")
    assert cfg.mode == 0o600
    assert token not in cfg.content_string
    assert "token" not in config(name)
    assert config(name)["token-file"] == "/etc/rancher/k3s/cluster-token"


# --- configuration ---------------------------------------------------------------------------------


def test_first_server_initialises_embedded_etcd():
    cfg = config(FIRST)
    assert cfg["cluster-init"] is True
    assert "server" not in cfg


@pytest.mark.parametrize("name", ["molecule-k3s-server-2", "molecule-k3s-server-3"])
def test_other_servers_join_the_api_endpoint(name):
    cfg = config(name)
    assert cfg["server"] == API
    assert "cluster-init" not in cfg


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_server_certificate_names_every_server_and_the_endpoint(name):
    cfg = config(name)
    assert set(cfg["tls-san"]) == set(SERVERS.values())
    assert cfg["cluster-cidr"] == "10.42.0.0/16"
    assert cfg["service-cidr"] == "10.43.0.0/16"
    assert cfg["secrets-encryption"] is True
    assert cfg["write-kubeconfig-mode"] == "0600"


@pytest.mark.parametrize("name", sorted(NODES))
def test_node_uses_its_private_address_and_interface(name):
    cfg = config(name)
    assert cfg["node-name"] == name
    assert cfg["node-ip"] == NODES[name]
    # prepare.yml put node_ip on priv0 only: the role found the interface from the address.
    assert cfg["flannel-iface"] == "priv0"


def test_agent_joins_the_api_with_gpu_label_taint_and_host_label():
    cfg = config("molecule-k3s-agent-1")
    assert cfg["server"] == API
    assert "tls-san" not in cfg and "cluster-init" not in cfg
    assert set(cfg["node-label"]) == {"nvidia.com/gpu.present=true", "inference.platform/gpu-class=lab"}
    assert cfg["node-taint"] == ["nvidia.com/gpu=present:NoSchedule"]


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_servers_are_not_gpu_nodes(name):
    cfg = config(name)
    assert "node-label" not in cfg
    assert "node-taint" not in cfg


def test_registries_yaml_only_where_configured():
    registries = node("molecule-k3s-agent-1").file("/etc/rancher/k3s/registries.yaml")
    assert registries.mode == 0o600
    assert yaml.safe_load(registries.content_string) == {
        "mirrors": {"docker.io": {"endpoint": ["https://registry.lab.internal:5000"]}}
    }
    assert not node(FIRST).file("/etc/rancher/k3s/registries.yaml").exists


@pytest.mark.parametrize(
    ("name", "unit", "mode"), [(n, "k3s", "server") for n in SERVERS] + [(n, "k3s-agent", "agent") for n in AGENTS]
)
def test_systemd_unit_is_installed_but_not_started(name, unit, mode):
    host = node(name)
    text = host.check_output(f"systemctl cat {unit}.service")
    assert f"ExecStart=/usr/local/bin/k3s {mode}" in text
    assert "Type=notify" in text
    # k3s_start_service: false -- the stand-in must not look like a running cluster.
    assert not host.service(unit).is_running
    assert not host.service(unit).is_enabled


def test_containerd_config_left_to_k3s_and_the_gpu_operator():
    host = node("molecule-k3s-agent-1")
    for name in ("config.toml", "config-v3.toml.tmpl"):
        content = host.file(f"/var/lib/rancher/k3s/agent/etc/containerd/{name}").content_string
        assert content.startswith("# written by molecule/k3s/prepare.yml")
        assert "runtimes.'nvidia'" in content


def test_servers_joined_one_at_a_time_then_agents():
    """cluster.yml: first server, then the others with serial 1, then agents; config.yaml mtimes follow that order."""
    order = sorted(NODES, key=lambda n: float(node(n).check_output("stat -c %.9Y /etc/rancher/k3s/config.yaml")))
    assert order == [FIRST, "molecule-k3s-server-2", "molecule-k3s-server-3", "molecule-k3s-agent-1"]


# --- whole runs (slow: each converges again) --------------------------------------------------------


def test_rerun_with_verbose_output_changes_nothing_and_never_prints_the_token(token):
    rc, out = run_converge("-vvv")
    assert rc == 0, out[-3000:]
    assert token not in out
    assert re.findall(r"changed=(\d+)", out) and set(re.findall(r"changed=(\d+)", out)) == {"0"}
    # The token was generated once: the run kept it.
    assert node(FIRST).file("/etc/rancher/k3s/cluster-token").content_string.strip() == token


def test_tampered_binary_is_refused_and_nothing_installed(tmp_path, checksums):
    tampered = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS, tampered)
    with (tampered / "k3s").open("a") as binary:
        binary.write("# one extra line\n")
    rc, out = run_converge("--limit", "molecule-k3s-agent-1", "-e", f"k3s_local_artifacts_dir={tampered}")
    assert rc != 0
    assert f"REFUSED: {tampered}/k3s has sha256 {sha256((tampered / 'k3s').read_bytes())}" in " ".join(out.split())
    assert node("molecule-k3s-agent-1").file("/usr/local/bin/k3s").sha256sum == checksums["k3s"]


def test_checksums_file_disagreeing_with_the_pin_is_refused(checksums):
    rc, out = run_converge("--limit", "molecule-k3s-agent-1", "-e", '{"k3s_sha256": {"k3s": "' + "0" * 64 + '"}}')
    assert rc != 0
    assert "REFUSED: the checksums file" in " ".join(out.split())
    assert node("molecule-k3s-agent-1").file("/usr/local/bin/k3s").sha256sum == checksums["k3s"]


def test_download_without_a_pinned_checksum_is_refused():
    rc, out = run_converge("--limit", "molecule-k3s-agent-1", "-e", "k3s_install_source=url")
    assert rc != 0
    assert "Downloads are only installed against a pinned checksum" in " ".join(out.split())
