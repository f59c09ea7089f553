"""inference.platform.hetzner_cloud_problems / hetzner_robot_problems: the provision stage's checks of the Hetzner
input, called directly; each rule with a good case and the exact sentence of a bad one
(tests/provision/test_provision_validation.py runs them through the roles against the Hetzner stand-ins)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.filter.hetzner import (
    FilterModule,
    hetzner_cloud_problems,
    hetzner_robot_problems,
)

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ["inv/hosts.yml"]
WHERE = "in the inventory (inv/hosts.yml)"


def role_defaults(role):
    """The role's defaults that are plain values (the templated ones are set by each test's base below)."""
    values = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text())
    return {name: value for name, value in values.items() if not (isinstance(value, str) and "{{" in value)}


def validate_task_keys(role, variable):
    """The keys tasks/validate.yml hands the filter."""
    tasks = yaml.safe_load((ROOT / "roles" / role / "tasks/validate.yml").read_text())
    return next(set(task["vars"][variable]) for task in tasks if variable in task.get("vars", {}))


class Recording(dict):
    """A settings mapping that remembers which names the filter read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


CLOUD = {
    **role_defaults("hetzner_cloud"),
    "hetzner_cloud_ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx0 admin@example",
    "hetzner_cloud_server_image": "ubuntu-24.04",
    "hetzner_cloud_api_load_balancer_ip": "10.0.1.2",
    "hetzner_cloud_ingress_load_balancer_ip": "10.0.1.3",
    "hetzner_cloud_vswitch_subnet_cidr": "10.0.3.0/24",
    "hetzner_cloud_servers_group": "hetzner_cloud",
    "private_network_cidr": "10.0.0.0/16",
    "admin_cidrs": ["198.51.100.0/24"],
    "admin_cidrs_allow_world": False,
}
CLOUD_HOSTVARS = {
    "cp-1": {"node_ip": "10.0.1.10"},
    "cp-2": {"node_ip": "10.0.1.11"},
    "cp-3": {"node_ip": "10.0.1.12", "hetzner_cloud_server_type": "ccx33"},
}

ROBOT = {
    **role_defaults("hetzner_robot"),
    "hetzner_robot_ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx0 admin@example",
    "hetzner_robot_install_image": "Debian-1210-bookworm-amd64-base",
    "hetzner_robot_vswitch_subnet_cidr": "10.0.3.0/24",
    "hetzner_robot_drives": ["/dev/nvme0n1", "/dev/nvme1n1"],
    "private_network_cidr": "10.0.0.0/16",
    "admin_cidrs": ["198.51.100.0/24"],
    "admin_cidrs_allow_world": False,
}
ROBOT_HOSTVARS = {
    "gex-1": {"node_ip": "10.0.3.11", "hetzner_robot_server_number": 3100001},
    "gex-2": {"node_ip": "10.0.3.12", "hetzner_robot_server_number": "3100002"},
}


def cloud(settings=None, hostvars=None, cluster_hosts=None, token_set=True):
    hostvars = copy.deepcopy(CLOUD_HOSTVARS if hostvars is None else hostvars)
    return hetzner_cloud_problems(
        {**CLOUD, **(settings or {})},
        hosts=list(hostvars),
        hostvars=hostvars,
        cluster_hosts=list(hostvars) if cluster_hosts is None else cluster_hosts,
        token_set=token_set,
        sources=SOURCES,
    )


def robot(settings=None, hostvars=None, cluster_hosts=None, credentials_set=True):
    hostvars = copy.deepcopy(ROBOT_HOSTVARS if hostvars is None else hostvars)
    return hetzner_robot_problems(
        {**ROBOT, **(settings or {})},
        hosts=list(hostvars),
        hostvars=hostvars,
        cluster_hosts=list(hostvars) if cluster_hosts is None else cluster_hosts,
        credentials_set=credentials_set,
        sources=SOURCES,
    )


def with_host(base, host, **values):
    hostvars = copy.deepcopy(base)
    hostvars.setdefault(host, {}).update(values)
    return hostvars


# ---------------------------------------------------------------- the filters and how the roles call them


def test_the_filters_are_registered():
    assert FilterModule().filters() == {
        "hetzner_cloud_problems": hetzner_cloud_problems,
        "hetzner_robot_problems": hetzner_robot_problems,
    }


@pytest.mark.parametrize("function", [hetzner_cloud_problems, hetzner_robot_problems])
def test_settings_must_be_a_mapping(function):
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        function(["not", "a", "mapping"])


@pytest.mark.parametrize(
    ("role", "variable", "function", "base", "hostvars", "secret"),
    [
        ("hetzner_cloud", "__hetzner_cloud_settings", hetzner_cloud_problems, CLOUD, CLOUD_HOSTVARS, "token_set"),
        ("hetzner_robot", "__hetzner_robot_settings", hetzner_robot_problems, ROBOT, ROBOT_HOSTVARS,
         "credentials_set"),
    ],
)
def test_validate_yml_hands_the_filter_every_variable_it_reads(role, variable, function, base, hostvars, secret):
    settings = Recording(base)
    function(settings, hosts=list(hostvars), hostvars=hostvars, cluster_hosts=list(hostvars), sources=SOURCES,
             **{secret: True})
    passed = validate_task_keys(role, variable)
    assert settings.read <= passed, f"validate.yml does not pass {sorted(settings.read - passed)}"
    assert passed <= set(base), f"the test base lacks {sorted(passed - set(base))}"


# ---------------------------------------------------------------- Hetzner Cloud


def test_good_cloud_input_has_no_problem():
    assert cloud() == []


def test_a_missing_token_is_named_with_the_three_ways_to_set_it():
    assert cloud(token_set=False) == [
        "No Hetzner Cloud API token: export HCLOUD_TOKEN=<read & write token of the project>, attach the AWX "
        "credential \"Hetzner Cloud\", or set hetzner_cloud_token to a value from Ansible Vault in the inventory's "
        "group_vars."
    ]


@pytest.mark.parametrize("key", [
    "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5 yubikey",
    "  ecdsa-sha2-nistp521 AAAAE2VjZHNh==  ",
    "ssh-rsa AAAAB3NzaC1yc2E=",
])
def test_cloud_takes_openssh_keys_with_security_key_types(key):
    assert cloud({"hetzner_cloud_ssh_public_key": key}) == []


@pytest.mark.parametrize("key", ["", None, "ssh-dss AAAAB3NzaC1kc3M=", "ssh-ed25519", "ssh-ed25519 AAAA\nssh-rsa AAAA",
                                 "-----BEGIN OPENSSH PRIVATE KEY-----"])
def test_cloud_refuses_what_is_not_a_public_key(key):
    assert cloud({"hetzner_cloud_ssh_public_key": key}) == [
        "hetzner_cloud_ssh_public_key in the inventory (inv/hosts.yml) is not an OpenSSH public key; write the one "
        "line of the .pub file of the key Ansible logs in to the servers with (e.g. read ~/.ssh/id_ed25519.pub with "
        "the ansible.builtin.file lookup)."
    ]


def test_an_unknown_location_lists_the_known_ones():
    assert cloud({"hetzner_cloud_location": "nbg1"}) == []
    assert cloud({"hetzner_cloud_location": "fra9"}) == [
        "hetzner_cloud_location 'fra9' in the inventory (inv/hosts.yml) is not a Hetzner Cloud location; write one "
        "of: fsn1, nbg1, hel1, ash, hil, sin (if Hetzner opened a new one, add it to hetzner_cloud_known_locations "
        "with its network zone)."
    ]


def test_the_network_zone_must_contain_the_location():
    assert cloud({"hetzner_cloud_location": "ash", "hetzner_cloud_network_zone": "us-east",
                  "hetzner_cloud_vswitch_subnet_cidr": ""}) == []
    assert cloud({"hetzner_cloud_location": "ash", "hetzner_cloud_vswitch_subnet_cidr": ""}) == [
        "hetzner_cloud_network_zone 'eu-central' in the inventory (inv/hosts.yml) does not contain location ash; "
        "write hetzner_cloud_network_zone: us-east."
    ]


def test_a_vswitch_subnet_needs_eu_central():
    assert cloud({"hetzner_cloud_location": "ash", "hetzner_cloud_network_zone": "us-east"}) == [
        "A vSwitch subnet (hetzner_cloud_vswitch_subnet_cidr 10.0.3.0/24) needs network zone eu-central, but "
        "hetzner_cloud_network_zone is us-east in the inventory (inv/hosts.yml); put the cloud servers in fsn1, nbg1 "
        "or hel1."
    ]


def test_an_unknown_image_names_its_pin():
    assert cloud({"hetzner_cloud_server_image": "centos-7"}) == [
        "hetzner_cloud_server_image 'centos-7' is not a known system image; write one of: ubuntu-22.04, ubuntu-24.04, "
        "debian-12, debian-13 (the pin is hetzner_cloud_image in group_vars/all/versions.yml)."
    ]


def test_a_private_network_that_is_no_network_is_named_once():
    assert cloud({"private_network_cidr": "10.0.0.5/16"}) == [
        "private_network_cidr '10.0.0.5/16' in the inventory (inv/hosts.yml) is not a network in CIDR notation with "
        "its host bits zero, so no subnet can be placed in it; write e.g. 10.0.0.0/16."
    ]


@pytest.mark.parametrize(("cidr", "example"), [("10.0.1.5/24", "10.0.1.0/24"), ("garbage", "10.0.1.0/24"),
                                               (None, "10.0.1.0/24")])
def test_a_subnet_must_be_a_network(cidr, example):
    assert cloud({"hetzner_cloud_subnet_cidr": cidr}) == [
        f"hetzner_cloud_subnet_cidr '{cidr}' in the inventory (inv/hosts.yml) is not a network in CIDR notation with "
        f"its host bits zero; write e.g. {example}."
    ]


def test_a_subnet_must_lie_in_the_private_network():
    assert cloud({"hetzner_cloud_vswitch_subnet_cidr": "10.9.3.0/24"}) == [
        "hetzner_cloud_vswitch_subnet_cidr 10.9.3.0/24 in the inventory (inv/hosts.yml) is not inside "
        "private_network_cidr 10.0.0.0/16; a Hetzner subnet must lie in its network: choose a range inside "
        "10.0.0.0/16."
    ]


def test_the_two_subnets_must_not_overlap():
    found = cloud({"hetzner_cloud_subnet_cidr": "10.0.3.0/25", "hetzner_cloud_api_load_balancer_ip": "10.0.3.2",
                   "hetzner_cloud_ingress_load_balancer_ip": "10.0.3.3"},
                  hostvars={"cp-1": {"node_ip": "10.0.3.10"}})
    assert found == [
        "hetzner_cloud_subnet_cidr 10.0.3.0/25 and hetzner_cloud_vswitch_subnet_cidr 10.0.3.0/24 overlap in the "
        "inventory (inv/hosts.yml); Hetzner refuses overlapping subnets: choose two separate ranges inside "
        "10.0.0.0/16 (e.g. 10.0.1.0/24 and 10.0.3.0/24)."
    ]


def test_a_load_balancer_type_must_be_known():
    assert cloud({"hetzner_cloud_ingress_load_balancer_type": "lb31"}) == []
    assert cloud({"hetzner_cloud_ingress_load_balancer_type": "lb99"}) == [
        "hetzner_cloud_ingress_load_balancer_type 'lb99' in the inventory (inv/hosts.yml) is not a load balancer "
        "type; write one of: lb11, lb21, lb31."
    ]


@pytest.mark.parametrize("address", ["10.0.0.1", "10.0.2.2", "10.0.1.2/24", None])
def test_a_load_balancer_address_must_be_free_in_the_cloud_subnet(address):
    assert cloud({"hetzner_cloud_api_load_balancer_ip": address}) == [
        f"hetzner_cloud_api_load_balancer_ip '{address}' in the inventory (inv/hosts.yml) is not a free address in "
        "hetzner_cloud_subnet_cidr 10.0.1.0/24 (10.0.0.1, the first address of the network, is its gateway); write "
        "e.g. 10.0.1.2."
    ]


def test_the_two_load_balancers_need_their_own_addresses():
    assert cloud({"hetzner_cloud_ingress_load_balancer_ip": "10.0.1.2"}) == [
        "hetzner_cloud_ingress_load_balancer_ip 10.0.1.2 in the inventory (inv/hosts.yml) is also the address of the "
        "api load balancer; give each load balancer its own address."
    ]


@pytest.mark.parametrize("disabled", [False, "false", "no"])
def test_a_disabled_load_balancer_is_not_checked(disabled):
    assert cloud({"hetzner_cloud_api_load_balancer": disabled, "hetzner_cloud_api_load_balancer_type": "lb99",
                  "hetzner_cloud_api_load_balancer_ip": "10.0.0.1"}) == []


def test_a_cloud_server_name_must_be_a_dns_label():
    assert cloud(hostvars=with_host(CLOUD_HOSTVARS, "CP_4", node_ip="10.0.1.40")) == [
        "Cloud server CP_4 in the inventory (inv/hosts.yml): its inventory name becomes the server name and hostname, "
        "so it must be a DNS label (lowercase a-z, 0-9, '-', at most 63 characters); rename the host."
    ]


def test_a_server_type_is_the_host_var_else_the_role_default():
    assert cloud({"hetzner_cloud_server_type": "cx99"}) == [
        f"Cloud server {host} in the inventory (inv/hosts.yml): server type 'cx99' is not a Hetzner Cloud server "
        "type; write one of: cx23, cx33, cx43, cx53, cpx12, cpx22, cpx32, cpx42, cpx52, cpx62, cpx11, cpx21, cpx31, "
        "cpx41, cpx51, ccx13, ccx23, ccx33, ccx43, ccx53, ccx63, cax11, cax21, cax31, cax41 as "
        "hetzner_cloud_server_type (if Hetzner introduced it since, add it to hetzner_cloud_known_server_types)."
        for host in ("cp-1", "cp-2")
    ]


def test_a_cloud_server_must_be_a_cluster_node():
    assert cloud(cluster_hosts=["cp-1", "cp-3"]) == [
        "Cloud server cp-2 in the inventory (inv/hosts.yml) is in hetzner_cloud but not in k8s_servers or k8s_agents; "
        "put it in one of them (provision labels it k8s_role=server or agent from that)."
    ]


@pytest.mark.parametrize("node_ip", ["10.0.7.13", "10.0.0.1", " 10.0.1.11", None])
def test_a_node_ip_must_be_an_address_of_the_cloud_subnet(node_ip):
    hostvars = with_host(CLOUD_HOSTVARS, "cp-2", node_ip=node_ip)
    assert cloud(hostvars=hostvars) == [
        f"Cloud server cp-2 in the inventory (inv/hosts.yml): node_ip '{node_ip}' is not an address in "
        "hetzner_cloud_subnet_cidr 10.0.1.0/24 other than the network's gateway 10.0.0.1; provision attaches the "
        "server at that address, write e.g. 10.0.1.12."
    ]


def test_a_missing_node_ip_is_an_empty_one():
    hostvars = copy.deepcopy(CLOUD_HOSTVARS)
    del hostvars["cp-1"]["node_ip"]
    assert cloud(hostvars=hostvars) == [
        "Cloud server cp-1 in the inventory (inv/hosts.yml): node_ip '' is not an address in hetzner_cloud_subnet_cidr "
        "10.0.1.0/24 other than the network's gateway 10.0.0.1; provision attaches the server at that address, write "
        "e.g. 10.0.1.11."
    ]


def test_node_ips_are_checked_only_in_a_good_subnet():
    assert cloud({"hetzner_cloud_subnet_cidr": "10.1.1.0/24"}, hostvars={"cp-1": {"node_ip": "192.0.2.1"}}) == [
        "hetzner_cloud_subnet_cidr 10.1.1.0/24 in the inventory (inv/hosts.yml) is not inside private_network_cidr "
        "10.0.0.0/16; a Hetzner subnet must lie in its network: choose a range inside 10.0.0.0/16."
    ]


def test_a_node_ip_must_not_be_a_load_balancers_or_another_servers():
    hostvars = with_host(with_host(CLOUD_HOSTVARS, "cp-1", node_ip="10.0.1.3"), "cp-3", node_ip="10.0.1.11")
    assert cloud(hostvars=hostvars) == [
        "Cloud server cp-1 in the inventory (inv/hosts.yml): node_ip 10.0.1.3 is also the address of the ingress load "
        "balancer; give every server and load balancer its own address.",
        "Cloud server cp-3 in the inventory (inv/hosts.yml): node_ip 10.0.1.11 is also the address of cp-2; give "
        "every server and load balancer its own address.",
    ]


def test_cloud_admin_cidrs_follow_the_shared_rule():
    assert cloud({"admin_cidrs": ["0.0.0.0/0"], "admin_cidrs_allow_world": True}) == []
    assert cloud({"admin_cidrs": ["0.0.0.0/0"]}) == [
        "admin_cidrs entry 0.0.0.0/0 in the inventory (inv/hosts.yml) opens SSH and the Kubernetes API (6443) to "
        "everybody: host_prep's firewall and the Hetzner firewalls would admit it. Write your administrators' "
        "networks (e.g. 198.51.100.0/24, or a VPN's address/32); if the hosts must really be reachable from "
        "anywhere, also set admin_cidrs_allow_world: true (it is warned about on every run)."
    ]


def test_cloud_admin_cidrs_must_not_be_empty():
    assert cloud({"admin_cidrs": []}) == [
        "admin_cidrs is empty in the inventory (inv/hosts.yml): the firewall opens SSH and the Kubernetes API only to "
        "admin_cidrs, so nobody could reach the servers; list the networks you administer from (e.g. 198.51.100.0/24 "
        "or 203.0.113.7/32)."
    ]


def test_every_cloud_problem_is_reported_at_once_in_order():
    found = cloud({"hetzner_cloud_location": "fra9", "hetzner_cloud_subnet_cidr": "10.0.3.0/25"},
                  hostvars=with_host(CLOUD_HOSTVARS, "cp-2", hetzner_cloud_server_type="cx99"), token_set=False)
    assert [sentence[:60] for sentence in found] == [
        "No Hetzner Cloud API token: export HCLOUD_TOKEN=<read & writ",
        "hetzner_cloud_location 'fra9' in the inventory (inv/hosts.ym",
        "hetzner_cloud_subnet_cidr 10.0.3.0/25 and hetzner_cloud_vswi",
        "hetzner_cloud_api_load_balancer_ip '10.0.1.2' in the invento",
        "hetzner_cloud_ingress_load_balancer_ip '10.0.1.3' in the inv",
        "Cloud server cp-1 in the inventory (inv/hosts.yml): node_ip ",
        "Cloud server cp-2 in the inventory (inv/hosts.yml): server t",
        "Cloud server cp-2 in the inventory (inv/hosts.yml): node_ip ",
        "Cloud server cp-3 in the inventory (inv/hosts.yml): node_ip ",
    ]


# ---------------------------------------------------------------- Hetzner Robot


def test_good_robot_input_has_no_problem():
    assert robot() == []


def test_missing_robot_credentials_are_named_with_the_three_ways_to_set_them():
    assert robot(credentials_set=False) == [
        "No Hetzner Robot web service credentials: export HROBOT_API_USER and HROBOT_API_PASSWORD (Robot -> Settings "
        "-> Web service and app settings), attach the AWX credential \"Hetzner Robot\", or set hetzner_robot_user and "
        "hetzner_robot_password from Ansible Vault in the inventory's group_vars."
    ]


@pytest.mark.parametrize(("key", "good"), [
    ("ecdsa-sha2-nistp384 AAAAE2VjZHNh", True),
    ("ssh-rsa AAAAB3NzaC1yc2E= me", True),
    ("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5", False),
    ("", False),
])
def test_robot_takes_no_security_key_types(key, good):
    assert robot({"hetzner_robot_ssh_public_key": key}) == ([] if good else [
        "hetzner_robot_ssh_public_key in the inventory (inv/hosts.yml) is not an OpenSSH public key (ed25519, rsa or "
        "ecdsa; Robot takes no security-key types); write the one line of the .pub file of the key Ansible logs in "
        "with."
    ])


@pytest.mark.parametrize(("vlan", "good"), [(4000, True), ("4091", True), (12, False), (4092, False), ("x", False),
                                            (True, False)])
def test_the_vlan_is_one_robot_allows(vlan, good):
    assert robot({"hetzner_robot_vswitch_vlan": vlan}) == ([] if good else [
        f"hetzner_robot_vswitch_vlan '{vlan}' in the inventory (inv/hosts.yml) is not a vSwitch VLAN id; Robot allows "
        "4000 to 4091: write e.g. 4000."
    ])


def test_the_vswitch_subnet_must_be_set():
    assert robot({"hetzner_robot_vswitch_subnet_cidr": ""}) == [
        "hetzner_robot_vswitch_subnet_cidr is not set in the inventory (inv/hosts.yml): the Robot servers join the "
        "cloud network through a vSwitch subnet; write a free range inside private_network_cidr 10.0.0.0/16, e.g. "
        "hetzner_robot_vswitch_subnet_cidr: 10.0.3.0/24."
    ]


def test_the_vswitch_subnet_must_be_a_network():
    assert robot({"hetzner_robot_vswitch_subnet_cidr": "10.0.3.1/24"}) == [
        "hetzner_robot_vswitch_subnet_cidr '10.0.3.1/24' in the inventory (inv/hosts.yml) is not a network in CIDR "
        "notation with its host bits zero; write e.g. 10.0.3.0/24."
    ]


def test_the_vswitch_subnet_must_lie_in_the_private_network():
    assert robot({"hetzner_robot_vswitch_subnet_cidr": "10.9.3.0/24"}) == [
        "hetzner_robot_vswitch_subnet_cidr 10.9.3.0/24 in the inventory (inv/hosts.yml) is not inside "
        "private_network_cidr 10.0.0.0/16; the vSwitch subnet is a subnet of the cloud network: choose a range inside "
        "it."
    ]


def test_a_robot_private_network_that_is_no_network_is_named():
    assert robot({"private_network_cidr": "10.0.0.0/33"}) == [
        "private_network_cidr '10.0.0.0/33' in the inventory (inv/hosts.yml) is not a network in CIDR notation with "
        "its host bits zero, so no subnet can be placed in it; write e.g. 10.0.0.0/16."
    ]


@pytest.mark.parametrize("image", ["Ubuntu-2404", "Rocky-9-amd64-base"])
def test_the_install_image_must_be_known_and_named_like_installimages(image):
    known = [*ROBOT["hetzner_robot_known_images"], "Ubuntu-2404"]
    assert robot({"hetzner_robot_install_image": image, "hetzner_robot_known_images": known}) == [
        f"hetzner_robot_install_image '{image}' is not a known installimage image; write one of: "
        f"{', '.join(known)} (the pin is hetzner_robot_image in group_vars/all/versions.yml; a new image goes into "
        "hetzner_robot_known_images, named Distribution-Version-release-arch-base)."
    ]


@pytest.mark.parametrize("level", [7, "abc", None])
def test_the_raid_level_is_one_installimage_builds(level):
    assert robot({"hetzner_robot_swraid_level": level}) == [
        f"hetzner_robot_swraid_level '{level}' in the inventory (inv/hosts.yml) is not a level installimage builds; "
        "write 0, 1, 5, 6 or 10."
    ]


@pytest.mark.parametrize("swraid", [False, "false", "no"])
def test_without_software_raid_the_level_is_not_checked(swraid):
    assert robot({"hetzner_robot_swraid": swraid, "hetzner_robot_swraid_level": 7,
                  "hetzner_robot_drives": ["/dev/sda"]}) == []


def test_a_raid_level_needs_its_disks():
    assert robot({"hetzner_robot_swraid_level": "5", "hetzner_robot_drives": []}) == []
    assert robot({"hetzner_robot_swraid_level": "5"}) == [
        "Software RAID level 5 needs 3 disks or more, hetzner_robot_drives lists 2 in the inventory (inv/hosts.yml); "
        "list more disks or set hetzner_robot_swraid: false."
    ]


def test_each_drive_is_a_device():
    assert robot({"hetzner_robot_drives": ["/dev/sda", "sdb", "/dev/disk/by-id/nvme-X_1"]}) == [
        "hetzner_robot_drives entry 'sdb' in the inventory (inv/hosts.yml) is not a disk device; write e.g. "
        "/dev/nvme0n1."
    ]


@pytest.mark.parametrize(("partitions", "count"), [
    ([], 0),
    ([{"mount": "/", "filesystem": "ext4", "size": "100G"}, {"mount": "/", "filesystem": "xfs", "size": "all"}], 2),
])
def test_the_partitions_have_one_root(partitions, count):
    assert robot({"hetzner_robot_partitions": partitions}) == [
        f"hetzner_robot_partitions in the inventory (inv/hosts.yml) must have exactly one partition with mount / (it "
        f"has {count})."
    ]


@pytest.mark.parametrize("entry", [{"mount": "/boot", "filesystem": "ext3", "size": 1024},
                                   {"mount": "/boot", "size": "1024M"}, "/boot"])
def test_each_partition_has_mount_filesystem_and_size(entry):
    partitions = [entry, {"mount": "/", "filesystem": "ext4", "size": "all"}]
    assert robot({"hetzner_robot_partitions": partitions}) == [
        f"hetzner_robot_partitions entry 1 ({entry}) in the inventory (inv/hosts.yml) needs mount, filesystem and "
        "size (e.g. 1024M, 200G, or all for the last); write e.g. {mount: /boot, filesystem: ext3, size: 1024M}."
    ]


def test_only_the_last_partition_takes_the_rest():
    partitions = [{"mount": "/", "filesystem": "ext4", "size": "all"}, {"mount": "/var", "filesystem": "ext4",
                                                                         "size": "10G"}]
    assert robot({"hetzner_robot_partitions": partitions}) == [
        "hetzner_robot_partitions entry 1 (/) in the inventory (inv/hosts.yml) has size all but is not the last "
        "partition; only the last one can take the rest of the disk."
    ]


def test_no_partition_is_swap():
    partitions = [{"mount": "swap", "filesystem": "swap", "size": "8G"}, {"mount": "/", "filesystem": "ext4",
                                                                           "size": "all"}]
    assert robot({"hetzner_robot_partitions": partitions}) == [
        "hetzner_robot_partitions entry 1 is swap in the inventory (inv/hosts.yml); Kubernetes needs swap off: "
        "remove it."
    ]


def test_the_reset_type_is_one_the_role_waits_for():
    assert robot({"hetzner_robot_reset_type": "power"}) == []
    assert robot({"hetzner_robot_reset_type": "soft"}) == [
        "hetzner_robot_reset_type 'soft' in the inventory (inv/hosts.yml) is not a reset the role can wait for; write "
        "hardware, software or power."
    ]


def test_the_network_renderer_is_supported():
    assert robot({"hetzner_robot_network_renderer": "netplan"}) == []
    assert robot({"hetzner_robot_network_renderer": "nm"}) == [
        "hetzner_robot_network_renderer 'nm' in the inventory (inv/hosts.yml) is not supported; write netplan, "
        "ifupdown or leave it empty (chosen by the image)."
    ]


def test_force_reinstall_names_robot_hosts_each_unknown_one_once_in_order():
    assert robot({"hetzner_robot_force_reinstall": ["gex-2"]}) == []
    assert robot({"hetzner_robot_force_reinstall": ["gex-9", "gex-1", "cp-1", "gex-9"]}) == [
        f"hetzner_robot_force_reinstall names {host}, which is not a host of hetzner_robot in the inventory "
        "(inv/hosts.yml); name the inventory host of the server to reinstall."
        for host in ("gex-9", "cp-1")
    ]


def test_robot_admin_cidrs_follow_the_shared_rule():
    assert robot({"admin_cidrs": "198.51.100.0/24"}) == [
        "admin_cidrs is the string '198.51.100.0/24' in the inventory (inv/hosts.yml), not a list; write a list: "
        "admin_cidrs: ['198.51.100.0/24']."
    ]


@pytest.mark.parametrize("firewall", [False, "false"])
def test_without_the_robot_firewall_admin_cidrs_may_be_empty_or_many(firewall):
    assert robot({"hetzner_robot_firewall": firewall, "admin_cidrs": []}) == []
    assert robot({"hetzner_robot_firewall": firewall, "admin_cidrs": [f"10.{i}.0.0/16" for i in range(6)]}) == []


def test_the_robot_firewall_needs_admin_cidrs():
    assert robot({"admin_cidrs": []}) == [
        "admin_cidrs is empty in the inventory (inv/hosts.yml): the Robot firewall lets SSH in only from admin_cidrs, "
        "so nobody could reach the servers; list the networks you administer from."
    ]


def test_the_robot_firewall_holds_five_admin_cidrs():
    assert robot({"admin_cidrs": [f"10.{i}.0.0/16" for i in range(5)]}) == []
    assert robot({"admin_cidrs": [f"10.{i}.0.0/16" for i in range(6)]}) == [
        "admin_cidrs has 6 entries in the inventory (inv/hosts.yml), but the Robot firewall holds at most 10 input "
        "rules and the role needs 5 besides one per admin CIDR; merge them into at most 5 networks."
    ]


@pytest.mark.parametrize("number", [None, "", "031", "abc", 0])
def test_a_robot_server_needs_its_server_number(number):
    hostvars = copy.deepcopy(ROBOT_HOSTVARS)
    if number is None:
        del hostvars["gex-1"]["hetzner_robot_server_number"]
    else:
        hostvars["gex-1"]["hetzner_robot_server_number"] = number
    assert robot(hostvars=hostvars) == [
        f"Robot server gex-1 in the inventory (inv/hosts.yml) has no hetzner_robot_server_number (it is "
        f"'{'' if number is None else number}'); set its Robot server number (Robot -> Servers, the number after #) "
        "in its host vars (with the community.hrobot.robot inventory plugin: compose hetzner_robot_server_number: "
        "hrobot_server_number)."
    ]


def test_two_robot_hosts_cannot_be_one_server():
    assert robot(hostvars=with_host(ROBOT_HOSTVARS, "gex-2", hetzner_robot_server_number="3100001")) == [
        "Robot servers gex-1 and gex-2 in the inventory (inv/hosts.yml) have the same hetzner_robot_server_number "
        "3100001; each host is one server."
    ]


def test_a_robot_server_name_must_be_a_dns_label():
    hostvars = with_host(ROBOT_HOSTVARS, "GEX_3", node_ip="10.0.3.13", hetzner_robot_server_number=3100003)
    assert robot(hostvars=hostvars) == [
        "Robot server GEX_3 in the inventory (inv/hosts.yml): its inventory name becomes its hostname, so it must be "
        "a DNS label (lowercase a-z, 0-9, '-'); rename the host."
    ]


def test_a_robot_server_must_be_a_cluster_node():
    assert robot(cluster_hosts=["gex-1"]) == [
        "Robot server gex-2 in the inventory (inv/hosts.yml) is in hetzner_robot but not in k8s_servers or "
        "k8s_agents; put it in k8s_agents (and gpu_nodes for a GPU server)."
    ]


@pytest.mark.parametrize("node_ip", ["10.0.3.1", "10.0.4.12", "", 12])
def test_a_robot_node_ip_is_an_address_of_the_vswitch_subnet_but_its_gateway(node_ip):
    assert robot(hostvars=with_host(ROBOT_HOSTVARS, "gex-2", node_ip=node_ip)) == [
        f"Robot server gex-2 in the inventory (inv/hosts.yml): node_ip '{node_ip}' is not an address of the vSwitch "
        "subnet 10.0.3.0/24 other than its gateway 10.0.3.1; its VLAN interface gets that address, write e.g. "
        "10.0.3.12."
    ]


def test_two_robot_servers_cannot_share_a_node_ip():
    assert robot(hostvars=with_host(ROBOT_HOSTVARS, "gex-2", node_ip="10.0.3.11")) == [
        "Robot servers gex-1 and gex-2 in the inventory (inv/hosts.yml) have the same node_ip 10.0.3.11; give each "
        "its own address."
    ]


def test_robot_node_ips_are_checked_only_in_a_good_subnet():
    assert robot({"hetzner_robot_vswitch_subnet_cidr": "10.9.3.0/24"})[1:] == []


def test_every_robot_problem_is_reported_at_once():
    hostvars = copy.deepcopy(ROBOT_HOSTVARS)
    del hostvars["gex-1"]["hetzner_robot_server_number"]
    hostvars["gex-2"]["node_ip"] = "10.0.3.1"
    found = robot({"hetzner_robot_vswitch_vlan": 12, "hetzner_robot_swraid_level": 7}, hostvars=hostvars,
                  credentials_set=False)
    assert [sentence[:40] for sentence in found] == [
        "No Hetzner Robot web service credentials",
        "hetzner_robot_vswitch_vlan '12' in the i",
        "hetzner_robot_swraid_level '7' in the in",
        "Robot server gex-1 in the inventory (inv",
        "Robot server gex-2 in the inventory (inv",
    ]
