# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The provision stage's checks of the Hetzner input, made before any API call or connection: roles/hetzner_cloud and
roles/hetzner_robot (tasks/validate.yml) hand these filters the values they read and fail with every sentence
returned. Documentation: the sidecar files hetzner_cloud_problems.yml and hetzner_robot_problems.yml.

Network, DNS-label and admin_cidrs rules are the shared ones (module_utils/_rules.py, filter admin_cidrs_problems),
so the validate stage and these checks cannot disagree.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.filter.inventory import _host_value, admin_cidrs_problems
from ansible_collections.inference.platform.plugins.module_utils._rules import (
    as_bool,
    as_whole_number,
    is_dns_label,
    network,
    network_suggestion,
)

# OpenSSH public key types; Robot takes no security-key (sk-) types, Hetzner Cloud does.
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
SECURITY_KEY_TYPES = ("sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
# The network zone whose subnets can couple a Robot vSwitch.
VSWITCH_ZONE = "eu-central"
# The vSwitch VLAN ids Robot allows.
VLAN_FIRST = 4000
VLAN_LAST = 4091
# Software RAID levels installimage builds, with the disks each needs.
RAID_DISKS = {0: 2, 1: 2, 5: 3, 6: 4, 10: 4}
RESET_TYPES = ("software", "hardware", "power")
NETWORK_RENDERERS = ("", "netplan", "ifupdown")
# The Robot firewall holds at most 10 input rules; templates/firewall_input.j2 adds 5 to one per admin CIDR.
ROBOT_FIREWALL_RULES = 10
ROBOT_FIREWALL_FIXED_RULES = 5
DRIVE = re.compile(r"/dev/[A-Za-z0-9/_-]+")
PARTITION_SIZE = re.compile(r"[0-9]+[MGT]|all")
SERVER_NUMBER = re.compile(r"[1-9][0-9]*")
DIGITS = re.compile(r"[0-9]+")
# Where node_ip examples start in a subnet (the first servers get .11, .12, ...).
FIRST_NODE_EXAMPLE = 11


def _public_key(types):
    return re.compile(r"(%s) [A-Za-z0-9+/]+={0,3}( .*)?" % "|".join(re.escape(kind) for kind in types))


CLOUD_KEY = _public_key(KEY_TYPES + SECURITY_KEY_TYPES)
ROBOT_KEY = _public_key(KEY_TYPES)


def is_public_key(value, pattern):
    """Whether value is one line of an OpenSSH .pub file whose key type the pattern accepts."""
    return isinstance(value, str) and bool(pattern.fullmatch(value.strip()))


def _flag(value):
    """A boolean as Ansible's bool filter reads it (the strings -e and AWX give included; anything else is false)."""
    return as_bool(value)[1] is True


def _is_in(value, choices):
    try:
        return value in choices
    except TypeError:
        return False


def _join(values):
    return ", ".join(str(value) for value in values)


def _or_list(values):
    values = [str(value) for value in values]
    return " or ".join([", ".join(values[:-1]), values[-1]]) if len(values) > 1 else "".join(values)


def _as_list(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    return [] if value in (None, "") else [value]


def _where(sources):
    return "in the inventory (%s)" % _join(sources)


def _address(value):
    """The IP address value is written as, exactly (no prefix, no spaces), or None."""
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    return address if str(address) == value else None


def _inside(net, outer):
    return net.version == outer.version and net.subnet_of(outer)


def _nth(net, index):
    """The index-th address of a network as a string (its last when the network is smaller), for messages."""
    return str(net[min(index, net.num_addresses - 1)])


def _is_host_address(value, net, gateway):
    """Whether value is an address of net other than the gateway."""
    address = _address(value)
    return address is not None and address.version == net.version and address in net and str(address) != gateway


def _private_network_problem(value, where):
    return (
        "private_network_cidr '%s' %s is not a network in CIDR notation with its host bits zero, so no subnet can be "
        "placed in it; write e.g. %s." % (value, where, network_suggestion(value, "10.0.0.0/16"))
    )


def _settings(value, name):
    if not isinstance(value, Mapping):
        raise AnsibleFilterError("%s expects a mapping of the role's variables by name" % name)
    return value


def _cloud_place_problems(get, where):
    """The location, its network zone and the image."""
    errors = []
    locations = get("hetzner_cloud_known_locations")
    locations = locations if isinstance(locations, Mapping) else {}
    location, zone = get("hetzner_cloud_location"), get("hetzner_cloud_network_zone")
    if not _is_in(location, locations):
        errors.append(
            "hetzner_cloud_location '%s' %s is not a Hetzner Cloud location; write one of: %s (if Hetzner opened a new "
            "one, add it to hetzner_cloud_known_locations with its network zone)." % (location, where, _join(locations))
        )
    elif locations[location] != zone:
        errors.append(
            "hetzner_cloud_network_zone '%s' %s does not contain location %s; write hetzner_cloud_network_zone: %s."
            % (zone, where, location, locations[location])
        )
    vswitch = get("hetzner_cloud_vswitch_subnet_cidr")
    if vswitch and zone != VSWITCH_ZONE:
        vswitch_locations = [name for name, its_zone in locations.items() if its_zone == VSWITCH_ZONE]
        errors.append(
            "A vSwitch subnet (hetzner_cloud_vswitch_subnet_cidr %s) needs network zone %s, but "
            "hetzner_cloud_network_zone is %s %s; put the cloud servers in %s."
            % (vswitch, VSWITCH_ZONE, zone, where,
               _or_list(vswitch_locations) or "a location of network zone %s" % VSWITCH_ZONE)
        )
    image, images = get("hetzner_cloud_server_image"), get("hetzner_cloud_known_images") or []
    if not _is_in(image, images):
        errors.append(
            "hetzner_cloud_server_image '%s' is not a known system image; write one of: %s (the pin is "
            "hetzner_cloud_image in group_vars/all/versions.yml)." % (image, _join(images))
        )
    return errors


def _cloud_subnet_problems(get, where):
    """The subnets: networks, inside the private network, apart from each other.

    Returns (errors, the cloud subnet when it is good or None, the network's gateway or None).
    """
    errors = []
    private_text, vswitch = get("private_network_cidr"), get("hetzner_cloud_vswitch_subnet_cidr")
    private = network(private_text)
    if private is None:
        errors.append(_private_network_problem(private_text, where))
    subnets = {"hetzner_cloud_subnet_cidr": get("hetzner_cloud_subnet_cidr")}
    if vswitch:
        subnets["hetzner_cloud_vswitch_subnet_cidr"] = vswitch
    good = {}
    for name, cidr in subnets.items():
        net = network(cidr)
        if net is None:
            errors.append(
                "%s '%s' %s is not a network in CIDR notation with its host bits zero; write e.g. %s."
                % (name, cidr, where, network_suggestion(cidr, "10.0.1.0/24"))
            )
        elif private is not None and not _inside(net, private):
            errors.append(
                "%s %s %s is not inside private_network_cidr %s; a Hetzner subnet must lie in its network: choose a "
                "range inside %s." % (name, cidr, where, private_text, private_text)
            )
        elif private is not None:
            good[name] = net
    if len(good) == 2 and good["hetzner_cloud_subnet_cidr"].overlaps(good["hetzner_cloud_vswitch_subnet_cidr"]):
        errors.append(
            "hetzner_cloud_subnet_cidr %s and hetzner_cloud_vswitch_subnet_cidr %s overlap %s; Hetzner refuses "
            "overlapping subnets: choose two separate ranges inside %s (e.g. 10.0.1.0/24 and 10.0.3.0/24)."
            % (subnets["hetzner_cloud_subnet_cidr"], vswitch, where, private_text)
        )
    # Hetzner routes the cloud subnets through the first address of the network range: it is never a host's.
    gateway = _nth(private, 1) if private is not None else None
    return errors, good.get("hetzner_cloud_subnet_cidr"), gateway


def _cloud_balancer_problems(get, where, subnet, gateway, taken):
    """The load balancers' types and addresses; records each good address in taken."""
    errors = []
    types = get("hetzner_cloud_known_load_balancer_types") or []
    for name in ("api", "ingress"):
        if not _flag(get("hetzner_cloud_%s_load_balancer" % name)):
            continue
        kind = get("hetzner_cloud_%s_load_balancer_type" % name)
        address = get("hetzner_cloud_%s_load_balancer_ip" % name)
        if not _is_in(kind, types):
            errors.append(
                "hetzner_cloud_%s_load_balancer_type '%s' %s is not a load balancer type; write one of: %s."
                % (name, kind, where, _join(types))
            )
        if subnet is not None and not _is_host_address(address, subnet, gateway):
            errors.append(
                "hetzner_cloud_%s_load_balancer_ip '%s' %s is not a free address in hetzner_cloud_subnet_cidr %s (%s, "
                "the first address of the network, is its gateway); write e.g. %s."
                % (name, address, where, get("hetzner_cloud_subnet_cidr"), gateway, _nth(subnet, 2))
            )
        elif not isinstance(address, str):
            continue
        elif address in taken:
            errors.append(
                "hetzner_cloud_%s_load_balancer_ip %s %s is also the address of %s; give each load balancer its own "
                "address." % (name, address, where, taken[address])
            )
        else:
            taken[address] = "the %s load balancer" % name
    return errors


def _cloud_server_problems(get, where, servers, cluster_hosts, subnet, gateway, taken):
    """Each cloud server's name, type, group and address; servers: (host, server type, node_ip) in inventory order."""
    errors = []
    types = get("hetzner_cloud_known_server_types") or []
    for index, (host, server_type, node_ip) in enumerate(servers):
        if not is_dns_label(host):
            errors.append(
                "Cloud server %s %s: its inventory name becomes the server name and hostname, so it must be a DNS "
                "label (lowercase a-z, 0-9, '-', at most 63 characters); rename the host." % (host, where)
            )
        if not _is_in(server_type, types):
            errors.append(
                "Cloud server %s %s: server type '%s' is not a Hetzner Cloud server type; write one of: %s as "
                "hetzner_cloud_server_type (if Hetzner introduced it since, add it to "
                "hetzner_cloud_known_server_types)." % (host, where, server_type, _join(types))
            )
        if host not in cluster_hosts:
            errors.append(
                "Cloud server %s %s is in %s but not in k8s_servers or k8s_agents; put it in one of them (provision "
                "labels it k8s_role=server or agent from that)." % (host, where, get("hetzner_cloud_servers_group"))
            )
        if subnet is None:
            continue
        if not _is_host_address(node_ip, subnet, gateway):
            errors.append(
                "Cloud server %s %s: node_ip '%s' is not an address in hetzner_cloud_subnet_cidr %s other than the "
                "network's gateway %s; provision attaches the server at that address, write e.g. %s."
                % (host, where, node_ip, get("hetzner_cloud_subnet_cidr"), gateway,
                   _nth(subnet, FIRST_NODE_EXAMPLE + index))
            )
        elif node_ip in taken:
            errors.append(
                "Cloud server %s %s: node_ip %s is also the address of %s; give every server and load balancer its "
                "own address." % (host, where, node_ip, taken[node_ip])
            )
        else:
            taken[node_ip] = host
    return errors


def hetzner_cloud_problems(settings, hosts=(), hostvars=None, cluster_hosts=(), token_set=False, sources=()):
    """Everything wrong with the Hetzner Cloud input, as sentences (empty when all is well).

    settings: the role's variables by name (hetzner_cloud_*, private_network_cidr, admin_cidrs,
    admin_cidrs_allow_world); hosts: the hosts of hetzner_cloud_servers_group; hostvars: where their node_ip and
    hetzner_cloud_server_type are read; cluster_hosts: the hosts of k8s_cluster; token_set: whether the API token is
    set; sources: the inventory sources, named in the messages.
    """
    get = _settings(settings, "hetzner_cloud_problems").get
    hostvars = hostvars or {}
    where = _where(sources)
    errors = []
    if not _flag(token_set):
        errors.append(
            "No Hetzner Cloud API token: export HCLOUD_TOKEN=<read & write token of the project>, attach the AWX "
            "credential \"Hetzner Cloud\", or set hetzner_cloud_token to a value from Ansible Vault in the inventory's "
            "group_vars."
        )
    if not is_public_key(get("hetzner_cloud_ssh_public_key"), CLOUD_KEY):
        errors.append(
            "hetzner_cloud_ssh_public_key %s is not an OpenSSH public key; write the one line of the .pub file of the "
            "key Ansible logs in to the servers with (e.g. read ~/.ssh/id_ed25519.pub with the ansible.builtin.file "
            "lookup)." % (where,)
        )
    errors += _cloud_place_problems(get, where)
    subnet_errors, subnet, gateway = _cloud_subnet_problems(get, where)
    errors += subnet_errors
    # Every private address once: the load balancers', then the servers'.
    taken = {}
    errors += _cloud_balancer_problems(get, where, subnet, gateway, taken)
    servers = [
        (host, _host_value(hostvars, host, "hetzner_cloud_server_type", get("hetzner_cloud_server_type")),
         _host_value(hostvars, host, "node_ip", ""))
        for host in hosts
    ]
    errors += _cloud_server_problems(get, where, servers, cluster_hosts, subnet, gateway, taken)
    admin_cidrs = get("admin_cidrs")
    errors += admin_cidrs_problems(admin_cidrs, get("admin_cidrs_allow_world", False), where)["errors"]
    if isinstance(admin_cidrs, (list, tuple)) and not admin_cidrs:
        errors.append(
            "admin_cidrs is empty %s: the firewall opens SSH and the Kubernetes API only to admin_cidrs, so nobody "
            "could reach the servers; list the networks you administer from (e.g. 198.51.100.0/24 or "
            "203.0.113.7/32)." % (where,)
        )
    return errors


def _robot_install_problems(get, where):
    errors = []
    image, images = get("hetzner_robot_install_image"), get("hetzner_robot_known_images") or []
    if not _is_in(image, images) or not isinstance(image, str) or len(image.split("-")) < 3:
        errors.append(
            "hetzner_robot_install_image '%s' is not a known installimage image; write one of: %s (the pin is "
            "hetzner_robot_image in group_vars/all/versions.yml; a new image goes into hetzner_robot_known_images, "
            "named Distribution-Version-release-arch-base)." % (image, _join(images))
        )
    drives = _as_list(get("hetzner_robot_drives"))
    level_text = get("hetzner_robot_swraid_level")
    level = as_whole_number(level_text)
    if _flag(get("hetzner_robot_swraid")):
        if level not in RAID_DISKS:
            errors.append(
                "hetzner_robot_swraid_level '%s' %s is not a level installimage builds; write %s."
                % (level_text, where, _or_list(RAID_DISKS))
            )
        elif 0 < len(drives) < RAID_DISKS[level]:
            errors.append(
                "Software RAID level %s needs %d disks or more, hetzner_robot_drives lists %d %s; list more disks or "
                "set hetzner_robot_swraid: false." % (level_text, RAID_DISKS[level], len(drives), where)
            )
    for drive in drives:
        if not (isinstance(drive, str) and DRIVE.fullmatch(drive)):
            errors.append(
                "hetzner_robot_drives entry '%s' %s is not a disk device; write e.g. /dev/nvme0n1." % (drive, where)
            )
    partitions = _as_list(get("hetzner_robot_partitions"))
    roots = [part for part in partitions if isinstance(part, Mapping) and part.get("mount", "") == "/"]
    if len(roots) != 1:
        errors.append(
            "hetzner_robot_partitions %s must have exactly one partition with mount / (it has %d)."
            % (where, len(roots))
        )
    for number, part in enumerate(partitions, start=1):
        if not (isinstance(part, Mapping) and part.get("mount") and part.get("filesystem")
                and PARTITION_SIZE.fullmatch(str(part.get("size", "")))):
            errors.append(
                "hetzner_robot_partitions entry %d (%s) %s needs mount, filesystem and size (e.g. 1024M, 200G, or all "
                "for the last); write e.g. {mount: /boot, filesystem: ext3, size: 1024M}." % (number, part, where)
            )
        elif part["size"] == "all" and number != len(partitions):
            errors.append(
                "hetzner_robot_partitions entry %d (%s) %s has size all but is not the last partition; only the last "
                "one can take the rest of the disk." % (number, part["mount"], where)
            )
        elif part["filesystem"] == "swap":
            errors.append(
                "hetzner_robot_partitions entry %d is swap %s; Kubernetes needs swap off: remove it." % (number, where)
            )
    reset_type = get("hetzner_robot_reset_type")
    if not _is_in(reset_type, RESET_TYPES):
        errors.append(
            "hetzner_robot_reset_type '%s' %s is not a reset the role can wait for; write hardware, software or power."
            % (reset_type, where)
        )
    renderer = get("hetzner_robot_network_renderer")
    if not _is_in(renderer, NETWORK_RENDERERS):
        errors.append(
            "hetzner_robot_network_renderer '%s' %s is not supported; write netplan, ifupdown or leave it empty "
            "(chosen by the image)." % (renderer, where)
        )
    return errors


def _robot_subnet_problems(get, where):
    """The vSwitch subnet: set, a network, inside the private network.

    Returns (errors, the subnet when it is good or None, its gateway or None).
    """
    private_text, subnet_text = get("private_network_cidr"), get("hetzner_robot_vswitch_subnet_cidr")
    private, subnet = network(private_text), network(subnet_text)
    if not subnet_text:
        return [
            "hetzner_robot_vswitch_subnet_cidr is not set %s: the Robot servers join the cloud network through a "
            "vSwitch subnet; write a free range inside private_network_cidr %s, e.g. "
            "hetzner_robot_vswitch_subnet_cidr: 10.0.3.0/24." % (where, private_text)
        ], None, None
    if subnet is None:
        return [
            "hetzner_robot_vswitch_subnet_cidr '%s' %s is not a network in CIDR notation with its host bits zero; "
            "write e.g. 10.0.3.0/24." % (subnet_text, where)
        ], None, None
    if private is None:
        return [_private_network_problem(private_text, where)], None, None
    if not _inside(subnet, private):
        return [
            "hetzner_robot_vswitch_subnet_cidr %s %s is not inside private_network_cidr %s; the vSwitch subnet is a "
            "subnet of the cloud network: choose a range inside it." % (subnet_text, where, private_text)
        ], None, None
    # The cloud network is routed through the subnet's first address.
    return [], subnet, _nth(subnet, 1)


def _robot_access_problems(get, where, hosts):
    """Hosts to reinstall, admin_cidrs and the Robot firewall's rule limit."""
    errors = []
    unknown = []
    for host in _as_list(get("hetzner_robot_force_reinstall")):
        if host not in hosts and host not in unknown:
            unknown.append(host)
    for host in unknown:
        errors.append(
            "hetzner_robot_force_reinstall names %s, which is not a host of %s %s; name the inventory host of the "
            "server to reinstall." % (host, get("hetzner_robot_servers_group"), where)
        )
    admin_cidrs = get("admin_cidrs")
    errors += admin_cidrs_problems(admin_cidrs, get("admin_cidrs_allow_world", False), where)["errors"]
    if not (_flag(get("hetzner_robot_firewall")) and isinstance(admin_cidrs, (list, tuple))):
        return errors
    if not admin_cidrs:
        errors.append(
            "admin_cidrs is empty %s: the Robot firewall lets SSH in only from admin_cidrs, so nobody could reach "
            "the servers; list the networks you administer from." % (where,)
        )
    elif len(admin_cidrs) + ROBOT_FIREWALL_FIXED_RULES > ROBOT_FIREWALL_RULES:
        errors.append(
            "admin_cidrs has %d entries %s, but the Robot firewall holds at most %d input rules and the role needs "
            "%d besides one per admin CIDR; merge them into at most %d networks."
            % (len(admin_cidrs), where, ROBOT_FIREWALL_RULES, ROBOT_FIREWALL_FIXED_RULES,
               ROBOT_FIREWALL_RULES - ROBOT_FIREWALL_FIXED_RULES)
        )
    return errors


def _robot_server_problems(get, where, servers, cluster_hosts, subnet, gateway):
    """Each Robot server's number, name, group and address; servers: (host, server number, node_ip) in order."""
    errors = []
    numbers, addresses = {}, {}
    for index, (host, number, node_ip) in enumerate(servers):
        if not SERVER_NUMBER.fullmatch(str(number)):
            errors.append(
                "Robot server %s %s has no hetzner_robot_server_number (it is '%s'); set its Robot server number "
                "(Robot -> Servers, the number after #) in its host vars (with the community.hrobot.robot inventory "
                "plugin: compose hetzner_robot_server_number: hrobot_server_number)." % (host, where, number)
            )
        elif int(str(number)) in numbers:
            errors.append(
                "Robot servers %s and %s %s have the same hetzner_robot_server_number %s; each host is one server."
                % (numbers[int(str(number))], host, where, number)
            )
        else:
            numbers[int(str(number))] = host
        if not is_dns_label(host):
            errors.append(
                "Robot server %s %s: its inventory name becomes its hostname, so it must be a DNS label (lowercase "
                "a-z, 0-9, '-'); rename the host." % (host, where)
            )
        if host not in cluster_hosts:
            errors.append(
                "Robot server %s %s is in %s but not in k8s_servers or k8s_agents; put it in k8s_agents (and "
                "gpu_nodes for a GPU server)." % (host, where, get("hetzner_robot_servers_group"))
            )
        if subnet is None:
            continue
        if not _is_host_address(node_ip, subnet, gateway):
            errors.append(
                "Robot server %s %s: node_ip '%s' is not an address of the vSwitch subnet %s other than its gateway "
                "%s; its VLAN interface gets that address, write e.g. %s."
                % (host, where, node_ip, get("hetzner_robot_vswitch_subnet_cidr"), gateway,
                   _nth(subnet, FIRST_NODE_EXAMPLE + index))
            )
        elif node_ip in addresses:
            errors.append(
                "Robot servers %s and %s %s have the same node_ip %s; give each its own address."
                % (addresses[node_ip], host, where, node_ip)
            )
        else:
            addresses[node_ip] = host
    return errors


def hetzner_robot_problems(settings, hosts=(), hostvars=None, cluster_hosts=(), credentials_set=False, sources=()):
    """Everything wrong with the Robot input, as sentences (empty when all is well).

    settings: the role's variables by name (hetzner_robot_*, private_network_cidr, admin_cidrs,
    admin_cidrs_allow_world); hosts: the hosts of hetzner_robot_servers_group; hostvars: where their
    hetzner_robot_server_number and node_ip are read; cluster_hosts: the hosts of k8s_cluster; credentials_set:
    whether the web service user and password are set; sources: the inventory sources, named in the messages.
    """
    get = _settings(settings, "hetzner_robot_problems").get
    hostvars = hostvars or {}
    where = _where(sources)
    errors = []
    if not _flag(credentials_set):
        errors.append(
            "No Hetzner Robot web service credentials: export HROBOT_API_USER and HROBOT_API_PASSWORD (Robot -> "
            "Settings -> Web service and app settings), attach the AWX credential \"Hetzner Robot\", or set "
            "hetzner_robot_user and hetzner_robot_password from Ansible Vault in the inventory's group_vars."
        )
    if not is_public_key(get("hetzner_robot_ssh_public_key"), ROBOT_KEY):
        errors.append(
            "hetzner_robot_ssh_public_key %s is not an OpenSSH public key (ed25519, rsa or ecdsa; Robot takes no "
            "security-key types); write the one line of the .pub file of the key Ansible logs in with." % (where,)
        )
    vlan = get("hetzner_robot_vswitch_vlan")
    if not (DIGITS.fullmatch(str(vlan)) and VLAN_FIRST <= int(str(vlan)) <= VLAN_LAST):
        errors.append(
            "hetzner_robot_vswitch_vlan '%s' %s is not a vSwitch VLAN id; Robot allows %d to %d: write e.g. %d."
            % (vlan, where, VLAN_FIRST, VLAN_LAST, VLAN_FIRST)
        )
    subnet_errors, subnet, gateway = _robot_subnet_problems(get, where)
    errors += subnet_errors
    errors += _robot_install_problems(get, where)
    errors += _robot_access_problems(get, where, hosts)
    servers = [
        (host, _host_value(hostvars, host, "hetzner_robot_server_number", ""),
         _host_value(hostvars, host, "node_ip", ""))
        for host in hosts
    ]
    errors += _robot_server_problems(get, where, servers, cluster_hosts, subnet, gateway)
    return errors


class FilterModule:
    """The Hetzner provision filters of inference.platform."""

    def filters(self):
        return {"hetzner_cloud_problems": hetzner_cloud_problems, "hetzner_robot_problems": hetzner_robot_problems}
