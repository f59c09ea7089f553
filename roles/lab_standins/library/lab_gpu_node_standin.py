#!/usr/bin/python
# Copyright (c) the inference.platform project contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""Lab stand-in: make a Node of the lab cluster look like a GPU node to the scheduler."""

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_gpu_node_standin
short_description: LAB STAND-IN. A Node advertises a GPU resource, GPU feature discovery's labels, a taint.
description:
  - A stand-in, never proof of a GPU. It writes what the GPU Operator's device plugin and GPU feature
    discovery write on a real GPU node, so that the scheduler places GPU pods on it as on a GPU node.
  - The resource is advertised as the Kubernetes documentation shows for extended resources, with a
    JSON patch of the Node's C(status) subresource (capacity and allocatable).
  - Reads the Node first and patches only what differs, so a second run reports no change; check mode
    reports what would change and writes nothing.
options:
  kubeconfig:
    description: Kubeconfig file of the cluster.
    type: path
    required: true
  context:
    description: Context in the kubeconfig; empty for its current context.
    type: str
    default: ""
  node:
    description: Name of the Node.
    type: str
    required: true
  resource:
    description: Extended resource name to advertise.
    type: str
    default: nvidia.com/gpu
  count:
    description: Capacity and allocatable of the resource.
    type: int
    required: true
  labels:
    description: Labels the Node must carry (others are left alone).
    type: dict
    default: {}
  taints:
    description:
      - Taints the Node must carry (key, value, effect).
      - A taint with the same key and effect but another value is replaced.
    type: list
    elements: dict
    default: []
requirements: [kubernetes (Python)]
"""

RETURN = r"""
changes:
  description: What was (or in check mode would be) changed, one sentence each.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def _pointer(name):
    """A JSON pointer segment for a key such as nvidia.com/gpu (RFC 6901: ~ and / escaped)."""
    return name.replace("~", "~0").replace("/", "~1")


def _same_taint(one, other):
    return one.get("key") == other.get("key") and one.get("effect") == other.get("effect")


def plan(node, resource, count, labels, taints):
    """What to patch on `node` (a Node as a dict) so that it carries the stand-in.

    Returns {"labels": {...} or None, "taints": [...] or None, "status": [json patch ops] or None,
    "changes": [sentences]}; every part is None when the Node already has it.
    """
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    changes = []

    have_labels = metadata.get("labels") or {}
    label_patch = {key: str(value) for key, value in labels.items() if have_labels.get(key) != str(value)}
    for key, value in sorted(label_patch.items()):
        changes.append(f"label {key}={value} (was {have_labels.get(key, 'unset')})")

    have_taints = [{k: v for k, v in taint.items() if v is not None} for taint in spec.get("taints") or []]
    wanted = [{"key": t["key"], "value": str(t.get("value") or ""), "effect": t["effect"]} for t in taints]
    wanted = [{k: v for k, v in t.items() if v != ""} for t in wanted]
    taint_patch = None
    missing = [
        t for t in wanted if not any(_same_taint(t, h) and h.get("value") == t.get("value") for h in have_taints)
    ]
    if missing:
        kept = [h for h in have_taints if not any(_same_taint(h, t) for t in wanted)]
        taint_patch = kept + wanted
        for taint in missing:
            changes.append(f"taint {taint['key']}={taint.get('value', '')}:{taint['effect']}")

    status_ops = []
    for field in ("capacity", "allocatable"):
        current = (status.get(field) or {}).get(resource)
        if current != str(count):
            status_ops.append({"op": "add", "path": f"/status/{field}/{_pointer(resource)}", "value": str(count)})
            was = current if current is not None else "unset"
            changes.append(f"status.{field}[{resource}] = {count} (was {was})")
    if status_ops and status.get("capacity") is None:
        status_ops.insert(0, {"op": "add", "path": "/status/capacity", "value": {}})
    if status_ops and status.get("allocatable") is None:
        status_ops.insert(0, {"op": "add", "path": "/status/allocatable", "value": {}})

    return {
        "labels": label_patch or None,
        "taints": taint_patch,
        "status": status_ops or None,
        "changes": changes,
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "kubeconfig": {"type": "path", "required": True},
            "context": {"type": "str", "default": ""},
            "node": {"type": "str", "required": True},
            "resource": {"type": "str", "default": "nvidia.com/gpu"},
            "count": {"type": "int", "required": True},
            "labels": {"type": "dict", "default": {}},
            "taints": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["count"] < 0:
        module.fail_json(msg=f"count must be 0 or more (found {params['count']}).")
    for taint in params["taints"]:
        if not taint.get("key") or taint.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            module.fail_json(
                msg=f"a taint needs a key and an effect NoSchedule, PreferNoSchedule or NoExecute: {taint}"
            )
    try:
        from kubernetes import config as kube_config
        from kubernetes.dynamic import DynamicClient
    except ImportError:
        module.fail_json(msg="the kubernetes Python package is missing on the controller; it is in requirements.txt.")

    try:
        client = kube_config.new_client_from_config(config_file=params["kubeconfig"], context=params["context"] or None)
        api = DynamicClient(client)
        nodes = api.resources.get(api_version="v1", kind="Node")
        node = nodes.get(name=params["node"]).to_dict()
    except Exception as exc:  # noqa: BLE001 - every API failure is reported the same way
        module.fail_json(
            msg=f"reading Node {params['node']} through {params['kubeconfig']} failed: {exc}. "
            "Is the cluster up and the node registered (kubectl get nodes)?"
        )

    todo = plan(node, params["resource"], params["count"], params["labels"], params["taints"])
    changed = bool(todo["changes"])
    if changed and not module.check_mode:
        try:
            meta_patch = {}
            if todo["labels"]:
                meta_patch["metadata"] = {"labels": todo["labels"]}
            if todo["taints"] is not None:
                meta_patch["spec"] = {"taints": todo["taints"]}
            if meta_patch:
                nodes.patch(name=params["node"], body=meta_patch, content_type="application/merge-patch+json")
            if todo["status"]:
                nodes.status.patch(name=params["node"], body=todo["status"], content_type="application/json-patch+json")
        except Exception as exc:  # noqa: BLE001
            module.fail_json(msg=f"patching Node {params['node']} failed: {exc}", changes=todo["changes"])
    module.exit_json(changed=changed, changes=todo["changes"])


if __name__ == "__main__":
    main()
