"""The verify role's judging filters (roles/verify/filter_plugins/verify.py) on Kubernetes-shaped objects.

No server and no cluster needed (so not marked ``integration``): the cluster checks of the role cannot
run here, and these are the parts of them that decide pass or fail. The objects are written in the
shape the Kubernetes API returns (what kubernetes.core.k8s_info hands over as ``resources``).
"""

from __future__ import annotations

import importlib.util

from ansible_cli import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location(
    "verify_filters", PROJECT_ROOT / "roles" / "verify" / "filter_plugins" / "verify.py"
)
verify = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify)


def node(name, gpus=None):
    allocatable = {"cpu": "16", "memory": "64Gi"}
    if gpus is not None:
        allocatable["nvidia.com/gpu"] = gpus
    return {"metadata": {"name": name}, "status": {"allocatable": allocatable}}


def pod(name, phase, ready=None, waiting=None):
    status = {"phase": phase}
    if ready is not None:
        status["conditions"] = [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False"},
        ]
    if waiting:
        status["containerStatuses"] = [{"name": "vllm", "ready": False, "state": {"waiting": {"reason": waiting}}}]
    return {"metadata": {"name": name}, "status": status}


def test_gpu_shortfall_names_each_node_and_why():
    nodes = [node("gpu-1", "2"), node("gpu-2", "0"), node("gpu-3"), node("cpu-1")]
    assert verify.verify_gpu_shortfall(nodes, ["gpu-1", "gpu-2", "gpu-3", "gpu-4"], 1) == [
        "gpu-2: allocatable nvidia.com/gpu 0 < 1",
        "gpu-3: allocatable nvidia.com/gpu none < 1",
        "gpu-4: no such node",
    ]
    assert verify.verify_gpu_shortfall(nodes, ["gpu-1"], 2) == []
    assert verify.verify_gpu_shortfall(nodes, ["gpu-1"], 3) == ["gpu-1: allocatable nvidia.com/gpu 2 < 3"]
    assert verify.verify_node_gpus(nodes) == {"gpu-1": 2, "gpu-2": 0, "gpu-3": 0, "cpu-1": 0}


def test_unready_pods_skip_finished_jobs_and_say_why():
    pods = [
        pod("litellm-0", "Running", ready=True),
        pod("tenant-sync-x", "Succeeded"),
        pod("qwen-0", "Running", ready=False),
        pod("qwen-1", "Pending", waiting="ImagePullBackOff"),
        pod("odd", "Running"),  # no conditions reported at all
    ]
    assert verify.verify_unready_pods(pods) == [
        "qwen-0 (Running)",
        "qwen-1 (Pending, vllm: ImagePullBackOff)",
        "odd (Running)",
    ]
    assert verify.verify_unready_pods([]) == []


def test_replicas_and_table():
    deployments = [
        {"metadata": {"name": "qwen"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}},
        {"metadata": {"name": "idle"}, "spec": {"replicas": 0}, "status": {}},
    ]
    assert verify.verify_replicas(deployments) == {"qwen": "1/2", "idle": "0/0"}
    models = [
        {
            "model": "qwen",
            "replicas": "1/2",
            "ttft_p95_seconds": 0.0412,
            "output_tokens_per_s_p50": 151.2,
            "passed": True,
        },
        {
            "model": "tiny",
            "replicas": None,
            "replicas_configured": "1-1",
            "ttft_p95_seconds": None,
            "output_tokens_per_s_p50": None,
            "passed": False,
            "message": "all 8 request(s) ... failed",
        },
    ]
    checks = [{"check": "pods_ready", "ok": True, "detail": "all pods ready in inference"}]
    assert verify.verify_table(models, checks) == [
        "MODEL  REPLICAS      TTFT p95  tokens/s  VERDICT",
        "qwen   1/2           0.041 s   151       PASS",
        "tiny   1-1 (config)  -         -         FAIL",
        "  tiny: all 8 request(s) ... failed",
        "check pods_ready: PASS - all pods ready in inference",
    ]


def test_a_skipped_check_says_skip_and_why_failed_says_fail():
    checks = [
        {"check": "litellm_refuses_no_key", "ok": False, "detail": "HTTP 200 without a key"},
        {"check": "tenant_key", "ok": True, "skipped": True, "detail": "skipped: litellm_database is none"},
    ]
    assert verify.verify_table([], checks) == [
        "MODEL  REPLICAS  TTFT p95  tokens/s  VERDICT",
        "check litellm_refuses_no_key: FAIL - HTTP 200 without a key",
        "check tenant_key: SKIP - skipped: litellm_database is none",
    ]


def test_a_lab_gpu_stand_in_is_named_as_such():
    standin = node("lab-agent-1", "1")
    standin["metadata"]["labels"] = {"inference.platform/lab-standin": "gpu", "nvidia.com/gpu.present": "true"}
    real = node("gpu-1", "8")
    real["metadata"]["labels"] = {"nvidia.com/gpu.present": "true"}
    assert verify.verify_standin_gpu_nodes([real, standin, node("cpu-1")]) == ["lab-agent-1"]
    assert verify.verify_standin_gpu_nodes([real]) == []
