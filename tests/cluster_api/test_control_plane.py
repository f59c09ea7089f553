"""A real kube-apiserver (built from the k8s.io/kubernetes Go module) answers, validates and reconciles.

Everything asserted here is done by the real API server, etcd and kube-controller-manager started by
the ``control_plane`` fixture: authentication, RBAC, defaulting, validation, CRD schema and CEL
validation, pruning, owner references and garbage collection. No kubelet runs: pods are only ever
accepted and left Pending, and the tests assert exactly that.
"""

from __future__ import annotations

import copy
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from control_plane import REPO_ROOT, pinned_kubernetes_version, wait_for

pytestmark = pytest.mark.integration

VENV_BIN = Path(sys.executable).parent
KEDA_GROUP, KEDA_VERSION, KEDA_PLURAL = "keda.sh", "v1alpha1", "scaledobjects"
# An image that cannot be pulled from anywhere: nothing here ever pulls or runs it.
NEVER_PULLED = "registry.invalid/inference-platform/never-pulled:0"


def _client():
    from kubernetes import client

    return client


def _api_error(call) -> tuple[int, dict]:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as info:
        call()
    return info.value.status, json.loads(info.value.body)


def deployment_manifest(name: str, labels: dict[str, str] | None = None, replicas: int = 1) -> dict:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "server", "image": NEVER_PULLED, "ports": [{"containerPort": 8000}]}]},
            },
        },
    }


def scaled_object(name: str, target: str, **spec) -> dict:
    body = {
        "apiVersion": f"{KEDA_GROUP}/{KEDA_VERSION}",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"name": target},
            "minReplicaCount": 0,
            "maxReplicaCount": 2,
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": "http://prometheus.monitoring.svc:9090",
                        "query": 'sum(vllm:num_requests_waiting{model_name="tiny"})',
                        "threshold": "5",
                    },
                }
            ],
        },
    }
    body["spec"].update(spec)
    return body


# --- the API server itself ------------------------------------------------------------------------


def test_api_server_is_the_pinned_release_and_ready(control_plane, k8s_api, control_plane_stamp):
    client = _client()
    info = client.VersionApi(k8s_api).get_code()
    assert info.git_version == control_plane.version
    if os.environ.get("INFERENCE_PLATFORM_KUBERNETES_VERSION") is None:
        assert info.git_version == pinned_kubernetes_version()
    assert info.git_version == control_plane_stamp["kubernetes_version"]

    status, body = control_plane.get("/readyz?verbose")
    assert status == 200, body
    assert "[+]etcd ok" in body
    assert "[+]poststarthook/rbac/bootstrap-roles ok" in body
    assert "[+]poststarthook/apiservice-registration-controller ok" in body

    # The bootstrap RBAC policy the API server itself wrote into etcd.
    roles = {r.metadata.name for r in client.RbacAuthorizationV1Api(k8s_api).list_cluster_role().items}
    assert {"cluster-admin", "admin", "edit", "view", "system:kube-controller-manager"} <= roles

    # The aggregation layer's front-proxy trust, published for extension API servers (KEDA's metrics server).
    auth = client.CoreV1Api(k8s_api).read_namespaced_config_map("extension-apiserver-authentication", "kube-system")
    assert "BEGIN CERTIFICATE" in auth.data["requestheader-client-ca-file"]
    assert json.loads(auth.data["requestheader-allowed-names"]) == ["front-proxy-client"]


def test_unauthenticated_and_unauthorized_requests_are_refused(control_plane, k8s_api):
    # No client certificate: --anonymous-auth=false gives 401.
    ctx = ssl.create_default_context(cafile=str(control_plane.pki.ca_cert))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(control_plane.server + "/api/v1/namespaces", context=ctx, timeout=5)  # noqa: S310
    assert info.value.code == 401

    # Authenticated but not authorized: the admin impersonates a user RBAC grants nothing.
    client = _client()
    impersonating = client.ApiClient(k8s_api.configuration)
    impersonating.set_default_header("Impersonate-User", "nobody@example.invalid")
    try:
        status, body = _api_error(lambda: client.CoreV1Api(impersonating).list_namespace())
    finally:
        impersonating.close()
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert 'User "nobody@example.invalid" cannot list resource "namespaces"' in body["message"]


def test_namespace_and_deployment_are_stored_with_server_side_defaults(k8s_api, namespace):
    client = _client()
    core, apps = client.CoreV1Api(k8s_api), client.AppsV1Api(k8s_api)
    assert core.read_namespace(namespace).status.phase == "Active"

    apps.create_namespaced_deployment(namespace, deployment_manifest("tiny-server"))
    dep = apps.read_namespaced_deployment("tiny-server", namespace)
    assert dep.metadata.uid and dep.metadata.generation == 1
    # Defaults filled in by the API server, not sent by the test.
    assert dep.spec.strategy.type == "RollingUpdate"
    assert dep.spec.revision_history_limit == 10
    assert dep.spec.progress_deadline_seconds == 600
    container = dep.spec.template.spec.containers[0]
    assert container.termination_message_path == "/dev/termination-log"
    assert container.image_pull_policy == "IfNotPresent"
    assert container.ports[0].protocol == "TCP"

    names = [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items]
    assert names == ["tiny-server"]


def test_invalid_deployment_is_rejected_by_validation(k8s_api, namespace):
    client = _client()
    apps = client.AppsV1Api(k8s_api)
    bad = deployment_manifest("mismatch", labels={"app": "something-else"})
    status, body = _api_error(lambda: apps.create_namespaced_deployment(namespace, bad))
    assert status == 422
    assert body["reason"] == "Invalid"
    assert "`selector` does not match template `labels`" in body["message"]
    assert apps.list_namespaced_deployment(namespace).items == []


# --- kube-controller-manager ----------------------------------------------------------------------


@pytest.fixture
def controller_manager(control_plane):
    if control_plane.controller_manager is None:
        pytest.skip(
            "kube-controller-manager was not built (scripts/build-control-plane.sh --no-controller-manager): "
            "no controllers run"
        )
    return control_plane.controller_manager


def test_controllers_reconcile_but_no_pod_ever_runs(k8s_api, namespace, controller_manager):
    client = _client()
    core, apps = client.CoreV1Api(k8s_api), client.AppsV1Api(k8s_api)

    # serviceaccount controller: every namespace gets its `default` ServiceAccount.
    wait_for("ServiceAccount default", lambda: core.list_namespaced_service_account(namespace).items)

    apps.create_namespaced_deployment(namespace, deployment_manifest("tiny-server", replicas=2))

    # deployment controller: a ReplicaSet owned by the Deployment.
    rs_list = wait_for("ReplicaSet of tiny-server", lambda: apps.list_namespaced_replica_set(namespace).items)
    owner = rs_list[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("Deployment", "tiny-server", True)

    # replicaset controller: the pods are created (and admitted: ServiceAccount admission mounted a token)...
    pods = wait_for(
        "2 pods of tiny-server",
        lambda: (items := core.list_namespaced_pod(namespace).items) and len(items) == 2 and items,
    )
    for pod in pods:
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"
        assert pod.spec.service_account_name == "default"
        assert any(v.projected for v in pod.spec.volumes), "ServiceAccount admission added the token volume"
        # ...and never run: there is no scheduler, no kubelet and no node.
        assert pod.spec.node_name is None
        assert pod.status.phase == "Pending"
    assert core.list_node().items == []

    dep = wait_for(
        "Deployment status observed",
        lambda: (d := apps.read_namespaced_deployment_status("tiny-server", namespace)).status.replicas == 2 and d,
    )
    assert not dep.status.available_replicas
    assert dep.status.unavailable_replicas == 2

    # garbage collector: deleting the Deployment removes its ReplicaSet and pods.
    apps.delete_namespaced_deployment("tiny-server", namespace, propagation_policy="Background")
    wait_for(
        "ReplicaSet and pods garbage-collected",
        lambda: not apps.list_namespaced_replica_set(namespace).items and not core.list_namespaced_pod(namespace).items,
    )

    # namespace controller: a deleted namespace is emptied and then really disappears.
    from kubernetes.client.exceptions import ApiException

    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="leftover")))
    core.delete_namespace(namespace)

    def namespace_gone() -> bool:
        try:
            core.read_namespace(namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(f"namespace {namespace} deleted", namespace_gone, timeout=60)


# --- a CRD from the platform: KEDA's ScaledObject ---------------------------------------------------


def test_keda_crd_accepts_a_valid_scaledobject_and_prunes_unknown_fields(k8s_api, namespace, keda_crd):
    client = _client()
    custom = client.CustomObjectsApi(k8s_api)
    body = scaled_object("tiny-server", "tiny-server")
    body["spec"]["notAKedaField"] = "dropped by structural pruning"
    custom.create_namespaced_custom_object(KEDA_GROUP, KEDA_VERSION, namespace, KEDA_PLURAL, body)

    stored = custom.get_namespaced_custom_object(KEDA_GROUP, KEDA_VERSION, namespace, KEDA_PLURAL, "tiny-server")
    assert stored["spec"]["triggers"] == body["spec"]["triggers"]
    assert stored["spec"]["maxReplicaCount"] == 2
    assert "notAKedaField" not in stored["spec"]
    assert stored["metadata"]["uid"]

    # Strict field validation (what kubectl sends) refuses the unknown field outright.
    status, err = _api_error(
        lambda: custom.create_namespaced_custom_object(
            KEDA_GROUP,
            KEDA_VERSION,
            namespace,
            KEDA_PLURAL,
            {**body, "metadata": {"name": "strict"}},
            field_validation="Strict",
        )
    )
    assert status == 400
    assert 'unknown field "spec.notAKedaField"' in err["message"]


def _without(spec_key: str):
    def mutate(body: dict) -> dict:
        del body["spec"][spec_key]
        return body

    return mutate


def _with(**spec):
    def mutate(body: dict) -> dict:
        body["spec"].update(spec)
        return body

    return mutate


def _threshold_as_number(body: dict) -> dict:
    body["spec"]["triggers"][0]["metadata"]["threshold"] = 5
    return body


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(_without("triggers"), "spec.triggers: Required value", id="no-triggers"),
        pytest.param(_without("scaleTargetRef"), "spec.scaleTargetRef: Required value", id="no-target"),
        pytest.param(_with(triggers=[]), "spec.triggers in body should have at least 1 items", id="empty-triggers"),
        pytest.param(
            _with(minReplicaCount=-1),
            "spec.minReplicaCount in body should be greater than or equal to 0",
            id="negative",
        ),
        pytest.param(
            _threshold_as_number, "spec.triggers[0].metadata.threshold in body must be of type string", id="type"
        ),
        # The CRD's CEL rule (x-kubernetes-validations), evaluated by the API server.
        pytest.param(
            _with(minReplicaCount=5, maxReplicaCount=2),
            "minReplicaCount must be less than or equal to maxReplicaCount",
            id="cel-min-above-max",
        ),
    ],
)
def test_keda_crd_schema_rejects_invalid_scaledobjects(k8s_api, namespace, keda_crd, mutate, message):
    client = _client()
    custom = client.CustomObjectsApi(k8s_api)
    body = mutate(copy.deepcopy(scaled_object("broken", "tiny-server")))
    status, err = _api_error(
        lambda: custom.create_namespaced_custom_object(KEDA_GROUP, KEDA_VERSION, namespace, KEDA_PLURAL, body)
    )
    assert status == 422, err
    assert err["reason"] == "Invalid"
    assert message in err["message"]
    listed = custom.list_namespaced_custom_object(KEDA_GROUP, KEDA_VERSION, namespace, KEDA_PLURAL)
    assert listed["items"] == []


# --- Ansible's kubernetes.core against the same API server ---------------------------------------


def _ansible_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("K8S_AUTH_KUBECONFIG", None)
    return env


def _host_results(completed: subprocess.CompletedProcess) -> list[dict]:
    assert completed.returncode == 0, (
        f"rc={completed.returncode}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    )
    out = json.loads(completed.stdout)
    return [task["hosts"]["localhost"] for play in out["plays"] for task in play["tasks"]]


def test_ansible_k8s_info_reads_namespaces(control_plane, namespace, tmp_path):
    # The ad hoc command of the brief, run from the project root with the project's ansible.cfg.
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible"),
            "localhost",
            "-m",
            "kubernetes.core.k8s_info",
            "-a",
            f"kind=Namespace kubeconfig={control_plane.kubeconfig}",
        ],
        cwd=REPO_ROOT,
        env=_ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    (result,) = _host_results(completed)
    assert result.get("failed") is not True, result
    names = {r["metadata"]["name"] for r in result["resources"]}
    assert {"default", "kube-system", "kube-public", namespace} <= names


def test_ansible_k8s_applies_idempotently_and_reads_a_scaledobject(control_plane, namespace, keda_crd, tmp_path):
    so = scaled_object("tiny-server", "tiny-server")
    so["metadata"]["namespace"] = namespace
    dep = deployment_manifest("tiny-server")
    dep["metadata"]["namespace"] = namespace
    apply = {"kubeconfig": str(control_plane.kubeconfig), "state": "present"}
    playbook = [
        {
            "name": "kubernetes.core against the real API server",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {"name": "apply (create)", "kubernetes.core.k8s": {**apply, "definition": [dep, so]}},
                {"name": "apply again (no change)", "kubernetes.core.k8s": {**apply, "definition": [dep, so]}},
                {
                    "name": "read the ScaledObject",
                    "kubernetes.core.k8s_info": {
                        "kubeconfig": str(control_plane.kubeconfig),
                        "api_version": f"{KEDA_GROUP}/{KEDA_VERSION}",
                        "kind": "ScaledObject",
                        "namespace": namespace,
                    },
                },
                {
                    "name": "an invalid ScaledObject is refused",
                    "kubernetes.core.k8s": {
                        **apply,
                        "definition": {**so, "spec": {**so["spec"], "minReplicaCount": 5, "maxReplicaCount": 2}},
                    },
                    "ignore_errors": True,
                },
            ],
        }
    ]
    path = tmp_path / "playbook.yml"
    path.write_text(yaml.safe_dump(playbook, sort_keys=False))
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(path),
        ],
        cwd=REPO_ROOT,
        env=_ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    create, again, info, invalid = _host_results(completed)
    assert create["changed"] is True, create
    assert again["changed"] is False, again
    assert [r["metadata"]["name"] for r in info["resources"]] == ["tiny-server"]
    assert info["resources"][0]["spec"]["triggers"][0]["type"] == "prometheus"
    assert invalid.get("failed") is True
    assert "minReplicaCount must be less than or equal to maxReplicaCount" in json.dumps(invalid)
