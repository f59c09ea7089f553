# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
name: hcloud
short_description: Hetzner Cloud servers as inventory hosts (reads their location, never the removed datacenter)
version_added: 0.1.0
description:
  - Reads the servers of a Hetzner Cloud project through the hcloud Python client and adds each one as a host named
    like the server, in the group O(group), with C(ansible_host) and C(hcloud_*) variables.
  - Written because the pinned C(hetzner.hcloud.hcloud) inventory plugin (collection 5.4.0) reads
    C(server.datacenter), which the Hetzner Cloud API stopped returning on 2026-07-01, and lists nothing.
  - The configuration file must be named C(*hcloud.yml) or C(*hcloud.yaml) and set O(plugin) to
    V(inference.platform.hcloud).
  - "Variables of each host: C(ansible_host) (see O(connect_with)), C(hcloud_id), C(hcloud_name), C(hcloud_status),
    C(hcloud_server_type), C(hcloud_image) (name, or null for a snapshot), C(hcloud_location), C(hcloud_labels),
    C(hcloud_ipv4) (or null), C(hcloud_ipv6) (the /64 network, or null), C(hcloud_private_networks) (a list of
    C({network, network_id, ip})) and C(hcloud_placement_group) (name, or null)."
  - Without an API token the inventory source fails, saying to export E(HCLOUD_TOKEN). The token is never printed.
author:
  - Inference Platform maintainers (!UNKNOWN)
requirements:
  - hcloud (the Hetzner Cloud Python client) on the controller. Tested with 2.27.0.
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [inference.platform.hcloud]
  api_token:
    description:
      - Hetzner Cloud API token of the project (a read-only token is enough).
      - Better left out of the file and exported as E(HCLOUD_TOKEN).
    type: str
    env:
      - name: HCLOUD_TOKEN
  api_endpoint:
    description: Base URL of the Hetzner Cloud API, with the C(/v1) suffix.
    type: str
    default: https://api.hetzner.cloud/v1
    env:
      - name: HCLOUD_ENDPOINT
  label_selector:
    description:
      - Only servers whose labels match this Hetzner label selector, for example V(cluster=prod). Without it, every
        server of the project.
    type: str
  group:
    description: Every host is put in this group.
    type: str
    default: hcloud
  connect_with:
    description:
      - Which address becomes C(ansible_host).
      - V(public_ipv4) is the server's public IPv4 address, V(public_ipv6) the first address (C(::1)) of its public
        /64 network, V(private_ipv4) its address in the private network O(network).
      - A server without that address gets no C(ansible_host), with a warning.
    type: str
    choices: [public_ipv4, public_ipv6, private_ipv4]
    default: public_ipv4
  network:
    description: Name or id of the private network whose address C(connect_with=private_ipv4) uses. Needed for it.
    type: str
notes:
  - In this project the plugin is tested against a stand-in of the Hetzner Cloud API (tests/provision), not against
    Hetzner; see the collection's C(docs/modules.md).
seealso:
  - module: inference.platform.hcloud_server
  - module: inference.platform.hcloud_server_info
"""

EXAMPLES = r"""
# inventories/hetzner/hcloud.yml; the token comes from HCLOUD_TOKEN in the environment.
plugin: inference.platform.hcloud
label_selector: cluster=prod
connect_with: public_ipv4
compose:
  node_ip: hcloud_private_networks | selectattr('network', 'eq', 'k8s') | map(attribute='ip') | first
keyed_groups:
  - key: hcloud_labels.k8s_role | default('none')
    prefix: role
groups:
  in_fsn1: hcloud_location == 'fsn1'

# Reach the servers over the private network (from a host inside it):
# plugin: inference.platform.hcloud
# label_selector: cluster=prod
# connect_with: private_ipv4
# network: k8s
"""

# After DOCUMENTATION and EXAMPLES, as validate-modules requires (hence E402).
import ipaddress  # noqa: E402

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.module_utils.basic import missing_required_lib  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable  # noqa: E402
from ansible_collections.inference.platform.plugins.module_utils._hcloud import (  # noqa: E402
    HAS_HCLOUD,
    NO_CREDENTIALS,
    NameLookup,
    build_client,
    find_by_ref,
    server_to_dict,
    translate,
)

REDACTED = "********"


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "inference.platform.hcloud"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(("hcloud.yml", "hcloud.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        if not HAS_HCLOUD:
            raise AnsibleParserError(missing_required_lib("hcloud"))
        token = self.get_option("api_token")
        if not token:
            raise AnsibleParserError("%s: %s" % (path, NO_CREDENTIALS))
        connect_with = self.get_option("connect_with")
        network_ref = self.get_option("network")
        if connect_with == "private_ipv4" and not network_ref:
            raise AnsibleParserError(
                "%s: connect_with: private_ipv4 needs the option network (name or id of the private network)" % path
            )
        endpoint = (self.get_option("api_endpoint") or "").rstrip("/")
        records, network_id = self._read(token, endpoint, network_ref, path)
        self._populate(records, connect_with, network_id)

    def _read(self, token, endpoint, network_ref, path):
        """The servers as dicts (sorted by name) and the id of the network named by ``network_ref``."""
        what = "listing the servers"
        failure = None
        try:
            client = build_client(token, endpoint)
            network_id = None
            if network_ref:
                what = "looking up network %s" % network_ref
                network = find_by_ref(client.networks, network_ref)
                if network is None:
                    raise AnsibleParserError("%s: network %s does not exist" % (path, network_ref))
                network_id = network.id
            what = "listing the servers"
            servers = client.servers.get_all(label_selector=self.get_option("label_selector"))
            what = "reading the servers' networks"
            lookup = NameLookup()
            records = sorted((server_to_dict(s, lookup, firewalls=False) for s in servers), key=lambda r: r["name"])
            return records, network_id
        except AnsibleParserError:
            raise
        except Exception as exc:  # only the client's own errors are translated, the rest re-raised
            failure = translate(exc, what, endpoint)
            if failure is None:
                raise
        # Raised outside the except block so that no traceback of the client is chained to it.
        raise AnsibleParserError("%s: %s" % (path, failure.message.replace(token, REDACTED)))

    def _populate(self, records, connect_with, network_id):
        group = self.inventory.add_group(self.get_option("group"))
        strict = self.get_option("strict")
        for record in records:
            host = record["name"]
            self.inventory.add_host(host, group=group)
            address = self._address(record, connect_with, network_id)
            if address:
                self.inventory.set_variable(host, "ansible_host", address)
            else:
                self.display.warning(
                    "Hetzner Cloud server %s has no %s address; ansible_host is not set" % (host, connect_with)
                )
            for key, value in self._host_vars(record).items():
                self.inventory.set_variable(host, key, value)
            variables = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)

    @staticmethod
    def _host_vars(record):
        return {
            "hcloud_id": record["id"],
            "hcloud_name": record["name"],
            "hcloud_status": record["status"],
            "hcloud_server_type": record["server_type"],
            "hcloud_image": record["image"],
            "hcloud_location": record["location"],
            "hcloud_labels": record["labels"],
            "hcloud_ipv4": record["ipv4_address"],
            "hcloud_ipv6": record["ipv6"],
            "hcloud_private_networks": [
                {"network": n["network"], "network_id": n["network_id"], "ip": n["ip"]}
                for n in record["private_networks"]
            ],
            "hcloud_placement_group": record["placement_group"],
        }

    @staticmethod
    def _address(record, connect_with, network_id):
        if connect_with == "public_ipv4":
            return record["ipv4_address"]
        if connect_with == "public_ipv6":
            return str(ipaddress.ip_network(record["ipv6"])[1]) if record["ipv6"] else None
        return next((n["ip"] for n in record["private_networks"] if n["network_id"] == network_id), None)
