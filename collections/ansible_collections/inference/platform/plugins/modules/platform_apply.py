#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_apply
short_description: Apply platform components to a cluster the way kubectl apply and helm upgrade would, in one call
version_added: 0.2.0
description:
  - The apply step of the platform stage (roles/platform_delivery), for one or all components, in two phases.
  - "O(phase=prepare): for each component in the order given, server-side applies its Namespaces and ConfigMaps, creates
    the Secrets of O(components[].secrets) with generated values once (an existing Secret is only checked to have every
    key, never changed), and installs or upgrades each chart with the Helm CLI when its chart version or values are
    not the release's (the guard kubernetes.core.helm uses; the release is read in Helm's own records, the Secrets
    C(sh.helm.release.v1.*) of Helm 3's default storage), else leaves it alone."
  - "O(phase=all) does both: the prepare phase of every component, then the objects phase of every component."
  - "O(phase=objects): server-side applies every other object (Jobs last), waits for Deployments, StatefulSets,
    DaemonSets to roll out and Jobs to complete when O(wait), then deletes the objects of O(components[].prune_kinds)
    that carry O(labels) and the component's C(inference.platform/component) label and are no longer among its
    objects. Namespaces are never pruned."
  - One process and one API client do all of it, so a delivery costs about what the same work by hand costs
    (scripts/bench-platform-apply.py measures both).
  - An object counts as changed when what the server holds (or, in check mode, would hold after a server-side dry run)
    differs from before, ignoring what the server maintains (managed fields, resource version, generation, status).
  - This is an action plugin; it runs in the controller process and never connects to the target host. The module
    file only carries this documentation.
author:
  - Inference Platform maintainers (!UNKNOWN)
requirements:
  - kubernetes (Python client) and PyYAML on the controller
  - the Helm CLI on the controller (O(helm)) for components with charts
extends_documentation_fragment:
  - inference.platform.attributes
attributes:
  check_mode:
    support: full
    details:
      - Objects are applied as a server-side dry run; Secrets, charts and prunes are only reported.
  diff_mode:
    support: full
    details:
      - Returns the before and after of each changed object (server-maintained fields left out).
  idempotent:
    support: full
    details:
      - A second run with the same components changes nothing and reports C(changed=false).
  action:
    support: full
    description: Runs as an action plugin on the controller.
  async:
    support: none
    description: Cannot run asynchronously.
  platform:
    support: full
    description: Runs on the Ansible controller only.
    platforms: posix
options:
  phase:
    description:
      - V(prepare) (namespaces, ConfigMaps, Secrets, charts), V(objects) (the rest, waits, prune), or V(all) (both, the
        prepare phase of every component first).
    type: str
    required: true
    choices: [prepare, objects, all]
  components:
    description: The components, in delivery order, as roles/platform_delivery builds them from platform_components.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The component's name (its C(inference.platform/component) label).
        type: str
        required: true
      namespace:
        description: The component's namespace (informational; every object names its own).
        type: str
      after_apply:
        description: The component's after-apply step (run by the caller between the two phases; informational here).
        type: str
        default: ""
      objects:
        description: Its Kubernetes objects, labelled; never a Secret.
        type: list
        elements: dict
        default: []
      charts:
        description: Its charts, each C({release, chart, repo, version, namespace, values}).
        type: list
        elements: dict
        default: []
      secrets:
        description:
          - Secrets created once, each C({name, namespace, generate, fixed}); C(generate) maps a key to
            C({length, prefix}) of a random value. No secret value is ever an argument or a result.
        type: list
        elements: dict
        default: []
      prune_kinds:
        description: Kinds, each C({api_version, kind}), whose labelled objects are deleted once no longer wanted.
        type: list
        elements: dict
        default: []
      wait_seconds:
        description: Longest wait for a chart, a workload, a Job or a deletion.
        type: int
        default: 900
  kubeconfig:
    description: The cluster's kubeconfig (C(cluster_kubeconfig)); never the environment's.
    type: path
    required: true
  context:
    description: The context in it (C(cluster_kube_context)).
    type: str
  labels:
    description: The platform's labels (C(platform_labels)); C(app.kubernetes.io/part-of) and
      C(inference.platform/cluster) select what the prune may delete.
    type: dict
    required: true
  wait:
    description: Wait for charts, workloads and Jobs; false applies and moves on.
    type: bool
    default: true
  chart_dir:
    description:
      - Directory of chart archives C(<chart>-<version>.tgz) (air-gapped controller); empty uses the repositories.
    type: str
    default: ""
  helm:
    description: The Helm CLI to run.
    type: str
    default: helm
  field_manager:
    description: Field manager of the server-side applies.
    type: str
    default: inference-platform
"""

EXAMPLES = r"""
- name: Namespaces, ConfigMaps, Secrets and charts of every component
  inference.platform.platform_apply:
    phase: prepare
    components: "{{ built_components }}"
    kubeconfig: "{{ cluster_kubeconfig }}"
    context: "{{ cluster_kube_context }}"
    labels: "{{ platform_labels }}"
"""

RETURN = r"""
changes:
  description: Each change as one line (C(Kind namespace/name), C(Secret ns/name (created)), C(Helm release ns/name
    (chart upgraded)), C(deleted Kind namespace/name)); in check mode what would change.
  returned: always
  type: list
  elements: str
  sample: ["Deployment inference/qwen25-7b", "deleted Service inference/llama31-8b-awq"]
components:
  description: Per component, the objects applied, the Secrets' and charts' states and the objects deleted.
  returned: always
  type: dict
  sample: {vllm: {applied: ["Deployment inference/qwen25-7b"], deleted: []}}
"""

from ansible.module_utils.basic import AnsibleModule

# The one argument spec of platform_apply: the action plugin (plugins/action/platform_apply.py) validates with it.
ARGUMENT_SPEC = {
    "phase": {"type": "str", "required": True, "choices": ["prepare", "objects", "all"]},
    "components": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True},
            "namespace": {"type": "str"},
            "after_apply": {"type": "str", "default": ""},
            "objects": {"type": "list", "elements": "dict", "default": []},
            "charts": {"type": "list", "elements": "dict", "default": []},
            "secrets": {"type": "list", "elements": "dict", "default": [], "no_log": False},
            "prune_kinds": {"type": "list", "elements": "dict", "default": []},
            "wait_seconds": {"type": "int", "default": 900},
        },
    },
    "kubeconfig": {"type": "path", "required": True},
    "context": {"type": "str"},
    "labels": {"type": "dict", "required": True},
    "wait": {"type": "bool", "default": True},
    "chart_dir": {"type": "str", "default": ""},
    "helm": {"type": "str", "default": "helm"},
    "field_manager": {"type": "str", "default": "inference-platform"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(
        msg="inference.platform.platform_apply runs on the controller as an action plugin; this module file only "
        "documents it. Call it as a task (inference.platform.platform_apply), not as a module on a host."
    )


if __name__ == "__main__":
    main()
