"""Prometheus in the lab scrapes the platform and its alert rules fire on a real condition (issue 17).

What is real: the Prometheus Operator, Prometheus, its config reloader, Alertmanager, kube-state-metrics and the node
exporter, each built here from its Go module at the version kube-prometheus-stack pins and installed with that chart;
the ServiceMonitors and PrometheusRules the platform roles render; the model's endpoint going away. Not in the lab:
Grafana (AGPL, not built; the dashboards are checked by the render tier) and the operator's admission webhook.
"""

from __future__ import annotations

import time

from lab_cluster_support import (
    LAB,
    MODELS,
    NAMESPACES,
    TIMINGS,
    gateway_request,
    kubectl,
    kubectl_json,
    master_key,
    monitoring_api,
    prometheus,
    query_value,
    send,
    stream_chat,
    wait,
)

# What the lab's monitoring runs, by pod label app.kubernetes.io/name, and where.
RUNNING = {
    NAMESPACES["monitoring"]: {
        "kube-prometheus-stack-prometheus-operator",
        "prometheus",
        "alertmanager",
        "kube-state-metrics",
    },
    NAMESPACES["node_monitoring"]: {"prometheus-node-exporter"},
}


def seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def test_the_monitoring_stack_runs_from_the_images_built_here(site):
    assert site.returncode == 0, site.log.read_text()[-6000:]
    for namespace, names in RUNNING.items():

        def all_ready(namespace=namespace, names=names):
            """Every pod Ready (the reset test of test_lab_cluster.py may have moved some): the pods, else None."""
            pods = kubectl_json("-n", namespace, "get", "pods")["items"]
            found = {p["metadata"]["labels"].get("app.kubernetes.io/name") for p in pods}
            ready = all(
                any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
                for p in pods
            )
            return pods if names <= found and ready else None

        pods = wait(f"every pod of {namespace} Ready", all_ready, 300, 5)
        for pod in pods:
            for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
                assert container["image"].startswith("localhost/inference-platform/"), container["image"]
    assert not kubectl_json("-n", NAMESPACES["monitoring"], "get", "pods", "-l", "app.kubernetes.io/name=grafana")[
        "items"
    ]


def test_prometheus_scrapes_the_model_servers(served):
    for model in MODELS:
        wait(
            f"a scraped target of {model['name']}",
            lambda m=model: query_value(f'max(up{{namespace="{NAMESPACES["models"]}",service="{m["name"]}"}})') == 1,
            180,
            5,
        )


def test_prometheus_scrapes_the_gateway_on_the_metrics_port_the_api_port_keeps_behind_a_key(served):
    """LiteLLM serves its metrics from a process of its own on the litellm-metrics Service, which only Prometheus
    reaches; /metrics/ on the API port (the NodePort tenants use) asks for a key. A request through the gateway shows
    up in Prometheus by model: what the wake trigger of scale_to_zero models queries (roles/keda)."""
    gateway = NAMESPACES["gateway"]
    wait(
        "the gateway's metrics targets up",
        lambda: query_value(f'min(up{{namespace="{gateway}",service="litellm-metrics"}})') == 1,
        180,
        5,
    )
    status, _ = send(gateway_request("/metrics/"), timeout=30)
    assert status == 401, f"the gateway's API port answered /metrics/ without a key with {status}"
    model = MODELS[0]["name"]
    counted = f'sum(litellm_proxy_total_requests_metric_total{{namespace="{gateway}",requested_model="{model}"}})'
    before = query_value(counted) or 0
    answer = stream_chat(master_key(), model, 4)
    assert answer["ok"], answer
    wait(f"the gateway's request counter of {model} above {before}", lambda: (query_value(counted) or 0) > before,
         120, 5)


def test_the_platform_rules_are_loaded(site):
    groups = {g["name"]: g for g in prometheus("rules")["groups"]}
    assert "inference-platform.models" in groups, sorted(groups)
    down = [r for r in groups["inference-platform.models"]["rules"] if r["name"] == "ModelServerDown"]
    assert {r["labels"]["model"] for r in down} == {m["name"] for m in MODELS}
    assert {r["duration"] for r in down} == {seconds(LAB["monitoring_model_down_for"])}
    assert all(r["health"] == "ok" for g in groups.values() for r in g["rules"] if g["name"].startswith("inference")), [
        (r["name"], r.get("lastError")) for g in groups.values() for r in g["rules"] if r["health"] != "ok"
    ]


def test_model_server_down_fires_within_its_window_when_the_model_has_no_replica(served):
    model = MODELS[0]["name"]
    namespace = NAMESPACES["models"]
    window = seconds(LAB["monitoring_model_down_for"])
    firing = f'ALERTS{{alertname="ModelServerDown",model="{model}",alertstate="firing"}}'
    # Not firing to begin with (the model's pod may have moved with the reset test of test_lab_cluster.py).
    wait("ModelServerDown not firing before the test", lambda: query_value(firing) is None, 240, 5)
    # KEDA owns the replicas: pause it at 0 (its documented annotation), as an operator stopping a model would.
    kubectl("-n", namespace, "annotate", "--overwrite", "scaledobject", model, "autoscaling.keda.sh/paused-replicas=0")
    try:
        wait(
            f"{model} without a ready replica",
            lambda: not kubectl_json("-n", namespace, "get", "deployment", model)["status"].get("readyReplicas"),
            180,
            3,
        )
        gone = time.monotonic()
        # The alert may fire after: the last scrape's staleness (<= the scrape interval), the `for:` window, and the
        # rule group's evaluation interval (the chart's 30 s default) twice.
        limit = window + 15 + 2 * 30 + 30
        wait("ModelServerDown firing", lambda: query_value(firing) is not None, limit, 5)
        fired = time.monotonic() - gone
        print(f"ModelServerDown fired {fired:.0f} s after the last replica went (for: {window} s)")
        TIMINGS["ModelServerDown: replicas 0 -> firing"] = fired
        assert fired >= window - 5, f"fired after {fired:.0f} s, before its for: window of {window} s"

        def in_alertmanager():
            return [
                a
                for a in monitoring_api("alertmanager:9093", "/api/v2/alerts")
                if a["labels"].get("alertname") == "ModelServerDown" and a["labels"].get("model") == model
            ]

        wait("Alertmanager holding ModelServerDown", in_alertmanager, 120, 5)
    finally:
        kubectl("-n", namespace, "annotate", "scaledobject", model, "autoscaling.keda.sh/paused-replicas-")
    wait(
        f"{model} Ready again",
        lambda: kubectl_json("-n", namespace, "get", "deployment", model)["status"].get("readyReplicas", 0) >= 1,
        300,
        5,
    )
    wait("ModelServerDown resolved", lambda: query_value(firing) is None, 180, 5)
