# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Controller-side Kubernetes and Helm work of the platform_apply action: server-side apply with change detection
and check-mode dry runs, readiness waits, Secrets generated once, Helm releases installed or upgraded only when their
chart version or values differ, and the prune of labelled objects no longer wanted.

This file is PRIVATE to the inference.platform collection. It may change or disappear in any release without notice.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import secrets
import string
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import yaml
from ansible_collections.inference.platform.plugins.plugin_utils._chart_source import ChartSourceError, chart_source

# Metadata the API server maintains: never part of what the platform wants, so never a change.
VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink",
                     "annotations.deployment.kubernetes.io/revision")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# apply_many applies in waves, each wave's objects at once: what others live in or are made of first, Jobs last
# (a Job runs once the objects it reads exist). Within a wave no object depends on another's existing.
APPLY_WAVES = (("Namespace", "CustomResourceDefinition"), None, ("Job",))
# Requests in flight at once (the API client's connection pool is sized to it).
APPLY_CONCURRENCY = 8


class ApplyError(Exception):
    """A failure phrased for the operator: what failed and what to do next."""


def key_of(obj):
    """Kind/namespace/name of an object (namespace empty for cluster-scoped ones)."""
    meta = obj.get("metadata") or {}
    return "%s/%s/%s" % (obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def _comparable(obj):
    """The object without what the API server maintains, for change detection and diffs."""
    if obj is None:
        return None
    obj = json.loads(json.dumps(obj))
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for name in VOLATILE_METADATA:
        if name.startswith("annotations."):
            (meta.get("annotations") or {}).pop(name.split(".", 1)[1], None)
        else:
            meta.pop(name, None)
    if meta.get("annotations") == {}:
        meta.pop("annotations")
    return obj


class Cluster:
    """One Kubernetes API client for the whole delivery (one process, one discovery)."""

    def __init__(self, kubeconfig, context):
        try:
            from kubernetes import client, config
            from kubernetes.dynamic import DynamicClient
        except ImportError as exc:
            raise ApplyError("the kubernetes Python client is missing on the controller (%s). Next: install the "
                             "project's Python set (make setup, requirements.txt)" % exc) from exc
        try:
            configuration = client.Configuration()
            configuration.connection_pool_maxsize = APPLY_CONCURRENCY
            self.api = config.new_client_from_config(config_file=kubeconfig, context=context,
                                                     client_configuration=configuration)
            self.client = DynamicClient(self.api)
        except Exception as exc:  # pylint: disable=broad-except
            raise ApplyError("cannot reach the cluster through kubeconfig %s (context %s): %s. Next: check that the "
                             "file exists and names that context (cluster_kubeconfig, cluster_kube_context), and that "
                             "the API answers (kubectl --kubeconfig %s get --raw /readyz)"
                             % (kubeconfig, context, exc, kubeconfig)) from exc
        self._resources = {}

    def resource(self, api_version, kind):
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        cache_key = (api_version, kind)
        if cache_key not in self._resources:
            try:
                self._resources[cache_key] = self.client.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                self._resources[cache_key] = None
        return self._resources[cache_key]

    def get(self, resource, namespace, name):
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            return resource.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    # -- apply ------------------------------------------------------------------------------------------------------

    def apply_many(self, objects, field_manager, check_mode):
        """Server-side apply a list of objects, wave by wave (APPLY_WAVES), each wave's objects concurrently; returns
        [(object, changed, diff)] in the order given. The first refusal raises once the wave's requests are done."""
        waves = [[obj for obj in objects if obj.get("kind") in kinds] for kinds in APPLY_WAVES if kinds]
        listed = {kind for kinds in APPLY_WAVES if kinds for kind in kinds}
        waves.insert(1, [obj for obj in objects if obj.get("kind") not in listed])
        results = {}
        with ThreadPoolExecutor(max_workers=APPLY_CONCURRENCY) as pool:
            for wave in waves:
                # resolve each kind once, here, before the threads (discovery is not thread-safe)
                for obj in wave:
                    self.resource(obj["apiVersion"], obj["kind"])
                outcomes = list(pool.map(lambda obj: self._apply_outcome(obj, field_manager, check_mode), wave))
                for obj, outcome in zip(wave, outcomes, strict=True):
                    if isinstance(outcome, ApplyError):
                        raise outcome
                    results[id(obj)] = outcome
        return [(obj,) + results[id(obj)] for obj in objects]

    def _apply_outcome(self, obj, field_manager, check_mode):
        try:
            return self.apply(obj, field_manager, check_mode)
        except ApplyError as exc:
            return exc

    def apply(self, obj, field_manager, check_mode):
        """Server-side apply one object; returns (changed, diff). In check mode a dry run says what would change."""
        from kubernetes.client.exceptions import ApiException

        resource = self.resource(obj["apiVersion"], obj["kind"])
        if resource is None:
            raise ApplyError("the cluster does not serve %s %s (for %s); its CRD is installed by a chart or component "
                             "delivered earlier. Next: check the order of platform_components and that the chart "
                             "installed its CRDs (kubectl get crd)" % (obj["apiVersion"], obj["kind"], key_of(obj)))
        meta = obj["metadata"]
        namespace = meta.get("namespace") if resource.namespaced else None
        before = self.get(resource, namespace, meta["name"])
        try:
            after = self.client.server_side_apply(
                resource, body=obj, name=meta["name"], namespace=namespace, field_manager=field_manager,
                force_conflicts=True, dry_run="All" if check_mode else None,
            ).to_dict()
        except ApiException as exc:
            raise ApplyError("the API server refused %s: %s %s. Next: fix the object (its role's template) or the "
                             "cluster; the server's words: %s" % (key_of(obj), exc.status, exc.reason,
                                                                  _api_message(exc))) from exc
        old, new = _comparable(before), _comparable(after)
        changed = old != new
        diff = None
        if changed:
            diff = {
                "before_header": key_of(obj), "after_header": key_of(obj),
                "before": yaml.safe_dump(old, sort_keys=True) if old else "",
                "after": yaml.safe_dump(new, sort_keys=True),
            }
        return changed, diff

    # -- wait -------------------------------------------------------------------------------------------------------

    def wait(self, obj, timeout):
        """Until a workload is rolled out or a Job complete; raises with what to look at otherwise."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        deadline = time.time() + timeout
        state = "not found"
        while time.time() < deadline:
            live = self.get(resource, meta.get("namespace"), meta["name"])
            if live is not None:
                done, state = _readiness(live)
                if done is True:
                    return
                if done is False:
                    break
            time.sleep(2)
        raise ApplyError("%s is not ready after %ss (%s). Next: kubectl -n %s describe %s %s, and the logs of its "
                         "pods" % (key_of(obj), timeout, state, meta.get("namespace"), obj["kind"].lower(),
                                   meta["name"]))

    # -- secrets ----------------------------------------------------------------------------------------------------

    def generated_secret(self, secret, labels, check_mode):
        """Create a Secret with generated values once; an existing one is only checked to have every key."""
        resource = self.resource("v1", "Secret")
        existing = self.get(resource, secret["namespace"], secret["name"])
        wanted = sorted(list(secret.get("generate") or {}) + list(secret.get("fixed") or {}))
        where = "%s/%s" % (secret["namespace"], secret["name"])
        if existing is not None:
            missing = [key for key in wanted if key not in (existing.get("data") or {})]
            if missing:
                raise ApplyError("Secret %s exists but lacks the keys %s. It is never overwritten (its values may "
                                 "encrypt stored data). Next: add the missing keys by hand (the component role's "
                                 "README says what each holds)" % (where, ", ".join(missing)))
            return "kept"
        if check_mode:
            return "would be created"
        alphabet = string.ascii_letters + string.digits
        data = dict(secret.get("fixed") or {})
        for key, spec in (secret.get("generate") or {}).items():
            length = int(spec.get("length", 32))
            data[key] = str(spec.get("prefix", "")) + "".join(secrets.choice(alphabet) for dummy in range(length))
        body = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": secret["name"], "namespace": secret["namespace"], "labels": labels,
                         "annotations": {"inference.platform/note": "generated once by the platform; never rotated "
                                                                    "automatically"}},
            "stringData": data,
        }
        resource.create(body=body, namespace=secret["namespace"])
        return "created"

    # -- prune ------------------------------------------------------------------------------------------------------

    def prune(self, kinds, selectors, keep, check_mode, timeout):
        """Delete the objects of kinds carrying every selector label that keep does not name; returns their keys."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import NotFoundError

        if not selectors:
            raise ApplyError("the prune has no label selector; it only ever looks at objects the platform labelled")
        label_selector = ",".join("%s=%s" % item for item in sorted(selectors.items()))
        stale = []
        for kind in kinds:
            if kind["kind"] == "Namespace":
                raise ApplyError("prune_kinds lists Namespace; deleting one deletes everything in it. Next: remove it "
                                 "from platform_components")
            resource = self.resource(kind["api_version"], kind["kind"])
            if resource is None:
                continue
            for item in resource.get(label_selector=label_selector).to_dict().get("items", []):
                item["kind"] = kind["kind"]
                if key_of(item) not in keep:
                    stale.append((resource, item))
        deleted = sorted(key_of(item) for dummy, item in stale)
        if check_mode:
            return deleted
        for resource, item in stale:
            meta = item["metadata"]
            try:
                resource.delete(name=meta["name"], namespace=meta.get("namespace"),
                                body={"propagationPolicy": "Background"})
            except NotFoundError:
                continue
            except ApiException as exc:
                raise ApplyError("deleting %s failed: %s %s. Next: delete it by hand (kubectl delete) and run again"
                                 % (key_of(item), exc.status, exc.reason)) from exc
        for resource, item in stale:
            meta = item["metadata"]
            deadline = time.time() + timeout
            while self.get(resource, meta.get("namespace"), meta["name"]) is not None:
                if time.time() > deadline:
                    raise ApplyError("%s was deleted but still exists after %ss (a finalizer holds it?). Next: "
                                     "kubectl get -o yaml of it" % (key_of(item), timeout))
                time.sleep(1)
        return deleted


def _api_message(exc):
    try:
        return json.loads(exc.body).get("message") or exc.body
    except (TypeError, ValueError, AttributeError):
        return exc.body


def _readiness(live):
    """(True: ready, False: failed for good, None: not yet), and a short state for messages."""
    kind = live["kind"]
    status = live.get("status") or {}
    spec = live.get("spec") or {}
    generation = live["metadata"].get("generation", 0)
    observed = status.get("observedGeneration", 0) >= generation
    if kind == "Deployment":
        # Rolled out as `kubectl rollout status` says: every replica is of the new template and available, and no
        # old one is left running. updatedReplicas counts a surge replica before it is Ready, and availableReplicas
        # counts the old ones, so the two alone pass while the surge replica is still Pending.
        want = spec.get("replicas", 1)
        updated = status.get("updatedReplicas", 0)
        ready = (observed and updated >= want and status.get("replicas", 0) <= updated
                 and status.get("availableReplicas", 0) >= updated)
        return (True if ready else None), "%s/%s updated and available" % (
            min(updated, status.get("availableReplicas", 0)), want)
    if kind == "StatefulSet":
        want = spec.get("replicas", 1)
        ready = observed and status.get("readyReplicas", 0) >= want and status.get("updatedReplicas", 0) >= want
        return (True if ready else None), "%s/%s ready" % (status.get("readyReplicas", 0), want)
    if kind == "DaemonSet":
        want = status.get("desiredNumberScheduled", 0)
        ready = observed and status.get("numberReady", 0) >= want and status.get("updatedNumberScheduled", 0) >= want
        return (True if ready else None), "%s/%s ready" % (status.get("numberReady", 0), want)
    if kind == "Job":
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if conditions.get("Complete") == "True":
            return True, "complete"
        if conditions.get("Failed") == "True":
            return False, "failed"
        return None, "%s active, %s succeeded" % (status.get("active", 0), status.get("succeeded", 0))
    return True, "present"


class Helm:
    """Helm releases, installed or upgraded only when the chart version or the values differ (the guard
    kubernetes.core.helm uses), through the Helm CLI against one kubeconfig and context. The installed release is read
    in Helm's own records (Secrets sh.helm.release.v1.<release>.v<n>, Helm 3's default storage) through the API
    client already open, so an unchanged release costs one list call instead of two Helm processes."""

    def __init__(self, binary, kubeconfig, context, chart_dir, cluster=None):
        self.cluster = cluster
        self.binary = binary
        self.base = [binary, "--kubeconfig", kubeconfig, *(["--kube-context", context] if context else [])]
        self.chart_dir = chart_dir

    def _run(self, args, timeout=900):
        try:
            done = subprocess.run(self.base + args, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError as exc:
            raise ApplyError("the Helm CLI %s is not on the controller. Next: install the pinned helm_version "
                             "(group_vars/all/versions.yml) on the controller's PATH" % self.binary) from exc
        return done

    def state(self, chart):
        """(<chart>-<version> installed, release status, user-supplied values), each None when not installed."""
        if self.cluster is not None:
            return self._state_from_records(chart)
        listed = self._run(["list", "--namespace", chart["namespace"], "--filter", "^%s$" % chart["release"],
                            "--all", "--output", "json"])
        if listed.returncode != 0:
            raise ApplyError("helm list in %s failed: %s. Next: check the credentials of the kubeconfig"
                             % (chart["namespace"], listed.stderr.strip()[-400:]))
        releases = [r for r in json.loads(listed.stdout or "[]") if r.get("name") == chart["release"]]
        if not releases:
            return None, None, None
        release = releases[0]
        values = self._run(["get", "values", chart["release"], "--namespace", chart["namespace"], "--output", "json"])
        return release.get("chart", ""), release.get("status"), json.loads(values.stdout or "null") or {}

    def _state_from_records(self, chart):
        resource = self.cluster.resource("v1", "Secret")
        records = resource.get(namespace=chart["namespace"],
                               label_selector="owner=helm,name=%s" % chart["release"]).to_dict().get("items", [])
        if not records:
            return None, None, None
        latest = max(records, key=lambda item: int((item["metadata"].get("labels") or {}).get("version", 0)))
        try:
            release = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(latest["data"]["release"]))))
        except (KeyError, ValueError, OSError) as exc:
            where = (chart["release"], chart["namespace"], exc, chart["namespace"], chart["release"])
            raise ApplyError("Helm's record of release %s in %s cannot be read (%s). Next: helm -n %s history %s"
                             % where) from exc
        metadata = (release.get("chart") or {}).get("metadata") or {}
        return ("%s-%s" % (metadata.get("name"), metadata.get("version")), (release.get("info") or {}).get("status"),
                release.get("config") or {})

    def ensure(self, chart, check_mode, wait, timeout):
        """Install or upgrade when needed; returns installed, upgraded, unchanged (or would-be ones in check mode)."""
        installed_chart, status, values = self.state(chart)
        wanted_chart = "%s-%s" % (chart["chart"], chart["version"])
        wanted_values = json.loads(json.dumps(chart["values"]))
        if installed_chart == wanted_chart and status == "deployed" and values == wanted_values:
            return "unchanged"
        action = "installed" if installed_chart is None else "upgraded"
        if check_mode:
            return "would be " + action
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(wanted_values, handle)
            values_file = handle.name
        try:
            try:
                # platform_delivery_chart_dir, else the repository: the environment is never read here.
                source = chart_source(chart["chart"], chart["version"], chart["repo"], chart_dir=self.chart_dir)
            except ChartSourceError as exc:
                raise ApplyError(str(exc)) from exc
            args = ["upgrade", "--install", chart["release"], *source.helm_args,
                    "--namespace", chart["namespace"], "--create-namespace", "--values", values_file, "--reset-values"]
            if wait:
                args += ["--wait", "--timeout", "%ss" % timeout]
            done = self._run(args, timeout=timeout + 60)
        finally:
            os.unlink(values_file)
        if done.returncode != 0:
            raise ApplyError("helm could not %s release %s (%s): %s. Next: helm -n %s status %s, and the events of "
                             "its namespace" % ("install" if action == "installed" else "upgrade", chart["release"],
                                                wanted_chart, done.stderr.strip()[-800:], chart["namespace"],
                                                chart["release"]))
        return action
