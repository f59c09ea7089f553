# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Controller-side apply of platform components (inference.platform.platform_apply).

roles/platform_delivery calls it twice per delivery when it waits: phase prepare (namespaces and ConfigMaps, the
Secrets generated once, the Helm charts) and, after the components' after-apply steps, phase objects (every other
object, the waits, the prune); once, phase all, when it does not wait (the after-apply steps are waits).
One process and one API client do the work kubectl apply and helm upgrade would, so a delivery costs
about what doing it by hand costs. The documentation is plugins/modules/platform_apply.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.inference.platform.plugins.modules.platform_apply import ARGUMENT_SPEC
from ansible_collections.inference.platform.plugins.plugin_utils._k8s_apply import ApplyError, Cluster, Helm, key_of

FIRST_KINDS = ("Namespace", "ConfigMap")
# The labels that identify the platform's objects of one cluster; with inference.platform/component, the prune's.
PRUNE_LABELS = ("app.kubernetes.io/part-of", "inference.platform/cluster")


class ActionModule(ActionBase):
    """Apply one phase of the given components; report each change as Kind namespace/name."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if validation.error_messages:
            raise AnsibleActionFail("; ".join(validation.error_messages))
        check = bool(self._task.check_mode)
        diff_mode = bool(self._task.diff)
        changes, diffs, report = [], [], {}
        try:
            cluster = Cluster(args["kubeconfig"], args["context"])
            helm = Helm(args["helm"], args["kubeconfig"], args["context"], args["chart_dir"], cluster)
            for component in args["components"]:
                report[component["name"]] = {}
                if args["phase"] in ("prepare", "all"):
                    report[component["name"]].update(self._prepare(cluster, helm, component, args, check, changes,
                                                                   diffs))
            for component in args["components"]:
                if args["phase"] in ("objects", "all"):
                    objects = self._objects(cluster, helm, component, args, check, changes, diffs)
                    report[component["name"]]["applied"] = report[component["name"]].get("applied", []) + objects.pop(
                        "applied")
                    report[component["name"]].update(objects)
        except ApplyError as exc:
            result.update(failed=True, msg=str(exc), changes=changes, components=report)
            return result
        result.update(changed=bool(changes), changes=changes, components=report)
        if diff_mode and diffs:
            result["diff"] = diffs
        return result

    def _apply_all(self, cluster, objects, args, check, changes, diffs):
        applied = []
        for obj in objects:
            if obj.get("kind") == "Secret":
                raise ApplyError("%s is a Secret among the objects: objects are shown in task output and rendered to "
                                 "Git. Next: declare it in the component's <name>_secrets" % key_of(obj))
        for obj, changed, diff in cluster.apply_many(objects, args["field_manager"], check):
            if changed:
                label = "%s %s/%s" % (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                changes.append(label)
                applied.append(label)
                if diff:
                    diffs.append(diff)
        return applied

    def _prepare(self, cluster, helm, component, args, check, changes, diffs):
        first = [obj for obj in component["objects"] if obj.get("kind") in FIRST_KINDS]
        report = {"applied": self._apply_all(cluster, first, args, check, changes, diffs), "secrets": {},
                  "charts": {}}
        labels = dict(args["labels"], **{"inference.platform/component": component["name"]})
        for secret in component["secrets"]:
            state = cluster.generated_secret(secret, labels, check)
            report["secrets"][secret["name"]] = state
            if state != "kept":
                changes.append("Secret %s/%s (%s)" % (secret["namespace"], secret["name"], state))
        for chart in component["charts"]:
            state = helm.ensure(chart, check, args["wait"], component["wait_seconds"])
            report["charts"][chart["release"]] = state
            if state != "unchanged":
                changes.append("Helm release %s/%s (%s %s)" % (chart["namespace"], chart["release"], chart["chart"],
                                                               state))
        return report

    def _objects(self, cluster, helm, component, args, check, changes, diffs):
        ordered = [obj for obj in component["objects"] if obj.get("kind") not in FIRST_KINDS]
        report = {"applied": self._apply_all(cluster, ordered, args, check, changes, diffs)}
        if args["wait"] and not check:
            for obj in ordered:
                if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
                    cluster.wait(obj, component["wait_seconds"])
        selectors = {name: args["labels"][name] for name in PRUNE_LABELS if name in args["labels"]}
        selectors["inference.platform/component"] = component["name"]
        keep = {key_of(obj) for obj in component["objects"]}
        deleted = cluster.prune(component["prune_kinds"], selectors, keep, check, component["wait_seconds"])
        for key in deleted:
            changes.append("deleted %s" % key.replace("/", " ", 1))
        report["deleted"] = deleted
        return report
