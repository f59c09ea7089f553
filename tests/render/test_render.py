"""Render the platform for each example inventory and prove the output is valid and safe."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from ansible_collections.inference.platform.plugins.filter.model_list import ENGINES
from render_support import (
    CRDS,
    INVENTORIES,
    REFERENCE,
    ROLES,
    ROOT,
    all_images,
    clean,
    crd_schema,
    distribution,
    inventory_value,
    model_entries,
    skipped_components,
)

INFERENCE_NAMESPACES = {"inference", "inference-gateway"}
GPU = "nvidia.com/gpu"


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return obj["spec"]["template"]["spec"]
    return None


@pytest.fixture(scope="module", params=INVENTORIES)
def render(request, renders):
    result = renders[request.param]
    assert result.returncode == 0, (
        f"render of {request.param} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    )
    return result


# --- the run itself -----------------------------------------------------------------------------


def test_render_writes_every_component(render):
    components = {path.name for path in render.directory.iterdir() if path.is_dir()}
    assert components == set(ROLES)
    assert render.recap["failed"] == 0


def test_second_render_changes_nothing(rerun):
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert rerun.recap["changed"] == 0, "a second render with the same inventory changed files"


def test_removing_a_model_removes_its_files(renders, removed):
    assert removed.returncode == 0, removed.stdout[-3000:]
    before = {
        str(p.relative_to(renders["hetzner"].directory)) for p in renders["hetzner"].directory.rglob("*") if p.is_file()
    }
    after = {str(p.relative_to(removed.directory)) for p in removed.directory.rglob("*") if p.is_file()}
    gone = before - after
    assert gone == {"vllm/manifests/model-llama31-8b-awq.yaml", "keda/manifests/model-llama31-8b-awq.yaml"}
    assert "vllm/manifests/model-qwen25-7b.yaml" in after
    names = {(o["kind"], o["metadata"]["name"]) for o in removed.objects}
    assert ("Deployment", "llama31-8b-awq") not in names
    assert ("Deployment", "qwen25-7b") in names
    config = next(o for o in removed.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "litellm-config")
    routes = [r["model_name"] for r in yaml.safe_load(config["data"]["config.yaml"])["model_list"]]
    assert routes == ["qwen25-7b"]


def test_invalid_model_fails_before_anything_is_written(bad_model_run, render_root):
    assert bad_model_run.returncode != 0
    # The model rule of the collection's filter, the one the validate stage runs too.
    assert "tensor_parallel (2) does not divide gpus (3)" in bad_model_run.stdout
    assert not (render_root / "bad" / "vllm").exists()


# --- schema validation ----------------------------------------------------------------------------


def test_core_objects_validate_against_kubernetes(render, kubernetes_version):
    checked = 0
    for obj in render.objects:
        if obj["kind"] in CRDS:
            continue
        try:
            kubernetes_validate.validate(clean(obj), kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"{obj['__file__']}: {obj['kind']}/{obj['metadata']['name']}: {error.message} at {list(error.path)}"
            )
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{obj['__file__']}: {obj['apiVersion']} {obj['kind']} is neither core nor a known CRD")
        checked += 1
    assert checked > 10


def test_custom_resources_validate_against_their_crds(render):
    kinds = set()
    for obj in render.objects:
        if obj["kind"] not in CRDS:
            continue
        assert obj["apiVersion"] == CRDS[obj["kind"]][1], obj["__file__"]
        try:
            jsonschema.validate(clean(obj), crd_schema(obj["kind"]))
        except jsonschema.ValidationError as error:
            pytest.fail(
                f"{obj['__file__']}: {obj['kind']}/{obj['metadata']['name']}: {error.message} at {list(error.path)}"
            )
        kinds.add(obj["kind"])
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    # HelmChart(Config) are k3s's own kinds (its Helm controller): only on k3s clusters.
    assert ("HelmChart" in kinds) == (distribution(render.inventory) == "k3s")
    if render.inventory == "lab":
        assert "Application" in kinds


def test_crd_validation_catches_mistakes():
    """The CRD schemas really constrain: a wrong type and a missing required field fail."""
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {"scaleTargetRef": {"name": "x"}, "triggers": [], "minReplicaCount": "one"},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, crd_schema("ScaledObject"))
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, crd_schema("ServiceMonitor"))


# --- policy --------------------------------------------------------------------------------------


def test_gpu_workloads_have_probes_limits_and_a_pdb(render):
    gpu_workloads = 0
    pdbs = [o for o in render.objects if o["kind"] == "PodDisruptionBudget"]
    for obj in render.objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        gpu_containers = [c for c in spec["containers"] if GPU in c.get("resources", {}).get("limits", {})]
        if not gpu_containers:
            continue
        gpu_workloads += 1
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        for container in gpu_containers:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{name}: {container['name']} has no {probe}"
            limits = container["resources"]["limits"]
            assert "memory" in limits, f"{name}: no memory limit"
            assert container["resources"]["requests"][GPU] == limits[GPU]
            startup = container["startupProbe"]
            assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, (
                f"{name}: startup probe too short for a model load"
            )
        assert spec.get("nodeSelector") and spec.get("tolerations"), f"{name}: no GPU nodeSelector/tolerations"
        assert spec["securityContext"].get("runAsNonRoot") is True, f"{name}: runs as root"
        labels = obj["spec"]["template"]["metadata"]["labels"]
        matching = [
            p
            for p in pdbs
            if p["metadata"]["namespace"] == obj["metadata"]["namespace"]
            and all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items())
        ]
        assert matching, f"{name}: no PodDisruptionBudget selects it"
        assert obj["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}, name
    assert gpu_workloads == len(model_entries(render.inventory))


def test_every_inference_namespace_denies_by_default(render):
    namespaces = {o["metadata"]["name"] for o in render.objects if o["kind"] == "Namespace"}
    assert namespaces >= INFERENCE_NAMESPACES
    for namespace in INFERENCE_NAMESPACES:
        denies = [
            o
            for o in render.objects
            if o["kind"] == "NetworkPolicy"
            and o["metadata"]["namespace"] == namespace
            and o["spec"]["podSelector"] == {}
            and set(o["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not o["spec"].get("ingress")
            and not o["spec"].get("egress")
        ]
        assert denies, f"namespace {namespace} has no default-deny NetworkPolicy"


def test_vllm_is_reachable_only_from_litellm_and_prometheus(render):
    gateway_ns = next(
        o["metadata"]["namespace"]
        for o in render.objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "litellm"
    )
    if distribution(render.inventory) == "k3s":
        prometheus_ns = next(
            o["spec"]["targetNamespace"]
            for o in render.objects
            if o["kind"] == "HelmChart" and o["spec"]["chart"] == "kube-prometheus-stack"
        )
    else:  # no HelmChart objects: the chart's values are rendered, its namespace is the registry entry's
        assert "monitoring/kube-prometheus-stack" in render.values, sorted(render.values)
        platform = yaml.safe_load((ROOT / "group_vars" / "all" / "platform.yml").read_text())
        entry = next(c for c in platform["platform_components"] if c["name"] == "monitoring")
        prometheus_ns = platform["platform_namespaces"][entry["namespace"]]
    allowing = [
        o
        for o in render.objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "inference" and o["spec"].get("ingress")
    ]
    assert len(allowing) == 1
    peers = allowing[0]["spec"]["ingress"][0]["from"]
    assert {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in peers} == {
        gateway_ns,
        prometheus_ns,
    }
    # It selects the model servers of every engine (and not the preload Jobs' pods, which nobody calls).
    selector = allowing[0]["spec"]["podSelector"]
    assert list(selector) == ["matchExpressions"]
    (expression,) = selector["matchExpressions"]
    assert (expression["key"], expression["operator"]) == ("app.kubernetes.io/name", "In")
    servers = {
        o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for o in render.objects
        if o["kind"] == "Deployment" and o["metadata"]["namespace"] == "inference"
    }
    assert servers and servers <= set(expression["values"])
    assert "vllm-preload" not in expression["values"]
    for service in (o for o in render.objects if o["kind"] == "Service"):
        assert service["spec"]["type"] == "ClusterIP", (
            f"Service {service['metadata']['name']} is exposed outside the cluster"
        )
    ingresses = [o for o in render.objects if o["kind"] == "Ingress"]
    assert [i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] for i in ingresses] == ["litellm"]


def test_every_image_is_pinned(render):
    images = all_images([clean(o) for o in render.objects])
    assert images
    for image in images:
        assert re.search(r":[\w][\w.-]*$|@sha256:[0-9a-f]{64}$", image), f"image without a tag: {image}"
        assert not image.endswith(":latest"), f"image on latest: {image}"
    for name, values in render.values.items():
        text = yaml.safe_dump(values)
        assert not re.search(r"tag:\s*['\"]?latest", text), f"{name} pins an image to latest"


def test_no_secret_is_rendered(render):
    assert not [o for o in render.objects if o["kind"] == "Secret"]
    for path in render.directory.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"\bsk-[A-Za-z0-9]{20,}", text), f"{path}: looks like an API key"
            assert "stringData" not in text, f"{path}: secret data"


def test_ingress_uses_tls_and_the_distribution_class(render):
    ingress = next(o for o in render.objects if o["kind"] == "Ingress")
    assert ingress["spec"]["tls"] and ingress["spec"]["tls"][0]["secretName"]
    if distribution(render.inventory) != "k3s":  # no bundled controller: nginx, and no k3s HelmChartConfig
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert not any(o["kind"] == "HelmChartConfig" for o in render.objects)
        return
    assert ingress["spec"]["ingressClassName"] == "traefik"
    timeouts = next(o for o in render.objects if o["kind"] == "HelmChartConfig")
    transport = yaml.safe_load(timeouts["spec"]["valuesContent"])["ports"]["websecure"]["transport"][
        "respondingTimeouts"
    ]
    assert int(transport["readTimeout"].rstrip("s")) >= 600


# --- the model list drives everything ------------------------------------------------------------


def test_each_model_has_its_objects_and_route(render):
    by_kind: dict[str, set[str]] = {}
    for obj in render.objects:
        by_kind.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    config = next(o for o in render.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "litellm-config")
    routes = {r["model_name"]: r["litellm_params"] for r in yaml.safe_load(config["data"]["config.yaml"])["model_list"]}
    models = model_entries(render.inventory)
    assert set(routes) == {m["name"] for m in models}
    monitored = "monitoring" not in skipped_components(render.inventory)
    for model in models:
        name = model["name"]
        for kind in ("Deployment", "Service", "PodDisruptionBudget") + (("ServiceMonitor",) if monitored else ()):
            assert name in by_kind[kind], f"{name}: no {kind}"
        assert ("ServiceMonitor" in by_kind and name in by_kind["ServiceMonitor"]) == monitored
        assert f"{name}-model-cache" in by_kind["PersistentVolumeClaim"]
        assert any(job.startswith(f"{name}-preload-") for job in by_kind["Job"])
        assert routes[name]["api_base"] == f"http://{name}.inference.svc.cluster.local:8000/v1"
        assert routes[name]["stream_timeout"] >= 600
        deployment = next(o for o in render.objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        if model.get("engine", "vllm") == "vllm":
            assert routes[name]["model"] == f"hosted_vllm/{name}"
            assert args[args.index("--served-model-name") + 1] == name
            assert args[args.index("--tensor-parallel-size") + 1] == str(model["tensor_parallel"])
            assert args[args.index("--max-model-len") + 1] == str(model["max_model_len"])
            assert "--enable-prefix-caching" in args and "--enable-chunked-prefill" in args
        else:
            assert model["engine"] == "llamacpp"
            assert routes[name]["model"] == f"openai/{name}"
            assert container["command"] == ["/app/llama-server"]
            assert args[args.index("--alias") + 1] == name
            assert args[args.index("--model") + 1].endswith("/" + model["gguf_file"])
            slots = int(args[args.index("--parallel") + 1])
            assert args[args.index("--ctx-size") + 1] == str(model["max_model_len"] * slots)
            assert "--metrics" in args
        if model["gpus"]:
            assert container["resources"]["limits"][GPU] == model["gpus"]
        else:
            assert GPU not in container["resources"]["limits"]
        autoscaled = model["replicas"]["min"] != model["replicas"]["max"] or model["autoscale"]["scale_to_zero"]
        assert (name in by_kind.get("ScaledObject", set())) == autoscaled
        assert ("replicas" in deployment["spec"]) != autoscaled, (
            f"{name}: replicas owned by both KEDA and the Deployment"
        )


def test_scaled_objects_follow_the_model_entries(render):
    models = {m["name"]: m for m in model_entries(render.inventory)}
    for scaled in (o for o in render.objects if o["kind"] == "ScaledObject"):
        model = models[scaled["metadata"]["name"]]
        spec = scaled["spec"]
        assert spec["minReplicaCount"] == model["replicas"]["min"]
        assert spec["maxReplicaCount"] == model["replicas"]["max"]
        assert spec["cooldownPeriod"] == model["autoscale"]["cooldown_seconds"]
        assert spec["fallback"]["replicas"] >= 1
        if model["autoscale"]["scale_to_zero"]:
            assert spec["idleReplicaCount"] == 0 < spec["minReplicaCount"]
        else:
            assert "idleReplicaCount" not in spec
        queue = next(t for t in spec["triggers"] if t["name"] == "queue-depth")
        # The engine's own queue metric and model label (ENGINES in the model_list filter).
        metrics = ENGINES[model.get("engine", "vllm")]["metrics"]
        assert f'{metrics["model_label"]}="{model["name"]}"' in queue["metadata"]["query"]
        assert metrics["waiting"] in queue["metadata"]["query"]
        assert float(queue["metadata"]["threshold"]) == model["autoscale"]["queue_threshold"]
        assert queue["metricType"] == "AverageValue"  # KEDA's fallback works only with AverageValue


def test_tenants_become_litellm_teams(render):
    tenants = inventory_value(render.inventory, "inference_tenants")
    config = next(o for o in render.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "litellm-tenants")
    assert yaml.safe_load(config["data"]["tenants.json"]) == tenants
    assert any(o["kind"] == "Job" and o["metadata"]["name"].startswith("litellm-tenants-") for o in render.objects)


# --- the gateway of the local lab: no database, NodePort, no Ingress (issue 17) ---------------------------


def _litellm(render) -> dict[tuple[str, str], dict]:
    """The gateway's objects (not the Argo CD Application, which only the lab's first render is given)."""
    return {(o["kind"], o["metadata"]["name"]): o for o in render.objects
            if o["__file__"].startswith("litellm/") and o["kind"] != "Application"}


def test_a_gateway_without_database_has_no_postgres_tenants_or_ingress(dbless_gateway, renders, kubernetes_version):
    assert dbless_gateway.returncode == 0, dbless_gateway.stdout[-4000:] + dbless_gateway.stderr[-2000:]
    dbless, usual = _litellm(dbless_gateway), _litellm(renders["lab"])
    gone = {key for key in usual if key not in dbless}
    assert {(kind, name if kind != "Job" else "litellm-tenants-*") for kind, name in gone} == {
        ("StatefulSet", "litellm-postgres"),
        ("Service", "litellm-postgres"),
        ("NetworkPolicy", "litellm-postgres"),
        ("NetworkPolicy", "litellm-tenants"),
        ("ConfigMap", "litellm-tenants"),
        ("Job", "litellm-tenants-*"),
        ("Ingress", "litellm"),
    }
    assert set(dbless) < set(usual), "the DB-less gateway added an object"
    for obj in dbless.values():
        kubernetes_validate.validate(clean(obj), kubernetes_version, strict=True) if obj["kind"] not in CRDS else None

    proxy = dbless[("Deployment", "litellm")]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in proxy["env"]}
    assert not {"DATABASE_URL", "POSTGRES_PASSWORD", "LITELLM_SALT_KEY"} & set(env)
    assert env["LITELLM_MASTER_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "master-key"
    usual_proxy = usual[("Deployment", "litellm")]["spec"]["template"]["spec"]["containers"][0]
    usual_env = [e["name"] for e in usual_proxy["env"]]
    assert [name for name in usual_env if name not in {"DATABASE_URL", "POSTGRES_PASSWORD", "LITELLM_SALT_KEY"}] == [
        e["name"] for e in proxy["env"]
    ]
    config = yaml.safe_load(dbless[("ConfigMap", "litellm-config")]["data"]["config.yaml"])
    assert config["general_settings"] == {
        "master_key": "os.environ/LITELLM_MASTER_KEY", "store_model_in_db": False, "disable_spend_logs": False}
    usual_config = yaml.safe_load(usual[("ConfigMap", "litellm-config")]["data"]["config.yaml"])
    assert usual_config["general_settings"]["database_url"] == "os.environ/DATABASE_URL"


def test_a_node_port_gateway_admits_the_cluster_networks_on_its_port(dbless_gateway, renders):
    settings = {**yaml.safe_load((ROOT / "group_vars/all/main.yml").read_text()),
                **yaml.safe_load((ROOT / "inventories/lab/group_vars/all/50_lab.yml").read_text())}
    dbless, usual = _litellm(dbless_gateway), _litellm(renders["lab"])
    service = dbless[("Service", "litellm")]["spec"]
    assert service["type"] == "NodePort"
    assert service["ports"] == [{"name": "http", "port": 4000, "targetPort": "http", "protocol": "TCP",
                                 "nodePort": 30400}]
    assert usual[("Service", "litellm")]["spec"]["type"] == "ClusterIP"
    assert "nodePort" not in usual[("Service", "litellm")]["spec"]["ports"][0]

    policy = dbless[("NetworkPolicy", "litellm")]["spec"]
    in_cluster, prometheus, node_port = policy["ingress"]
    assert prometheus["ports"] == [{"protocol": "TCP", "port": 4001}]  # the metrics port, never the NodePort's
    assert node_port == {
        "from": [{"ipBlock": {"cidr": settings["private_network_cidr"]}}, {"ipBlock": {"cidr": settings["pod_cidr"]}}],
        "ports": [{"protocol": "TCP", "port": 4000}],
    }
    assert settings["private_network_cidr"] == "10.89.42.0/24"
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "litellm-tenants"}}} not in in_cluster["from"]
    assert [rule["to"][0].get("podSelector") for rule in policy["egress"]] == [
        {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["vllm", "llamacpp"]}]}]
    # The usual gateway: the API port from the ingress controller and the tenant Job, the metrics port from
    # Prometheus; egress to the model servers and PostgreSQL.
    usual_policy = usual[("NetworkPolicy", "litellm")]["spec"]
    assert [(len(rule["from"]), rule["ports"]) for rule in usual_policy["ingress"]] == [
        (2, [{"protocol": "TCP", "port": 4000}]), (1, [{"protocol": "TCP", "port": 4001}])]
    assert len(usual_policy["egress"]) == 2


def test_prometheus_scrapes_the_gateway_on_a_metrics_port_only_it_reaches(dbless_gateway, renders):
    """LiteLLM 1.106 answers /metrics/ on its API port with 401 without a key (require_auth_for_metrics_endpoint):
    the proxy serves its metrics from a process of its own (--prometheus_metrics_port), on a ClusterIP Service of its
    own, which the ServiceMonitor selects and only Prometheus's pods may reach."""
    defaults = yaml.safe_load((ROOT / "roles/litellm/defaults/main.yml").read_text())
    port = defaults["litellm_metrics_port"]
    for render in (dbless_gateway, renders["lab"]):
        gateway = _litellm(render)
        proxy = gateway[("Deployment", "litellm")]["spec"]["template"]["spec"]["containers"][0]
        assert proxy["args"][-2:] == ["--prometheus_metrics_port", str(port)]
        assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in proxy["ports"]
        multiproc = next(e["value"] for e in proxy["env"] if e["name"] == "PROMETHEUS_MULTIPROC_DIR")
        assert any(multiproc.startswith(m["mountPath"] + "/") for m in proxy["volumeMounts"]), "not on a volume"
        service = gateway[("Service", "litellm-metrics")]
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["ports"] == [{"name": "metrics", "port": port, "targetPort": "metrics",
                                             "protocol": "TCP"}]
        monitor = gateway[("ServiceMonitor", "litellm")]["spec"]
        selected = monitor["selector"]["matchLabels"]
        assert selected.items() <= service["metadata"]["labels"].items()
        assert not selected.items() <= gateway[("Service", "litellm")]["metadata"]["labels"].items()
        assert monitor["endpoints"] == [{"port": "metrics", "path": "/metrics/", "interval": "30s"}]
        api_port = gateway[("Service", "litellm")]["spec"]["ports"]
        assert [p["name"] for p in api_port] == ["http"], "the metrics port must not be on the API's Service"
        rules = gateway[("NetworkPolicy", "litellm")]["spec"]["ingress"]
        reaching = [rule for rule in rules if {"protocol": "TCP", "port": port} in rule["ports"]]
        assert len(reaching) == 1 and reaching[0]["ports"] == [{"protocol": "TCP", "port": port}]
        assert [peer["podSelector"]["matchLabels"] for peer in reaching[0]["from"]] == [
            defaults["litellm_prometheus_pod_labels"]]


# --- metric names --------------------------------------------------------------------------------


@cache
def vllm_metric_names() -> set[str]:
    names = set()
    for line in (REFERENCE / "samples/vllm/vllm-metric-names.txt").read_text().splitlines():
        if line.startswith("vllm:"):
            name, kind = line.split()[:2]
            names.add(name)
            if kind == "counter":
                names.add(name + "_total")
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


def test_queries_use_real_vllm_metric_names(render):
    text = "\n".join(
        json.dumps(clean(o))
        for o in render.objects
        if o["kind"] in {"PrometheusRule", "ScaledObject"} or o["metadata"]["name"].startswith("dashboard-")
    )
    used = set(re.findall(r"vllm:[a-z0-9_]+", text))
    assert {
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket",
    } <= used
    assert used - vllm_metric_names() == set(), "names vLLM V1 does not export"


# --- hygiene ---------------------------------------------------------------------------------------


def test_render_reads_nothing_outside_the_clone():
    for path in [*Path(__file__).parent.rglob("*.py"), *(ROOT / "roles").rglob("*.*")]:
        assert "/work/" + "shared" not in path.read_text(errors="ignore"), path
