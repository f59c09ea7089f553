"""The Hetzner Cloud API stand-in (hetzner_standin/hcloud_api.py) against the real clients.

It is a STAND-IN, not Hetzner: these tests prove that it answers the calls of the hcloud Python client (2.27.0) and
of the hetzner.hcloud collection (5.4.0, run through the real Ansible CLI) in the shapes of Hetzner's public API
documentation, so that the project's playbooks can be tested against it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import struct
import subprocess
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import hcloud
import pytest
import requests
from ansible_collections.hetzner.hcloud.plugins.module_utils.ssh import ssh_public_key_md5_fingerprint
from hcloud import APIException
from hcloud.firewalls.domain import FirewallResource, FirewallResourceLabelSelector, FirewallRule
from hcloud.load_balancers.domain import (
    LoadBalancerService,
    LoadBalancerTarget,
    LoadBalancerTargetLabelSelector,
)
from hcloud.networks.domain import NetworkRoute, NetworkSubnet
from hcloud.server_types.domain import ServerType
from hetzner_standin.hcloud_api import HcloudStandin, LabelSelector, ssh_fingerprint

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def public_key(seed: int, comment: str = "test@standin") -> str:
    """A well-formed ed25519 public key line (the key itself is made up)."""
    raw = bytes((seed * 7 + i) % 256 for i in range(32))
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + raw
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def client(standin: HcloudStandin, token: str | None = None) -> hcloud.Client:
    return hcloud.Client(token=token or standin.token, api_endpoint=standin.endpoint, poll_interval=0.01)


def api(
    standin: HcloudStandin,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or standin.token}"}
    if raw is not None:
        return requests.request(method, standin.endpoint + path, data=raw, headers=headers, timeout=10)
    return requests.request(method, standin.endpoint + path, json=body, headers=headers, timeout=10)


@pytest.fixture
def standin():
    with HcloudStandin() as running:
        yield running


# ------------------------------------------------------------------------------ the hcloud Python client, today's API


def test_hcloud_client_builds_a_cluster(standin: HcloudStandin) -> None:
    c = client(standin)
    network = c.networks.create(name="net", ip_range="10.0.0.0/16", labels={"cluster": "test"})
    network.add_subnet(NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central"))
    network.add_subnet(
        NetworkSubnet(type="vswitch", ip_range="10.0.2.0/24", network_zone="eu-central", vswitch_id=4711)
    ).wait_until_finished()
    network = c.networks.get_by_name("net")
    subnets = {s.ip_range: s for s in network.subnets}
    assert subnets["10.0.1.0/24"].type == "cloud"
    assert subnets["10.0.1.0/24"].gateway == "10.0.0.1"  # the first address of the network range
    assert subnets["10.0.2.0/24"].gateway == "10.0.2.1"  # the vSwitch gateway
    assert subnets["10.0.2.0/24"].vswitch_id == 4711

    key = c.ssh_keys.create(name="admin", public_key=public_key(1))
    assert key.fingerprint == ssh_public_key_md5_fingerprint(public_key(1))
    assert c.ssh_keys.get_by_fingerprint(key.fingerprint).id == key.id

    rules = [
        FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["198.51.100.0/24"], description="ssh"),
        FirewallRule(direction="in", protocol="icmp", source_ips=["0.0.0.0/0", "::/0"]),
        FirewallRule(direction="out", protocol="udp", port="53", destination_ips=["0.0.0.0/0"]),
    ]
    firewall = c.firewalls.create(name="fw", rules=rules).firewall
    for action in firewall.apply_to_resources(
        [FirewallResource(type="label_selector", label_selector=FirewallResourceLabelSelector("cluster=test"))]
    ):
        action.wait_until_finished()
    group = c.placement_groups.create(name="spread", type="spread").placement_group

    created = c.servers.create(
        name="node-1",
        server_type=c.server_types.get_by_name("cpx22"),
        image=c.images.get_by_name_and_architecture("ubuntu-24.04", "x86"),
        location=c.locations.get_by_name("fsn1"),
        ssh_keys=[key],
        placement_group=group,
        labels={"cluster": "test", "k8s_role": "server"},
        user_data="#cloud-config\n",
    )
    assert created.root_password is None  # SSH keys were given
    assert created.server.status == "initializing"
    assert [a.command for a in created.next_actions] == ["start_server"]
    created.action.wait_until_finished()
    server = c.servers.get_by_id(created.server.id)
    server.attach_to_network(network, ip="10.0.1.10", alias_ips=["10.0.1.11"]).wait_until_finished()
    server = c.servers.get_by_id(server.id)
    assert server.status == "running"
    assert server.location.name == "fsn1"
    assert server.public_net.ipv4.ip.startswith("203.0.113.")
    assert server.public_net.ipv6.ip.startswith("2001:db8:")
    assert [(p.network.id, p.ip, p.alias_ips) for p in server.private_net] == [(network.id, "10.0.1.10", ["10.0.1.11"])]
    assert [f.firewall.id for f in server.public_net.firewalls] == [firewall.id]
    assert server.placement_group.id == group.id
    assert c.placement_groups.get_by_id(group.id).servers == [server.id]
    assert standin.user_data("node-1") == "#cloud-config\n"

    applied = c.firewalls.get_by_id(firewall.id).applied_to
    assert applied[0].label_selector.selector == "cluster=test"
    assert [r.server.id for r in applied[0].applied_to_resources] == [server.id]
    assert [r.port for r in c.firewalls.get_by_id(firewall.id).rules] == ["22", None, "53"]

    lb = c.load_balancers.create(
        name="api",
        load_balancer_type=c.load_balancer_types.get_by_name("lb11"),
        location=c.locations.get_by_name("fsn1"),
        network=network,
        public_interface=False,
    ).load_balancer
    lb.add_service(LoadBalancerService(protocol="tcp", listen_port=6443, destination_port=6443)).wait_until_finished()
    lb.add_target(
        LoadBalancerTarget(
            type="label_selector",
            use_private_ip=True,
            label_selector=LoadBalancerTargetLabelSelector("k8s_role=server"),
        )
    ).wait_until_finished()
    lb = c.load_balancers.get_by_id(lb.id)
    assert lb.public_net.enabled is False
    assert lb.public_net.ipv4.ip.startswith("203.0.113.")
    assert lb.private_net[0].ip == "10.0.1.1"  # first free address: 10.0.0.1 is the gateway, outside the subnet
    service = lb.services[0]
    assert (
        service.protocol,
        service.listen_port,
        service.health_check.protocol,
        service.health_check.port,
        service.health_check.interval,
    ) == ("tcp", 6443, "tcp", 6443, 15)
    target = lb.targets[0]
    assert target.label_selector.selector == "k8s_role=server"
    assert [t.server.id for t in target.targets] == [server.id]
    assert [s.id for s in c.servers.get_all(label_selector="cluster")] == [server.id]

    assert [s.name for s in c.servers.get_all(label_selector="cluster=test,k8s_role in (server,agent)")] == ["node-1"]
    assert c.servers.get_all(label_selector="cluster=test,!k8s_role") == []
    assert [n.name for n in c.networks.get_all(label_selector="cluster==test")] == ["net"]

    managed = api(
        standin,
        "POST",
        f"/firewalls/{firewall.id}/actions/remove_from_resources",
        {"remove_from": [{"type": "server", "server": {"id": server.id}}]},
    )
    assert managed.json()["error"]["code"] == "firewall_managed_by_label_selector"
    c.servers.delete(server).wait_until_finished()
    assert c.firewalls.get_by_id(firewall.id).applied_to[0].applied_to_resources is None  # no server matches now
    assert c.load_balancers.get_by_id(lb.id).targets[0].targets == []
    assert c.networks.get_by_id(network.id).servers == []
    assert standin.resources("primary_ips") == []  # the server's Primary IPs went with it (auto_delete)


def test_hcloud_client_errors_are_documented_ones(standin: HcloudStandin) -> None:
    c = client(standin)
    with pytest.raises(APIException) as bad_token:
        client(standin, token=standin.token[::-1]).servers.get_all()
    assert bad_token.value.code == "unauthorized"
    response = api(standin, "GET", "/servers", token=standin.token[::-1])
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": "unable to authenticate", "details": None}}

    network = c.networks.create(name="net", ip_range="10.0.0.0/16")
    network.add_subnet(NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central"))
    with pytest.raises(APIException) as overlap:
        network.add_subnet(NetworkSubnet(type="cloud", ip_range="10.0.1.128/25", network_zone="eu-central"))
    assert overlap.value.code == "invalid_input"
    assert overlap.value.details["fields"][0]["name"] == "subnet.ip_range"
    response = api(
        standin,
        "POST",
        f"/networks/{network.id}/actions/add_subnet",
        {"type": "cloud", "ip_range": "10.0.1.0/25", "network_zone": "eu-central"},
    )
    assert response.status_code == 422
    response = api(
        standin,
        "POST",
        f"/networks/{network.id}/actions/add_subnet",
        {"type": "cloud", "ip_range": "10.1.0.0/24", "network_zone": "eu-central"},
    )
    assert response.status_code == 422 and "not inside" in response.json()["error"]["message"]
    response = api(
        standin,
        "POST",
        f"/networks/{network.id}/actions/add_subnet",
        {"type": "vswitch", "ip_range": "10.0.9.0/24", "network_zone": "eu-central"},
    )
    assert response.json()["error"]["details"]["fields"][0]["name"] == "subnet.vswitch_id"
    response = api(
        standin,
        "POST",
        f"/networks/{network.id}/actions/add_subnet",
        {"type": "cloud", "ip_range": "10.0.9.0/24", "network_zone": "mars-north"},
    )
    assert response.status_code == 422

    image = c.images.get_by_name_and_architecture("debian-13", "x86")
    with pytest.raises(APIException) as unknown_type:
        c.servers.create(name="a", server_type=ServerType(name="cx22"), image=image)  # retired in January 2026
    assert unknown_type.value.code == "invalid_input"
    response = api(standin, "POST", "/servers", {"name": "a", "server_type": "cx22", "image": "debian-13"})
    assert response.status_code == 422
    response = api(
        standin, "POST", "/servers", {"name": "a", "server_type": "cpx31", "image": "debian-13", "location": "fsn1"}
    )
    assert response.status_code == 422  # cpx31 is offered in ash and hil only
    assert "unsupported location" in response.json()["error"]["message"]

    c.servers.create(name="dup", server_type=ServerType(name="cpx22"), image=image)
    with pytest.raises(APIException) as duplicate:
        c.servers.create(name="dup", server_type=ServerType(name="cpx22"), image=image)
    assert duplicate.value.code == "uniqueness_error"
    response = api(standin, "POST", "/servers", {"name": "dup", "server_type": "cpx22", "image": "debian-13"})
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"fields": [{"name": "name"}]}

    assert api(standin, "GET", "/servers/999").json()["error"]["code"] == "not_found"
    assert api(standin, "GET", "/servers/999").status_code == 404
    assert api(standin, "GET", "/no_such_thing").status_code == 404
    assert api(standin, "PATCH", "/servers").status_code == 405
    bad_json = api(standin, "POST", "/networks", raw=b"{not json")
    assert (bad_json.status_code, bad_json.json()["error"]["code"]) == (400, "json_error")
    wrong_type = api(standin, "POST", "/networks", {"name": 5, "ip_range": "10.0.0.0/16"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["details"]["fields"] == [{"name": "name", "messages": ["must be a string"]}]
    assert api(standin, "POST", "/networks", {"name": "x", "ip_range": "8.8.0.0/16"}).status_code == 422
    assert api(standin, "POST", "/ssh_keys", {"name": "k", "public_key": "ssh-ed25519 bm9wZQ=="}).status_code == 422
    assert api(standin, "GET", "/servers?label_selector=a%20in%20(").status_code == 422

    firewall = c.firewalls.create(name="fw", rules=[]).firewall
    server = c.servers.get_by_name("dup")
    c.firewalls.apply_to_resources(firewall, [FirewallResource(type="server", server=server)])
    in_use = api(standin, "DELETE", f"/firewalls/{firewall.id}")
    assert (in_use.status_code, in_use.json()["error"]["code"]) == (422, "resource_in_use")
    bad_rule = api(
        standin,
        "POST",
        f"/firewalls/{firewall.id}/actions/set_rules",
        {"rules": [{"direction": "in", "protocol": "icmp", "port": "80", "source_ips": ["0.0.0.0/0"]}]},
    )
    assert bad_rule.status_code == 422
    no_port = api(
        standin,
        "POST",
        f"/firewalls/{firewall.id}/actions/set_rules",
        {"rules": [{"direction": "in", "protocol": "tcp", "source_ips": ["0.0.0.0/0"]}]},
    )
    assert no_port.json()["error"]["details"]["fields"][0]["name"] == "rules[0].port"
    wrong_side = api(
        standin,
        "POST",
        f"/firewalls/{firewall.id}/actions/set_rules",
        {"rules": [{"direction": "out", "protocol": "gre", "source_ips": ["0.0.0.0/0"]}]},
    )
    assert wrong_side.status_code == 422


def test_addresses_fixed_ips_and_deletion(standin: HcloudStandin) -> None:
    c = client(standin)
    network = c.networks.create(
        name="net",
        ip_range="10.0.0.0/16",
        subnets=[NetworkSubnet(type="cloud", ip_range="10.0.0.0/24", network_zone="eu-central")],
    )
    image = c.images.get_by_name_and_architecture("ubuntu-24.04", "x86")
    first = c.servers.create(name="a", server_type=ServerType(name="cpx22"), image=image, networks=[network])
    assert first.root_password  # no SSH keys: the API makes a root password
    assert first.server.private_net[0].ip == "10.0.0.2"  # 10.0.0.1 is the gateway
    second = c.servers.create(name="b", server_type=ServerType(name="cpx22"), image=image)
    taken = api(
        standin,
        "POST",
        f"/servers/{second.server.id}/actions/attach_to_network",
        {"network": network.id, "ip": "10.0.0.2"},
    )
    assert (taken.status_code, taken.json()["error"]["code"]) == (422, "ip_not_available")
    gateway = api(
        standin,
        "POST",
        f"/servers/{second.server.id}/actions/attach_to_network",
        {"network": network.id, "ip": "10.0.0.1"},
    )
    assert gateway.json()["error"]["code"] == "ip_not_available"
    outside = api(
        standin,
        "POST",
        f"/servers/{second.server.id}/actions/attach_to_network",
        {"network": network.id, "ip": "10.0.5.5"},
    )
    assert outside.json()["error"]["code"] == "ip_not_available"
    ipv4_of_first = c.servers.get_by_id(first.server.id).public_net.ipv4.ip
    c.servers.delete(c.servers.get_by_id(first.server.id)).wait_until_finished()
    third = c.servers.create(name="c", server_type=ServerType(name="cpx22"), image=image)
    addresses = {c.servers.get_by_id(s.server.id).public_net.ipv4.ip for s in (second, third)}
    assert ipv4_of_first not in addresses and len(addresses) == 2  # never reused
    assert [s["name"] for s in standin.resources("servers")] == ["b", "c"]
    assert c.networks.get_by_id(network.id).servers == []
    protected = c.servers.get_by_id(third.server.id)
    protected.change_protection(delete=True, rebuild=True).wait_until_finished()
    assert api(standin, "DELETE", f"/servers/{protected.id}").json()["error"]["code"] == "protected"


def test_server_and_load_balancer_actions(standin: HcloudStandin) -> None:
    c = client(standin)
    network = c.networks.create(
        name="net",
        ip_range="10.0.0.0/16",
        subnets=[NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")],
    )
    image = c.images.get_by_name_and_architecture("debian-12", "arm")
    server = c.servers.create(
        name="arm-1", server_type=ServerType(name="cax21"), image=image, start_after_create=False
    ).server
    server = c.servers.get_by_id(server.id)
    assert server.status == "off"
    assert server.image.architecture == "arm"
    server.change_type(ServerType(name="cax31"), upgrade_disk=False).wait_until_finished()
    assert c.servers.get_by_id(server.id).server_type.name == "cax31"
    server.power_on().wait_until_finished()
    not_stopped = api(
        standin, "POST", f"/servers/{server.id}/actions/change_type", {"server_type": "cax41", "upgrade_disk": True}
    )
    assert not_stopped.json()["error"]["code"] == "server_not_stopped"
    server.enable_backup().wait_until_finished()
    assert c.servers.get_by_id(server.id).backup_window is not None
    assert server.enable_rescue(type="linux64").root_password
    assert c.servers.get_by_id(server.id).rescue_enabled is True
    server.attach_to_network(network).wait_until_finished()
    server.detach_from_network(network).wait_until_finished()
    assert c.servers.get_by_id(server.id).private_net == []
    commands = [a.command for a in c.servers.get_actions(server)]
    assert commands[:3] == ["create_server", "change_server_type", "start_server"]
    assert all(a.status == "success" and a.progress == 100 for a in c.servers.get_actions(server))
    ids = [a.id for a in c.servers.get_actions(server)]
    by_id = api(standin, "GET", "/actions?" + "&".join(f"id={i}" for i in ids[:2])).json()["actions"]
    assert [a["id"] for a in by_id] == ids[:2]

    lb = c.load_balancers.create(
        name="web", load_balancer_type=c.load_balancer_types.get_by_name("lb11"), network_zone="eu-central"
    ).load_balancer
    assert lb.location.name == "fsn1"
    lb.add_service(LoadBalancerService(protocol="http", listen_port=80)).wait_until_finished()
    service = c.load_balancers.get_by_id(lb.id).services[0]
    assert (service.destination_port, service.http.cookie_name, service.health_check.http.path) == (
        80,
        "HCLBSTICKY",
        "/",
    )
    assert (
        api(
            standin,
            "POST",
            f"/load_balancers/{lb.id}/actions/add_service",
            {"protocol": "tcp", "listen_port": 80, "destination_port": 8080, "proxyprotocol": False},
        ).json()["error"]["code"]
        == "source_port_already_used"
    )
    assert (
        api(standin, "POST", f"/load_balancers/{lb.id}/actions/disable_public_interface").json()["error"]["code"]
        == "load_balancer_not_attached_to_network"
    )
    lb.attach_to_network(network, ip="10.0.1.5").wait_until_finished()
    assert (
        api(standin, "POST", f"/load_balancers/{lb.id}/actions/attach_to_network", {"network": network.id}).json()[
            "error"
        ]["code"]
        == "load_balancer_already_attached"
    )
    lb.add_target(LoadBalancerTarget(type="server", server=server)).wait_until_finished()
    assert (
        api(
            standin,
            "POST",
            f"/load_balancers/{lb.id}/actions/add_target",
            {"type": "server", "server": {"id": server.id}},
        ).json()["error"]["code"]
        == "target_already_defined"
    )
    lb.change_algorithm(hcloud.load_balancers.domain.LoadBalancerAlgorithm(type="least_connections"))
    lb.change_type(c.load_balancer_types.get_by_name("lb21")).wait_until_finished()
    lb = c.load_balancers.get_by_id(lb.id)
    assert (lb.algorithm.type, lb.load_balancer_type.name, lb.private_net[0].ip) == (
        "least_connections",
        "lb21",
        "10.0.1.5",
    )
    assert [t.server.id for t in lb.targets] == [server.id]
    lb.remove_target(LoadBalancerTarget(type="server", server=server)).wait_until_finished()
    assert c.load_balancers.get_by_id(lb.id).targets == []
    c.load_balancers.delete(lb)
    assert standin.resources("load_balancers") == []


def test_catalog_and_routes(standin: HcloudStandin) -> None:
    c = client(standin)
    assert [loc.name for loc in c.locations.get_all()] == ["fsn1", "nbg1", "hel1", "ash", "hil", "sin"]
    assert {loc.name: loc.network_zone for loc in c.locations.get_all()}["sin"] == "ap-southeast"
    cpx22 = c.server_types.get_by_name("cpx22")
    assert (cpx22.cores, cpx22.memory, cpx22.disk, cpx22.cpu_type, cpx22.architecture) == (2, 4.0, 80, "shared", "x86")
    assert [o.location.name for o in cpx22.locations] == ["fsn1", "nbg1", "hel1", "sin"]
    assert [o.location.name for o in c.server_types.get_by_name("cpx31").locations] == ["ash", "hil"]
    assert c.server_types.get_by_name("cax11").architecture == "arm"
    assert c.server_types.get_by_name("cx22") is None  # removed from the API in January 2026
    names = {t.name for t in c.server_types.get_all()}
    assert {"cx23", "cx53", "cpx12", "cpx62", "ccx13", "ccx63", "cax41"} <= names
    images = c.images.get_all(name="debian-13", include_deprecated=True)
    assert sorted(i.architecture for i in images) == ["arm", "x86"]
    assert {i.type for i in c.images.get_all(type=["system"])} == {"system"}
    assert {t.name: t.max_targets for t in c.load_balancer_types.get_all()} == {"lb11": 25, "lb21": 75, "lb31": 150}

    network = c.networks.create(
        name="net",
        ip_range="10.0.0.0/16",
        subnets=[NetworkSubnet(type="cloud", ip_range="10.0.1.0/24", network_zone="eu-central")],
    )
    network.add_route(NetworkRoute(destination="10.100.0.0/24", gateway="10.0.1.10")).wait_until_finished()
    assert [(r.destination, r.gateway) for r in c.networks.get_by_id(network.id).routes] == [
        ("10.100.0.0/24", "10.0.1.10")
    ]
    reserved = api(
        standin,
        "POST",
        f"/networks/{network.id}/actions/add_route",
        {"destination": "10.101.0.0/24", "gateway": "10.0.0.1"},
    )
    assert reserved.status_code == 422
    overlapping = api(
        standin,
        "POST",
        f"/networks/{network.id}/actions/add_route",
        {"destination": "10.0.1.0/25", "gateway": "10.0.1.10"},
    )
    assert overlapping.status_code == 422
    network.delete_route(NetworkRoute(destination="10.100.0.0/24", gateway="10.0.1.10")).wait_until_finished()
    network.change_ip_range("10.0.0.0/15").wait_until_finished()
    assert c.networks.get_by_id(network.id).ip_range == "10.0.0.0/15"
    assert (
        api(standin, "POST", f"/networks/{network.id}/actions/change_ip_range", {"ip_range": "10.0.0.0/16"}).status_code
        == 422
    )  # ranges only grow
    network.change_protection(delete=True).wait_until_finished()
    assert api(standin, "DELETE", f"/networks/{network.id}").json()["error"]["code"] == "protected"


def test_pagination_and_label_selectors(standin: HcloudStandin) -> None:
    for index in range(5):
        api(
            standin,
            "POST",
            "/ssh_keys",
            {"name": f"k{index}", "public_key": public_key(index), "labels": {"team": "a" if index % 2 else "b"}},
        )
    page = api(standin, "GET", "/ssh_keys?page=2&per_page=2").json()
    assert [k["name"] for k in page["ssh_keys"]] == ["k2", "k3"]
    assert page["meta"]["pagination"] == {
        "page": 2,
        "per_page": 2,
        "previous_page": 1,
        "next_page": 3,
        "last_page": 3,
        "total_entries": 5,
    }
    assert api(standin, "GET", "/ssh_keys?per_page=51").status_code == 422
    assert len(client(standin).ssh_keys.get_all()) == 5  # the client walks the pages itself
    by_label = api(standin, "GET", "/ssh_keys?label_selector=team%3Da&sort=name:desc").json()["ssh_keys"]
    assert [k["name"] for k in by_label] == ["k3", "k1"]
    assert api(standin, "GET", "/ssh_keys?name=k4").json()["ssh_keys"][0]["name"] == "k4"
    duplicate = api(standin, "POST", "/ssh_keys", {"name": "other", "public_key": public_key(0, "again")})
    assert (duplicate.status_code, duplicate.json()["error"]["details"]) == (409, {"fields": [{"name": "public_key"}]})


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("env=prod", {"env": "prod"}, True),
        ("env==prod", {"env": "dev"}, False),
        ("env!=prod", {}, True),
        ("env", {"env": ""}, True),
        ("!env", {"env": "x"}, False),
        ("env in (a,b), tier", {"env": "b", "tier": "web"}, True),
        ("env notin (a, b)", {"env": "a"}, False),
        ("example.com/role=db,!tmp", {"example.com/role": "db"}, True),
        ("", {"x": "y"}, True),
    ],
)
def test_label_selector_language(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector(selector).matches(labels) is expected


def test_fingerprint_matches_the_collection(standin: HcloudStandin) -> None:
    for seed in range(3):
        assert ssh_fingerprint(public_key(seed)) == ssh_public_key_md5_fingerprint(public_key(seed))


def test_recording_never_keeps_the_token(standin: HcloudStandin) -> None:
    c = client(standin)
    c.networks.create(name="net", ip_range="10.0.0.0/16")
    c.networks.get_all()
    assert standin.token not in repr(standin)
    assert standin.token not in repr(standin.requests)
    assert [(r.method, r.path, r.status) for r in standin.mutations()] == [("POST", "/networks", 201)]
    assert standin.requests[-1].query == {"page": ["1"], "per_page": ["50"]}
    standin.clear_requests()
    assert standin.requests == []
    with pytest.raises(ValueError, match="unknown kind"):
        standin.resources("volumes")
    chosen = secrets.token_hex(16)
    assert HcloudStandin(token=chosen).token == chosen


def test_concurrent_requests_are_consistent(standin: HcloudStandin) -> None:
    results: list[requests.Response] = []

    def create(index: int) -> None:
        results.append(
            api(
                standin,
                "POST",
                "/servers",
                {"name": f"s{index}", "server_type": "cpx22", "image": "ubuntu-24.04", "location": "nbg1"},
            )
        )

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [201] * 12
    servers = standin.resources("servers")
    assert len({s["id"] for s in servers}) == 12
    assert len({s["public_net"]["ipv4"]["ip"] for s in servers}) == 12


def test_datacenters_are_gone_today_and_served_in_legacy_mode(standin: HcloudStandin) -> None:
    gone = api(standin, "GET", "/datacenters")
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "deprecated_api_endpoint")
    refused = api(
        standin,
        "POST",
        "/servers",
        {"name": "a", "server_type": "cpx22", "image": "debian-12", "datacenter": "fsn1-dc14"},
    )
    assert refused.json()["error"]["details"]["fields"][0]["name"] == "datacenter"
    created = api(standin, "POST", "/servers", {"name": "a", "server_type": "cpx22", "image": "debian-12"})
    assert "datacenter" not in created.json()["server"]
    with HcloudStandin(legacy_datacenters=True) as legacy:
        assert api(legacy, "GET", "/datacenters").json()["datacenters"][0]["name"] == "fsn1-dc14"
        server = api(
            legacy,
            "POST",
            "/servers",
            {"name": "a", "server_type": "cpx22", "image": "debian-12", "datacenter": "hel1-dc2"},
        ).json()["server"]
        assert (server["datacenter"]["name"], server["location"]["name"]) == ("hel1-dc2", "hel1")


# ------------------------------------------------------------------- the hetzner.hcloud collection through Ansible
#
# Ansible builds each module's AnsiballZ payload once per ansible-playbook process, about a second of CPU for a
# hetzner.hcloud module, so the whole matrix is one ansible-playbook run: every task goes to a host of its own
# (h0, h1, ...: all local) through include_tasks, and with the free strategy the independent tasks of a play run
# side by side. The plays: four waves that create everything (each wave needs the previous one), then one play with
# every module again, the info modules, every module in check mode with a changed argument (check_mode: true is
# what --check sets for each task), and the two demonstrations against other stand-ins.

TOKEN = "standin" + "0" * 57  # one token for every stand-in of a run, so one HCLOUD_TOKEN serves them all


def ansible_env(token: str = TOKEN, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "HCLOUD_"))}
    env.update(
        {
            "HCLOUD_TOKEN": token,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            **extra,
        }
    )
    return env


def task(module: str, args: dict[str, Any], name: str | None = None, *, check: bool = False) -> dict[str, Any]:
    """A task of the matrix (named "check ..." in check mode); api_endpoint is added when the play is written."""
    name = name or module
    result: dict[str, Any] = {
        "name": f"check {name}" if check else name,
        f"hetzner.hcloud.{module}": args,
        "ignore_errors": True,
    }
    if check:
        result["check_mode"] = True
    return result


def run_matrix(tmp_path: Path, plays: list[tuple[str, list[tuple[HcloudStandin, dict[str, Any]]]]]) -> dict[str, Any]:
    """Run plays of (stand-in, task) pairs in one ansible-playbook; returns each play's window and task results."""
    hosts = max(len(tasks) for _, tasks in plays)
    playbook = []
    for play_name, tasks in plays:
        folder = tmp_path / play_name
        folder.mkdir()
        for index, (standin, raw) in enumerate(tasks):
            module = next(key for key in raw if key.startswith("hetzner.hcloud."))
            with_endpoint = {
                **raw,
                "name": f"{play_name}: {raw['name']}",
                module: {**raw[module], "api_endpoint": standin.endpoint},
            }
            (folder / f"h{index}.yml").write_text(json.dumps([with_endpoint]), encoding="utf-8")
        playbook.append(
            {
                "name": play_name,
                "hosts": ",".join(f"h{i}" for i in range(len(tasks))),
                "connection": "local",
                "gather_facts": False,
                "strategy": "free",
                "vars": {"ansible_python_interpreter": str(VENV_BIN / "python")},
                "tasks": [
                    {
                        "name": f"{play_name} include",
                        "ansible.builtin.include_tasks": str(folder) + "/{{ inventory_hostname }}.yml",
                    }
                ],
            }
        )
    path = tmp_path / "matrix.yml"
    path.write_text(json.dumps(playbook), encoding="utf-8")
    inventory = ",".join(f"h{i}" for i in range(hosts)) + ","
    process = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", inventory, "-f", "12", str(path)],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(process.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"ansible-playbook printed no JSON report:\n{process.stdout}\n{process.stderr}") from exc
    results: dict[str, Any] = {}
    for play in report["plays"]:
        name = play["play"]["name"]
        window = tuple(
            datetime.fromisoformat(play["play"]["duration"][k].replace("Z", "+00:00")).timestamp()
            for k in ("start", "end")
        )
        tasks = {}
        for entry in play["tasks"]:
            task_name = entry["task"]["name"]
            if task_name.endswith(" include"):
                continue
            (outcome,) = entry["hosts"].values()
            tasks[task_name.removeprefix(f"{name}: ")] = outcome
        results[name] = {"window": window, "tasks": tasks}
    return results


RULES = [
    {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["198.51.100.0/24"], "description": "ssh"},
    {"direction": "in", "protocol": "icmp", "source_ips": ["0.0.0.0/0", "::/0"]},
]
LABELS = {"cluster": "test"}
CHANGED_LABELS = {"cluster": "test", "changed": "yes"}


def create_waves() -> list[list[dict[str, Any]]]:
    """One task per module; a wave needs the waves before it. Run twice, the second run must change nothing."""
    return [
        [
            task("network", {"name": "test-net", "ip_range": "10.0.0.0/16", "labels": LABELS}),
            task("network", {"name": "test-net-b", "ip_range": "10.1.0.0/16", "labels": LABELS}, "network b"),
            task("ssh_key", {"name": "test-key", "public_key": public_key(7), "labels": LABELS}),
            task("firewall", {"name": "test-fw", "rules": RULES, "labels": LABELS}),
            task("placement_group", {"name": "test-pg", "type": "spread", "labels": LABELS}),
            task(
                "load_balancer", {"name": "test-lb", "load_balancer_type": "lb11", "location": "fsn1", "labels": LABELS}
            ),
            # hetzner.hcloud 5.4.0 ignores disable_public_interface when it creates a load balancer (a later run
            # disables it), so a first run leaves it public.
            task(
                "load_balancer",
                {
                    "name": "test-lb-private",
                    "load_balancer_type": "lb11",
                    "location": "fsn1",
                    "labels": LABELS,
                    "disable_public_interface": True,
                },
                "load_balancer private",
            ),
        ],
        [
            task(
                "subnetwork",
                {"network": "test-net", "ip_range": "10.0.1.0/24", "type": "cloud", "network_zone": "eu-central"},
            ),
            task(
                "subnetwork",
                {
                    "network": "test-net",
                    "ip_range": "10.0.2.0/24",
                    "type": "vswitch",
                    "vswitch_id": 4711,
                    "network_zone": "eu-central",
                },
                "subnetwork vswitch",
            ),
            task(
                "server",
                {
                    "name": "test-server-1",
                    "server_type": "cpx22",
                    "image": "ubuntu-24.04",
                    "location": "fsn1",
                    "ssh_keys": ["test-key"],
                    "firewalls": ["test-fw"],
                    "placement_group": "test-pg",
                    "labels": {**LABELS, "k8s_role": "server"},
                    "state": "present",
                },
            ),
            task(
                "load_balancer_service",
                {"load_balancer": "test-lb", "protocol": "tcp", "listen_port": 6443, "destination_port": 6443},
            ),
        ],
        [
            task(
                "server_network",
                {"server": "test-server-1", "network": "test-net", "ip": "10.0.1.10", "alias_ips": ["10.0.1.11"]},
            ),
            task("load_balancer_network", {"load_balancer": "test-lb", "network": "test-net", "ip": "10.0.1.2"}),
        ],
        [
            task(
                "load_balancer_target",
                {
                    "load_balancer": "test-lb",
                    "type": "label_selector",
                    "label_selector": "k8s_role=server",
                    "use_private_ip": True,
                },
            ),
        ],
    ]


def again_tasks() -> list[dict[str, Any]]:
    """The create tasks once more, one per module (the second network, the vswitch subnet and the private load
    balancer prove nothing new here)."""
    return [
        t
        for wave in create_waves()
        for t in wave
        if t["name"] not in ("network b", "subnetwork vswitch", "load_balancer private")
    ]


def info_tasks() -> list[dict[str, Any]]:
    """The info modules the project's roles use (the catalog ones are proved with the hcloud client above)."""
    return [
        task("server_info", {"name": "test-server-1"}),
        task("network_info", {"name": "test-net"}),
        task("firewall_info", {"label_selector": "cluster=test"}),
        task("ssh_key_info", {"name": "test-key"}),
        task("load_balancer_info", {"name": "test-lb"}),
    ]


def check_tasks() -> list[dict[str, Any]]:
    """A changed argument for every module; in check mode each must report a change and make no change."""
    return [
        task("network", {"name": "test-net", "ip_range": "10.0.0.0/16", "labels": CHANGED_LABELS}, check=True),
        task(
            "subnetwork",
            {"network": "test-net", "ip_range": "10.0.3.0/24", "type": "cloud", "network_zone": "eu-central"},
            check=True,
        ),
        task("ssh_key", {"name": "test-key", "public_key": public_key(7), "labels": CHANGED_LABELS}, check=True),
        task(
            "firewall",
            {
                "name": "test-fw",
                "labels": LABELS,
                "rules": [
                    *RULES,
                    {"direction": "in", "protocol": "tcp", "port": "6443", "source_ips": ["10.0.0.0/16"]},
                ],
            },
            check=True,
        ),
        task("placement_group", {"name": "test-pg", "type": "spread", "labels": CHANGED_LABELS}, check=True),
        task(
            "server",
            {
                "name": "test-server-1",
                "server_type": "cpx22",
                "image": "ubuntu-24.04",
                "labels": CHANGED_LABELS,
                "state": "present",
            },
            check=True,
        ),
        task(
            "server",
            {
                "name": "test-server-2",
                "server_type": "cpx22",
                "image": "ubuntu-24.04",
                "location": "fsn1",
                "labels": LABELS,
            },
            "server create",
            check=True,
        ),
        task(
            "server_network",
            {"server": "test-server-1", "network": "test-net", "alias_ips": ["10.0.1.11", "10.0.1.12"]},
            check=True,
        ),
        task(
            "load_balancer",
            {"name": "test-lb", "load_balancer_type": "lb11", "location": "fsn1", "labels": CHANGED_LABELS},
            check=True,
        ),
        task("load_balancer_network", {"load_balancer": "test-lb", "network": "test-net-b"}, check=True),
        task(
            "load_balancer_service",
            {"load_balancer": "test-lb", "protocol": "tcp", "listen_port": 6443, "destination_port": 6444},
            check=True,
        ),
        task(
            "load_balancer_target",
            {"load_balancer": "test-lb", "type": "server", "server": "test-server-1", "use_private_ip": True},
            check=True,
        ),
    ]


# hetzner.hcloud 5.4.0 marks a load balancer's detach as changed only when it really detaches, so never in check mode.
CHECK_QUIRK = task(
    "load_balancer_network",
    {"load_balancer": "test-lb", "network": "test-net", "state": "absent"},
    "load_balancer_network absent",
    check=True,
)
# hetzner.hcloud 5.4.0 changes a load balancer's algorithm even in check mode.
ALGORITHM_QUIRK = task(
    "load_balancer",
    {"name": "lb", "load_balancer_type": "lb11", "algorithm": "least_connections"},
    "algorithm in check mode",
    check=True,
)
# hetzner.hcloud 5.4.0 reads server.datacenter, which today's API no longer sends.
TODAY_SERVER = task(
    "server",
    {"name": "made-today", "server_type": "cpx22", "image": "debian-12", "location": "nbg1"},
    "server against today's API",
)


def plain(value: Any) -> Any:
    """ansible-inventory (ansible-core 2.19) wraps strings it got from a plugin as {"__ansible_unsafe": ...}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def start_inventory(tmp_path: Path, name: str, config: dict[str, Any], **env: str) -> subprocess.Popen[str]:
    path = tmp_path / f"{name}.hcloud.yml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return subprocess.Popen(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(path), "--list"],
        cwd=ROOT,
        env=ansible_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory):
    """The matrix against a legacy-shaped stand-in (the API shape hetzner.hcloud 5.4.0 was written against), the
    demonstrations against a stand-in of today's API and a second legacy one, then the inventory plugin on both."""
    tmp_path = tmp_path_factory.mktemp("hcloud-modules")
    with (
        HcloudStandin(TOKEN, legacy_datacenters=True) as legacy,
        HcloudStandin(TOKEN) as today,
        HcloudStandin(TOKEN, legacy_datacenters=True) as other,
    ):
        api(
            today,
            "POST",
            "/servers",
            {"name": "listed", "server_type": "cpx22", "image": "debian-12", "labels": {"cluster": "test"}},
        )
        c = client(other)
        c.load_balancers.create(
            name="lb",
            load_balancer_type=c.load_balancer_types.get_by_name("lb11"),
            location=c.locations.get_by_name("fsn1"),
        )
        other.clear_requests()
        waves = [(f"create {i + 1}", [(legacy, t) for t in wave]) for i, wave in enumerate(create_waves())]
        after = [(legacy, t) for t in again_tasks()]
        after += [(legacy, t) for t in [*info_tasks(), *check_tasks(), CHECK_QUIRK]]
        after += [(today, TODAY_SERVER), (other, ALGORITHM_QUIRK)]
        results = run_matrix(tmp_path, [*waves, ("after", after)])
        state = {kind: legacy.resources(kind) for kind in ("servers", "networks", "firewalls", "load_balancers")}
        listed = start_inventory(
            tmp_path,
            "legacy",
            {
                "plugin": "hetzner.hcloud.hcloud",
                "api_endpoint": legacy.endpoint,
                "label_selector": "cluster=test",
                "network": "test-net",
                "groups": {"k8s_servers": "hcloud_labels.k8s_role | default('') == 'server'"},
                "compose": {"node_ip": "hcloud_private_networks[0].ip"},
            },
        )
        # The endpoint through the plugin's documented environment fallback this time.
        broken = start_inventory(
            tmp_path,
            "today",
            {"plugin": "hetzner.hcloud.hcloud", "label_selector": "cluster=test"},
            HCLOUD_ENDPOINT=today.endpoint,
        )
        for name, process in (("inventory", listed), ("inventory today", broken)):
            stdout, stderr = process.communicate(timeout=300)
            results[name] = {
                "returncode": process.returncode,
                "stderr": stderr,
                "list": plain(json.loads(stdout)) if process.returncode == 0 else None,
            }
        yield {"legacy": legacy, "today": today, "other": other, "state": state, "results": results}


def test_modules_first_run_creates_everything(matrix) -> None:
    results = matrix["results"]
    first = {
        name: r
        for play in ("create 1", "create 2", "create 3", "create 4")
        for name, r in results[play]["tasks"].items()
    }
    assert {name: r.get("msg") for name, r in first.items() if r.get("failed")} == {}
    assert sorted(first) == sorted(t["name"] for wave in create_waves() for t in wave)
    assert {name: r["changed"] for name, r in first.items()} == dict.fromkeys(first, True)
    server = first["server"]["hcloud_server"]
    assert (server["status"], server["location"], server["datacenter"], server["placement_group"]) == (
        "running",
        "fsn1",
        "fsn1-dc14",
        "test-pg",
    )
    assert server["ipv4_address"].startswith("203.0.113.")
    assert first["server"]["root_password"] is None
    assert first["server_network"]["hcloud_server_network"] == {
        "network": "test-net",
        "server": "test-server-1",
        "ip": "10.0.1.10",
        "alias_ips": ["10.0.1.11"],
    }
    assert first["subnetwork vswitch"]["hcloud_subnetwork"]["gateway"] == "10.0.2.1"
    assert first["load_balancer_network"]["hcloud_load_balancer_network"]["ip"] == "10.0.1.2"
    state = matrix["state"]
    lb, private = (next(b for b in state["load_balancers"] if b["name"] == n) for n in ("test-lb", "test-lb-private"))
    assert lb["targets"][0]["targets"][0]["server"]["id"] == state["servers"][0]["id"]
    assert first["load_balancer private"]["hcloud_load_balancer"]["disable_public_interface"] is False
    assert private["public_net"]["enabled"] is True  # the module's create path ignores disable_public_interface
    assert lb["services"][0]["health_check"]["port"] == 6443
    assert state["firewalls"][0]["applied_to"] == [{"type": "server", "server": {"id": state["servers"][0]["id"]}}]


def test_modules_second_run_changes_nothing(matrix) -> None:
    after = matrix["results"]["after"]["tasks"]
    again = {t["name"]: after[t["name"]] for t in again_tasks()}
    assert len(again) == 11  # network, subnetwork, ssh_key, firewall, placement_group, server, server_network,
    # load_balancer, load_balancer_network, load_balancer_service, load_balancer_target
    again.update({t["name"]: after[t["name"]] for t in info_tasks()})
    assert {name: (r["changed"], r.get("failed", False)) for name, r in again.items()} == dict.fromkeys(
        again, (False, False)
    )
    info = again["server_info"]["hcloud_server_info"][0]
    assert info["private_networks_info"] == [{"name": "test-net", "ip": "10.0.1.10"}]
    assert again["network_info"]["hcloud_network_info"][0]["servers"][0]["name"] == "test-server-1"
    lb = again["load_balancer_info"]["hcloud_load_balancer_info"][0]
    assert (lb["private_ipv4_address"], lb["targets"][0]["label_selector"]) == ("10.0.1.2", "k8s_role=server")
    assert again["firewall_info"]["hcloud_firewall_info"][0]["rules"] == [
        {
            "description": "ssh",
            "direction": "in",
            "protocol": "tcp",
            "port": "22",
            "source_ips": ["198.51.100.0/24"],
            "destination_ips": [],
        },
        {
            "description": None,
            "direction": "in",
            "protocol": "icmp",
            "port": None,
            "source_ips": ["0.0.0.0/0", "::/0"],
            "destination_ips": [],
        },
    ]
    assert again["ssh_key_info"]["hcloud_ssh_key_info"][0]["fingerprint"] == ssh_fingerprint(public_key(7))


def test_modules_check_mode_reports_changes_and_mutates_nothing(matrix) -> None:
    after = matrix["results"]["after"]
    checked = {t["name"]: after["tasks"][t["name"]] for t in [*check_tasks(), CHECK_QUIRK]}
    assert {name: (r["changed"], r.get("failed", False)) for name, r in checked.items()} == {
        **{t["name"]: (True, False) for t in check_tasks()},
        CHECK_QUIRK["name"]: (False, False),
    }
    legacy = matrix["legacy"]
    late = [(r.method, r.path) for r in legacy.mutations() if r.at >= after["window"][0]]
    assert late == []  # neither the second run, the info modules, the check run nor the inventory changed anything
    assert matrix["state"] == {kind: legacy.resources(kind) for kind in matrix["state"]}


def test_inventory_plugin_lists_the_servers(matrix) -> None:
    outcome = matrix["results"]["inventory"]
    assert outcome["returncode"] == 0, outcome["stderr"]
    inventory = outcome["list"]
    state = matrix["state"]
    server = state["servers"][0]
    hostvars = inventory["_meta"]["hostvars"]["test-server-1"]
    assert hostvars["ansible_host"] == server["public_net"]["ipv4"]["ip"]
    assert hostvars["hcloud_ipv4"] == server["public_net"]["ipv4"]["ip"]
    network_id = next(n["id"] for n in state["networks"] if n["name"] == "test-net")
    assert hostvars["hcloud_private_networks"] == [{"id": network_id, "name": "test-net", "ip": "10.0.1.10"}]
    assert hostvars["hcloud_private_ipv4"] == "10.0.1.10"  # set only because the config names a network
    assert hostvars["node_ip"] == "10.0.1.10"
    assert (hostvars["hcloud_location"], hostvars["hcloud_datacenter"], hostvars["hcloud_server_type"]) == (
        "fsn1",
        "fsn1-dc14",
        "cpx22",
    )
    assert hostvars["hcloud_labels"] == {"cluster": "test", "k8s_role": "server"}
    assert (hostvars["hcloud_image_name"], hostvars["hcloud_image_os_flavor"]) == ("ubuntu-24.04", "ubuntu")
    assert hostvars["hcloud_ipv6"] == server["public_net"]["ipv6"]["ip"].replace("::/64", "::1")
    assert (hostvars["hcloud_ipv6_network"], hostvars["hcloud_ipv6_network_mask"]) == (
        server["public_net"]["ipv6"]["ip"].split("/")[0],
        "64",
    )
    assert inventory["hcloud"]["hosts"] == ["test-server-1"]
    assert inventory["k8s_servers"]["hosts"] == ["test-server-1"]


def test_pinned_collection_breaks_on_todays_api_shape(matrix) -> None:
    """hetzner.hcloud 5.4.0 reads ``server.datacenter``, which the API stopped sending on 2026-07-01: its server
    module creates the server and then fails, and its inventory plugin fails. Also its load_balancer module changes
    the algorithm even in check mode. This test fails (on purpose) once the pinned collection no longer does so."""
    after = matrix["results"]["after"]["tasks"]
    today = matrix["today"]
    result = after[TODAY_SERVER["name"]]
    assert result["failed"] is True
    assert "'NoneType' object has no attribute 'location'" in result["msg"]  # server.datacenter.location
    assert [s["name"] for s in today.resources("servers")] == ["listed", "made-today"]  # created, then failed

    inventory = matrix["results"]["inventory today"]  # ansible-inventory warns, exits 0 and lists nothing
    assert "'NoneType' object has no attribute 'name'" in inventory["stderr"]  # server.datacenter.name
    assert inventory["list"]["_meta"]["hostvars"] == {}

    other = matrix["other"]
    checked = after[ALGORITHM_QUIRK["name"]]
    assert (checked["changed"], checked.get("failed", False)) == (True, False)
    assert [r.path for r in other.mutations()] == [
        f"/load_balancers/{other.resources('load_balancers')[0]['id']}/actions/change_algorithm"
    ]
    assert other.resources("load_balancers")[0]["algorithm"] == {"type": "least_connections"}
