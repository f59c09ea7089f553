"""KEDA scales the lab model on its real queue depth (issue 17).

What is real: KEDA's operator, metrics API server and admission webhooks (built here from github.com/kedacore/keda/v2
at the chart's appVersion, installed with the pinned chart), Prometheus scraping llama-server's own metrics through
the ServiceMonitor the vllm role renders, the ScaledObject the keda role renders, the HPA KEDA drives, kube-scheduler
placing the second replica, LiteLLM routing the load. STAND-IN: the second GPU the second replica asks for
(lab_standins_gpu_count: 2 on the lab's GPU node). The load is bounded: LOAD_STREAMS streams for LOAD_SECONDS.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import yaml
from ansible_collections.inference.platform.plugins.filter.model_list import model_engines
from lab_cluster_support import (
    INVENTORY_ARGS,
    MODELS,
    NAMESPACES,
    REPO,
    SITE_VARS,
    TIMINGS,
    gateway_request,
    kubectl,
    kubectl_json,
    playbook,
    prometheus,
    query_value,
    send,
    stream_chat,
    timed,
    wait,
)

# The bounded load: this many clients, each streaming one request after another, for this long.
LOAD_STREAMS = 8
LOAD_SECONDS = 60
# Tokens per request: long enough that the engine's slots are busy and requests wait, short enough to finish quickly.
MAX_TOKENS = 192
VERSIONS = yaml.safe_load((REPO / "group_vars" / "all" / "versions.yml").read_text())
KEDA = yaml.safe_load((REPO / "roles" / "keda" / "defaults" / "main.yml").read_text())
SCALED = [m for m in MODELS if m["replicas"]["max"] > m["replicas"]["min"]]


@pytest.fixture(scope="module")
def model():
    assert SCALED, "the lab inventory has no model whose replicas may vary (replicas.max > replicas.min)"
    return SCALED[0]


def deployment(name: str) -> dict:
    return kubectl_json("-n", NAMESPACES["models"], "get", "deployment", name)


def waiting_query(model: dict) -> str:
    """The engine's "requests waiting" series of this model, as KEDA's ScaledObject queries it (ENGINES table)."""
    metrics = model_engines([model])[0]["metrics"]
    return f'sum({metrics["waiting"]}{{namespace="{NAMESPACES["models"]}",{metrics["model_label"]}="{model["name"]}"}})'


def test_keda_runs_from_the_images_built_here(site):
    assert site.returncode == 0, site.log.read_text()[-6000:]
    pods = kubectl_json("-n", NAMESPACES["autoscaling"], "get", "pods")["items"]
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert {i.rsplit(":", 1)[0] for i in images} == {
        f"localhost/inference-platform/{name}" for name in ("keda", "keda-metrics-apiserver", "keda-admission-webhooks")
    }, images
    for pod in pods:
        ready = next(c for c in pod["status"].get("conditions", []) if c["type"] == "Ready")
        assert ready["status"] == "True", (pod["metadata"]["name"], pod["status"])
    operator = next(p for p in pods if p["metadata"]["labels"].get("app") == "keda-operator")
    log = kubectl("-n", NAMESPACES["autoscaling"], "logs", operator["metadata"]["name"]).stdout
    assert f"KEDA Version: {VERSIONS['keda_version']}" in log, log[:2000]
    service = kubectl_json("get", "apiservice", "v1beta1.external.metrics.k8s.io")
    available = next(c for c in service["status"]["conditions"] if c["type"] == "Available")
    assert available["status"] == "True", available


def test_the_scaled_object_drives_an_hpa_within_the_model_replicas(site, model):
    scaled = kubectl_json("-n", NAMESPACES["models"], "get", "scaledobject", model["name"])
    conditions = {c["type"]: c["status"] for c in scaled["status"]["conditions"]}
    assert conditions.get("Ready") == "True", scaled["status"]
    hpa = kubectl_json("-n", NAMESPACES["models"], "get", "hpa", f"keda-hpa-{model['name']}")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        model["replicas"]["min"],
        model["replicas"]["max"],
    )
    assert hpa["spec"]["scaleTargetRef"]["name"] == model["name"]


def test_load_through_the_gateway_scales_the_model_up_and_back(served, model):
    name = model["name"]
    low, high = model["replicas"]["min"], model["replicas"]["max"]
    wait(f"{name} at {low} replica(s) before the load", lambda: deployment(name)["spec"]["replicas"] == low, 300, 5)
    results: list[dict] = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            results.append(stream_chat(served, name, MAX_TOKENS))

    started = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(LOAD_STREAMS)]
    for thread in threads:
        thread.start()
    peak_waiting, scaled_up, second_ready = 0.0, None, None
    try:
        while time.monotonic() - started < LOAD_SECONDS or (scaled_up is None and time.monotonic() - started < 240):
            peak_waiting = max(peak_waiting, query_value(waiting_query(model)) or 0.0)
            status = deployment(name)
            if scaled_up is None and status["spec"]["replicas"] >= high:
                scaled_up = time.monotonic() - started
            if second_ready is None and status["status"].get("readyReplicas", 0) >= high:
                second_ready = time.monotonic() - started
            time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=180)
    load_seconds = time.monotonic() - started
    failed = [r for r in results if not r["ok"]]
    print(
        f"load: {len(results)} requests in {load_seconds:.0f} s from {LOAD_STREAMS} streams, {len(failed)} failed; "
        f"peak waiting {peak_waiting:.0f}; scaled to {high} after {scaled_up} s, Ready after {second_ready} s"
    )
    assert peak_waiting > model["autoscale"]["queue_threshold"], (
        f"the load never raised {waiting_query(model)} above the threshold ({peak_waiting})"
    )
    assert scaled_up is not None, f"KEDA did not scale {name} to {high} within 240 s of load"
    assert failed == [], failed[:5]
    TIMINGS["KEDA: load start -> scaled to 2"] = scaled_up
    if second_ready is not None:
        TIMINGS["KEDA: load start -> 2nd replica Ready"] = second_ready
    down_started = time.monotonic()
    # Back after the HPA's scale-down window (the model's cooldown_seconds) once the queue is empty, plus scrapes.
    wait(
        f"{name} back at {low} replica(s)",
        lambda: deployment(name)["spec"]["replicas"] == low,
        model["autoscale"]["cooldown_seconds"] + 240,
        5,
    )
    TIMINGS["KEDA: load end -> back to 1"] = time.monotonic() - down_started


def test_a_scale_to_zero_model_sleeps_and_a_request_through_the_gateway_wakes_it(served, model):
    """scale_to_zero: true on the lab model (through the platform stage, as an operator would set it): KEDA takes it
    to 0 replicas once idle; a request through LiteLLM then fails or waits, LiteLLM counts it on its metrics port,
    Prometheus scrapes that, and the ScaledObject's wake-on-request trigger brings a replica back. The model is set
    back as the inventory has it at the end."""
    name = model["name"]

    def platform(models: list[dict], label: str):
        run = timed(label, playbook("site.yml", *INVENTORY_ARGS, "--tags", "platform",
                                    "-e", json.dumps({"inference_models": models}), extra=SITE_VARS))
        assert run.returncode == 0, run.log.read_text()[-6000:]

    sleepy = [{**m, "autoscale": {**m["autoscale"], "scale_to_zero": True}} if m["name"] == name else m
              for m in MODELS]
    platform(sleepy, "site.yml --tags platform (scale_to_zero on)")
    try:
        triggers = kubectl_json("-n", NAMESPACES["models"], "get", "scaledobject", name)["spec"]["triggers"]
        wake = next((t["metadata"]["query"] for t in triggers if t["name"] == "wake-on-request"), None)
        assert wake, triggers
        # Idle: no queue and no request for the wake window (keda_wake_window) and the cooldown; and no pod left (a
        # terminating replica still answers while it drains, kube-proxy sends it traffic when no other is ready); and
        # the wake query at 0 (on a fresh lab the model can reach 0 before Prometheus has scraped verify's requests,
        # which would then wake it instead of this test's request).
        selector = ",".join(f"{k}={v}" for k, v in deployment(name)["spec"]["selector"]["matchLabels"].items())
        started = time.monotonic()
        wait(
            f"{name} at 0 replicas, no pod left, no demand in the wake window",
            lambda: deployment(name)["spec"]["replicas"] == 0
            and not kubectl_json("-n", NAMESPACES["models"], "get", "pods", "-l", selector)["items"]
            and (query_value(wake) or 0) == 0,
            600,
            5,
        )
        TIMINGS["scale to zero: platform applied -> no pod"] = time.monotonic() - started
        # The gateway's count for the model before (it was idle longer than a scrape interval: Prometheus has it).
        requests = "litellm_proxy_total_requests_metric_total"
        of_model = f'{requests}{{requested_model="{name}"}}'
        counted = f"sum({of_model})"
        before = query_value(counted) or 0
        request = gateway_request(
            "/v1/chat/completions",
            {"model": name, "max_tokens": 8, "messages": [{"role": "user", "content": "wake up"}]},
            served,
        )
        started = time.monotonic()
        status, _ = send(request, timeout=120)
        print(f"the request to the sleeping model: HTTP {status} after {time.monotonic() - started:.1f} s")
        assert status != 200, "the sleeping model answered: a replica was left"
        # What wakes it: the gateway counted the request, Prometheus scraped it, the trigger's own query sees it.
        wait(f"the wake trigger's query above 0 ({wake})", lambda: (query_value(wake) or 0) > 0, 120, 3)
        TIMINGS["scale to zero: request -> wake query > 0"] = time.monotonic() - started
        wait(f"{counted} above {before}", lambda: (query_value(counted) or 0) >= before + 1, 120, 3)
        # No client address or user agent in the gateway's series (roles/litellm litellm_metrics_exclude_labels).
        series = prometheus("series", **{"match[]": requests, "start": str(time.time() - 60)})
        assert series and not [s for s in series if {"client_ip", "user_agent"} & set(s)], series[:3]
        # What rate() alone (the query before) makes of it: when the request started a series of its own (the first
        # failure on this gateway pod), its first count is invisible to it.
        window = KEDA["keda_wake_window"]
        rate = f"sum(rate({of_model}[{window}]))"
        print(f"{rate} now: {query_value(rate)}")
        wait(f"{name} woken to a ready replica", lambda: deployment(name)["status"].get("readyReplicas"), 300, 3)
        TIMINGS["scale to zero: request -> ready replica"] = time.monotonic() - started

        def answered():
            result = stream_chat(served, name, 8, timeout=60)
            return result if result["ok"] else None

        wait(f"{name} answering through the gateway again", answered, 180, 5)
        TIMINGS["scale to zero: request -> answered"] = time.monotonic() - started
    finally:
        platform(MODELS, "site.yml --tags platform (scale_to_zero back off)")
    wait(f"{name} back at {model['replicas']['min']} replica(s)",
         lambda: deployment(name)["status"].get("readyReplicas", 0) >= model["replicas"]["min"], 300, 5)
