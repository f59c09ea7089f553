# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The validate stage's checks of the inventory: groups, node names and addresses, cluster-wide settings,
pinned versions and renamed variables, and the gateway's database and Service. Documentation: the sidecar files
inventory_problems.yml, admin_cidrs_problems.yml and gateway_problems.yml.

roles/validate_inventory calls this once on the controller, before any host is touched; the model list is
checked by the sibling filter model_list.py. Every rule is a sentence that names where the wrong value is and
what to write instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.module_utils._rules import (
    CHOICES,
    SHA256,
    as_bool,
    as_whole_number,
    floating_word,
    image_has_digest,
    image_problem,
    is_dns_label,
    is_ip_address,
    is_world_open,
    network,
    network_suggestion,
    suggest_dns_label,
    version_problem,
)

UNDEFINED = "__undefined__"

DEFAULT_GROUPS = {"servers": "k8s_servers", "agents": "k8s_agents", "cluster": "k8s_cluster", "gpu": "gpu_nodes"}
NETWORKS = ("private_network_cidr", "pod_cidr", "service_cidr")
NETWORK_EXAMPLES = {"private_network_cidr": "10.0.0.0/16", "pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16"}


def _host_value(hostvars, host, name, default=UNDEFINED):
    try:
        return hostvars[host].get(name, default)
    except KeyError:
        return default


def _group_problems(groups, names, where, gpu_required):
    errors = []
    servers = list(groups.get(names["servers"], []))
    agents = list(groups.get(names["agents"], []))
    cluster = list(groups.get(names["cluster"], []))
    gpus = list(groups.get(names["gpu"], []))
    if not (len(servers) == 1 or (len(servers) >= 3 and len(servers) % 2 == 1)):
        errors.append(
            "Group %s has %d host(s) (%s) in %s: etcd needs a majority, so put 1 host (no HA) or an odd number >= 3 "
            "(HA) in %s." % (names["servers"], len(servers), ", ".join(servers) or "none", where, names["servers"])
        )
    for host in servers:
        if host in agents:
            errors.append(
                "Host %s is in both %s and %s in %s: a node is either a control-plane node or a worker; remove it "
                "from one of the two groups." % (host, names["servers"], names["agents"], where)
            )
    for host in cluster:
        if host not in servers and host not in agents:
            errors.append(
                "Host %s is in %s but in neither %s nor %s in %s: put it under %s or %s (children of %s)."
                % (host, names["cluster"], names["servers"], names["agents"], where, names["servers"],
                   names["agents"], names["cluster"])
            )
    for host in servers + [host for host in agents if host not in servers]:
        if host not in cluster:
            errors.append(
                "Host %s is in %s or %s but not in %s in %s: make %s and %s children of %s (see "
                "inventories/onprem/hosts.yml)." % (host, names["servers"], names["agents"], names["cluster"], where,
                                                    names["servers"], names["agents"], names["cluster"])
            )
    if gpu_required is True and not gpus:
        errors.append(
            "Group %s is empty in %s, but gpu_required is true: add the hosts with NVIDIA GPUs to %s, or set "
            "gpu_required: false in the inventory's group_vars/all for a cluster without GPUs."
            % (names["gpu"], where, names["gpu"])
        )
    for host in gpus:
        if host not in cluster:
            errors.append(
                "Host %s is in %s but not a Kubernetes node (%s) in %s: add it to %s or %s, or remove it from %s."
                % (host, names["gpu"], names["cluster"], where, names["agents"], names["servers"], names["gpu"])
            )
    return errors


def _host_problems(groups, hostvars, names, private_network):
    errors = []
    node_ips = {}
    endpoints = {}
    for host in groups.get(names["cluster"], []):
        if not is_dns_label(host):
            errors.append(
                "Host name %s is not a DNS-1123 label: it becomes the host name and the Kubernetes node name; rename "
                "it in the inventory to lowercase a-z, 0-9 and '-' (at most 63 characters, e.g. %s)."
                % (host, suggest_dns_label(host))
            )
        node_ip = _host_value(hostvars, host, "node_ip")
        private_text = str(private_network) if private_network else "private_network_cidr"
        if node_ip == UNDEFINED:
            errors.append(
                "Host %s has no node_ip: set node_ip to its address on the private network (inside %s) in the "
                "inventory." % (host, private_text)
            )
        elif not is_ip_address(node_ip):
            errors.append(
                "Host %s: node_ip %s is not an IP address; write its address on the private network (inside %s)."
                % (host, node_ip, private_text)
            )
        else:
            address = ipaddress.ip_address(str(node_ip).strip())
            if private_network is not None and address not in private_network:
                errors.append(
                    "Host %s: node_ip %s is outside private_network_cidr %s: write the host's address on the private "
                    "network, or correct private_network_cidr in the inventory's group_vars/all."
                    % (host, node_ip, private_network)
                )
            node_ips.setdefault(str(address), []).append(host)
        endpoint = "%s:%s" % (
            _host_value(hostvars, host, "ansible_host", host),
            _host_value(hostvars, host, "ansible_port", 22),
        )
        endpoints.setdefault(endpoint, []).append(host)
    for address, hosts in node_ips.items():
        if len(hosts) > 1:
            errors.append(
                "node_ip %s is used by %s: every node needs its own address on the private network; correct node_ip "
                "of all but one." % (address, ", ".join(hosts))
            )
    for endpoint, hosts in endpoints.items():
        if len(hosts) > 1:
            errors.append(
                "ansible_host:port %s is used by %s: two inventory names would configure the same machine; give each "
                "host its own ansible_host (or ansible_port), or remove the duplicate." % (endpoint, ", ".join(hosts))
            )
    return errors


def admin_cidrs_problems(admin_cidrs, allow_world=False, where="in the inventory's group_vars/all"):
    """admin_cidrs: a list of networks; one open to the world only with admin_cidrs_allow_world: true.

    Returns {'errors': [...], 'warnings': [...]}; the roles that open ports to admin_cidrs (host_prep, the Hetzner
    firewalls) call it too, so a world-open entry is refused wherever it would take effect.
    """
    errors, warnings = _admin_cidr_problems(admin_cidrs, allow_world, where)
    return {"errors": errors, "warnings": warnings}


def _admin_cidr_problems(admin_cidrs, allow_world, where):
    errors, warnings = [], []
    if isinstance(admin_cidrs, str):
        return [
            "admin_cidrs is the string '%s' %s, not a list; write a list: admin_cidrs: ['%s']."
            % (admin_cidrs, where, admin_cidrs)
        ], []
    if admin_cidrs is None:
        return ["admin_cidrs is empty (null) %s; write a list of networks (e.g. [198.51.100.0/24]) or []." % where], []
    if not isinstance(admin_cidrs, list):
        return ["admin_cidrs is %r %s, not a list; write a list such as [198.51.100.0/24]." % (admin_cidrs, where)], []
    allowed_ok, allowed = as_bool(allow_world)
    if not allowed_ok:
        errors.append("admin_cidrs_allow_world is '%s' %s; write true or false." % (allow_world, where))
        allowed = False
    for cidr in admin_cidrs:
        net = network(cidr)
        if net is None:
            errors.append(
                "admin_cidrs entry '%s' %s is not a network in CIDR notation with its host bits zero; write e.g. "
                "198.51.100.0/24 or 203.0.113.7/32." % (cidr, where)
            )
            continue
        if not is_world_open(net):
            continue
        whom = "everybody" if net.prefixlen == 0 else "a /%d, a large part of the internet" % net.prefixlen
        if allowed:
            warnings.append(
                "admin_cidrs entry %s opens SSH and the Kubernetes API (6443) to %s, because admin_cidrs_allow_world "
                "is true %s. Narrow it to your administrators' networks when you can." % (cidr, whom, where)
            )
        else:
            errors.append(
                "admin_cidrs entry %s %s opens SSH and the Kubernetes API (6443) to %s: host_prep's firewall and "
                "the Hetzner firewalls would admit it. Write your administrators' networks (e.g. 198.51.100.0/24, "
                "or a VPN's address/32); if the hosts must really be reachable from anywhere, also set "
                "admin_cidrs_allow_world: true (it is warned about on every run)." % (cidr, where, whom)
            )
    return errors, warnings


def _setting_problems(settings, groups, names, where):
    errors, warnings = [], []
    for name, allowed in CHOICES.items():
        value = settings.get(name)
        if value not in allowed:
            errors.append("%s is '%s' %s; write one of: %s." % (name, value, where, ", ".join(allowed)))
    distribution = settings.get("cluster_distribution")
    ports = settings.get("cluster_ports")
    if distribution in CHOICES["cluster_distribution"] and distribution not in (ports or {}):
        errors.append(
            "cluster_ports has no entry for cluster_distribution %s %s; keep the project default in "
            "group_vars/all/main.yml, or list that distribution's ports (port, proto, hosts, from, purpose)."
            % (distribution, where)
        )
    if not is_dns_label(settings.get("cluster_name")):
        errors.append(
            "cluster_name '%s' %s is not a DNS-1123 label; write lowercase a-z, 0-9 and '-' (e.g. inference)."
            % (settings.get("cluster_name"), where)
        )
    if settings.get("platform_delivery") == "render" and not settings.get("platform_render_dir"):
        errors.append(
            "platform_delivery is render but platform_render_dir is empty %s; write the directory the manifests go "
            "to." % where
        )
    valid = {}
    for name in NETWORKS:
        cidr = settings.get(name)
        net = network(cidr)
        if net is None:
            errors.append(
                "%s '%s' %s is not a network in CIDR notation with its host bits zero; write e.g. %s."
                % (name, cidr, where, network_suggestion(cidr, NETWORK_EXAMPLES[name]))
            )
        else:
            valid[name] = net
    names_valid = list(valid)
    for index, first in enumerate(names_valid):
        for second in names_valid[index + 1:]:
            if valid[first].overlaps(valid[second]):
                errors.append(
                    "%s %s and %s %s overlap %s: packets for one would be routed to the other; choose %s outside %s "
                    "(the k3s defaults are pod_cidr 10.42.0.0/16, service_cidr 10.43.0.0/16)."
                    % (first, valid[first], second, valid[second], where, second, valid[first])
                )
    more_errors, more_warnings = _admin_cidr_problems(
        settings.get("admin_cidrs"), settings.get("admin_cidrs_allow_world", False), where
    )
    errors += more_errors
    warnings += more_warnings
    for name in ("gpu_required", "cluster_allow_cgroup_v1"):
        if name in settings and not as_bool(settings[name])[0]:
            errors.append("%s is '%s' %s; write true or false." % (name, settings[name], where))
    return errors, warnings, valid.get("private_network_cidr")


def _cluster_wide_problems(settings, groups, hostvars, names, variables):
    errors = []
    for name in variables:
        expected = settings.get(name, UNDEFINED)
        differ = [
            host for host in groups.get(names["cluster"], []) if _host_value(hostvars, host, name) != expected
        ]
        if differ:
            errors.append(
                "%s differs on %s from group_vars/all: it is a cluster-wide setting; set it once in the inventory's "
                "group_vars/all and remove it from host_vars and other groups." % (name, ", ".join(differ))
            )
    return errors


def version_kind(name, kinds):
    """How a versions-file variable is pinned: image, version, sha256, or name (a named release or image)."""
    if name in kinds:
        return kinds[name]
    if name.endswith("_sha256"):
        return "sha256"
    if name.endswith("_image_digest"):
        return "digest"
    if name.endswith("_image"):
        return "image"
    if name.endswith("_version"):
        return "version"
    return "name"


def _leaves(value):
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


_PIN_REFERENCE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def resolved_pins(pins):
    """The versions file as read from disk, with a pin that names another pin ("...:v{{ litellm_version }}")
    written out, as Ansible renders it; other templates stay as they are."""
    def resolve(value, seen=()):
        if not isinstance(value, str):
            return value
        return _PIN_REFERENCE.sub(
            lambda m: resolve(pins[m.group(1)], (*seen, m.group(1)))
            if m.group(1) in pins and m.group(1) not in seen and isinstance(pins[m.group(1)], str) else m.group(0),
            value)
    return {name: resolve(value, (name,)) for name, value in (pins or {}).items()}


def _version_problems(pins, versions_file, kinds, may_be_empty_suffixes, project_pins):
    errors = []
    project_pins = resolved_pins(project_pins)
    for name, value in pins.items():
        if value == UNDEFINED:
            errors.append(
                "%s (pinned in %s) is not defined; the versions file is not loaded: keep the inventory's "
                "group_vars/all/00_project link to group_vars/all." % (name, versions_file)
            )
            continue
        if value is None or (isinstance(value, (str, Mapping, list)) and not (
                value.strip() if isinstance(value, str) else value)):
            if not any(name.endswith(suffix) for suffix in may_be_empty_suffixes):
                errors.append(
                    "%s is empty; pin it to a fixed version in %s (or in the inventory's group_vars/all)."
                    % (name, versions_file)
                )
            continue
        kind = version_kind(name, kinds)
        project_pin = project_pins.get(name)
        for leaf in _leaves(value):
            problem, example = pin_problem(kind, leaf)
            if problem:
                if isinstance(project_pin, str) and project_pin != leaf and not pin_problem(kind, project_pin)[0]:
                    example = "%s such as %s (the project's pin)" % (example, project_pin)
                errors.append(
                    "%s is '%s', which %s; pin it in %s (or the inventory's group_vars/all) to %s."
                    % (name, leaf, problem, versions_file, example)
                )
    return errors


def pin_problem(kind, value):
    """(why value does not pin a kind of thing, what to write instead), or (None, None)."""
    if kind == "image":
        return image_problem(value), "a fixed tag, or a digest (name@sha256:<digest>)"
    if kind == "version":
        return version_problem(value), "an exact release"
    if kind == "sha256":
        if isinstance(value, str) and SHA256.match(value.strip().lower()):
            return None, None
        return "is not a sha256 checksum (64 hexadecimal characters)", "the checksum the release publishes"
    if kind == "digest":
        if isinstance(value, str) and image_has_digest("image@" + value.strip()):
            return None, None
        return "is not an image digest", "sha256:<64 hexadecimal characters>, as the registry reports it"
    word = floating_word(value) if isinstance(value, str) else None
    return ("floats ('%s' moves under you)" % word if word else None), "a fixed release name"


def image_digest_problems(pins, versions_file, digest_required=(), tag_only_accepted=(), kinds=None):
    """Images pinned by tag only: {'errors': [...], 'warnings': [...]}.

    Every ``*_image`` pin has a ``<name>_digest`` beside it in the versions file. A tag can be moved to other
    content by whoever controls the registry; a digest cannot. An image without a digest (neither in the
    reference nor in its ``_digest`` pin) is a warning, and an error for the images in ``digest_required``
    (the gateway, which holds every key) unless the operator lists it in ``tag_only_accepted``.
    """
    errors, warnings = [], []
    for name in sorted(pins or {}):
        image = pins[name]
        if version_kind(name, kinds or {}) != "image" or not isinstance(image, str) or image_problem(image):
            continue
        digest = pins.get(name + "_digest")
        if image_has_digest(image) or (isinstance(digest, str) and digest.strip()):
            continue
        how = (
            "write %s_digest: sha256:<digest> in %s (or the inventory's group_vars/all), the digest of %s as "
            "the registry reports it on a machine that reaches it (skopeo inspect --format '{{.Digest}}' "
            "docker://%s)" % (name, versions_file, image, image)
        )
        if name in digest_required and name not in tag_only_accepted:
            errors.append(
                "%s is pinned by tag only (%s): a tag can be moved to other content, and this image holds every "
                "key of the platform; %s, or accept the tag explicitly with validate_inventory_tag_only_accepted: "
                "[%s]." % (name, image, how, name)
            )
        elif name not in tag_only_accepted:
            warnings.append(
                "%s is pinned by tag only (%s): a tag can be moved to other content; %s." % (name, image, how)
            )
    return {"errors": errors, "warnings": warnings}


def _renamed_problems(renamed, play_values, groups, hostvars):
    errors = []
    for entry in renamed:
        old = entry["old"]
        play_value = play_values.get(old, UNDEFINED)
        hosts = [
            host for host in groups.get("all", [])
            if _host_value(hostvars, host, old) not in (UNDEFINED, play_value)
        ]
        if play_value == UNDEFINED and not hosts:
            continue
        where = ("set for " + ", ".join(hosts)) if hosts else "set in group_vars/all or on the command line"
        if entry.get("new"):
            errors.append(
                "%s (%s) was renamed to %s: %s. Rename it in the inventory; the old name is ignored by every role."
                % (old, where, entry["new"], entry["hint"])
            )
        else:
            errors.append("%s (%s) was removed: %s. Delete it from the inventory." % (old, where, entry["hint"]))
    return errors


def inventory_problems(
    settings,
    groups,
    hostvars,
    sources=(),
    group_names=None,
    cluster_wide_variables=(),
    pins=None,
    versions_file="group_vars/all/versions.yml",
    version_kinds=None,
    may_be_empty_suffixes=("_sha256", "_image_digest"),
    project_pins=None,
    renamed=(),
    renamed_values=None,
    digest_required=(),
    tag_only_accepted=(),
):
    """Every problem of the inventory and its settings: {'errors': [...], 'warnings': [...]} (sentences)."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("inventory_problems expects a mapping of the cross-cutting settings")
    names = dict(DEFAULT_GROUPS, **(group_names or {}))
    where_groups = "the inventory (%s)" % ", ".join(sources)
    where_settings = "in the inventory's group_vars/all (%s)" % ", ".join(sources)
    gpu_ok, gpu_required = as_bool(settings.get("gpu_required", True))
    errors = _group_problems(groups, names, where_groups, gpu_required if gpu_ok else None)
    setting_errors, warnings, private_network = _setting_problems(settings, groups, names, where_settings)
    errors += _host_problems(groups, hostvars, names, private_network)
    errors += setting_errors
    errors += _cluster_wide_problems(settings, groups, hostvars, names, cluster_wide_variables)
    errors += _version_problems(pins or {}, versions_file, version_kinds or {}, may_be_empty_suffixes,
                                project_pins or {})
    errors += _renamed_problems(renamed, renamed_values or {}, groups, hostvars)
    digests = image_digest_problems(
        {name: value for name, value in resolved_pins(pins or {}).items() if value != UNDEFINED},
        versions_file, digest_required, tag_only_accepted, version_kinds or {},
    )
    return {"errors": errors + digests["errors"], "warnings": warnings + digests["warnings"]}


GATEWAY_DATABASES = ("postgres", "none")
GATEWAY_SERVICE_TYPES = ("ClusterIP", "NodePort")
NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver's default --service-node-port-range
UNPRIVILEGED_PORTS = (1024, 65535)  # what a process without CAP_NET_BIND_SERVICE may listen on
PROMETHEUS_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels of LiteLLM's metrics the platform reads, so litellm_metrics_exclude_labels may not drop them: the KEDA
# wake-on-request query selects requested_model (roles/keda/templates/objects.yaml.j2), the gateway dashboard sums by
# requested_model, model and team_alias (roles/monitoring/vars/dashboards.yml). tests/unit/filters/test_gateway.py
# checks the two files against this list.
GATEWAY_METRIC_LABELS_READ = ("requested_model", "model", "team_alias")


def _metrics_exclude_labels_problems(labels, where):
    """Sentences for a litellm_metrics_exclude_labels that is not a list of label names, or drops one the platform
    reads (GATEWAY_METRIC_LABELS_READ). LiteLLM itself refuses, at start, a name none of its metrics has."""
    if not isinstance(labels, (list, tuple)):
        return ["litellm_metrics_exclude_labels is %r %s; write a list of label names of LiteLLM's metrics, e.g. "
                "[client_ip, user_agent] (the role's default)." % (labels, where)]
    problems = []
    for label in labels:
        if not isinstance(label, str) or not PROMETHEUS_LABEL_NAME.match(label):
            problems.append("litellm_metrics_exclude_labels entry %r %s is not a Prometheus label name; write names "
                            "such as client_ip or user_agent (letters, digits and _)." % (label, where))
        elif label in GATEWAY_METRIC_LABELS_READ:
            problems.append(
                "litellm_metrics_exclude_labels %s drops %s, which the platform reads (the scale-to-zero wake query "
                "selects requested_model; the gateway dashboard sums by %s); remove it from the list."
                % (where, label, ", ".join(GATEWAY_METRIC_LABELS_READ)))
    return problems


def gateway_problems(settings, tenants=(), where="in the inventory's group_vars/all", api_port=None):
    """The LiteLLM gateway's database, Service and tenants: {'errors': [...], 'warnings': [...]} (sentences).

    settings: litellm_database, litellm_service_type, litellm_node_port, litellm_node_port_source_cidrs,
    litellm_ingress_enabled, litellm_metrics_port, litellm_metrics_exclude_labels; a name that is absent or
    '__undefined__' keeps the litellm role's default (the validate stage passes only what the inventory sets; the role
    passes every value). api_port: the gateway's API port (platform_ports.gateway), which the metrics port must
    differ from.
    """
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("gateway_problems expects a mapping of the litellm_* settings")
    values = {name: value for name, value in settings.items() if value != UNDEFINED}
    errors, warnings = [], []
    database = values.get("litellm_database", "postgres")
    if database not in GATEWAY_DATABASES:
        errors.append("litellm_database is '%s' %s; write postgres (keys, tenants, budgets and spend in PostgreSQL) "
                      "or none (no database: the master key only)." % (database, where))
    tenants = [] if tenants == UNDEFINED or not isinstance(tenants, (list, tuple)) else tenants
    tenant_names = [str(tenant.get("name")) if isinstance(tenant, Mapping) else str(tenant) for tenant in tenants]
    if database == "none" and tenant_names:
        errors.append(
            "litellm_database is none %s, but inference_tenants lists %s: tenants become LiteLLM teams with keys and "
            "budgets, which live in the gateway's database. Write inference_tenants: [] (only the master key reaches "
            "the models), or litellm_database: postgres." % (where, ", ".join(tenant_names)))
    service_type = values.get("litellm_service_type", "ClusterIP")
    if service_type not in GATEWAY_SERVICE_TYPES:
        errors.append("litellm_service_type is '%s' %s; write ClusterIP (clients come through the Ingress) or "
                      "NodePort (with litellm_node_port)." % (service_type, where))
    port_value = values.get("litellm_node_port")
    if service_type == "NodePort":
        port = as_whole_number(port_value)
        if port is None or not NODE_PORT_RANGE[0] <= port <= NODE_PORT_RANGE[1]:
            errors.append(
                "litellm_service_type is NodePort %s but litellm_node_port is %s; write a port from %d to %d (the "
                "Kubernetes API server's default service-node-port-range), e.g. litellm_node_port: 30400, and point "
                "verify_litellm_url at http://<a node's address>:<that port>."
                % (where, "not set" if port_value is None else "'%s'" % (port_value,), NODE_PORT_RANGE[0],
                   NODE_PORT_RANGE[1]))
        cidrs = values.get("litellm_node_port_source_cidrs")
        if "litellm_node_port_source_cidrs" in values:
            if not isinstance(cidrs, list) or not cidrs:
                errors.append(
                    "litellm_node_port_source_cidrs is %r %s; write a non-empty list of networks, e.g. "
                    "['<private_network_cidr>', '<pod_cidr>'] (the role's default): kube-proxy hands NodePort "
                    "clients to the proxy from a node's address or its tunnel/bridge address in the pod network."
                    % (cidrs, where))
            else:
                for cidr in cidrs:
                    if network(cidr) is None:
                        errors.append(
                            "litellm_node_port_source_cidrs entry '%s' %s is not a network in CIDR notation with its "
                            "host bits zero; write e.g. %s." % (cidr, where, network_suggestion(cidr, "10.42.0.0/16")))
    elif port_value is not None:
        warnings.append("litellm_node_port is %s %s but litellm_service_type is %s: the port is not used; set "
                        "litellm_service_type: NodePort, or remove litellm_node_port." % (port_value, where,
                                                                                          service_type))
    if "litellm_metrics_port" in values:
        metrics_value = values["litellm_metrics_port"]
        metrics_port = as_whole_number(metrics_value)
        if metrics_port is None or not UNPRIVILEGED_PORTS[0] <= metrics_port <= UNPRIVILEGED_PORTS[1]:
            errors.append(
                "litellm_metrics_port is '%s' %s; write a port from %d to %d (the proxy runs as a non-root user "
                "without capabilities), e.g. litellm_metrics_port: 4001."
                % (metrics_value, where, UNPRIVILEGED_PORTS[0], UNPRIVILEGED_PORTS[1]))
        elif api_port is not None and metrics_port == as_whole_number(api_port):
            errors.append(
                "litellm_metrics_port is %d %s, the gateway's API port (platform_ports.gateway): LiteLLM serves its "
                "unauthenticated metrics on a port of their own; write another, e.g. litellm_metrics_port: %d."
                % (metrics_port, where, metrics_port + 1))
    if "litellm_metrics_exclude_labels" in values:
        errors.extend(_metrics_exclude_labels_problems(values["litellm_metrics_exclude_labels"], where))
    ingress_ok, ingress = as_bool(values.get("litellm_ingress_enabled", True))
    if not ingress_ok:
        errors.append("litellm_ingress_enabled is '%s' %s; write true or false."
                      % (values.get("litellm_ingress_enabled"), where))
    elif not ingress and service_type == "ClusterIP":
        warnings.append("litellm_ingress_enabled is false and litellm_service_type is ClusterIP %s: the gateway is "
                        "reachable only from inside the cluster (kubectl port-forward); set litellm_service_type: "
                        "NodePort or enable the Ingress for clients outside it." % where)
    return {"errors": errors, "warnings": warnings}


class FilterModule:
    """The inventory filters of inference.platform."""

    def filters(self):
        return {"inventory_problems": inventory_problems, "admin_cidrs_problems": admin_cidrs_problems,
                "gateway_problems": gateway_problems}
