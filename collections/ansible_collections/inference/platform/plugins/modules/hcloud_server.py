#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: hcloud_server
short_description: Manage one Hetzner Cloud server (reads its location, never the removed datacenter)
version_added: 0.1.0
description:
  - Creates, reconciles or deletes one Hetzner Cloud server through the hcloud Python client.
  - Written because the pinned C(hetzner.hcloud.server) (collection 5.4.0) reads C(server.datacenter), which the
    Hetzner Cloud API stopped returning on 2026-07-01, and fails with
    C('NoneType' object has no attribute 'location').
  - The server is found by O(id) when given, else by O(name). Found by O(id), a server whose name differs from
    O(name) is renamed (O(state=present)) or deleted anyway (O(state=absent)).
  - A missing server is created from O(server_type), O(image) and O(location) (all three needed), with O(ssh_keys),
    O(firewalls), O(placement_group), O(labels), O(enable_ipv4), O(enable_ipv6) and O(start_after_create). Then it
    is attached to O(private_network) at O(private_ip) and its protection set.
  - "On an existing server the module reconciles O(labels), O(delete_protection)/O(rebuild_protection),
    O(firewalls) and the attachment to O(private_network); it never rebuilds, moves or re-addresses a server:
    a different O(location), O(placement_group) or O(private_ip) fails the task (nothing is changed), a different
    O(image) gives a warning, a different O(server_type) fails unless O(allow_type_change=true)."
  - Options left out are not managed. The module neither starts nor stops a server, except around a type change.
  - Every action is waited for (about O(wait_timeout) seconds each).
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.hcloud
  - inference.platform.hcloud.ACTIONGROUP
  - inference.platform.attributes
  - inference.platform.attributes.MANAGE
options:
  name:
    description: Name of the server (a hostname, unique in the project).
    type: str
    required: true
  id:
    description:
      - Id of the server. When set, the server is looked up by it, not by O(name).
      - A server can not be created with a given id; with O(state=present) and no server of that id, the task fails.
    type: int
  state:
    description: Whether the server should exist.
    type: str
    choices: [present, absent]
    default: present
  server_type:
    description:
      - Server type name (or id), for example V(cpx32). Needed to create the server.
      - On an existing server of another type the task fails, unless O(allow_type_change=true).
    type: str
  allow_type_change:
    description:
      - Let the module change the type of an existing server whose type differs from O(server_type). A type change
        needs the server stopped, so the module shuts it down (ACPI, and waits until it is off), changes the type
        keeping the disk size (C(upgrade_disk=false), so the change can be undone) and powers it on again if it was
        running.
      - The server is down for the length of that; plan it (drain a Kubernetes node first).
    type: bool
    default: false
  image:
    description:
      - Image name (or id) the server is created from, for example V(ubuntu-24.04). Needed to create the server.
      - The image only applies at creation; on an existing server with another image the module warns and changes
        nothing (it never rebuilds).
    type: str
  location:
    description:
      - Location name (or id), for example V(fsn1), V(nbg1), V(hel1). Needed to create the server.
      - An existing server in another location fails the task; a server cannot move.
    type: str
  ssh_keys:
    description:
      - SSH key names or ids put into root's C(authorized_keys) at creation. Only used at creation.
      - Without SSH keys Hetzner generates a root password; the module never returns it (see RV(root_password_set)).
    type: list
    elements: str
  firewalls:
    description:
      - Names (or ids) of the firewalls applied to the server itself.
      - When given, the server ends with exactly these applied directly; missing ones are applied, others applied
        directly are removed. Firewalls applied through a label selector are neither listed nor touched.
      - When left out, the server's firewalls are not managed.
    type: list
    elements: str
  placement_group:
    description:
      - Name (or id) of the placement group the server is created in.
      - Only at creation; an existing server in another (or no) placement group fails the task.
    type: str
  labels:
    description:
      - Labels of the server. When given, the server's labels become exactly these (others are removed).
      - Label values are strings.
    type: dict
  enable_ipv4:
    description:
      - Give the server a public IPv4 address at creation (Hetzner's default is V(true)).
      - Only at creation; on an existing server that differs the module warns.
    type: bool
  enable_ipv6:
    description:
      - Give the server a public IPv6 /64 network at creation (Hetzner's default is V(true)).
      - Only at creation; on an existing server that differs the module warns.
    type: bool
  delete_protection:
    description:
      - Protect the server from deletion.
      - The Hetzner Cloud API needs delete and rebuild protection to be equal; when only one of O(delete_protection)
        and O(rebuild_protection) is set, both are set to it, and two different values fail the task.
    type: bool
  rebuild_protection:
    description:
      - Protect the server from being rebuilt. See O(delete_protection).
    type: bool
  private_network:
    description:
      - Name (or id) of a private network the server is attached to. Only this network is managed; the server's other
        attachments are left alone.
      - A server that is not attached is attached (at O(private_ip) when given).
    type: str
  private_ip:
    description:
      - Fixed address of the server in O(private_network).
      - A server attached at another address fails the task, naming both addresses; the module never moves it (a
        Kubernetes node whose address changes breaks).
      - A server without any public address must be created inside its network, where Hetzner picks the address, so
        O(private_ip) together with O(enable_ipv4=false) and O(enable_ipv6=false) fails before creating anything.
    type: str
  private_alias_ips:
    description:
      - Alias addresses of the server in O(private_network). When given, they become exactly these.
    type: list
    elements: str
  start_after_create:
    description: Start the server once it is created. Only at creation.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each action (create, attach, change type, ...) and for the server to power off before a
        type change. Actions are polled about once a second.
    type: int
    default: 600
notes:
  - In this project the module is tested against a stand-in of the Hetzner Cloud API (tests/provision), not against
    Hetzner; see the collection's C(docs/modules.md).
seealso:
  - module: inference.platform.hcloud_server_info
  - plugin: inference.platform.hcloud
    plugin_type: inventory
  - name: Hetzner Cloud API, servers
    description: The API this module calls.
    link: https://docs.hetzner.cloud/reference/cloud#servers
"""

EXAMPLES = r"""
- name: A Kubernetes node at a fixed address in the cluster network
  inference.platform.hcloud_server:
    name: k8s-cp-1
    server_type: cpx32
    image: ubuntu-24.04
    location: fsn1
    ssh_keys: [admin]
    firewalls: [k8s-nodes]
    placement_group: k8s-spread
    private_network: k8s
    private_ip: 10.0.1.11
    labels:
      cluster: prod
      k8s_role: server
    delete_protection: true
    rebuild_protection: true

- name: Move a node to a bigger type (it is shut down and powered on again)
  inference.platform.hcloud_server:
    name: k8s-cp-1
    server_type: cpx42
    allow_type_change: true

- name: Delete a server by id (lift its protection first)
  inference.platform.hcloud_server:
    name: old-node
    id: 5000001
    state: absent
"""

RETURN = r"""
server:
  description:
    - The server after the change (as it would be, in check mode). Empty when absent.
    - C(ipv6) is the server's /64 network, C(firewalls) the firewalls applied to the server itself.
  returned: always
  type: dict
  sample:
    id: 5000001
    name: k8s-cp-1
    status: running
    server_type: cpx32
    image: ubuntu-24.04
    location: fsn1
    ipv4_address: 203.0.113.10
    ipv6: 2001:db8:1::/64
    private_networks:
      - {network: k8s, network_id: 2000001, ip: 10.0.1.11, alias_ips: []}
    placement_group: k8s-spread
    labels: {cluster: prod, k8s_role: server}
    delete_protection: true
    rebuild_protection: true
    firewalls: [k8s-nodes]
    created: "2026-12-02T10:00:00+00:00"
root_password_set:
  description:
    - Whether Hetzner generated a root password for a server this task created (no O(ssh_keys) given).
    - The password itself is never returned; use SSH keys, or reset it in the Hetzner Console.
  returned: always
  type: bool
  sample: false
diff:
  description: The managed fields before and after, with C(--diff).
  returned: when diff mode is on
  type: dict
  sample: {before: {labels: {cluster: prod}}, after: {labels: {cluster: prod, k8s_role: server}}}
"""

import copy
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.inference.platform.plugins.module_utils._hcloud import (
    POLL_INTERVAL,
    ApiError,
    HcloudModule,
    direct_firewalls,
    find_by_ref,
    hcloud_argument_spec,
    server_to_dict,
)

try:
    from hcloud.firewalls.domain import FirewallResource
    from hcloud.images.domain import Image
    from hcloud.locations.domain import Location
    from hcloud.server_types.domain import ServerType
    from hcloud.servers.domain import ServerCreatePublicNetwork
    from hcloud.ssh_keys.domain import SSHKey
except ImportError:
    pass  # HAS_HCLOUD in module_utils/_hcloud.py is False and run_safely fails with missing_required_lib("hcloud")

MANAGED_FIELDS = (
    "name",
    "status",
    "server_type",
    "image",
    "location",
    "labels",
    "delete_protection",
    "rebuild_protection",
    "firewalls",
    "placement_group",
    "private_networks",
)


def ref_args(ref):
    """Constructor arguments naming an API object by id (digits) or name."""
    ref = to_text(ref)
    return {"id": int(ref)} if ref.isdigit() else {"name": ref}


def matches(obj, ref):
    """Whether the bound object ``obj`` is the one ``ref`` (a name or an id) names."""
    if obj is None:
        return False
    ref = to_text(ref)
    return ref == to_text(obj.name) or (ref.isdigit() and int(ref) == obj.id)


def view(server):
    return {field: copy.deepcopy(server.get(field)) for field in MANAGED_FIELDS} if server else {}


class HcloudServer(HcloudModule):
    # -- lookups ---------------------------------------------------------------------------------------------------

    def find(self):
        params = self.module.params
        if params["id"] is not None:
            self.step("looking up server id %s" % params["id"])
            return find_by_ref(self.client.servers, params["id"])
        self.step("looking up server %s" % params["name"])
        return self.client.servers.get_by_name(params["name"])

    def resolve(self, kind, ref, what):
        """A firewall, network or placement group by name or id. In check mode a missing one is assumed to be created
        by an earlier task (None is returned); otherwise it fails the task."""
        self.step("looking up %s %s" % (what, ref))
        found = find_by_ref(getattr(self.client, kind), ref)
        if found is None:
            if self.module.check_mode:
                self.module.warn(
                    "%s %s does not exist; check mode assumes an earlier task creates it" % (what.capitalize(), ref)
                )
                return None
            raise ApiError("%s %s does not exist" % (what.capitalize(), ref), "not_found", {"kind": kind, "ref": ref})
        return found

    def wanted_protection(self):
        """The (delete, rebuild) protection asked for, or None when neither option is set."""
        params = self.module.params
        delete, rebuild = params["delete_protection"], params["rebuild_protection"]
        if delete is None and rebuild is None:
            return None
        if delete is not None and rebuild is not None and delete != rebuild:
            raise ApiError(
                "delete_protection and rebuild_protection must be equal: the Hetzner Cloud API sets them together",
                "invalid_protection",
                {"delete_protection": delete, "rebuild_protection": rebuild},
            )
        value = delete if delete is not None else rebuild
        return (value, value)

    def to_dict(self, server):
        return server_to_dict(server, self.lookup)

    # -- main ------------------------------------------------------------------------------------------------------

    def run(self):
        params = self.module.params
        self.protection = self.wanted_protection()
        server = self.find()
        if params["state"] == "absent":
            return self.absent(server)
        if server is None:
            if params["id"] is not None:
                raise ApiError(
                    "There is no server with id %s (a server cannot be created with a given id; leave id out to "
                    "create %s)" % (params["id"], params["name"]),
                    "not_found",
                    {"id": params["id"], "name": params["name"]},
                )
            return self.create()
        return self.update(server)

    def absent(self, server):
        before = {}
        if server is not None:
            before = view(self.to_dict(server))
            if not self.module.check_mode:
                self.step("deleting server %s" % server.name)
                self.wait(server.delete())
            self._mark_as_changed()
        self.finish(before, {}, {})

    def create(self):
        params = self.module.params
        name = params["name"]
        missing = [option for option in ("server_type", "image", "location") if not params[option]]
        if missing:
            raise ApiError(
                "Server %s does not exist; creating it needs %s" % (name, ", ".join(missing)),
                "missing_options",
                {"missing": missing},
            )
        public_off = params["enable_ipv4"] is False and params["enable_ipv6"] is False
        if public_off and params["private_ip"]:
            raise ApiError(
                "Server %s would have no public address, so it must be created inside network %s, where Hetzner "
                "picks its address: private_ip %s cannot be honoured (enable a public address, or leave private_ip "
                "out)" % (name, params["private_network"], params["private_ip"]),
                "private_ip_needs_public_net",
                {"private_ip": params["private_ip"]},
            )
        firewalls = [(ref, self.resolve("firewalls", ref, "firewall")) for ref in params["firewalls"] or []]
        group = (
            self.resolve("placement_groups", params["placement_group"], "placement group")
            if (params["placement_group"])
            else None
        )
        network = self.resolve("networks", params["private_network"], "network") if params["private_network"] else None
        protect = self.protection or (False, False)

        predicted = {
            "id": None,
            "name": name,
            "status": "running" if params["start_after_create"] else "off",
            "server_type": params["server_type"],
            "image": params["image"],
            "location": params["location"],
            "ipv4_address": None,
            "ipv6": None,
            "private_networks": [],
            "placement_group": group.name if group else params["placement_group"],
            "labels": dict(params["labels"] or {}),
            "delete_protection": protect[0],
            "rebuild_protection": protect[1],
            "firewalls": sorted(fw.name if fw else ref for ref, fw in firewalls),
            "created": None,
        }
        if params["private_network"]:
            predicted["private_networks"].append(
                {
                    "network": network.name if network else params["private_network"],
                    "network_id": network.id if network else None,
                    "ip": params["private_ip"],
                    "alias_ips": list(params["private_alias_ips"] or []),
                }
            )
        root_password_set = False
        result = predicted
        if not self.module.check_mode:
            kwargs = {
                "name": name,
                "server_type": ServerType(**ref_args(params["server_type"])),
                "image": Image(**ref_args(params["image"])),
                "location": Location(**ref_args(params["location"])),
                "labels": dict(params["labels"] or {}),
                "start_after_create": params["start_after_create"],
            }
            if params["ssh_keys"]:
                kwargs["ssh_keys"] = [SSHKey(**ref_args(key)) for key in params["ssh_keys"]]
            if firewalls:
                kwargs["firewalls"] = [fw for _ref, fw in firewalls]
            if group is not None:
                kwargs["placement_group"] = group
            if public_off and network is not None:
                kwargs["networks"] = [network]
            if params["enable_ipv4"] is not None or params["enable_ipv6"] is not None:
                kwargs["public_net"] = ServerCreatePublicNetwork(
                    enable_ipv4=params["enable_ipv4"] is not False, enable_ipv6=params["enable_ipv6"] is not False
                )
            self.step("creating server %s" % name)
            response = self.client.servers.create(**kwargs)
            # Hetzner generates a root password when no SSH key is given; it is dropped here, never returned.
            root_password_set = bool(response.root_password)
            response.root_password = None
            self.step("waiting for server %s to be created and started" % name)
            self.wait(response.action, *response.next_actions)
            server = response.server
            if network is not None and not public_off:
                self.step("attaching server %s to network %s" % (name, network.name))
                self.wait(
                    server.attach_to_network(
                        network, ip=params["private_ip"], alias_ips=params["private_alias_ips"] or None
                    )
                )
            if any(protect):
                self.step("protecting server %s" % name)
                self.wait(server.change_protection(delete=protect[0], rebuild=protect[1]))
            self.step("reading server %s back" % name)
            result = self.to_dict(self.client.servers.get_by_id(server.id))
        self._mark_as_changed()
        self.finish({}, view(result), result, root_password_set=root_password_set)

    def update(self, server):
        params = self.module.params
        name = server.name
        current = self.to_dict(server)
        after = copy.deepcopy(current)

        # Everything that fails the task is checked before anything changes.
        if params["location"] and not matches(server.location, params["location"]):
            raise ApiError(
                "Server %s is in %s, not %s: a server cannot move to another location in place; this module never "
                "deletes and recreates a server, do that yourself if you mean it"
                % (name, current["location"], params["location"]),
                "location_mismatch",
                {"current": current["location"], "wanted": params["location"]},
            )
        if params["placement_group"] and not matches(server.placement_group, params["placement_group"]):
            raise ApiError(
                "Server %s is in placement group %s, not %s: the placement group is chosen at creation and cannot be "
                "changed in place by this module"
                % (name, current["placement_group"] or "(none)", params["placement_group"]),
                "placement_group_mismatch",
                {"current": current["placement_group"], "wanted": params["placement_group"]},
            )
        type_change = bool(params["server_type"]) and not matches(server.server_type, params["server_type"])
        if type_change and not params["allow_type_change"]:
            raise ApiError(
                "Server %s is a %s, the task asks for %s: changing the type needs the server to be stopped. Set "
                "allow_type_change: true to let this module shut it down, change the type (keeping the disk) and "
                "power it on again" % (name, current["server_type"], params["server_type"]),
                "server_type_mismatch",
                {"current": current["server_type"], "wanted": params["server_type"], "status": current["status"]},
            )
        attach = alias_change = None
        attach_needed = False
        if params["private_network"]:
            network = self.resolve("networks", params["private_network"], "network")
            entry = None
            if network is not None:
                entry = next((e for e in server.private_net or [] if e.network.id == network.id), None)
            if entry is None:
                attach, attach_needed = network, True
                after["private_networks"].append(
                    {
                        "network": network.name if network else params["private_network"],
                        "network_id": network.id if network else None,
                        "ip": params["private_ip"],
                        "alias_ips": list(params["private_alias_ips"] or []),
                    }
                )
            else:
                if params["private_ip"] and entry.ip != params["private_ip"]:
                    raise ApiError(
                        "Server %s is attached to network %s at %s, the task asks for %s: this module does not move a "
                        "server to another address (a Kubernetes node whose address changes breaks). Detach it "
                        "yourself if you really mean it, or use %s"
                        % (name, network.name, entry.ip, params["private_ip"], entry.ip),
                        "private_ip_mismatch",
                        {"network": network.name, "current_ip": entry.ip, "wanted_ip": params["private_ip"]},
                    )
                wanted_aliases = params["private_alias_ips"]
                if wanted_aliases is not None and sorted(entry.alias_ips or []) != sorted(wanted_aliases):
                    alias_change = network
                    for item in after["private_networks"]:
                        if item["network_id"] == network.id:
                            item["alias_ips"] = list(wanted_aliases)

        if params["image"] and not matches(server.image, params["image"]):
            self.module.warn(
                "Server %s runs image %s, the task names %s: the image only applies at creation; this module never "
                "rebuilds a server" % (name, current["image"], params["image"])
            )
        for option, family in (("enable_ipv4", "ipv4_address"), ("enable_ipv6", "ipv6")):
            if params[option] is not None and params[option] != (current[family] is not None):
                self.module.warn(
                    "Server %s %s a public %s address, the task sets %s=%s: this only applies at creation"
                    % (name, "has" if current[family] else "has no", option[-4:].upper(), option, params[option])
                )

        updates = {}
        if server.name != params["name"]:
            updates["name"] = after["name"] = params["name"]
        if params["labels"] is not None and current["labels"] != params["labels"]:
            updates["labels"] = params["labels"]
            after["labels"] = dict(params["labels"])
        protection = None
        if self.protection and self.protection != (current["delete_protection"], current["rebuild_protection"]):
            protection = self.protection
            after["delete_protection"], after["rebuild_protection"] = protection
        to_add, to_remove = [], []
        if params["firewalls"] is not None:
            wanted = [(ref, self.resolve("firewalls", ref, "firewall")) for ref in params["firewalls"]]
            wanted_ids = {fw.id for _ref, fw in wanted if fw is not None}
            self.step("reading the firewalls of server %s" % name)
            applied = direct_firewalls(server, self.lookup)
            applied_ids = {fw.id for fw in applied}
            to_add = [(ref, fw) for ref, fw in wanted if fw is None or fw.id not in applied_ids]
            to_remove = [fw for fw in applied if fw.id not in wanted_ids]
            after["firewalls"] = sorted({fw.name if fw else ref for ref, fw in wanted})
        if type_change:
            after["server_type"] = params["server_type"]

        if not (updates or protection or to_add or to_remove or attach_needed or alias_change or type_change):
            self.finish(view(current), view(after), current)
        self._mark_as_changed()
        if self.module.check_mode:
            self.finish(view(current), view(after), after)

        if updates:
            self.step("updating %s of server %s" % (" and ".join(sorted(updates)), name))
            server = server.update(**updates)
            name = server.name
        if protection:
            self.step("changing the protection of server %s" % name)
            self.wait(server.change_protection(delete=protection[0], rebuild=protection[1]))
        for _ref, firewall in to_add:
            self.step("applying firewall %s to server %s" % (firewall.name, name))
            self.wait(*firewall.apply_to_resources([FirewallResource(type="server", server=server)]))
        for firewall in to_remove:
            self.step("removing firewall %s from server %s" % (firewall.name, name))
            self.wait(*firewall.remove_from_resources([FirewallResource(type="server", server=server)]))
        if attach is not None:
            self.step("attaching server %s to network %s" % (name, attach.name))
            self.wait(
                server.attach_to_network(attach, ip=params["private_ip"], alias_ips=params["private_alias_ips"] or None)
            )
        if alias_change is not None:
            self.step("changing the alias IPs of server %s in network %s" % (name, alias_change.name))
            self.wait(server.change_alias_ips(alias_change, params["private_alias_ips"]))
        if type_change:
            self.change_type(server, current["status"])
        self.step("reading server %s back" % name)
        self.lookup.forget_firewalls()
        result = self.to_dict(self.client.servers.get_by_id(server.id))
        self.finish(view(current), view(result), result)

    def change_type(self, server, status):
        params = self.module.params
        was_off = status == "off"
        if not was_off:
            self.step("shutting server %s down for the type change" % server.name)
            self.wait(server.shutdown())
            self.wait_until_off(server)
        self.step("changing the type of server %s to %s" % (server.name, params["server_type"]))
        self.wait(server.change_type(ServerType(**ref_args(params["server_type"])), upgrade_disk=False))
        if not was_off:
            self.step("powering server %s on after the type change" % server.name)
            self.wait(server.power_on())

    def wait_until_off(self, server):
        """The shutdown action only says the ACPI request was sent; the server's status says when it is off."""
        deadline = time.monotonic() + self.module.params["wait_timeout"]
        while True:
            status = self.client.servers.get_by_id(server.id).status
            if status == "off":
                return
            if time.monotonic() >= deadline:
                raise ApiError(
                    "Server %s did not power off within %ss of the ACPI shutdown request (status %s); its type was not "
                    "changed. Stop it yourself (or raise wait_timeout) and run the task again"
                    % (server.name, self.module.params["wait_timeout"], status),
                    "shutdown_timeout",
                    {"status": status, "wait_timeout": self.module.params["wait_timeout"]},
                )
            time.sleep(POLL_INTERVAL)

    def finish(self, before, after, server, root_password_set=False):
        if self.module._diff:
            self.result["diff"] = {"before": before, "after": after}
        self.exit(server=server, root_password_set=root_password_set)


def main():
    argument_spec = hcloud_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        id={"type": "int"},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        server_type={"type": "str"},
        allow_type_change={"type": "bool", "default": False},
        image={"type": "str"},
        location={"type": "str"},
        ssh_keys={"type": "list", "elements": "str", "no_log": False},
        firewalls={"type": "list", "elements": "str"},
        placement_group={"type": "str"},
        labels={"type": "dict"},
        enable_ipv4={"type": "bool"},
        enable_ipv6={"type": "bool"},
        delete_protection={"type": "bool"},
        rebuild_protection={"type": "bool"},
        private_network={"type": "str"},
        private_ip={"type": "str"},
        private_alias_ips={"type": "list", "elements": "str"},
        start_after_create={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 600},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_by={"private_ip": "private_network", "private_alias_ips": "private_network"},
        supports_check_mode=True,
    )
    server = HcloudServer(module)
    server.run_safely(server.run)


if __name__ == "__main__":
    main()
