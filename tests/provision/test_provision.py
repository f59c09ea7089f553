"""playbooks/provision.yml and destroy_hetzner.yml, end to end, against the Hetzner STAND-INS and lab containers.

What is real: the playbooks, the roles, the modules (hetzner.hcloud, community.hrobot unmodified, the collection's
hcloud_server), the Ansible CLI, the installed-system checks and files inside Debian 12 systemd containers, the
ifupdown validation. What is a STAND-IN (never counted as proof of Hetzner): the Hetzner Cloud API and the Robot web
service (hetzner_standin), the rescue system, the resets and installimage (lab/). The scenario runs in order, one
test per step, on one shared world: check mode, create, re-run (changed=0), change one thing, reinstall one server
and refuse an unreachable one, teardown refused without or with a wrong confirmation, teardown, teardown again.
"""

from __future__ import annotations

import json

import pytest
from hcloud import Client
from lab_servers import podman
from provision_support import CLUSTER, HetznerWorld

CLOUD_HOSTS = [f"{CLUSTER}-cp-{n}" for n in (1, 2, 3)]
ROBOT_HOSTS = ["gex-1", "gex-2"]
SELECTOR_OWN = f"cluster={CLUSTER}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = HetznerWorld(tmp_path_factory.mktemp("provision"))
    try:
        world.start()
        yield world
    finally:
        world.stop()


@pytest.fixture(scope="module")
def steps():
    """Results of earlier steps, for the later ones (the steps run in file order)."""
    return {}


def lab(world, name):
    return next(server for server in world.lab if server.inventory_name == name)


def marker(world, name):
    text = lab(world, name).read("/etc/inference-platform/installimage.json")
    return json.loads(text) if text else None


def test_check_mode_predicts_changes_and_changes_nothing(world, steps):
    result = world.run("provision.yml", "--check")
    assert result.returncode == 0, result.describe()
    assert result.recap()["localhost"]["changed"] > 0, result.describe()
    assert world.hcloud.mutations() == [], world.hcloud.mutations()
    assert world.robot.mutations() == [], world.robot.mutations()
    assert all(marker(world, name) is None for name in ROBOT_HOSTS)
    assert "(check mode: nothing is installed)" in result.stdout
    steps["checked"] = True


def test_first_run_creates_everything(world, steps):
    assert steps.get("checked")
    result = world.run("provision.yml")
    assert result.returncode == 0, result.describe()
    hcloud = world.hcloud

    (network,) = hcloud.resources("networks")
    assert network["name"] == CLUSTER and network["ip_range"] == "10.0.0.0/16"
    assert network["labels"] == {"cluster": CLUSTER, "managed-by": "inference-platform"}
    assert network["expose_routes_to_vswitch"] is True
    subnets = {subnet["ip_range"]: subnet for subnet in network["subnets"]}
    assert set(subnets) == {"10.0.1.0/24", "10.0.3.0/24"}
    assert subnets["10.0.3.0/24"]["type"] == "vswitch"
    (vswitch,) = world.robot.vswitches()
    assert subnets["10.0.3.0/24"]["vswitch_id"] == vswitch["id"]
    assert vswitch["name"] == CLUSTER and vswitch["vlan"] == 4000 and not vswitch["cancelled"]
    assert sorted(vswitch["servers"]) == sorted(server.server_number for server in world.lab)

    servers = {server["name"]: server for server in hcloud.resources("servers")}
    assert sorted(servers) == CLOUD_HOSTS
    (firewall,) = hcloud.resources("firewalls")
    (group,) = hcloud.resources("placement_groups")
    for index, name in enumerate(CLOUD_HOSTS, start=1):
        server = servers[name]
        assert server["server_type"]["name"] == "cpx32" and server["image"]["name"] == "ubuntu-24.04"
        assert server["location"]["name"] == "fsn1"
        assert server["labels"] == {"cluster": CLUSTER, "managed-by": "inference-platform", "k8s_role": "server"}
        assert [net["ip"] for net in server["private_net"]] == [f"10.0.1.{10 + index}"]
        assert [entry["id"] for entry in server["public_net"]["firewalls"]] == [firewall["id"]]
        assert server["id"] in group["servers"]
    assert group["type"] == "spread"

    rules = {rule["description"]: rule for rule in firewall["rules"]}
    assert rules["SSH from admin_cidrs"]["port"] == "22"
    assert rules["SSH from admin_cidrs"]["source_ips"] == ["198.51.100.0/24"]
    assert rules["Kubernetes API from admin_cidrs"]["port"] == "6443"
    assert len(firewall["rules"]) == 3, "nothing but SSH, the API and ICMP is open to the internet"

    balancers = {lb["name"]: lb for lb in hcloud.resources("load_balancers")}
    api, ingress = balancers[f"{CLUSTER}-api"], balancers[f"{CLUSTER}-ingress"]
    assert api["public_net"]["enabled"] is False, "the API load balancer cannot filter sources: private only"
    assert ingress["public_net"]["enabled"] is True
    assert [net["ip"] for net in api["private_net"]] == ["10.0.1.2"]
    assert [(s["protocol"], s["listen_port"], s["destination_port"]) for s in api["services"]] == [("tcp", 6443, 6443)]
    assert sorted(s["listen_port"] for s in ingress["services"]) == [80, 443]
    for balancer in (api, ingress):
        (target,) = balancer["targets"]
        assert target["type"] == "label_selector" and target["use_private_ip"] is True
        assert target["label_selector"]["selector"] == f"cluster={CLUSTER},k8s_role=server"
        assert len(target["targets"]) == 3

    for server in world.lab:
        fw = world.robot.firewall(server.server_number)
        assert fw["status"] == "active"
        names = [rule["name"] for rule in fw["rules"]["input"]]
        assert names == ["ssh from admin a", "private network", "icmp", "tcp replies", "dns replies", "ntp replies"]
        assert world.robot.server(server.server_number)["server_name"] == server.inventory_name
        found = marker(world, server.inventory_name)
        assert found is not None and found["image"] == "Debian-1210-bookworm-amd64-base"
        assert found["hostname"] == server.inventory_name and found["server_number"] == server.server_number
        config = server.read("/var/lib/standin/installimage.conf")
        assert "DRIVE1 /dev/nvme0n1" in config and "DRIVE2 /dev/nvme1n1" in config
        assert "SWRAID 1" in config and "SWRAIDLEVEL 1" in config and f"HOSTNAME {server.inventory_name}" in config
        assert "PART / ext4 all" in config and "swap" not in config
        assert server.exec("hostname").stdout.strip() == server.inventory_name
        assert server.read("/root/.oldroot/nfs/install/installimage") is None, "still in the rescue system"
        vlan = server.read("/etc/network/interfaces.d/60-inference-platform-vswitch")
        assert "iface eth0.4000 inet static" in vlan
        assert f"address {found and server_ip(world, server.inventory_name)}/24" in vlan
        assert "mtu 1400" in vlan and "10.0.0.0/16 via 10.0.3.1" in vlan
    resets = world.robot.resets
    assert [(reset["server_number"], reset["rescue"] is not None) for reset in resets] == [
        (n, rescue) for n in sorted(s.server_number for s in world.lab) for rescue in (True, False)
    ] or sorted((r["server_number"], r["rescue"] is not None) for r in resets) == sorted(
        (s.server_number, rescue) for s in world.lab for rescue in (True, False)
    )
    report = json.loads((world.workdir / "report.json").read_text())
    assert [server["name"] for server in report["servers"]] == CLOUD_HOSTS and report["unknown_servers"] == []
    assert world.known_hosts.exists() is False, "lab servers are reached through podman: no SSH host key to record"
    steps["created"] = {name: marker(world, name) for name in ROBOT_HOSTS}


def server_ip(world, name):
    hosts = world.default_hosts()
    return hosts["hetzner_robot"]["hosts"][name]["node_ip"]


def test_second_run_changes_nothing(world, steps):
    assert steps.get("created")
    world.clear_requests()
    resets_before = len(world.robot.resets)
    result = world.run("provision.yml", "-vv")
    assert result.returncode == 0, result.describe()
    assert result.changed_total() == 0, result.changed_tasks()
    assert world.hcloud.mutations() == [], world.hcloud.mutations()
    assert world.robot.mutations() == [], world.robot.mutations()
    assert len(world.robot.resets) == resets_before
    assert {name: marker(world, name) for name in ROBOT_HOSTS} == steps["created"], "a marked server was reinstalled"
    assert "left alone" in result.stdout


def test_changing_admin_cidrs_changes_only_the_firewalls(world, steps):
    assert steps.get("created")
    world.write_inventory(overrides={"admin_cidrs": ["198.51.100.0/24", "203.0.113.128/25"]})
    world.clear_requests()
    result = world.run("provision.yml")
    assert result.returncode == 0, result.describe()
    assert set(result.changed_tasks()) == {
        "hetzner_cloud : Create the firewall of the cloud servers",
        "Set the Robot firewall of each server",
    } or all("firewall" in task.lower() for task in result.changed_tasks()), result.changed_tasks()
    paths = {(request.method, request.path) for request in world.hcloud.mutations()}
    assert paths and all("/firewalls/" in path for _method, path in paths), paths
    assert {entry["path"].split("/")[1] for entry in world.robot.mutations()} == {"firewall"}
    (firewall,) = world.hcloud.resources("firewalls")
    ssh = next(rule for rule in firewall["rules"] if rule["port"] == "22")
    assert ssh["source_ips"] == ["198.51.100.0/24", "203.0.113.128/25"]
    for server in world.lab:
        names = [rule["name"] for rule in world.robot.firewall(server.server_number)["rules"]["input"]]
        assert names[:2] == ["ssh from admin a", "ssh from admin b"]
    steps["changed"] = True


def test_force_reinstall_reinstalls_and_an_unreachable_server_is_refused(world, steps):
    assert steps.get("changed")
    world.clear_requests()
    resets_before = len(world.robot.resets)
    unreachable = lab(world, "gex-1")
    podman("stop", "--time", "0", unreachable.container)
    try:
        result = world.run("provision.yml", "-e", '{"hetzner_robot_force_reinstall": ["gex-2"]}')
    finally:
        podman("start", unreachable.container)
    (world.workdir / "force-reinstall.log").write_text(result.describe())
    output = " ".join(result.output.split())
    assert result.returncode != 0, result.describe()
    assert "gex-1 (Robot server" in output and "does not answer over SSH" in output, result.describe()
    assert "A reinstall wipes its disks and is never decided on a guess" in output, result.describe()
    new = world.robot.resets[resets_before:]
    assert [(reset["server_number"], reset["rescue"] is not None) for reset in new] == [
        (lab(world, "gex-2").server_number, True),
        (lab(world, "gex-2").server_number, False),
    ]
    reinstalled = marker(world, "gex-2")
    assert reinstalled is not None and reinstalled["installed_at"] >= steps["created"]["gex-2"]["installed_at"]
    assert reinstalled != steps["created"]["gex-2"]


def test_destroy_is_refused_without_the_cluster_name(world):
    world.clear_requests()
    missing = world.run("destroy_hetzner.yml")
    wrong = world.run("destroy_hetzner.yml", "-e", "confirm_destroy=someone-else")
    assert missing.returncode != 0 and "confirm_destroy" in missing.output
    assert wrong.returncode != 0 and f"Confirm with -e confirm_destroy={CLUSTER}" in " ".join(wrong.output.split())
    assert world.hcloud.mutations() == [] and world.robot.mutations() == []
    assert len(world.hcloud.resources("servers")) == 3


def test_destroy_deletes_only_what_carries_the_cluster_label(world, steps):
    client = Client(token=world.hcloud.token, api_endpoint=world.hcloud.endpoint)
    from hcloud.images import Image
    from hcloud.locations import Location
    from hcloud.server_types import ServerType

    foreign = client.servers.create(
        name="someone-elses-server",
        server_type=ServerType(name="cpx22"),
        image=Image(name="debian-12"),
        location=Location(name="nbg1"),
        labels={"cluster": "other"},
    ).server
    unlabelled = client.networks.create(name=f"{CLUSTER}-lookalike", ip_range="192.168.0.0/16")
    result = world.run("destroy_hetzner.yml", "-e", f"confirm_destroy={CLUSTER}")
    assert result.returncode == 0, result.describe()
    assert [server["name"] for server in world.hcloud.resources("servers")] == [foreign.name]
    assert [network["name"] for network in world.hcloud.resources("networks")] == [unlabelled.name]
    for kind in ("load_balancers", "firewalls", "placement_groups", "ssh_keys"):
        assert world.hcloud.resources(kind) == [], kind
    (vswitch,) = world.robot.vswitches()
    assert vswitch["cancelled"] and vswitch["servers"] == []
    for name in ROBOT_HOSTS:
        assert marker(world, name) is not None, f"{name} must stay installed"
    again = world.run("destroy_hetzner.yml", "-e", f"confirm_destroy={CLUSTER}")
    assert again.returncode == 0 and again.changed_total() == 0, again.describe()
    steps["destroyed"] = True
