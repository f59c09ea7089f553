#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: hcloud_server_info
short_description: List Hetzner Cloud servers (reads their location, never the removed datacenter)
version_added: 0.1.0
description:
  - Lists the servers of the Hetzner Cloud project that match every filter given (O(name), O(id),
    O(label_selector)); without a filter, every server.
  - Written because the pinned C(hetzner.hcloud.server_info) (collection 5.4.0) reads C(server.datacenter), which the
    Hetzner Cloud API stopped returning on 2026-07-01.
  - Each server has the shape M(inference.platform.hcloud_server) returns.
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.hcloud
  - inference.platform.hcloud.ACTIONGROUP
  - inference.platform.attributes
  - inference.platform.attributes.READ_ONLY
options:
  name:
    description: Only the server of this name.
    type: str
  id:
    description: Only the server of this id.
    type: int
  label_selector:
    description:
      - Only servers whose labels match this Hetzner label selector, for example V(cluster=prod,k8s_role=server) or
        V(cluster=prod,k8s_role in (server,agent)).
    type: str
notes:
  - In this project the module is tested against a stand-in of the Hetzner Cloud API (tests/provision), not against
    Hetzner; see the collection's C(docs/modules.md).
seealso:
  - module: inference.platform.hcloud_server
  - plugin: inference.platform.hcloud
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: The cluster's servers
  inference.platform.hcloud_server_info:
    label_selector: cluster=prod
  register: cluster_servers

- name: Their private addresses
  ansible.builtin.debug:
    msg: "{{ cluster_servers.servers | map(attribute='private_networks') | flatten | map(attribute='ip') }}"
"""

RETURN = r"""
servers:
  description:
    - The matching servers, sorted by name; empty when none matches.
    - C(ipv6) is the server's /64 network, C(firewalls) the firewalls applied to the server itself (not through a
      label selector).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 5000001
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
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inference.platform.plugins.module_utils._hcloud import (
    HcloudModule,
    find_by_ref,
    hcloud_argument_spec,
    server_to_dict,
)


class HcloudServerInfo(HcloudModule):
    def run(self):
        params = self.module.params
        name, server_id, selector = params["name"], params["id"], params["label_selector"]
        if server_id is not None and selector is None:
            self.step("looking up server id %s" % server_id)
            found = find_by_ref(self.client.servers, server_id)
            servers = [found] if found is not None else []
        else:
            self.step("listing servers")
            servers = self.client.servers.get_all(name=name, label_selector=selector)
        servers = [s for s in servers if (name is None or s.name == name) and (server_id is None or s.id == server_id)]
        self.step("reading the servers' networks and firewalls")
        result = sorted((server_to_dict(s, self.lookup) for s in servers), key=lambda s: (s["name"], s["id"]))
        self.exit(servers=result)


def main():
    argument_spec = hcloud_argument_spec()
    argument_spec.update(
        name={"type": "str"},
        id={"type": "int"},
        label_selector={"type": "str"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    info = HcloudServerInfo(module)
    info.run_safely(info.run)


if __name__ == "__main__":
    main()
