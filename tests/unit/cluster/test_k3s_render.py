"""k3s configuration rendered by the role's own tasks and templates for fixture inventories.

tests/fixtures/cluster/render/render.yml runs roles/k3s/tasks/configure.yml on the fixture hosts
with a local connection, writing into a temporary directory; the tests parse what it wrote.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from cluster_support import ansible_playbook

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "cluster" / "render"


def render(inventory: str, out: Path) -> Path:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        [
            ansible_playbook(),
            "-i",
            str(FIXTURES / inventory),
            str(FIXTURES / "render.yml"),
            "-e",
            f"render_dir={out}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def ha(tmp_path_factory):
    return render("ha.yml", tmp_path_factory.mktemp("ha"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return render("single.yml", tmp_path_factory.mktemp("single"))


def config(out: Path, host: str) -> dict:
    return yaml.safe_load((out / host / "etc/rancher/k3s/config.yaml").read_text())


# --- HA: three servers, two agents -------------------------------------------------------------


def test_first_server_initialises_etcd_and_joins_nothing(ha):
    cfg = config(ha, "cp-1")
    assert cfg["cluster-init"] is True
    assert "server" not in cfg


@pytest.mark.parametrize("host", ["cp-2", "cp-3"])
def test_joining_servers_point_at_the_first_server(ha, host):
    cfg = config(ha, host)
    assert cfg["server"] == "https://10.0.0.11:6443"
    assert "cluster-init" not in cfg


@pytest.mark.parametrize("host", ["cp-1", "cp-2", "cp-3"])
def test_servers_share_certificate_names_and_networks(ha, host):
    cfg = config(ha, host)
    assert cfg["tls-san"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    assert (cfg["cluster-cidr"], cfg["service-cidr"]) == ("10.42.0.0/16", "10.43.0.0/16")
    assert cfg["secrets-encryption"] is True
    assert "disable" not in cfg


@pytest.mark.parametrize(("host", "address"), [("cp-2", "10.0.0.12"), ("cpu-1", "10.0.1.21"), ("gpu-1", "10.0.1.31")])
def test_every_node_names_itself_and_its_private_address(ha, host, address):
    cfg = config(ha, host)
    assert (cfg["node-name"], cfg["node-ip"], cfg["flannel-iface"]) == (host, address, "ens10")
    assert cfg["token-file"].endswith("/etc/rancher/k3s/cluster-token")
    assert "token" not in cfg


def test_cpu_agent_has_no_gpu_settings(ha):
    cfg = config(ha, "cpu-1")
    assert cfg["server"] == "https://10.0.0.11:6443"
    assert not {"node-label", "node-taint", "default-runtime", "tls-san", "cluster-init"} & cfg.keys()


def test_gpu_agent_is_labelled_tainted_and_gets_the_default_runtime(ha):
    cfg = config(ha, "gpu-1")
    assert cfg["node-label"] == ["inference.platform/gpu-class=l40s", "nvidia.com/gpu.present=true"]
    assert cfg["node-taint"] == ["dedicated=inference:NoExecute", "nvidia.com/gpu=present:NoSchedule"]
    assert cfg["default-runtime"] == "nvidia"


def test_units_run_server_or_agent(ha):
    assert "ExecStart=/usr/local/bin/k3s server" in (ha / "cp-1/etc/systemd/system/k3s.service").read_text()
    assert "ExecStart=/usr/local/bin/k3s agent" in (ha / "gpu-1/etc/systemd/system/k3s-agent.service").read_text()
    assert not (ha / "gpu-1/etc/systemd/system/k3s.service").exists()


def test_no_registries_file_without_mirrors(ha):
    assert not (ha / "cp-1/etc/rancher/k3s/registries.yaml").exists()


# --- single server behind a load balancer name ------------------------------------------------------


def test_single_server_uses_the_endpoint_in_certificate_and_for_agents(single):
    server, agent = config(single, "solo"), config(single, "worker")
    assert server["cluster-init"] is True
    assert server["tls-san"] == ["api.render.example", "10.0.0.11", "203.0.113.7"]
    assert server["disable"] == ["traefik", "servicelb"]
    assert (server["cluster-cidr"], server["service-cidr"]) == ("10.52.0.0/16", "10.53.0.0/16")
    assert agent["server"] == "https://api.render.example:6443"


def test_registries_yaml_is_the_configured_mapping(single):
    text = (single / "solo/etc/rancher/k3s/registries.yaml").read_text()
    assert yaml.safe_load(text) == {
        "mirrors": {"docker.io": {"endpoint": ["https://mirror.render.example:5000"]}},
        "configs": {"mirror.render.example:5000": {"tls": {"ca_file": "/etc/ssl/certs/render-ca.pem"}}},
    }
