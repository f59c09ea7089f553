#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_prune
short_description: Delete the labelled Kubernetes objects of some kinds that are no longer wanted, in one call
version_added: 0.2.0
description:
  - Lists, in every namespace, the objects of each of O(kinds) that carry all of O(label_selectors), and deletes those
    not named in O(keep). This is the prune step of the platform's apply mode (roles/platform_delivery): a model
    removed from C(inference_models) loses its Deployment, Service and the rest, while objects without the
    platform's labels are never looked at.
  - One process lists and deletes everything, so a component's prune is one task rather than one per kind.
  - A kind the API server does not know (its CRD is not installed) has nothing to prune and is reported in
    RV(unknown_kinds).
  - Deletion uses background propagation (dependents such as a Deployment's ReplicaSets go with it); with O(wait)
    the module returns once each deleted object is gone.
author:
  - Inference Platform maintainers (!UNKNOWN)
requirements:
  - kubernetes (Python client) on the host that runs the module (the controller, where kubernetes.core runs)
extends_documentation_fragment:
  - inference.platform.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is deleted; RV(deleted) lists what would be.
  diff_mode:
    support: full
    details:
      - The diff lists the matching objects before and after the prune.
  idempotent:
    support: full
    details:
      - Once the unwanted objects are gone a second run deletes nothing and reports C(changed=false).
options:
  kinds:
    description: Kinds to look at, each with its API version.
    type: list
    elements: dict
    required: true
    suboptions:
      api_version:
        description: apiVersion, such as V(apps/v1) or V(v1).
        type: str
        required: true
      kind:
        description: Kind, such as V(Deployment). V(Namespace) is refused (deleting one deletes everything in it).
        type: str
        required: true
  label_selectors:
    description:
      - Label selectors (C(key=value)) every object must carry to be considered; at least one is required, so the
        module never looks at objects it did not label.
    type: list
    elements: str
    required: true
  keep:
    description: The objects still wanted, as C(Kind/namespace/name) (C(Kind//name) for cluster-scoped ones).
    type: list
    elements: str
    default: []
  wait:
    description: Wait until each deleted object is gone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each deleted object.
    type: int
    default: 300
  kubeconfig:
    description:
      - Path of the kubeconfig. The platform passes C(cluster_kubeconfig) through C(module_defaults).
      - Without it the client's defaults apply (C(KUBECONFIG), C(~/.kube/config), in-cluster).
    type: path
  context:
    description: Context of the kubeconfig to use; the current context when not set.
    type: str
"""

EXAMPLES = r"""
- name: Delete this component's objects that are no longer wanted
  inference.platform.k8s_prune:
    kubeconfig: "{{ cluster_kubeconfig }}"
    context: "{{ cluster_kube_context }}"
    kinds:
      - {api_version: apps/v1, kind: Deployment}
      - {api_version: v1, kind: Service}
    label_selectors:
      - app.kubernetes.io/part-of=inference-platform
      - inference.platform/component=vllm
    keep:
      - Deployment/inference/qwen25-7b
      - Service/inference/qwen25-7b
"""

RETURN = r"""
deleted:
  description: The objects deleted (or, in check mode, that would be), as C(Kind/namespace/name).
  returned: always
  type: list
  elements: str
  sample: [Deployment/inference/llama31-8b-awq, Service/inference/llama31-8b-awq]
kept:
  description: The matching objects that are still wanted.
  returned: always
  type: list
  elements: str
  sample: [Deployment/inference/qwen25-7b]
unknown_kinds:
  description: Kinds the API server does not serve (nothing of them can exist, so nothing was pruned).
  returned: always
  type: list
  elements: str
  sample: [monitoring.coreos.com/v1/ServiceMonitor]
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from kubernetes import config as kube_config
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
    from kubernetes.client.exceptions import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_ERROR = None
except ImportError:  # reported by main()
    HAS_KUBERNETES = False
    KUBERNETES_ERROR = traceback.format_exc()

ARGUMENT_SPEC = {
    "kinds": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {"api_version": {"type": "str", "required": True}, "kind": {"type": "str", "required": True}},
    },
    "label_selectors": {"type": "list", "elements": "str", "required": True},
    "keep": {"type": "list", "elements": "str", "default": []},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 300},
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
}


def key_of(item):
    metadata = item["metadata"]
    return "%s/%s/%s" % (item["kind"], metadata.get("namespace") or "", metadata["name"])


def fail(module, message, code, details=None):
    module.fail_json(msg=message, error={"message": message, "code": code, "details": details or {}})


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_ERROR)
    params = module.params
    selectors = [selector.strip() for selector in params["label_selectors"] if selector.strip()]
    if not selectors:
        fail(module, "label_selectors is empty: k8s_prune only looks at objects carrying labels the caller set. "
             "Pass the component's labels (e.g. inference.platform/component=vllm).", "no_selector")
    if any(kind["kind"] == "Namespace" for kind in params["kinds"]):
        fail(module, "kinds lists Namespace: deleting a namespace deletes everything in it, so it is never pruned. "
             "Remove it from the component's prune_kinds.", "namespace_refused")
    try:
        client = DynamicClient(kube_config.new_client_from_config(
            config_file=params["kubeconfig"], context=params["context"]))
    except Exception as exc:  # pylint: disable=broad-except
        fail(module, "cannot build a Kubernetes client from kubeconfig %s (context %s): %s. Check that the file "
             "exists and names that context (cluster_kubeconfig, cluster_kube_context)."
             % (params["kubeconfig"] or "(default)", params["context"] or "(current)", exc), "kubeconfig")
    keep = set(params["keep"])
    label_selector = ",".join(selectors)
    found, unknown = [], []
    resources = {}
    for kind in params["kinds"]:
        try:
            resource = client.resources.get(api_version=kind["api_version"], kind=kind["kind"])
        except ResourceNotFoundError:
            unknown.append("%s/%s" % (kind["api_version"], kind["kind"]))
            continue
        except ApiException as exc:
            fail(module, "the API server did not answer the discovery of %s/%s: %s %s. Is the cluster up "
                 "(kubectl --kubeconfig %s get --raw /readyz)?" % (kind["api_version"], kind["kind"], exc.status,
                                                                    exc.reason, params["kubeconfig"]), "api")
        try:
            listed = resource.get(label_selector=label_selector)
        except ApiException as exc:
            fail(module, "listing %s with %s failed: %s %s. Check the credentials of the kubeconfig may list it."
                 % (kind["kind"], label_selector, exc.status, exc.reason), "api",
                 {"status": exc.status, "kind": kind["kind"]})
        for item in listed.to_dict().get("items", []):
            item["kind"] = kind["kind"]
            found.append(key_of(item))
            resources[key_of(item)] = (resource, item["metadata"].get("namespace"), item["metadata"]["name"])
    found = sorted(found)
    stale = [key for key in found if key not in keep]
    result = {
        "changed": bool(stale),
        "deleted": stale,
        "kept": [key for key in found if key in keep],
        "unknown_kinds": unknown,
        "diff": {"before": "\n".join(found) + "\n", "after": "\n".join(k for k in found if k in keep) + "\n"},
    }
    if module.check_mode or not stale:
        module.exit_json(**result)
    for key in stale:
        resource, namespace, name = resources[key]
        try:
            resource.delete(name=name, namespace=namespace, body={"propagationPolicy": "Background"})
        except NotFoundError:
            continue
        except ApiException as exc:
            fail(module, "deleting %s failed: %s %s. Delete it by hand (kubectl delete) and run again, or check the "
                 "credentials may delete it." % (key, exc.status, exc.reason), "api", {"object": key})
    if params["wait"]:
        for key in stale:
            resource, namespace, name = resources[key]
            deadline = time.time() + params["wait_timeout"]
            while True:
                try:
                    resource.get(name=name, namespace=namespace)
                except NotFoundError:
                    break
                if time.time() > deadline:
                    fail(module, "%s was deleted but still exists after %s s (a finalizer holds it?). Look at "
                         "kubectl get -o yaml of it; nothing else was left waiting." % (key, params["wait_timeout"]),
                         "timeout", {"object": key})
                time.sleep(1)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
