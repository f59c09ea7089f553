"""The request path's pods, hardened (issue 18), on every example inventory's render.

Every container of the project's own workloads: non-root, no privilege escalation, all capabilities
dropped, a read-only root filesystem with its writable paths as size-limited volumes, ephemeral-storage
requests and limits; probes that mean different things; the StatefulSet's governing Service headless;
the serving and gateway namespaces enforce restricted. The API server's own admission judges the same
objects in tests/cluster_api (test_platform_apply.py), kube-score in test_kube_score.py.
"""

from __future__ import annotations

import pytest
import yaml
from render_support import DBLESS, INVENTORIES

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


def test_every_container_is_read_only_non_root_and_bounded(render):
    checked = 0
    for name, spec in _pod_specs(render):
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True and pod.get("runAsUser", 0) > 0, f"{name}: may run as root"
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: no seccomp profile"
        empty_dirs = {v["name"]: v["emptyDir"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name} ({container['name']})"
            security = container.get("securityContext", {})
            assert security.get("readOnlyRootFilesystem") is True, f"{where}: writable root filesystem"
            assert security.get("allowPrivilegeEscalation") is False, f"{where}: may escalate"
            assert security.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: keeps capabilities"
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
    vllm = [
        spec
        for name, spec in _pod_specs(render)
        if name.startswith("Deployment/") and any(c["name"] == "vllm" for c in spec["containers"])
    ]
    assert vllm
    for spec in vllm:
        (server,) = [c for c in spec["containers"] if c["name"] == "vllm"]
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
