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
import yaml
from hcloud import Client
from lab_servers import podman
from provision_support import CLUSTER, PROJECT_ROOT, HetznerWorld

CLOUD_HOSTS = [f"{CLUSTER}-cp-{n}" for n in (1, 2, 3)]
ROBOT_HOSTS = ["gex-1", "gex-2"]
# The tasks of roles/hetzner_robot that install a server (the block under "Install from the rescue system").
INSTALL_BLOCK = next(
    task["block"]
    for task in yaml.safe_load((PROJECT_ROOT / "roles/hetzner_robot/tasks/install.yml").read_text())
    if task["name"] == "Install from the rescue system"
)


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


def test_check_mode_changes_nothing_and_an_unreachable_server_is_refused(world, steps):
    """Check mode first, with gex-1 switched off: nothing is changed anywhere, gex-2's install is only predicted,
    and gex-1, whose marker cannot be read, is refused instead of being reinstalled on a guess."""
    podman("stop", "--time", "0", lab(world, "gex-1").container)
    try:
        result = world.run("provision.yml", "--check")
    finally:
        podman("start", lab(world, "gex-1").container)
    output = " ".join(result.output.split())
    assert result.returncode != 0, result.describe()
    assert result.recap()["gex-1"]["failed"] == 1 and result.recap()["gex-2"]["failed"] == 0, result.describe()
    assert "gex-1 (Robot server 3100001" in output and "does not answer over SSH" in output, result.describe()
    assert "A reinstall wipes its disks and is never decided on a guess" in output
    assert "gex-2: no install marker, installing" in output and "(check mode: nothing is installed)" in output
    assert result.recap()["localhost"]["changed"] > 0, result.describe()
    assert world.hcloud.mutations() == [], world.hcloud.mutations()
    assert world.robot.mutations() == [], world.robot.mutations()
    assert world.robot.resets == []
    assert all(marker(world, name) is None for name in ROBOT_HOSTS)
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
        assert "iface eth0.4000 inet static" in vlan and "vlan-raw-device eth0" in vlan
        assert f"address {node_ip(world, server.inventory_name)}/24" in vlan
        assert "mtu 1400" in vlan and "ip route replace 10.0.0.0/16 via 10.0.3.1 dev eth0.4000" in vlan
        assert "source /etc/network/interfaces.d/*" in server.read("/etc/network/interfaces")
        # Reset into the rescue system (rescue active), then into the installed system.
        resets = [
            reset["rescue"] is not None
            for reset in world.robot.resets
            if reset["server_number"] == server.server_number
        ]
        assert resets == [True, False]
    # ifupdown itself read the new configuration (ifup --no-act) before it would have been applied.
    assert "RUNNING HANDLER [hetzner_robot : Validate the vSwitch interface]" in result.stdout
    assert "RUNNING HANDLER [hetzner_robot : Apply the vSwitch interface]" in result.stdout
    report = json.loads((world.workdir / "report.json").read_text())
    assert [server["name"] for server in report["servers"]] == CLOUD_HOSTS and report["unknown_servers"] == []
    assert world.known_hosts.exists() is False, "lab servers are reached through podman: no SSH host key to record"
    steps["created"] = {name: marker(world, name) for name in ROBOT_HOSTS}


def node_ip(world, name):
    return world.default_hosts()["hetzner_robot"]["hosts"][name]["node_ip"]


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


def test_one_changed_setting_changes_only_its_resources_and_a_forced_server_is_reinstalled(world, steps):
    """Two independent changes in one run (each run costs a minute here), each traced to exactly what it touches:
    admin_cidrs gains a network -> only the Cloud firewall's rules and the Robot firewalls change;
    hetzner_robot_force_reinstall names gex-2 -> only gex-2 goes through rescue and installimage again."""
    assert steps.get("created")
    world.write_inventory(overrides={"admin_cidrs": ["198.51.100.0/24", "203.0.113.128/25"]})
    world.clear_requests()
    resets_before = len(world.robot.resets)
    result = world.run("provision.yml", "-e", '{"hetzner_robot_force_reinstall": ["gex-2"]}')
    assert result.returncode == 0, result.describe()
    assert result.recap()["gex-1"]["changed"] == 0, result.describe()
    changed = result.changed_hosts_by_task()
    firewalls = {
        "hetzner_robot : Set the Robot firewall of each server",
        "hetzner_cloud : Create the firewall of the cloud servers",
    }
    assert all(changed.get(task) == {"localhost"} for task in firewalls), changed
    install_tasks = {f"hetzner_robot : {task['name']}" for task in INSTALL_BLOCK}
    others = {task: hosts for task, hosts in changed.items() if task not in firewalls}
    assert set(others) <= install_tasks and all(hosts == {"gex-2"} for hosts in others.values()), others
    paths = {request.path for request in world.hcloud.mutations()}
    assert paths and all(path.startswith("/firewalls/") for path in paths), paths
    robot_calls = {entry["path"].split("/")[1] for entry in world.robot.mutations()}
    assert robot_calls == {"firewall", "boot", "reset"}, robot_calls
    (firewall,) = world.hcloud.resources("firewalls")
    ssh = next(rule for rule in firewall["rules"] if rule["port"] == "22")
    assert ssh["source_ips"] == ["198.51.100.0/24", "203.0.113.128/25"]
    for server in world.lab:
        names = [rule["name"] for rule in world.robot.firewall(server.server_number)["rules"]["input"]]
        assert names[:2] == ["ssh from admin a", "ssh from admin b"]
    gex2 = lab(world, "gex-2").server_number
    assert [(reset["server_number"], reset["rescue"] is not None) for reset in world.robot.resets[resets_before:]] == [
        (gex2, True),
        (gex2, False),
    ]
    assert marker(world, "gex-1") == steps["created"]["gex-1"], "gex-1 was not asked to be reinstalled"
    reinstalled = marker(world, "gex-2")
    assert reinstalled is not None and reinstalled != steps["created"]["gex-2"]
    assert reinstalled["installed_at"] >= steps["created"]["gex-2"]["installed_at"]
    assert "gex-2: reinstalling, hetzner_robot_force_reinstall names it" in " ".join(result.output.split())


def test_destroy_is_refused_without_the_cluster_name(world):
    world.clear_requests()
    missing = world.run("destroy_hetzner.yml")
    wrong = world.run("destroy_hetzner.yml", "-e", "confirm_destroy=someone-else")
    # Missing, the operator reads the REFUSED text with the value to type (issue 19), not an argument-spec dump.
    assert missing.returncode != 0
    assert f"Confirm with -e confirm_destroy={CLUSTER} (given: '')" in " ".join(missing.output.split())
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
