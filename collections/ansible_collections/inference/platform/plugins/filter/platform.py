# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""The platform contract's filters: the component registry (platform_components), the shared names, and what
roles/platform_delivery does with a component's objects and charts. Documentation: the sidecar files
platform_component.yml, platform_problems.yml, platform_objects.yml and platform_charts.yml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.module_utils._rules import CHOICES, image_has_digest, is_dns_label

COMPONENT_KEYS = ("name", "namespace", "charts", "prune_kinds", "wait_seconds", "after_apply", "serving",
                  "upgrade_order")
# extra_namespaces: keys of platform_namespaces the component's role creates for a part of it (the node exporter's).
COMPONENT_OPTIONAL_KEYS = ("extra_namespaces",)
CHART_KEYS = ("release", "chart", "repo", "version")
COMPONENT_LABEL = "inference.platform/component"


def platform_component(components, name):
    """The registry entry of one component, or an error naming the components there are."""
    for entry in components or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    known = ", ".join(str(entry.get("name")) for entry in components or [] if isinstance(entry, Mapping))
    raise AnsibleFilterError(
        "%r is not a platform component (platform_components in group_vars/all/platform.yml lists: %s); add an "
        "entry for it there (docs/architecture.md, \"Adding a component\")." % (name, known or "none"))


def platform_enabled(components, skip=None):
    """The registry without the components an inventory skips (platform_skip_components: name -> reason)."""
    skip = skip or {}
    return [entry for entry in components or [] if not (isinstance(entry, Mapping) and entry.get("name") in skip)]


def _skip_problems(skip, names, models):
    """What is wrong with platform_skip_components: unknown names, missing reasons, components others need."""
    where = "platform_skip_components (the inventory's group_vars/all)"
    if skip is None:
        return []
    if not isinstance(skip, Mapping):
        return ["%s is %r; write a mapping of component name to the reason it does not run on this cluster, or {}."
                % (where, skip)]
    errors = []
    for name, reason in skip.items():
        if name not in names:
            errors.append("%s names %r, which is not a platform component (platform_components lists: %s); write one "
                          "of those." % (where, name, ", ".join(map(str, names))))
        if not (isinstance(reason, str) and reason.strip()):
            errors.append("%s: %r has no reason; write why it does not run on this cluster (the site report prints "
                          "it)." % (where, name))
    if "keda" in skip and isinstance(models, list):
        scaled = [entry.get("name") for entry in models if isinstance(entry, Mapping)
                  and isinstance(entry.get("replicas"), Mapping) and isinstance(entry.get("autoscale"), Mapping)
                  and (entry["replicas"].get("min") != entry["replicas"].get("max")
                       or entry["autoscale"].get("scale_to_zero"))]
        if scaled:
            errors.append("%s skips keda, but %s scale between replicas.min and replicas.max (or to zero), which only "
                          "KEDA does: without it they would run one replica. Write replicas: {min: N, max: N} and "
                          "scale_to_zero: false for them, or deliver keda." % (where, ", ".join(map(str, scaled))))
    for name in ("vllm", "litellm"):
        if name in skip:
            errors.append("%s skips %s, which serves the models (the platform exists for it); deliver it, or skip "
                          "the platform stage (site_skip_stages) instead." % (where, name))
    return errors


def platform_problems(components, namespaces, ports, roles=None, delivery=None, render_dir=None, cluster_name=None,
                      asked=None, kubeconfig=None, skip=None, models=None):
    """Every problem of the registry, the shared names and the delivery settings, as sentences (empty when all is well).

    roles: the role names that exist, when known (the validate stage passes none; the tests pass the tree's).
    delivery, render_dir, cluster_name: checked when given (roles/platform_delivery passes them).
    asked: the component names a delivery was asked for; each must be in the registry.
    kubeconfig: with delivery apply, the cluster's kubeconfig (cluster_kubeconfig), which must be a file here, on the
    controller (filters run there).
    skip: platform_skip_components (name -> reason), checked against the registry and, for keda, the models.
    """
    where = "group_vars/all/platform.yml (or its override in the inventory)"
    errors = []
    if delivery == "apply" and kubeconfig is not None and not str(kubeconfig).strip():
        errors.append("Apply mode acts on the cluster the cluster stage built, but cluster_kubeconfig is not set; keep "
                      "the project's group_vars/all/platform.yml linked into the inventory (it sets the file the "
                      "cluster stage writes), or set cluster_kubeconfig to the kubeconfig of the cluster to deliver "
                      "to.")
    elif delivery == "apply" and kubeconfig is not None and not os.path.isfile(str(kubeconfig)):
        errors.append("Apply mode acts on the cluster the cluster stage built, through %s (cluster_kubeconfig), which "
                      "does not exist. Run the cluster stage first (playbooks/cluster.yml), or set cluster_kubeconfig "
                      "to the kubeconfig of the cluster to deliver to (and cluster_kube_context to its context), or "
                      "render instead (-e platform_delivery=render)." % kubeconfig)
    if delivery is not None and delivery not in CHOICES["platform_delivery"]:
        errors.append("platform_delivery is %r; write apply or render in the inventory's group_vars/all." % (delivery,))
    if delivery == "render" and not render_dir:
        errors.append("platform_delivery is render but platform_render_dir is empty; write the directory the "
                      "manifests go to in the inventory's group_vars/all.")
    if cluster_name is not None and not is_dns_label(cluster_name):
        errors.append("cluster_name %r is not a DNS-1123 label; write lowercase a-z, 0-9 and '-' in the inventory's "
                      "group_vars/all." % (cluster_name,))
    if not isinstance(namespaces, Mapping) or not namespaces:
        errors.append("platform_namespaces is %r in %s; write a mapping of namespace keys to DNS labels." % (
            namespaces, where))
        namespaces = {}
    for key, value in namespaces.items():
        if not is_dns_label(value):
            errors.append("platform_namespaces.%s is %r in %s; write a DNS-1123 label (e.g. inference)." % (
                key, value, where))
    if not isinstance(ports, Mapping):
        errors.append("platform_ports is %r in %s; write a mapping such as {model: 8000, gateway: 4000}." % (
            ports, where))
        ports = {}
    for key, value in ports.items():
        if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535):
            errors.append("platform_ports.%s is %r in %s; write a port number 1-65535." % (key, value, where))
    if not isinstance(components, list) or not components:
        return [*errors, "platform_components is %r in %s; write the list of components (see its comment)."
                % (components, where)]
    names = []
    for index, entry in enumerate(components):
        label = "platform_components[%d]" % index
        if not isinstance(entry, Mapping):
            errors.append("%s is %r; each component is a mapping with %s." % (label, entry, ", ".join(COMPONENT_KEYS)))
            continue
        label += " (%r)" % entry.get("name")
        missing = [key for key in COMPONENT_KEYS if key not in entry]
        unknown = sorted(set(entry) - set(COMPONENT_KEYS) - set(COMPONENT_OPTIONAL_KEYS))
        if missing or unknown:
            errors.append("%s: missing %s, unknown %s; a component has exactly %s (and may have %s)." % (
                label, missing or "nothing", unknown or "nothing", ", ".join(COMPONENT_KEYS),
                ", ".join(COMPONENT_OPTIONAL_KEYS)))
        extra = entry.get("extra_namespaces", [])
        if not (isinstance(extra, list) and all(key in namespaces for key in extra)):
            errors.append("%s: extra_namespaces is %r; write a list of keys of platform_namespaces (%s)." % (
                label, extra, ", ".join(namespaces)))
        name = entry.get("name")
        names.append(name)
        if not (isinstance(name, str) and name.replace("_", "a").isidentifier() and name == name.lower()):
            errors.append("%s: name must be the role's name, a lower-case identifier such as vllm." % label)
        elif roles is not None and name not in roles:
            errors.append("%s: there is no role %s (roles/%s with an `objects` entry point)." % (label, name, name))
        if entry.get("namespace") not in namespaces:
            errors.append("%s: namespace %r is not a key of platform_namespaces (%s)." % (
                label, entry.get("namespace"), ", ".join(namespaces)))
        for chart in entry.get("charts") or []:
            if not (isinstance(chart, Mapping) and set(chart) == set(CHART_KEYS)
                    and all(isinstance(chart[key], str) and chart[key] for key in CHART_KEYS)):
                errors.append("%s: chart %r must have exactly %s, each a non-empty string." % (
                    label, chart, ", ".join(CHART_KEYS)))
        for kind in entry.get("prune_kinds") or []:
            if not (isinstance(kind, Mapping) and set(kind) == {"api_version", "kind"}):
                errors.append("%s: prune kind %r must be {api_version, kind}." % (label, kind))
            elif kind["kind"] == "Namespace":
                errors.append("%s: prune_kinds lists Namespace; deleting one deletes everything in it, so it is never "
                              "pruned: remove it." % label)
        if not (isinstance(entry.get("wait_seconds"), int) and entry.get("wait_seconds", 0) > 0):
            errors.append("%s: wait_seconds is %r; write a number of seconds > 0." % (label, entry.get("wait_seconds")))
        if not isinstance(entry.get("serving"), bool):
            errors.append("%s: serving is %r; write true or false." % (label, entry.get("serving")))
    unknown = [name for name in asked or [] if name not in names]
    if unknown:
        errors.append("%s is not a platform component (platform_components in group_vars/all/platform.yml lists: %s); "
                      "add an entry for it there (docs/architecture.md, \"Adding a component\")." % (
                          ", ".join(map(str, unknown)), ", ".join(map(str, names))))
    for name in sorted({name for name in names if isinstance(name, str) and names.count(name) > 1}):
        errors.append("platform_components lists %s more than once; each component is one entry." % name)
    errors.extend(_skip_problems(skip, names, models))
    orders = [entry.get("upgrade_order") for entry in components if isinstance(entry, Mapping)]
    if sorted(orders, key=str) != sorted(set(orders), key=str) or not all(isinstance(o, int) for o in orders):
        errors.append("platform_components: upgrade_order must be distinct integers (the order upgrade.yml "
                      "re-applies components in); found %s." % orders)
    return errors


def platform_objects(objects, labels, component):
    """The component's objects with the platform's labels and its component label on each object's metadata."""
    if not isinstance(objects, list):
        raise AnsibleFilterError("the objects of %s are %r, not a list of manifests" % (component, type(objects)))
    common = dict(labels or {}, **{COMPONENT_LABEL: component})
    result = []
    for obj in objects:
        if not isinstance(obj, Mapping) or not isinstance(obj.get("metadata"), Mapping):
            raise AnsibleFilterError("%s built an object without metadata: %r" % (component, obj))
        # Shallow copies only: the rest of the object is shared, never changed (deep copies of Ansible's lazy
        # containers template every nested value again, seconds for a component).
        labelled = dict(obj)
        labelled["metadata"] = dict(labelled["metadata"])
        labelled["metadata"]["labels"] = dict(labelled["metadata"].get("labels") or {}, **common)
        result.append(labelled)
    return result


def platform_charts(charts, values, namespace, component):
    """The registry's charts of a component joined with the values its role built, keyed by release."""
    values = values or {}
    releases = [chart["release"] for chart in charts or []]
    unknown = sorted(set(values) - set(releases))
    missing = [release for release in releases if release not in values]
    if unknown or missing:
        raise AnsibleFilterError(
            "%s's chart values do not match its registry entry: values for %s, but the registry's charts are %s "
            "(platform_components in group_vars/all/platform.yml); the role's objects entry point must set "
            "%s_chart_values with one entry per release." % (component, sorted(values) or "no release",
                                                             releases or "none", component))
    return [dict(chart, namespace=namespace, values=values[chart["release"]]) for chart in charts or []]


def platform_build(names, components, namespaces, labels, objects, chart_values, secrets):
    """The components named, in registry order, as roles/platform_delivery delivers them: each one's objects
    labelled, its chart values joined with the registry's charts, its generated Secrets, prune kinds, wait and
    after-apply step. objects, chart_values and secrets are aligned with names (what each role's objects entry point
    set)."""
    built = {}
    for name, objs, values, secret_specs in zip(names, objects, chart_values, secrets, strict=True):
        entry = platform_component(components, name)
        namespace = namespaces[entry["namespace"]]
        built[name] = {
            "name": name,
            "namespace": namespace,
            "objects": platform_objects(objs, labels, name),
            "charts": platform_charts(entry.get("charts"), values, namespace, name),
            "secrets": list(secret_specs or []),
            "prune_kinds": entry["prune_kinds"],
            "wait_seconds": entry["wait_seconds"],
            "after_apply": entry["after_apply"],
        }
    return [built[entry["name"]] for entry in components if entry["name"] in built]


def platform_releases(components, namespaces, reverse=False):
    """The Helm releases of the registry as [{name, namespace}], in delivery order (or reversed, for removal)."""
    entries = list(reversed(components)) if reverse else list(components)
    return [{"name": chart["release"], "namespace": namespaces[entry["namespace"]]}
            for entry in entries for chart in entry.get("charts") or []]


def platform_namespace_list(components, namespaces, reverse=False, serving=None):
    """The namespaces of the registry's components, each once, in delivery order (or reversed): each entry's namespace,
    then its extra_namespaces (those its role creates for a part of it, such as the node exporter's); with serving
    true or false only those of components marked so."""
    entries = list(reversed(components)) if reverse else list(components)
    result = []
    for entry in entries:
        if serving is not None and bool(entry.get("serving")) != bool(serving):
            continue
        for key in [entry["namespace"], *entry.get("extra_namespaces", [])]:
            if namespaces[key] not in result:
                result.append(namespaces[key])
    return result


def handed_over_kubeconfig(source, server, context):
    """The kubeconfig the cluster stage hands to every later stage: the distribution's admin kubeconfig (k3s.yaml,
    admin.conf) with its server set to the API endpoint and its cluster, user and context named after `context`
    (cluster_kube_context), so k3s and kubeadm clusters look the same to platform, verify, upgrade and reset."""
    if not isinstance(source, Mapping) or not source.get("clusters") or not source.get("users"):
        raise AnsibleFilterError("the admin kubeconfig read from the first server has no cluster or user entry")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": dict(source["clusters"][0]["cluster"], server=server)}],
        "users": [{"name": context + "-admin", "user": source["users"][0]["user"]}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context + "-admin"}}],
        "current-context": context,
        "preferences": {},
    }


def playbook_argument_spec(spec, shared):
    """The options a playbook's first play validates: the cross-cutting ones it names (declared once, in
    playbooks/argument_specs/cross_cutting.yml) and its own."""
    own = dict((spec or {}).get("options") or {})
    shared_options = (shared or {}).get("options") or {}
    names = list((spec or {}).get("cross_cutting") or [])
    unknown = [name for name in names if name not in shared_options]
    redeclared = sorted(set(own) & set(shared_options))
    if unknown or redeclared:
        raise AnsibleFilterError(
            "playbook argument spec: %s%s" % (
                "cross_cutting names %s, which cross_cutting.yml does not declare; " % unknown if unknown else "",
                "options %s are cross-cutting: list them under cross_cutting instead of declaring them again"
                % redeclared if redeclared else ""))
    return dict({name: shared_options[name] for name in names}, **own)


def image_reference(image, digest=""):
    """The image reference pods run: ``image@digest`` when the versions file gives the digest beside the tag.

    An image that already carries a digest keeps it; a different ``digest`` beside it is a contradiction.
    """
    if not isinstance(image, str) or not image.strip():
        raise AnsibleFilterError("image_reference: the image is %r, not an image reference" % (image,))
    image = image.strip()
    digest = (digest or "").strip() if isinstance(digest, str) or digest is None else digest
    if not digest:
        return image
    if not isinstance(digest, str) or not image_has_digest("image@" + digest):
        raise AnsibleFilterError(
            "image_reference: the digest of %s is %r, not sha256:<64 hexadecimal characters>; write the digest the "
            "registry reports for that tag" % (image, digest)
        )
    if "@" in image:
        if image.split("@", 1)[1] != digest:
            raise AnsibleFilterError(
                "image_reference: %s carries a digest and its _digest pin says %s; keep one of them" % (image, digest)
            )
        return image
    return "%s@%s" % (image, digest)


class FilterModule:
    """The platform contract's filters of inference.platform."""

    def filters(self):
        return {
            "platform_enabled": platform_enabled,
            "platform_component": platform_component,
            "platform_problems": platform_problems,
            "platform_objects": platform_objects,
            "platform_charts": platform_charts,
            "platform_build": platform_build,
            "platform_releases": platform_releases,
            "platform_namespace_list": platform_namespace_list,
            "handed_over_kubeconfig": handed_over_kubeconfig,
            "image_reference": image_reference,
            "playbook_argument_spec": playbook_argument_spec,
        }
