"""What node_identity leaves on a host, checked on the lab hosts themselves."""

import json

import pytest

NODES = {"molecule-ni-server-1": "10.0.1.10", "molecule-ni-agent-1": "10.0.1.21"}


def test_hostname_is_the_inventory_name(host):
    assert host.check_output("hostname") == host.backend.get_hostname()


@pytest.mark.parametrize(("name", "address"), sorted(NODES.items()))
def test_every_node_resolves_to_its_node_ip(host, name, address):
    assert host.check_output(f"getent hosts {name}").split() == [address, name]


def test_hosts_block_is_written_once(host):
    hosts_file = host.file("/etc/hosts")
    assert hosts_file.mode == 0o644
    assert hosts_file.content_string.count("# BEGIN inference-platform nodes of inference") == 1
    assert "127.0.0.1 localhost" in hosts_file.content_string


def test_identity_is_recorded_as_a_local_fact(host):
    name = host.backend.get_hostname()
    fact = json.loads(host.file("/etc/ansible/facts.d/inference_platform.fact").content_string)
    assert fact == {
        "cluster_name": "inference",
        "node_name": name,
        "node_ip": NODES[name],
        "control_plane": name.endswith("server-1"),
        "gpu_node": name.endswith("agent-1"),
    }
