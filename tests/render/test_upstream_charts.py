"""The pinned upstream charts, rendered by `helm template` with the values the roles render (issue 15).

For every example inventory (and the lab inventory once more under nvidia_driver_strategy: host, which no example
uses) each chart release the render wrote (<component>/helm/<release>.values.yaml) is rendered by the project's own
Helm (scripts/build-helm.sh) from the pinned archive (tests/support/pinned_charts.py: platform_delivery_chart_dir,
else INFERENCE_PLATFORM_CHART_DIR, else `helm pull` into ~/.cache/inference-platform/charts; none of them is a
failure, never a skip), with --kube-version the inventory's pinned Kubernetes; Helm applies each chart's own
values.schema.json (node-feature-discovery has one). Every object it prints is validated like the platform's own
objects (test_render.py): core kinds against the Kubernetes schema, custom resources against their CRD (the chart's
own CRDs, then tests/fixtures/reference/crds). The platform's policies judge upstream objects only where the
project's values decide: images pinned, and resources where the values set them.

What `helm template` cannot prove: that a controller acts on its objects (no operator runs here; tests/cluster_api
installs the same archives into a real API server, where still no pod runs), and that the chart reads a values key at
all (a key it ignores renders silently: test_a_key_the_chart_ignores_renders_silently_and_the_key_check_catches_it).
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import kubernetes_validate
import pinned_charts
import pytest
import yaml
from pinned_charts import Chart, ChartsUnavailable
from render_support import (
    CRDS,
    INVENTORIES,
    REFERENCE,
    ROOT,
    all_images,
    clean,
    crd_schema,
    restricted_problems,
    served_schema,
    unknown_keys,
)

HOST_DRIVER = "lab, nvidia_driver_strategy: host"
PINNED_IMAGE = re.compile(r":[\w][\w.-]*$|@sha256:[0-9a-f]{64}$")


@dataclass
class ChartRender:
    chart: Chart
    archive: Path
    values: dict
    result: subprocess.CompletedProcess
    objects: list[dict]

    def of(self, kind: str, name: str | None = None) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


@pytest.fixture(scope="session")
def helm() -> Path:
    try:
        return pinned_charts.helm_binary()
    except ChartsUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def settings() -> dict[str, dict]:
    """Per example inventory: chart_dir, nvidia_driver_strategy, cluster_distribution, kube_version."""
    with ThreadPoolExecutor(len(INVENTORIES)) as pool:
        found = dict(zip(INVENTORIES, pool.map(pinned_charts.inventory_settings, INVENTORIES), strict=True))
    found[HOST_DRIVER] = {**found["lab"], "nvidia_driver_strategy": "host"}
    return found


@pytest.fixture(scope="session")
def upstream(renders, host_driver, settings, helm, tmp_path_factory) -> dict[str, dict[str, ChartRender]]:
    """inventory -> chart name -> ChartRender (HOST_DRIVER: the GPU Operator chart only)."""
    cases = {**renders, HOST_DRIVER: host_driver}
    jobs = []
    for name, render in cases.items():
        assert render.returncode == 0, f"render of {name} failed:\n{render.stdout[-3000:]}\n{render.stderr[-2000:]}"
        charts = pinned_charts.rendered_charts(render.directory)
        if name == HOST_DRIVER:
            charts = {c: path for c, path in charts.items() if c.chart == "gpu-operator"}
        try:
            found = pinned_charts.archives([(c.chart, c.version, c.repo) for c in charts], settings[name]["chart_dir"],
                                           helm)
        except ChartsUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        jobs += [(name, chart, found[chart.chart], values) for chart, values in charts.items()]
    home = tmp_path_factory.mktemp("helm-home")

    def run(job):
        name, chart, archive, values = job
        result, objects = pinned_charts.template(helm, chart, archive, values, settings[name]["kube_version"], home)
        return name, ChartRender(chart, archive, yaml.safe_load(values.read_text()), result, objects)

    out: dict[str, dict[str, ChartRender]] = {name: {} for name in cases}
    with ThreadPoolExecutor(2) as pool:
        for name, chart_render in pool.map(run, jobs):
            out[name][chart_render.chart.chart] = chart_render
    return out


@pytest.fixture(params=INVENTORIES)
def inventory(request) -> str:
    return request.param


@pytest.fixture
def charts(inventory, upstream) -> dict[str, ChartRender]:
    for name, chart_render in upstream[inventory].items():
        assert chart_render.result.returncode == 0, (
            f"{inventory}: helm template of {name} {chart_render.chart.version} with the rendered values failed:\n"
            f"{chart_render.result.stderr[-3000:]}"
        )
    return upstream[inventory]


def only(items: list[dict], what: str) -> dict:
    assert len(items) == 1, f"{what}: {len(items)} objects, one expected"
    return items[0]


# --- every chart renders, and its output is valid ------------------------------------------------------


def test_every_registry_chart_renders_with_the_roles_values(charts):
    assert {(c.chart.chart, c.chart.version) for c in charts.values()} == {
        (chart, version) for chart, version, _ in pinned_charts.registry_charts()
    }
    for name, chart_render in charts.items():
        meta = pinned_charts.chart_metadata(chart_render.archive, name)
        assert (meta["name"], str(meta["version"])) == (name, chart_render.chart.version), chart_render.archive
        assert "inference.platform/stand-in" not in (meta.get("annotations") or {}), chart_render.archive
        assert len(chart_render.objects) > 10, f"{name}: only {len(chart_render.objects)} objects"


def object_problems(objects: list[dict], kubernetes_version: str) -> list[str]:
    """What the Kubernetes schema (core kinds) and the CRDs (custom resources) reject in `objects`: the checks the
    platform's own objects pass (test_render.py). A kind neither knows is a problem too."""
    schemas = {}
    for crd in (o for o in objects if o["kind"] == "CustomResourceDefinition"):
        for version in crd["spec"]["versions"]:
            api_version = f"{crd['spec']['group']}/{version['name']}"
            schemas[(api_version, crd["spec"]["names"]["kind"])] = served_schema(crd, api_version)
    for kind, (_, api_version) in CRDS.items():
        schemas.setdefault((api_version, kind), crd_schema(kind))
    problems, validators = [], {}
    for obj in objects:
        where = f"{obj['__file__']}: {obj['kind']}/{obj['metadata']['name']}"
        key = (obj["apiVersion"], obj["kind"])
        schema = schemas.get(key)
        try:
            if schema is not None:
                if key not in validators:  # what jsonschema.validate does, the schema checked once per kind
                    validators[key] = jsonschema.validators.validator_for(schema)
                    validators[key].check_schema(schema)
                error = jsonschema.exceptions.best_match(validators[key](schema).iter_errors(clean(obj)))
                if error is not None:
                    raise error
            else:
                kubernetes_validate.validate(clean(obj), kubernetes_version, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as error:
            problems.append(f"{where}: {error.message} at {list(error.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: {obj['apiVersion']} {obj['kind']} is neither core nor a CRD the chart ships")
    return problems


def test_chart_objects_validate_against_kubernetes_and_their_crds(charts, kubernetes_version):
    for name, chart_render in charts.items():
        assert object_problems(chart_render.objects, kubernetes_version) == [], name


def test_object_check_catches_mistakes(upstream, kubernetes_version):
    keda = upstream["lab"]["keda"].objects
    deployment = json.loads(json.dumps(only([o for o in keda if o["kind"] == "Deployment"][:1], "a Deployment")))
    deployment["spec"]["replicas"] = "two"
    policy = json.loads(json.dumps(only(upstream["lab"]["gpu-operator"].of("ClusterPolicy"), "ClusterPolicy")))
    policy["spec"]["driver"]["enabled"] = "yes"
    crds = [o for o in upstream["lab"]["gpu-operator"].objects if o["kind"] == "CustomResourceDefinition"]
    problems = object_problems([deployment, policy, *crds], kubernetes_version)
    assert [p.split(": ")[2] for p in problems] == [f"Deployment/{deployment['metadata']['name']}",
                                                    "ClusterPolicy/cluster-policy"], problems


# --- the platform's policies, where its values decide ----------------------------------------------------


def test_chart_images_are_pinned(charts):
    for name, chart_render in charts.items():
        # (The ClusterPolicy's `image` fields are image names; its operands are checked below.)
        images = all_images([clean(o) for o in chart_render.objects if o["kind"] != "ClusterPolicy"])
        assert images, name
        for image in images:
            assert PINNED_IMAGE.search(image) and not image.endswith(":latest"), f"{name}: unpinned image {image}"
    # The GPU Operator's operands are images the ClusterPolicy names as repository/image/version (the ones switched
    # on; vgpuManager, off, has no public image to pin).
    policy = only(charts["gpu-operator"].of("ClusterPolicy"), "ClusterPolicy")
    for section, spec in policy["spec"].items():
        if isinstance(spec, dict) and "image" in spec and spec.get("enabled") is not False:
            assert spec.get("version") and spec["version"] != "latest", f"ClusterPolicy {section}: {spec}"


def resources_set(values, path="") -> list[tuple[str, dict]]:
    """Every container `resources` map the values set (with requests or limits), with its path. A storageSpec's
    is a volume claim's, not a container's (test_prometheus_selects_the_platforms_monitors_and_rules checks it)."""
    found = []
    if isinstance(values, dict):
        for key, value in values.items():
            child = f"{path}.{key}" if path else key
            if key == "storageSpec":
                continue
            if key == "resources" and isinstance(value, dict) and ({"requests", "limits"} & set(value)):
                found.append((child, value))
            else:
                found.extend(resources_set(value, child))
    return found


def resources_missing(chart_render: ChartRender) -> list[str]:
    """Resources the values set that no container (nor ClusterPolicy section) of the output carries."""
    carried = []
    for obj in chart_render.objects:
        template = obj.get("spec", {}).get("template", {}).get("spec", {})
        carried += [c.get("resources") for c in template.get("containers", []) + template.get("initContainers", [])]
        if obj["kind"] == "ClusterPolicy":
            carried += [section.get("resources") for section in obj["spec"].values() if isinstance(section, dict)]
    return [path for path, wanted in resources_set(chart_render.values) if wanted not in carried]


def test_resources_the_values_set_reach_a_container(charts):
    for name, chart_render in charts.items():
        assert resources_missing(chart_render) == [], f"{name}: resources set in the values, on no container"


def test_resource_check_catches_resources_the_chart_does_not_read(upstream, settings, helm, tmp_path):
    keda = upstream["lab"]["keda"]
    limits = {"requests": {"cpu": "123m", "memory": "77Mi"}, "limits": {"memory": "77Mi"}}
    renders = {}
    cases = {"read": {"resources": {"operator": limits}}, "ignored": {"operator": {"resources": limits}}}
    for case, values in cases.items():
        path = tmp_path / f"{case}.yaml"
        path.write_text(yaml.safe_dump(values))
        result, objects = pinned_charts.template(helm, keda.chart, keda.archive, path, settings["lab"]["kube_version"],
                                                    tmp_path / "helm")
        assert result.returncode == 0, result.stderr
        renders[case] = ChartRender(keda.chart, keda.archive, values, result, objects)
    assert resources_missing(renders["read"]) == []
    assert resources_missing(renders["ignored"]) == ["operator.resources"]


# --- what the values switch on and off -------------------------------------------------------------------


def test_gpu_operator_follows_driver_strategy_and_distribution(inventory, charts, settings):
    gpu = charts["gpu-operator"]
    policy = only(gpu.of("ClusterPolicy"), "ClusterPolicy")["spec"]
    assert policy["driver"]["enabled"] is (settings[inventory]["nvidia_driver_strategy"] == "operator")
    assert policy["toolkit"]["enabled"] is True
    # The chart renders the operator and the ClusterPolicy; the operator creates the driver, toolkit and device
    # plugin DaemonSets from it (not provable without a GPU node). The DaemonSets here are NFD's.
    only(gpu.of("Deployment", "gpu-operator"), "the operator Deployment")
    nfd_worker = f"{gpu.chart.release}-node-feature-discovery-worker"
    assert {d["metadata"]["name"] for d in gpu.of("DaemonSet")} == {nfd_worker}
    env = {item["name"]: item["value"] for item in policy["toolkit"].get("env", [])}
    if settings[inventory]["cluster_distribution"] == "k3s":
        assert env["CONTAINERD_SOCKET"] == "/run/k3s/containerd/containerd.sock"
        assert env["CONTAINERD_CONFIG"].startswith("/var/lib/rancher/k3s/agent/etc/containerd/")
    else:
        assert "CONTAINERD_SOCKET" not in env and "CONTAINERD_CONFIG" not in env, env
    assert policy["dcgmExporter"]["serviceMonitor"]["enabled"] is True


def test_gpu_operator_leaves_the_driver_to_the_host_under_host_strategy(upstream):
    gpu = upstream[HOST_DRIVER]["gpu-operator"]
    assert gpu.result.returncode == 0, gpu.result.stderr[-3000:]
    policy = only(gpu.of("ClusterPolicy"), "ClusterPolicy")["spec"]
    assert policy["driver"]["enabled"] is False
    assert policy["toolkit"]["enabled"] is True
    assert not [d for d in gpu.of("DaemonSet") if "driver" in d["metadata"]["name"]]


def test_keda_serves_external_metrics(charts):
    keda = charts["keda"]
    server = only(keda.of("Deployment", "keda-operator-metrics-apiserver"), "KEDA metrics server")
    only(keda.of("Deployment", "keda-operator"), "KEDA operator")
    service = only(keda.of("APIService", "v1beta1.external.metrics.k8s.io"), "external metrics APIService")["spec"]
    assert service["service"]["namespace"] == keda.chart.namespace
    backing = only(keda.of("Service", service["service"]["name"]), "the metrics server's Service")
    labels = server["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in backing["spec"]["selector"].items())
    assert only(keda.of("CustomResourceDefinition", "scaledobjects.keda.sh"), "ScaledObject CRD")


def test_grafana_loads_the_dashboard_configmaps(inventory, charts, renders):
    monitoring = charts["kube-prometheus-stack"]
    sidecar = monitoring.values["grafana"]["sidecar"]["dashboards"]
    grafana = only(monitoring.of("Deployment", f"{monitoring.chart.release}-grafana"), "Grafana Deployment")
    containers = {c["name"]: c for c in grafana["spec"]["template"]["spec"]["containers"]}
    env = {e["name"]: e.get("value") for e in containers["grafana-sc-dashboard"]["env"]}
    assert (env["LABEL"], env["LABEL_VALUE"], env["NAMESPACE"]) == (sidecar["label"], sidecar["labelValue"], "ALL")
    chart_dashboards = [c for c in monitoring.of("ConfigMap") if c["metadata"].get("labels", {}).get(sidecar["label"])]
    assert len(chart_dashboards) > 10, "the chart's own dashboards are missing"
    platform_dashboards = [
        o for o in renders[inventory].objects
        if o["kind"] == "ConfigMap" and sidecar["label"] in o["metadata"].get("labels", {})
    ]
    assert platform_dashboards, "the platform renders no dashboard ConfigMap"
    for dashboard in platform_dashboards:
        assert dashboard["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"], dashboard["__file__"]


def test_prometheus_selects_the_platforms_monitors_and_rules(charts):
    monitoring = charts["kube-prometheus-stack"]
    prometheus = only(monitoring.of("Prometheus"), "Prometheus")["spec"]
    for selector in ("serviceMonitorSelector", "podMonitorSelector", "ruleSelector"):
        assert prometheus[selector] == {}, f"{selector}: {prometheus[selector]} (only the chart's own would match)"
    for selector in ("serviceMonitorNamespaceSelector", "ruleNamespaceSelector"):
        assert prometheus[selector] == {}, selector
    wanted = monitoring.values["prometheus"]["prometheusSpec"]
    assert prometheus["retention"] == wanted["retention"]
    assert prometheus["storage"] == wanted["storageSpec"]


def test_kube_prometheus_stack_has_hook_jobs_that_need_a_node(charts):
    """The admission webhook's certificate Jobs are Helm hooks: Helm waits for them even without --wait, and without
    a kubelet they never finish. tests/cluster_api turns them off there (and says so); here they are as delivered."""
    monitoring = charts["kube-prometheus-stack"]
    hooks = {o["metadata"]["name"]: o["metadata"]["annotations"]["helm.sh/hook"] for o in monitoring.of("Job")
             if "helm.sh/hook" in o["metadata"].get("annotations", {})}
    release = monitoring.chart.release
    assert hooks == {f"{release}-admission-create": "pre-install,pre-upgrade",
                     f"{release}-admission-patch": "post-install,post-upgrade"}, hooks


# --- Pod Security of the monitoring stack (issue 18) -----------------------------------------------------

NAMESPACES = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())["platform_namespaces"]
# What prometheus-operator puts on every container it generates for a Prometheus or Alertmanager (the pod's
# securityContext is the custom resource's, from the chart's prometheusSpec/alertmanagerSpec values), read in its
# source at tag v0.93.0 (the chart's appVersion is v0.93.1): pkg/prometheus/server/statefulset.go,
# pkg/alertmanager/statefulset.go, pkg/operator/config_reloader.go. Not run here: no operator runs in any test tier
# (tests/cluster_api has no kubelet); roles/monitoring/README.md says so.
OPERATOR_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                               "capabilities": {"drop": ["ALL"]}}
OPERATOR_CONTAINERS = {"Prometheus": (["init-config-reloader"], ["prometheus", "config-reloader"]),
                       "Alertmanager": (["init-config-reloader"], ["alertmanager", "config-reloader"])}


def operator_pod_spec(resource: dict) -> dict:
    """The pod spec the operator makes of a Prometheus or Alertmanager, as far as Pod Security looks at it: the
    resource's pod fields, its generated containers with OPERATOR_CONTAINER_SECURITY, the resource's `containers` and
    `initContainers` patched over them by name (as the operator merges them)."""
    spec = resource["spec"]
    init_names, names = OPERATOR_CONTAINERS[resource["kind"]]

    def merged(generated, patches):
        containers = {n: {"name": n, "securityContext": dict(OPERATOR_CONTAINER_SECURITY)} for n in generated}
        for patch in patches or []:
            base = containers.setdefault(patch["name"], {"name": patch["name"]})
            base.update({k: v for k, v in patch.items() if k != "securityContext"})
            base["securityContext"] = {**base.get("securityContext", {}), **patch.get("securityContext", {})}
        return list(containers.values())

    pod = {key: spec[key] for key in ("securityContext", "hostNetwork", "volumes") if key in spec}
    return {**pod, "initContainers": merged(init_names, spec.get("initContainers")),
            "containers": merged(names, spec.get("containers"))}


def chart_pods(chart_render: ChartRender) -> list[tuple[str, str, dict, dict | None]]:
    """(Kind/name, namespace, pod spec, pod annotations) of every pod the chart's objects make: workload templates,
    bare Pods, and the pods the operator makes of Prometheus and Alertmanager resources."""
    pods = []
    for obj in chart_render.objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        namespace = obj["metadata"].get("namespace", chart_render.chart.namespace)
        spec = obj.get("spec") or {}
        if obj["kind"] in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"):
            template = spec["template"]
        elif obj["kind"] == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
        elif obj["kind"] == "Pod":
            template = obj
        elif obj["kind"] in OPERATOR_CONTAINERS:
            pods.append((where, namespace, operator_pod_spec(obj), (spec.get("podMetadata") or {}).get("annotations")))
            continue
        else:
            continue
        pods.append((where, namespace, template["spec"], template.get("metadata", {}).get("annotations")))
    return pods


def test_monitoring_runs_under_restricted_but_the_node_exporter(charts, renders, inventory):
    """Every pod of kube-prometheus-stack (operator, Grafana with its sidecars, kube-state-metrics, the admission
    webhook's certificate Jobs, and Prometheus and Alertmanager as the operator makes them) passes the restricted
    rules the project's own pods pass (test_pod_security.py) and lives in the monitoring namespace, which enforces
    restricted; the node exporter alone lives in its own namespace, privileged, since restricted refuses it."""
    monitoring = charts["kube-prometheus-stack"]
    pods = chart_pods(monitoring)
    kinds = {where.split("/")[0] for where, *_ in pods}
    assert {"Deployment", "DaemonSet", "Job", "Prometheus", "Alertmanager"} <= kinds, kinds
    release = monitoring.chart.release
    node_exporter = f"DaemonSet/{release}-prometheus-node-exporter"
    placed = {where: namespace for where, namespace, *_ in pods}
    assert placed.pop(node_exporter) == NAMESPACES["node_monitoring"]
    assert set(placed.values()) == {NAMESPACES["monitoring"]}, placed
    refused = {where: problems for where, _, spec, annotations in pods
               if (problems := restricted_problems(spec, annotations))}
    assert set(refused) == {node_exporter}, refused
    # Why it cannot be restricted: the host's network, PIDs and filesystem are what it measures.
    assert {"hostNetwork: true", "hostPID: true", "volume root: hostPath"} <= set(refused[node_exporter])
    namespaces = {o["metadata"]["name"]: o["metadata"]["labels"] for o in renders[inventory].objects
                  if o["kind"] == "Namespace"}
    assert namespaces[NAMESPACES["monitoring"]]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespaces[NAMESPACES["node_monitoring"]]["pod-security.kubernetes.io/enforce"] == "privileged"
    node_objects = [o for o in monitoring.objects if o["metadata"].get("namespace") == NAMESPACES["node_monitoring"]]
    assert {o["kind"] for o in node_objects} == {"DaemonSet", "Service", "ServiceAccount", "ServiceMonitor"}, (
        sorted((o["kind"], o["metadata"]["name"]) for o in node_objects))


def test_operator_pod_spec_applies_the_resources_container_patches(charts):
    prometheus = json.loads(json.dumps(only(charts["kube-prometheus-stack"].of("Prometheus"), "Prometheus")))
    assert restricted_problems(operator_pod_spec(prometheus)) == []
    prometheus["spec"]["containers"] = [{"name": "prometheus", "securityContext": {"allowPrivilegeEscalation": True}}]
    prometheus["spec"]["securityContext"]["runAsUser"] = 0
    assert restricted_problems(operator_pod_spec(prometheus)) == [
        "pod runAsUser: 0", "container prometheus: allowPrivilegeEscalation is not false"]


# --- values keys: what helm template cannot see -----------------------------------------------------------


def test_helm_values_use_only_keys_the_charts_know(charts):
    for name, chart_render in charts.items():
        defaults = pinned_charts.chart_metadata(chart_render.archive, name, "values.yaml")
        assert unknown_keys(chart_render.values, defaults) == [], f"{name}: keys the chart does not have"


def test_a_key_the_chart_ignores_renders_silently_and_the_key_check_catches_it(upstream, settings, helm, tmp_path):
    gpu = upstream["lab"]["gpu-operator"]
    defaults = pinned_charts.chart_metadata(gpu.archive, "gpu-operator", "values.yaml")
    outputs = []
    for case, values in {"known": {"toolkit": {"enabled": True}}, "misspelled": {"toolkit": {"enviroment": []}},
                         "wrong section": {"drivers": {"enabled": False}}}.items():
        path = tmp_path / f"{case.replace(' ', '-')}.yaml"
        path.write_text(yaml.safe_dump(values))
        result, _ = pinned_charts.template(helm, gpu.chart, gpu.archive, path, settings["lab"]["kube_version"],
                                           tmp_path / "helm")
        assert result.returncode == 0, f"{case}: {result.stderr}"
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2], "helm template noticed the key; the key check may be redundant"
    assert unknown_keys({"toolkit": {"enabled": True}}, defaults) == []
    assert unknown_keys({"toolkit": {"enviroment": []}}, defaults) == ["toolkit.enviroment"]
    assert unknown_keys({"drivers": {"enabled": False}}, defaults) == ["drivers"]


def test_the_reference_fixtures_hold_no_chart_values():
    """The charts' default values are read from the pinned archives; no copy of them is kept to drift."""
    assert not (REFERENCE / "values").exists()
