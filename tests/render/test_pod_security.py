"""The request path's pods, hardened (issue 18), on every example inventory's render.

Every container of the project's own workloads: non-root, no privilege escalation, all capabilities
dropped, a read-only root filesystem with its writable paths as size-limited volumes, ephemeral-storage
requests and limits; probes that mean different things; the StatefulSet's governing Service headless;
the serving and gateway namespaces enforce restricted. The API server's own admission judges the same
objects in tests/cluster_api (test_platform_apply.py), kube-score in test_kube_score.py.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from render_support import DBLESS, INVENTORIES, restricted_problems

WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet")


@pytest.fixture(params=(*INVENTORIES, DBLESS))
def render(request, renders):
    result = request.getfixturevalue("dbless_gateway") if request.param == DBLESS else renders[request.param]
    assert result.returncode == 0, f"render of {request.param} failed:\n{result.stdout[-4000:]}"
    return result


def _pod_specs(render):
    for obj in render.objects:
        if obj["kind"] in WORKLOADS:
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]


def _template_annotations(render, name):
    kind, _, short = name.partition("/")
    for obj in render.objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == short:
            return obj["spec"]["template"].get("metadata", {}).get("annotations")
    return None


def test_every_container_is_read_only_non_root_and_bounded(render):
    """Restricted (render_support.restricted_problems, the rule set the charts' pods are judged by too), and beyond
    it: an explicit non-root UID on the pod, read-only root filesystems, bounded scratch space."""
    checked = 0
    for name, spec in _pod_specs(render):
        assert restricted_problems(spec, _template_annotations(render, name)) == [], f"{name}: refused by restricted"
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True and pod.get("runAsUser", 0) > 0, f"{name}: may run as root"
        empty_dirs = {v["name"]: v["emptyDir"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name} ({container['name']})"
            security = container.get("securityContext", {})
            assert security.get("readOnlyRootFilesystem") is True, f"{where}: writable root filesystem"
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert "ephemeral-storage" in resources.get(bound, {}), f"{where}: no ephemeral-storage {bound}"
            for mount in container.get("volumeMounts", []):
                if mount["name"] in empty_dirs:
                    assert empty_dirs[mount["name"]].get("sizeLimit"), f"{where}: emptyDir {mount['name']} unbounded"
            checked += 1
    assert checked >= 5


def test_probes_mean_different_things(render):
    for name, spec in _pod_specs(render):
        for container in spec["containers"]:
            ready, live = container.get("readinessProbe"), container.get("livenessProbe")
            if ready and live:
                handler = {k: v for k, v in ready.items() if k in ("httpGet", "exec", "tcpSocket", "grpc")}
                other = {k: v for k, v in live.items() if k in ("httpGet", "exec", "tcpSocket", "grpc")}
                assert handler != other, f"{name} ({container['name']}): readiness and liveness are the same check"
    # The model servers of every engine: ready = the model answers a models request, live = the process answers.
    servers = [
        container
        for name, spec in _pod_specs(render)
        if name.startswith("Deployment/")
        for container in spec["containers"]
        if container["name"] in ("vllm", "llamacpp")
    ]
    assert servers
    for server in servers:
        assert server["readinessProbe"]["httpGet"]["path"] == "/v1/models"
        assert server["livenessProbe"]["httpGet"]["path"] == "/health"


def test_statefulsets_have_a_headless_governing_service(render):
    services = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o for o in render.objects if o["kind"] == "Service"
    }
    sets = [o for o in render.objects if o["kind"] == "StatefulSet"]
    config = next(o for o in render.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "litellm-config")
    # The gateway's PostgreSQL is the platform's one StatefulSet; a gateway without database (lab) has none.
    assert bool(sets) == ("database_url" in yaml.safe_load(config["data"]["config.yaml"])["general_settings"])
    for sts in sets:
        service = services.get((sts["metadata"]["namespace"], sts["spec"]["serviceName"]))
        assert service, f"StatefulSet {sts['metadata']['name']}: no Service {sts['spec']['serviceName']}"
        assert service["spec"].get("clusterIP") == "None", f"Service {sts['spec']['serviceName']} is not headless"


def test_serving_and_gateway_namespaces_enforce_restricted(render):
    workload_namespaces = {o["metadata"]["namespace"] for o in render.objects if o["kind"] in WORKLOADS}
    namespaces = {o["metadata"]["name"]: o for o in render.objects if o["kind"] == "Namespace"}
    for namespace in workload_namespaces:
        labels = namespaces[namespace]["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", (namespace, labels)


RESTRICTED_POD = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "app", "image": "example.internal/app:1.0.0",
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
    "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
}


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        (lambda p: p.update(hostNetwork=True), "hostNetwork: true"),
        (lambda p: p.update(hostPID=True), "hostPID: true"),
        (lambda p: p["volumes"].append({"name": "root", "hostPath": {"path": "/"}}), "volume root: hostPath"),
        (lambda p: p["securityContext"].update(runAsUser=0), "pod runAsUser: 0"),
        (lambda p: p["securityContext"].pop("runAsNonRoot"), "container app: runAsNonRoot is not true"),
        (lambda p: p["securityContext"].pop("seccompProfile"), "container app: seccompProfile is None"),
        (lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
         "container app: allowPrivilegeEscalation is not false"),
        (lambda p: p["containers"][0]["securityContext"].update(capabilities={"drop": ["NET_RAW"]}),
         "container app: capabilities do not drop ALL"),
        (lambda p: p["containers"][0]["securityContext"].update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
         "container app: adds capabilities ['SYS_ADMIN']"),
        (lambda p: p["containers"][0]["securityContext"].update(privileged=True), "container app: privileged"),
        (lambda p: p["containers"][0].update(ports=[{"containerPort": 9100, "hostPort": 9100}]),
         "container app: hostPort 9100"),
        (lambda p: p.setdefault("initContainers", []).append({"name": "chown", "securityContext": {"runAsUser": 0}}),
         "container chown: runAsUser: 0"),
    ],
)
def test_the_restricted_rules_refuse_what_the_profile_refuses(change, refused):
    """The rule set itself: a pod it admits, and each change the restricted profile refuses, refused by it."""
    assert restricted_problems(RESTRICTED_POD) == []
    pod = copy.deepcopy(RESTRICTED_POD)
    change(pod)
    problems = restricted_problems(pod)
    assert any(problem.startswith(refused) for problem in problems), problems
