"""The platform stage's apply mode against a real kube-apiserver (issue 8).

playbooks/platform.yml runs as an operator runs it (inventories/onprem, platform_delivery=apply, kubeconfig from
K8S_AUTH_KUBECONFIG) against the control plane of conftest.py, with the real Helm CLI built from its Go module
(scripts/build-helm.sh) installing the real pinned chart archives (GPU Operator with node-feature-discovery, KEDA,
kube-prometheus-stack; platform_apply_support.pinned_chart_dir) from platform_delivery_chart_dir, the air-gapped
path, with the roles' values plus NO_NODE_VALUES (kube-prometheus-stack's admission webhook off: its certificate hook
Jobs would never finish without a node; see platform_apply_support.py). What the real API server accepted and
stored is asserted: releases, the charts' CRDs, the operators' Deployments, the ClusterPolicy, the platform's own
custom resources. No pod runs here (no kubelet, no node), so no operator reconciles anything, and the tests assert
exactly that: every pod of the charts and the models stays Pending.

Order matters: the module's tests share one cluster state (first apply, second apply, check mode, then a real
change), so they run in file order.
"""

from __future__ import annotations

import base64
import copy
import json

import pinned_charts
import pytest
from platform_apply_support import (
    CRD_FIXTURES,
    PlatformRunner,
    apply_crds,
    pinned_chart_dir,
    rendered_helm_values,
    rendered_objects,
    run_helm,
)

INVENTORY = "onprem"
K3S_CRDS = sorted((CRD_FIXTURES / "k3s-helm-controller").glob("*.yaml"))
PART_OF = "app.kubernetes.io/part-of=inference-platform"


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("platform-apply")


@pytest.fixture(scope="module")
def runner(control_plane, helm_bin_dir, work_dir, k8s_api) -> PlatformRunner:
    # The onprem inventory runs k3s, whose own helm-controller serves helm.cattle.io (the litellm role writes a
    # HelmChartConfig for k3s's Traefik). This API server is not k3s: install those upstream CRDs as k3s would.
    apply_crds(k8s_api, K3S_CRDS)
    charts = pinned_chart_dir(helm_bin_dir / "helm", work_dir, INVENTORY)
    return PlatformRunner(control_plane.kubeconfig, helm_bin_dir, charts, work_dir, INVENTORY)


@pytest.fixture(scope="module")
def inventory_vars(runner) -> dict:
    """What the onprem inventory's localhost sees (cluster_name, inference_models, namespaces...)."""
    result = runner.run(playbook="../tests/cluster_api/print_vars.yml")
    assert result.returncode == 0, result.explain()
    (debug,) = [r for name, r in result.task_results() if name == "Show the variables the platform uses"]
    return debug["platform_vars"]


@pytest.fixture(scope="module")
def render(runner, work_dir) -> dict:
    """The same inventory rendered to files: the objects and Helm values apply must have produced."""
    render_dir = work_dir / "render"
    result = runner.run(platform_delivery="render", platform_render_dir=str(render_dir))
    assert result.returncode == 0, result.explain()
    return {"objects": rendered_objects(render_dir), "values": rendered_helm_values(render_dir)}


@pytest.fixture(scope="module")
def first_apply(runner, render):
    result = runner.run()
    assert result.returncode == 0, result.explain()
    return result


def _dynamic(k8s_api):
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(k8s_api)


def _get(dyn, obj: dict):
    from kubernetes.dynamic.exceptions import NotFoundError

    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    meta = obj["metadata"]
    try:
        return resource.get(name=meta["name"], namespace=meta.get("namespace")).to_dict()
    except NotFoundError:
        return None


def _key(obj: dict) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _subset_mismatches(wanted, live, path="") -> list[str]:
    """Where live (as stored by the API server, defaults added) differs from what was applied."""
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return [f"{path}: {live!r} is not a mapping"]
        out = []
        for key, value in wanted.items():
            out += _subset_mismatches(value, live.get(key), f"{path}.{key}")
        return out
    if isinstance(wanted, list):
        if not isinstance(live, list) or len(live) != len(wanted):
            return [f"{path}: {len(wanted)} items applied, {live!r:.200} stored"]
        out = []
        for index, (w, v) in enumerate(zip(wanted, live, strict=True)):
            out += _subset_mismatches(w, v, f"{path}[{index}]")
        return out
    if wanted != live and str(wanted) != str(live):
        return [f"{path}: applied {wanted!r}, stored {live!r}"]
    return []


def _normalise_quantities(obj: dict) -> dict:
    """The API server canonicalises resource quantities (1000m -> 1); compare in canonical form."""
    obj = copy.deepcopy(obj)
    from kubernetes.utils import parse_quantity

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("requests", "limits") and isinstance(value, dict):
                    node[key] = {k: str(parse_quantity(v)) for k, v in value.items()}
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(obj)
    return obj


# --- first apply -------------------------------------------------------------------------------------


def test_first_apply_stores_every_rendered_object(first_apply, render, k8s_api):
    dyn = _dynamic(k8s_api)
    objects = render["objects"]
    assert len(objects) >= 20, f"the render produced only {len(objects)} objects"
    missing, mismatched = [], {}
    for obj in objects:
        live = _get(dyn, obj)
        if live is None:
            missing.append(_key(obj))
            continue
        wanted = _normalise_quantities({k: v for k, v in obj.items() if k in ("metadata", "spec", "data", "rules")})
        wanted.get("metadata", {}).pop("annotations", None)  # the API server adds its own; labels are compared
        diff = _subset_mismatches(wanted, _normalise_quantities(live))
        if diff:
            mismatched[_key(obj)] = diff[:5]
    assert not missing, f"rendered but not in the cluster after apply: {missing}"
    assert not mismatched, f"stored differently from what render wrote: {json.dumps(mismatched, indent=1)}"
    # apply and render are the same objects: nothing the platform labels exists beyond the render
    kinds = {(o["apiVersion"], o["kind"]) for o in objects if o["kind"] != "Namespace"}
    rendered_keys = {_key(o) for o in objects}
    # PVCs the StatefulSet controller made from a rendered volumeClaimTemplate (<template>-<statefulset>-<n>)
    claim_prefixes = [
        f"PersistentVolumeClaim {o['metadata']['namespace']}/{t['metadata']['name']}-{o['metadata']['name']}-"
        for o in objects
        if o["kind"] == "StatefulSet"
        for t in o["spec"].get("volumeClaimTemplates", [])
    ]
    extra = []
    for api_version, kind in sorted(kinds):
        resource = dyn.resources.get(api_version=api_version, kind=kind)
        for item in resource.get(label_selector=PART_OF).items:
            key = f"{kind} {item.metadata.namespace or ''}/{item.metadata.name}"
            if key not in rendered_keys and not any(key.startswith(prefix) for prefix in claim_prefixes):
                extra.append(key)
    # The role-generated Secrets (LiteLLM keys, Grafana admin) are apply-only by design: never rendered.
    assert [key for key in extra if not key.startswith("Secret ")] == []


def test_charts_are_helm_releases_with_the_rendered_values(first_apply, render, runner, work_dir, helm_bin_dir):
    releases = json.loads(
        run_helm(helm_bin_dir / "helm", work_dir, ["list", "--all-namespaces", "--output", "json"], runner.kubeconfig)
    )
    by_name = {r["name"]: r for r in releases}
    versions = {chart: version for chart, version, _ in pinned_charts.registry_charts()}
    assert set(by_name) == set(render["values"]), f"releases {sorted(by_name)} vs rendered {sorted(render['values'])}"
    for release, values in render["values"].items():
        entry = by_name[release]
        assert entry["status"] == "deployed", entry
        chart, _, version = entry["chart"].rpartition("-")
        assert version == versions[chart], entry
        archive = runner.chart_dir / f"{chart}-{version}.tgz"
        assert entry["app_version"] == str(pinned_charts.chart_metadata(archive, chart)["appVersion"]), entry
        stored = json.loads(
            run_helm(
                helm_bin_dir / "helm",
                work_dir,
                ["get", "values", release, "--namespace", entry["namespace"], "--output", "json"],
                runner.kubeconfig,
            )
        )
        assert stored == values, f"release {release}: helm stored other values than render wrote"


def test_chart_crds_are_established_and_validate_the_platform_objects(first_apply, k8s_api):
    from kubernetes import client

    ext = client.ApiextensionsV1Api(k8s_api)
    names = {crd.metadata.name: crd for crd in ext.list_custom_resource_definition().items}
    for wanted in ("scaledobjects.keda.sh", "scaledjobs.keda.sh", "prometheusrules.monitoring.coreos.com",
                   "servicemonitors.monitoring.coreos.com", "prometheuses.monitoring.coreos.com",
                   "clusterpolicies.nvidia.com", "nvidiadrivers.nvidia.com", "nodefeaturerules.nfd.k8s-sigs.io"):
        assert wanted in names, f"{wanted} not installed by its chart"
        conditions = {c.type: c.status for c in names[wanted].status.conditions or []}
        assert conditions.get("Established") == "True", (wanted, conditions)


def _release_workloads(helm, work_dir, runner, release: str, namespace: str) -> list[dict]:
    """The Deployments, DaemonSets and StatefulSets of a release, as Helm recorded its manifest."""
    manifest = run_helm(helm, work_dir, ["get", "manifest", release, "--namespace", namespace], runner.kubeconfig)
    return [d for d in pinned_charts.load_yaml_all(manifest) if d and d["kind"] in WORKLOAD_KINDS]


WORKLOAD_KINDS = ("Deployment", "DaemonSet", "StatefulSet")


def test_the_operators_are_stored_and_their_pods_stay_pending(first_apply, render, runner, work_dir, helm_bin_dir,
                                                              k8s_api, inventory_vars):
    """Every workload of the real charts is in the cluster; none has a pod running, since there is no kubelet."""
    from kubernetes import client

    apps, core = client.AppsV1Api(k8s_api), client.CoreV1Api(k8s_api)
    charts = {c.chart: c for c in pinned_charts.rendered_charts(work_dir / "render")}
    stored, stored_in = {}, {}
    for chart in charts.values():
        for workload in _release_workloads(helm_bin_dir / "helm", work_dir, runner, chart.release, chart.namespace):
            read = {"Deployment": apps.read_namespaced_deployment, "DaemonSet": apps.read_namespaced_daemon_set,
                    "StatefulSet": apps.read_namespaced_stateful_set}[workload["kind"]]
            # A subchart may place its objects elsewhere (the node exporter: platform_namespaces.node_monitoring).
            namespace = workload["metadata"].get("namespace", chart.namespace)
            live = read(workload["metadata"]["name"], namespace)
            stored[(chart.chart, workload["kind"], workload["metadata"]["name"])] = live
            stored_in[workload["metadata"]["name"]] = namespace
            ready = getattr(live.status, "ready_replicas", None) or getattr(live.status, "number_ready", None)
            assert not ready, (workload["kind"], workload["metadata"]["name"], live.status)
    names = {(chart, kind, name) for chart, kind, name in stored}
    monitoring = charts["kube-prometheus-stack"].release
    assert {("gpu-operator", "Deployment", "gpu-operator"), ("keda", "Deployment", "keda-operator"),
            ("keda", "Deployment", "keda-operator-metrics-apiserver"),
            ("kube-prometheus-stack", "Deployment", f"{monitoring}-operator"),
            ("kube-prometheus-stack", "Deployment", f"{monitoring}-grafana")} <= names, sorted(names)
    assert any(kind == "DaemonSet" and "node-feature-discovery" in name for _, kind, name in names), sorted(names)
    assert stored_in[f"{monitoring}-prometheus-node-exporter"] == inventory_vars["node_monitoring_namespace"]
    for chart in charts.values():
        pods = core.list_namespaced_pod(chart.namespace).items
        assert all(pod.status.phase == "Pending" and not pod.spec.node_name for pod in pods), [
            (p.metadata.name, p.status.phase, p.spec.node_name) for p in pods
        ]


def test_the_cluster_policy_is_stored_with_the_rendered_values(first_apply, render, k8s_api):
    """The GPU Operator chart's ClusterPolicy, accepted by its CRD; no operator runs to act on it."""
    from kubernetes import client

    policy = client.CustomObjectsApi(k8s_api).get_cluster_custom_object("nvidia.com", "v1", "clusterpolicies",
                                                                         "cluster-policy")
    values = render["values"]["gpu-operator"]
    assert policy["spec"]["driver"]["enabled"] is values["driver"]["enabled"]
    env = {e["name"]: e["value"] for e in policy["spec"]["toolkit"].get("env", [])}
    assert env == {e["name"]: e["value"] for e in values["toolkit"].get("env", [])}
    assert "status" not in policy or not policy["status"].get("state"), "no operator runs here to set a state"


def test_kube_prometheus_stack_runs_without_its_admission_webhook_here(first_apply, k8s_api):
    """NO_NODE_VALUES: the webhook and its hook Jobs are off in this tier (platform_apply_support.py says why)."""
    from kubernetes import client

    hooks = [j.metadata.name for j in client.BatchV1Api(k8s_api).list_job_for_all_namespaces().items
             if "admission" in j.metadata.name]
    webhooks = [w.metadata.name for w in
                client.AdmissionregistrationV1Api(k8s_api).list_validating_webhook_configuration().items]
    assert hooks == [], hooks
    assert not [name for name in webhooks if "admission" in name and "keda" not in name], webhooks


def test_secrets_are_generated_once_and_never_printed(first_apply, inventory_vars, k8s_api):
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    secret = core.read_namespaced_secret(inventory_vars["litellm_secret_name"], inventory_vars["litellm_namespace"])
    assert set(secret.data) >= {"master-key", "salt-key", "postgres-password"}
    for value in secret.data.values():
        plain = base64.b64decode(value).decode()
        assert len(plain) >= 32
        assert plain not in first_apply.stdout and plain not in first_apply.stderr


def test_workloads_are_reconciled_but_no_pod_runs(first_apply, inventory_vars, k8s_api):
    from kubernetes import client

    apps = client.AppsV1Api(k8s_api)
    namespace = inventory_vars["vllm_namespace"]
    deployments = {d.metadata.name: d for d in apps.list_namespaced_deployment(namespace).items}
    for model in inventory_vars["inference_models"]:
        assert any(name.startswith(model["name"]) for name in deployments), (model["name"], sorted(deployments))
    for deployment in deployments.values():
        # Stored with the rendered template; never available: there is no node to run it.
        assert not deployment.status.available_replicas, deployment.status
    pods = client.CoreV1Api(k8s_api).list_namespaced_pod(namespace).items
    assert all(pod.status.phase == "Pending" and not pod.spec.node_name for pod in pods), [
        (p.metadata.name, p.status.phase, p.spec.node_name) for p in pods
    ]


# --- Pod Security: the API server's own admission (issue 18) -----------------------------------------


def _restricted_namespaces(inventory_vars) -> list[str]:
    """The serving and gateway namespaces, and monitoring's (every pod of kube-prometheus-stack but the node
    exporter's, whose namespace is privileged)."""
    return [inventory_vars["vllm_namespace"], inventory_vars["litellm_namespace"],
            inventory_vars["monitoring_namespace"]]


def test_serving_and_gateway_namespaces_enforce_restricted(first_apply, inventory_vars, k8s_api):
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    for namespace in _restricted_namespaces(inventory_vars):
        labels = core.read_namespace(namespace).metadata.labels
        assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", (namespace, labels)


def test_controllers_create_every_pod_under_restricted(first_apply, inventory_vars, k8s_api, control_plane):
    """kube-controller-manager creates the pods of every Deployment, StatefulSet and Job in those namespaces (the
    project's own, and in monitoring the chart's: Prometheus Operator, Grafana, kube-state-metrics), through the API
    server's PodSecurity admission: none is refused (no FailedCreate). They stay Pending: there is no node.
    Prometheus and Alertmanager pods are the operator's to create, and no operator runs here (no kubelet): their
    specs are judged in tests/render/test_upstream_charts.py. The admission webhook's Jobs are off in this tier
    (NO_NODE_VALUES), judged there too."""
    import time

    from kubernetes import client

    assert control_plane.controller_manager is not None, (
        "kube-controller-manager is not running: scripts/build-control-plane.sh builds it unless told not to"
    )
    apps, batch, core = client.AppsV1Api(k8s_api), client.BatchV1Api(k8s_api), client.CoreV1Api(k8s_api)
    deadline = time.monotonic() + 120
    while True:
        missing, refused = [], []
        for namespace in _restricted_namespaces(inventory_vars):
            owners = (
                [
                    ("Deployment", d.metadata.name, d.spec.replicas)
                    for d in apps.list_namespaced_deployment(namespace).items
                ]
                + [
                    ("StatefulSet", s.metadata.name, s.spec.replicas)
                    for s in apps.list_namespaced_stateful_set(namespace).items
                ]
                + [("Job", j.metadata.name, 1) for j in batch.list_namespaced_job(namespace).items]
            )
            pods = [p.metadata.name for p in core.list_namespaced_pod(namespace).items]
            for kind, name, replicas in owners:
                if replicas != 0 and not any(pod.startswith(name + "-") for pod in pods):
                    missing.append(f"{namespace}/{kind}/{name}")
            refused += [
                f"{namespace}/{e.involved_object.kind}/{e.involved_object.name}: {e.message}"
                for e in core.list_namespaced_event(namespace).items
                if e.reason == "FailedCreate" and "PodSecurity" in (e.message or "")
            ]
        assert not refused, "PodSecurity refused pods of the project's own objects:\n" + "\n".join(refused)
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not missing, f"no pod created within 120 s for: {missing}"
    for namespace in _restricted_namespaces(inventory_vars):
        for pod in core.list_namespaced_pod(namespace).items:
            assert pod.status.phase == "Pending" and not pod.spec.node_name, (pod.metadata.name, pod.status.phase)


def test_a_root_pod_is_refused_where_restricted_is_enforced(first_apply, inventory_vars, k8s_api):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(k8s_api)
    for namespace in _restricted_namespaces(inventory_vars):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "runs-as-root"},
            "spec": {
                "containers": [
                    {"name": "root", "image": "example.internal/root:1.0.0", "securityContext": {"runAsUser": 0}}
                ]
            },
        }
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod(namespace, pod, dry_run="All")
        assert refused.value.status == 403, refused.value.body
        message = json.loads(refused.value.body)["message"]
        assert 'violates PodSecurity "restricted:latest"' in message, message
        assert "runAsUser=0" in message, message


STAND_IN_NODE = "stand-in-node-no-kubelet"


def test_the_node_exporter_is_admitted_in_its_privileged_namespace_only(first_apply, inventory_vars, k8s_api,
                                                                         control_plane):
    """The chart's node exporter DaemonSet is in the node_monitoring namespace, which is privileged: the DaemonSet
    controller's pod for a node is admitted there (no FailedCreate), and the same pod is refused in monitoring.

    A DaemonSet makes pods only for nodes, and this control plane has none: a stand-in Node object (no kubelet
    behind it, never Ready) is registered for this test and deleted after it. The pod stays Pending."""
    import time

    from kubernetes import client
    from kubernetes.client.rest import ApiException

    assert control_plane.controller_manager is not None, "kube-controller-manager is not running"
    apps, core = client.AppsV1Api(k8s_api), client.CoreV1Api(k8s_api)
    node_namespace, monitoring = inventory_vars["node_monitoring_namespace"], inventory_vars["monitoring_namespace"]
    labels = core.read_namespace(node_namespace).metadata.labels
    assert labels.get("pod-security.kubernetes.io/enforce") == "privileged", labels
    (exporter,) = apps.list_namespaced_daemon_set(node_namespace).items
    assert "node-exporter" in exporter.metadata.name
    assert not apps.list_namespaced_daemon_set(monitoring).items, "a DaemonSet left in the restricted namespace"
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": STAND_IN_NODE, "labels": {"kubernetes.io/os": "linux",
                                                           "kubernetes.io/hostname": STAND_IN_NODE}}}
    core.create_node(node)
    try:
        deadline, pods = time.monotonic() + 120, []
        while not pods and time.monotonic() < deadline:
            pods = [p for p in core.list_namespaced_pod(node_namespace).items
                    if any(o.name == exporter.metadata.name for o in p.metadata.owner_references or [])]
            time.sleep(0 if pods else 2)
        refused = [e.message for e in core.list_namespaced_event(node_namespace).items if e.reason == "FailedCreate"]
        assert not refused, refused
        assert len(pods) == 1, f"no node exporter pod for {STAND_IN_NODE} within 120 s"
        (pod,) = pods
        assert pod.status.phase == "Pending" and not pod.spec.node_name, (pod.status.phase, pod.spec.node_name)
        assert pod.spec.host_network and pod.spec.host_pid
        # The same pod where restricted is enforced: refused, for what the node exporter is there to read.
        # (Its ServiceAccount exists in its own namespace only: the copy takes monitoring's default one.)
        spec = k8s_api.sanitize_for_serialization(exporter.spec.template)["spec"]
        spec = {key: value for key, value in spec.items() if key not in ("serviceAccountName", "serviceAccount")}
        copy_ = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "node-exporter-copy"}, "spec": spec}
        with pytest.raises(ApiException) as denied:
            core.create_namespaced_pod(monitoring, copy_, dry_run="All")
        assert denied.value.status == 403, denied.value.body
        message = json.loads(denied.value.body)["message"]
        assert 'violates PodSecurity "restricted:latest"' in message and "hostNetwork=true" in message, message
    finally:
        core.delete_node(STAND_IN_NODE)


# --- second apply: idempotence -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_apply(first_apply, runner):
    result = runner.run()
    assert result.returncode == 0, result.explain()
    return result


def test_second_apply_changes_nothing(second_apply):
    assert second_apply.changed_items() == [], second_apply.changed_items()
    assert second_apply.stats.get("changed") == 0, second_apply.stats


def test_second_apply_keeps_the_generated_secrets(first_apply, second_apply, inventory_vars, k8s_api):
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    secret = core.read_namespaced_secret(inventory_vars["litellm_secret_name"], inventory_vars["litellm_namespace"])
    assert secret.metadata.managed_fields[0].time == secret.metadata.creation_timestamp


# --- check mode after a change to inference_models -----------------------------------------------------


def _changed_models(models: list[dict], tenants: list[dict]) -> tuple[list[dict], list[dict], str, str, str]:
    """One model gets more replicas, one is added, the last one is removed (and dropped from the tenants)."""
    models = copy.deepcopy(models)
    assert len(models) >= 2, "the onprem inventory should list at least two models for this test"
    removed = models.pop()
    changed = models[0]
    changed["replicas"] = {"min": changed["replicas"]["min"], "max": changed["replicas"]["max"] + 1}
    added = copy.deepcopy(changed)
    added["name"] = "added-model"
    added["hf_id"] = "org/added-model"
    models.append(added)
    tenants = [
        {**tenant, "models": [m for m in tenant["models"] if m != removed["name"]]} for tenant in copy.deepcopy(tenants)
    ]
    return models, tenants, changed["name"], added["name"], removed["name"]


@pytest.fixture(scope="module")
def check_run(second_apply, runner, inventory_vars):
    models, tenants, changed, added, removed = _changed_models(
        inventory_vars["inference_models"], inventory_vars["inference_tenants"]
    )
    result = runner.run("--check", "--diff", inference_models=models, inference_tenants=tenants)
    assert result.returncode == 0, result.explain()
    return result, changed, added, removed


def test_check_mode_reports_the_difference(check_run):
    result, changed, added, removed = check_run
    items = result.changed_items()
    labels = " | ".join(label for _, label in items)
    assert f"/{added}" in labels, f"the added model's objects are not reported: {items}"
    assert any(f"/{changed}" in label and label.startswith("ScaledObject") for _, label in items), items
    assert any(label.startswith("deleted ") and f"/{removed}" in label for _, label in items), items
    unrelated = [label for _, label in items if not any(f"/{m}" in label for m in (changed, added, removed))]
    # Only the objects of the three models, the gateway's model list (LiteLLM ConfigMap, tenant Job) and the alert
    # rules (one ModelServerDown per model) may move.
    assert all(
        ("litellm" in label or "tenant" in label or label.startswith("PrometheusRule ")) for label in unrelated
    ), unrelated


def test_check_mode_changed_nothing_in_the_cluster(check_run, inventory_vars, k8s_api):
    _, _, added, removed = check_run
    from kubernetes import client

    apps = client.AppsV1Api(k8s_api)
    names = {d.metadata.name for d in apps.list_namespaced_deployment(inventory_vars["vllm_namespace"]).items}
    assert not any(name.startswith(added) for name in names), names
    assert any(name.startswith(removed) for name in names), names


def test_apply_after_the_change_converges_and_prunes(check_run, runner, k8s_api, inventory_vars):
    _, _, added, removed = check_run
    models, tenants, *_ = _changed_models(inventory_vars["inference_models"], inventory_vars["inference_tenants"])
    applied = runner.run(inference_models=models, inference_tenants=tenants)
    assert applied.returncode == 0, applied.explain()
    from kubernetes import client

    names = {
        d.metadata.name
        for d in client.AppsV1Api(k8s_api).list_namespaced_deployment(inventory_vars["vllm_namespace"]).items
    }
    assert any(name.startswith(added) for name in names), names
    assert not any(name.startswith(removed) for name in names), names
    # (A further run would report changed=0 as test_second_apply_changes_nothing shows; ~75 s, not repeated.)


# --- the verify stage's cluster checks read this API server --------------------------------------------


def _register_standin_node(k8s_api, name: str, gpus: str) -> None:
    """STAND-IN for a kubelet (none runs here): register a Node and report its allocatable GPUs through the
    status subresource, the two writes a kubelet with the NVIDIA device plugin makes. Not proof of either."""
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"stand-in": "kubelet"}}}
    core.create_node(node)
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": gpus}
    core.patch_node_status(name, {"status": {"capacity": capacity, "allocatable": capacity}})


def test_verify_cluster_checks_judge_what_the_api_server_reports(
    check_run, runner, inventory_vars, k8s_api, work_dir
):
    gpu_nodes = inventory_vars["gpu_nodes"]
    assert len(gpu_nodes) >= 2, gpu_nodes
    registered, missing = gpu_nodes[0], gpu_nodes[1]
    _register_standin_node(k8s_api, registered, "2")
    report_dir = work_dir / "verify"
    # The GPU-facts play needs the GPU hosts over SSH (none here): run the controller play alone. localhost is
    # added to the inventory explicitly, since --limit never matches Ansible's implicit localhost.
    result = runner.run(
        "-i",
        "localhost,",
        "--limit",
        "localhost",
        playbook="verify.yml",
        ansible_connection="local",
        verify_gpu_facts=False,
        verify_auth_check=False,
        verify_tenant_check=False,
        verify_smoke_gate=False,
        verify_pods_ready_retries=1,
        verify_pods_ready_delay_seconds=1,
        verify_report_dir=str(report_dir),
        verify_platform_namespaces=[inventory_vars["vllm_namespace"]],
    )
    # verify fails: one GPU node never registered, and no pod can be ready without a kubelet.
    assert result.returncode == 2, result.explain()
    (report_path,) = report_dir.glob("*.json")
    report = json.loads(report_path.read_text())
    checks = {check["check"]: check for check in report["checks"]}
    assert report["passed"] is False
    assert checks["gpu_capacity"]["ok"] is False
    assert checks["gpu_capacity"]["detail"] == f"{missing}: no such node", checks["gpu_capacity"]
    assert report["node_gpus"] == {registered: 2}
    assert checks["pods_ready"]["ok"] is False
    assert checks["pods_ready"]["detail"].startswith(inventory_vars["vllm_namespace"] + ": "), checks["pods_ready"]
    model_names = [m["name"] for m in inventory_vars["inference_models"]][:1]
    assert all(name in checks["pods_ready"]["detail"] for name in model_names), checks["pods_ready"]
    failure = " ".join(str(r.get("msg", "")) for _, r in result.task_results() if r.get("failed"))
    assert "gpu_capacity" in failure and "pods_ready" in failure, failure




# --- the gateway of the local lab: no database, NodePort, no Ingress (issue 17) ------------------------


def test_a_gateway_without_database_on_a_node_port_is_applied_and_pruned_to_it(check_run, runner, inventory_vars,
                                                                                k8s_api):
    """Switching the applied gateway to litellm_database none + NodePort: the API server stores the NodePort Service
    (its allocator accepts the port), the PostgreSQL, tenant and Ingress objects are pruned, and the controllers
    create the new proxy pods under restricted (no FailedCreate). The pods stay Pending: no node runs them here."""
    import time

    from kubernetes import client

    # The models of the previous test's change (so only the gateway changes), without tenants.
    models, *_ = _changed_models(inventory_vars["inference_models"], inventory_vars["inference_tenants"])
    applied = runner.run(
        inference_models=models,
        inference_tenants=[],
        litellm_database="none",
        litellm_service_type="NodePort",
        litellm_node_port=30400,
        litellm_ingress_enabled=False,
    )
    assert applied.returncode == 0, applied.explain()
    namespace = inventory_vars["litellm_namespace"]
    apps, batch, core, net = (client.AppsV1Api(k8s_api), client.BatchV1Api(k8s_api), client.CoreV1Api(k8s_api),
                              client.NetworkingV1Api(k8s_api))
    service = core.read_namespaced_service("litellm", namespace)
    assert service.spec.type == "NodePort" and [(p.port, p.node_port) for p in service.spec.ports] == [(4000, 30400)]
    assert [s.metadata.name for s in apps.list_namespaced_stateful_set(namespace).items] == []
    services = {s.metadata.name: s.spec.type for s in core.list_namespaced_service(namespace).items}
    # No PostgreSQL Service; the metrics port has a Service of its own, never a NodePort (roles/litellm README).
    assert services == {"litellm": "NodePort", "litellm-metrics": "ClusterIP"}
    assert [j.metadata.name for j in batch.list_namespaced_job(namespace).items] == []
    assert "litellm-tenants" not in {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}
    assert net.list_namespaced_ingress(namespace).items == []
    assert {p.metadata.name for p in net.list_namespaced_network_policy(namespace).items} == {
        "default-deny", "allow-dns", "litellm"}
    deployment = apps.read_namespaced_deployment("litellm", namespace)
    env = {e.name for e in deployment.spec.template.spec.containers[0].env}
    assert "LITELLM_MASTER_KEY" in env and not {"DATABASE_URL", "POSTGRES_PASSWORD", "LITELLM_SALT_KEY"} & env

    deadline = time.monotonic() + 120
    while True:
        pods = [p for p in core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=litellm").items
                if not {"DATABASE_URL"} & {e.name for e in p.spec.containers[0].env or []}]
        refused = [e.message for e in core.list_namespaced_event(namespace).items
                   if e.reason == "FailedCreate" and "PodSecurity" in (e.message or "")]
        assert not refused, refused
        if pods or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert pods, "no DB-less proxy pod created within 120 s"
