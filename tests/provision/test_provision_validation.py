"""Bad input to the provision stage fails before any API call, with a message that says what to change.

playbooks/provision.yml runs against the Hetzner Cloud and Robot STAND-INS (hetzner_standin: not Hetzner); each
case breaks the inventory in one or more ways and asserts (1) the run fails, (2) every expected sentence is in the
output, (3) the stand-ins received no request from the stage (the roles' checks read variables only): the one
request allowed is the inventory plugin listing the cluster's servers while Ansible loads the inventory, a read
that happens before any play (none without a token). No lab container is started: the run stops before any host
play.
"""

from __future__ import annotations

import pytest
from provision_support import CLUSTER, HetznerWorld


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = HetznerWorld(tmp_path_factory.mktemp("provision-validation")).start(with_lab=False)
    yield world
    world.stop()


def run_broken(world, overrides=None, hosts=None, env=None):
    world.write_inventory(overrides=overrides, hosts=hosts)
    world.clear_requests()
    result = world.run("provision.yml", env=env)
    assert result.returncode != 0, result.describe()
    calls = [(request.method, request.path) for request in world.hcloud.requests]
    assert set(calls) <= {("GET", "/servers")}, f"the stage called the Cloud API: {calls}"
    assert len(calls) <= 1, f"more than the inventory plugin's read: {calls}"
    assert world.robot.requests == [], f"the Robot API was called: {world.robot.requests}"
    assert world.proxy.tunnels == 0
    assert "No API call was made." in result.output, result.describe()
    return " ".join(result.output.split())


def test_cloud_problems_are_all_reported_before_any_call(world):
    hosts = world.default_hosts()
    hosts["hetzner_cloud"]["hosts"][f"{CLUSTER}-cp-2"]["hetzner_cloud_server_type"] = "cx99"
    hosts["hetzner_cloud"]["hosts"][f"{CLUSTER}-cp-3"]["node_ip"] = "10.0.7.13"
    output = run_broken(
        world,
        overrides={"hetzner_cloud_location": "fra9", "hetzner_cloud_subnet_cidr": "10.0.3.0/25"},
        hosts=hosts,
        env=world.env(HCLOUD_TOKEN=""),
    )
    assert "No Hetzner Cloud API token: export HCLOUD_TOKEN=" in output
    assert "hetzner_cloud_location 'fra9'" in output and "write one of: fsn1, nbg1, hel1, ash, hil, sin" in output
    assert "hetzner_cloud_subnet_cidr 10.0.3.0/25 and hetzner_cloud_vswitch_subnet_cidr 10.0.3.0/24 overlap" in output
    assert (
        f"Cloud server {CLUSTER}-cp-2" in output and "server type 'cx99' is not a Hetzner Cloud server type" in output
    )
    assert f"Cloud server {CLUSTER}-cp-3" in output and "node_ip '10.0.7.13' is not an address in" in output


def test_robot_problems_are_all_reported_before_any_call(world):
    hosts = world.default_hosts()
    robot_hosts = list(hosts["hetzner_robot"]["hosts"])
    del hosts["hetzner_robot"]["hosts"][robot_hosts[0]]["hetzner_robot_server_number"]
    hosts["hetzner_robot"]["hosts"][robot_hosts[1]]["node_ip"] = "10.0.3.1"
    output = run_broken(
        world,
        overrides={"hetzner_robot_vswitch_vlan": 12, "hetzner_robot_swraid_level": 7},
        hosts=hosts,
        env=world.env(HROBOT_API_PASSWORD=""),
    )
    assert "No Hetzner Robot web service credentials: export HROBOT_API_USER and HROBOT_API_PASSWORD" in output
    assert "hetzner_robot_vswitch_vlan '12'" in output and "Robot allows 4000 to 4091" in output
    assert "hetzner_robot_swraid_level '7'" in output
    assert f"Robot server {robot_hosts[0]}" in output and "has no hetzner_robot_server_number" in output
    assert f"Robot server {robot_hosts[1]}" in output and "other than its gateway 10.0.3.1" in output


def test_a_host_no_hetzner_group_would_create_is_refused(world):
    hosts = world.default_hosts()
    hosts["k8s_cluster"]["children"]["k8s_agents"]["hosts"]["onprem-1"] = {"node_ip": "10.0.5.5"}
    output = run_broken(world, hosts=hosts)
    assert "Hosts onprem-1 are in k8s_cluster but neither in hetzner_cloud nor in hetzner_robot" in output


def test_an_inventory_without_hetzner_hosts_is_told_to_skip_the_stage(world):
    hosts = {"k8s_cluster": {"children": {"k8s_servers": {"hosts": {"cp-1": {"node_ip": "10.0.1.10"}}}}}}
    output = run_broken(world, hosts=hosts)
    assert "has no host in hetzner_cloud or hetzner_robot" in output and "site_skip_stages" in output
