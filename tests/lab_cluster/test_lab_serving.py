"""The lab serves its model end to end (issue 17): site.yml, as `make lab` runs it, applied the platform to the lab
cluster and its verify stage was green; here the gate reads what that run left and asks the gateway itself.

What is real: the kubeadm cluster, the scheduler and kubelet, llama.cpp's llama-server (built here from the source
llama-cpp-python vendors) serving the tiny random-weight GGUF, the LiteLLM proxy (the pinned release, without a
database), the preload Job copying the weights from the mirror volume into the model's cache volume, verify's checks
and smoke gate. STAND-INS (named so in the site report and the verify table): the GPU the model is scheduled on (a
node status patch, roles/lab_standins) and the storage (static local volumes). Not run in the lab: the GPU Operator
(platform_skip_components says why). KEDA and Prometheus: test_lab_autoscaling.py and test_lab_monitoring.py.
"""

from __future__ import annotations

import json

import yaml
from lab_cluster_support import (
    INVENTORY,
    INVENTORY_ARGS,
    LAB,
    MODELS,
    NAMESPACES,
    REPO,
    SITE_VARS,
    TIMINGS,
    call,
    kubectl_json,
    playbook,
    recap,
    stream_chat,
    timed,
)

VERIFY_DIR = REPO / "build" / "verify"


def test_site_applied_the_platform_and_verify_ran(site):
    assert site.returncode == 0, site.log.read_text()[-6000:]
    for stage in ("platform", "verify"):
        assert f"{stage:<9} ran" in site.stdout, site.stdout[-3000:]
    for component in LAB["platform_skip_components"]:
        assert f"platform component {component} not run on this cluster:" in site.stdout, component
    assert "STAND-IN" in site.stdout or "stand-in" in site.stdout


def test_the_verify_report_is_green(site):
    reports = sorted(VERIFY_DIR.glob(f"{SITE_VARS['cluster_name']}-*.json"), key=lambda p: p.stat().st_mtime)
    assert reports, f"no verify report in {VERIFY_DIR}"
    report = json.loads(reports[-1].read_text())
    checks = {check["check"]: check for check in report["checks"]}
    failed = {name: check["detail"] for name, check in checks.items() if not check["ok"]}
    assert failed == {}, failed
    assert {"gpu_capacity", "pods_ready", "gpu_facts", "tenant_key"} <= set(checks), sorted(checks)
    assert checks["gpu_facts"].get("skipped") and checks["tenant_key"].get("skipped")
    assert "STAND-IN" in checks["gpu_capacity"]["detail"], checks["gpu_capacity"]
    assert [m["model"] for m in report["models"]] == [m["name"] for m in MODELS]
    assert all(m["passed"] for m in report["models"]), report["models"]


def test_the_model_runs_the_lab_image_on_the_gpu_stand_in_from_the_preloaded_cache(served):
    hosts = yaml.safe_load((INVENTORY / "hosts.yml").read_text())
    gpu_nodes = set(hosts["gpu_nodes"]["hosts"])
    for model in MODELS:
        pods = kubectl_json(
            "-n", NAMESPACES["models"], "get", "pods", "-l", f"app.kubernetes.io/instance={model['name']}"
        )["items"]
        serving = [p for p in pods if p["metadata"]["labels"].get("app.kubernetes.io/name") == "llamacpp"]
        assert serving, [p["metadata"]["name"] for p in pods]
        for pod in serving:
            assert pod["spec"]["nodeName"] in gpu_nodes
            (server,) = pod["spec"]["containers"]
            assert server["image"].startswith("localhost/inference-platform/llama-server:")
            assert int(server["resources"]["limits"]["nvidia.com/gpu"]) == model["gpus"]
            assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
            assert server["securityContext"]["readOnlyRootFilesystem"] is True
            ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
            assert ready["status"] == "True"
        jobs = kubectl_json(
            "-n", NAMESPACES["models"], "get", "jobs", "-l", f"app.kubernetes.io/instance={model['name']}"
        )["items"]
        assert jobs and all(job["status"].get("succeeded") == 1 for job in jobs)


def test_a_chat_completion_streams_through_the_gateway(served):
    status, _ = call("/v1/models")
    assert status == 401, "the gateway answered without a key"
    result = stream_chat(served, MODELS[0]["name"], max_tokens=16)
    assert result["ok"] and result["chunks"] >= 8, result
    TIMINGS["first token through the gateway (one streamed request)"] = result["first_token_s"]


def test_a_second_platform_run_changes_nothing(served):
    again = timed(
        "site.yml --tags platform (second run)",
        playbook("site.yml", *INVENTORY_ARGS, "--tags", "platform", extra=SITE_VARS),
    )
    assert again.returncode == 0, again.log.read_text()[-6000:]
    changed = {host: counters["changed"] for host, counters in recap(again.stdout).items()}
    assert set(changed.values()) == {0}, changed


def test_the_engine_and_the_gateway_serve_from_hardened_pods(served):
    """Issue 18 on a real kubelet: both namespaces enforce restricted and their pods run there, non-root, read-only."""
    for key in ("models", "gateway"):
        labels = kubectl_json("get", "namespace", NAMESPACES[key])["metadata"]["labels"]
        assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", (key, labels)
    pods = kubectl_json("-n", NAMESPACES["gateway"], "get", "pods", "-l", "app.kubernetes.io/name=litellm")["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    assert running, [p["metadata"]["name"] for p in pods]
    for pod in running:
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["securityContext"]["runAsUser"] == LAB.get("litellm_run_as_user", 65534)
        (proxy,) = pod["spec"]["containers"]
        assert proxy["image"].startswith("localhost/inference-platform/litellm:")
        assert proxy["securityContext"]["readOnlyRootFilesystem"] is True
        assert proxy["securityContext"]["capabilities"]["drop"] == ["ALL"]
