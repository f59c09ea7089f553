"""The lab stand-ins (roles/lab_standins, playbooks/lab_standins.yml) on the session's lab cluster.

STAND-INS, named so: the lab has no GPU and no storage provisioner. What is proven here is that the lab cluster
then looks like a GPU site to the real scheduler, kubelet and volume binder, never that a GPU works:

1. playbooks/lab_standins.yml (as site.yml runs it between the cluster and platform stages) ends well;
2. the GPU node advertises nvidia.com/gpu (capacity and allocatable), GPU feature discovery's labels and the
   GPU taint; the other nodes advertise none;
3. a pod with the vllm role's node selector and tolerations and a limit of nvidia.com/gpu: 1 is scheduled on
   the GPU node, and one more such pod stays Pending with "Insufficient nvidia.com/gpu";
4. a model's cache claim of the lab StorageClass binds, and a pod mounting the mirror claim read-only reads
   the lab model's GGUF (sha256 of the generated file) and copies it into the cache claim, as the preload Job does;
5. kubelet restarted on the GPU node keeps the patched resource, and a second run then reports changed=0 on
   every host.
"""

from __future__ import annotations

import calendar
import json
import subprocess
import time

import pytest
import yaml
from lab_cluster_support import (
    INVENTORY,
    INVENTORY_ARGS,
    REPO,
    SITE_VARS,
    TIMINGS,
    artifacts_dir,
    kubectl,
    kubectl_json,
    on_host,
    playbook,
    recap,
    timed,
    wait,
)

GPU = "nvidia.com/gpu"
STANDIN_VARS = {**SITE_VARS, "lab_standins_enabled": "true"}
STANDINS = yaml.safe_load((REPO / "roles" / "lab_standins" / "defaults" / "main.yml").read_text())
VLLM = yaml.safe_load((REPO / "roles" / "vllm" / "defaults" / "main.yml").read_text())
NAMESPACE = yaml.safe_load((REPO / "group_vars" / "all" / "platform.yml").read_text())["platform_namespaces"]["models"]
GGUF = f"{STANDINS['lab_standins_model_hf_id']}/{STANDINS['lab_standins_model_gguf_file']}"
PROBE_LABEL = "inference.platform/lab-standin-check"
# The lab inventory's own settings (it may override the role's defaults, e.g. the GPU taint).
LAB_SETTINGS = {}
for _path in sorted((REPO / "inventories" / "lab" / "group_vars" / "all").glob("[1-9]*.yml")):
    LAB_SETTINGS.update(yaml.safe_load(_path.read_text()) or {})
# Stand-in GPUs per GPU node: the lab inventory's (two: a second replica, a rollout's candidate), else the role's.
GPU_COUNT = LAB_SETTINGS.get("lab_standins_gpu_count", STANDINS["lab_standins_gpu_count"])


def gpu_nodes() -> list[str]:
    return list(yaml.safe_load((INVENTORY / "hosts.yml").read_text())["gpu_nodes"]["hosts"])


def run_standins(label: str):
    proc = timed(label, playbook("lab_standins.yml", *INVENTORY_ARGS, extra=STANDIN_VARS))
    assert proc.returncode == 0, proc.log.read_text()[-6000:]
    return proc


def changed(proc) -> dict[str, int]:
    return {host: counters["changed"] for host, counters in recap(proc.stdout).items()}


@pytest.fixture(scope="module")
def standins(site):
    assert site.returncode == 0, site.log.read_text()[-3000:]
    return run_standins("lab_standins.yml (first run)")


def test_the_gpu_node_advertises_the_stand_in_and_the_others_do_not(standins):
    nodes = {n["metadata"]["name"]: n for n in kubectl_json("get", "nodes")["items"]}
    for name, node in nodes.items():
        if name in gpu_nodes():
            assert node["status"]["capacity"].get(GPU) == str(GPU_COUNT)
            assert node["status"]["allocatable"].get(GPU) == str(GPU_COUNT)
            labels = node["metadata"]["labels"]
            assert labels["nvidia.com/gpu.present"] == "true"
            assert labels["inference.platform/lab-standin"] == "gpu"
            assert {"nvidia.com/gpu.product", "nvidia.com/gpu.count", "nvidia.com/gpu.memory"} <= set(labels)
            taints = [{k: t.get(k) for k in ("key", "value", "effect")} for t in node["spec"].get("taints", [])]
            for taint in LAB_SETTINGS.get("lab_standins_gpu_taints", STANDINS["lab_standins_gpu_taints"]):
                assert {"value": None, **taint} in taints, taints
        else:
            assert GPU not in node["status"]["capacity"], name


def pod(
    name: str, gpus: int = 0, command: list[str] | None = None, volumes: dict | None = None, uid: int = 1000
) -> dict:
    """A pod as the vllm role's would be placed (node selector, tolerations), restricted-compliant, as UID uid."""
    image = json.loads((artifacts_dir() / "artifacts.json").read_text())["images"]["images/kube-proxy.tar"]
    container = {
        "name": "probe",
        "image": image,
        "imagePullPolicy": "Never",
        "command": command or ["sleep", "600"],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"limits": {GPU: str(gpus)}} if gpus else {},
        "volumeMounts": [
            {"name": n, "mountPath": v["path"], "readOnly": v["readOnly"]} for n, v in (volumes or {}).items()
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {PROBE_LABEL: "true"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "securityContext": {"fsGroup": uid, "seccompProfile": {"type": "RuntimeDefault"}},
            "nodeSelector": VLLM["vllm_node_selector"],
            "tolerations": VLLM["vllm_tolerations"],
            "containers": [container],
            "volumes": [
                {"name": n, "persistentVolumeClaim": {"claimName": v["claim"], "readOnly": v["readOnly"]}}
                for n, v in (volumes or {}).items()
            ],
        },
    }


def apply(obj: dict) -> None:
    kubectl("apply", "-f", "-", stdin=json.dumps(obj))


@pytest.fixture
def cleanup():
    yield
    kubectl("-n", NAMESPACE, "delete", "pods", "-l", PROBE_LABEL, "--wait=true", "--timeout=60s", check=False)


def gpus_in_use(node: str) -> dict[str, int]:
    pods = kubectl_json("get", "pods", "-A", "--field-selector", f"spec.nodeName={node}")["items"]
    held = {}
    for p in pods:
        if p["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        count = sum(int(c.get("resources", {}).get("limits", {}).get(GPU, 0)) for c in p["spec"]["containers"])
        if count:
            held[f"{p['metadata']['namespace']}/{p['metadata']['name']}"] = count
    return held


def test_a_gpu_pod_lands_on_the_gpu_node_and_one_more_stays_pending(standins, cleanup):
    node = gpu_nodes()[0]
    allocatable = int(kubectl_json("get", "node", node)["status"]["allocatable"][GPU])
    free = allocatable - sum(gpus_in_use(node).values())
    # The platform's own model (once the lab serves one) may already hold the stand-in GPU: then that pod is the
    # first, and only the extra pod is asked for.
    if free > 0:
        apply(pod("gpu-first", gpus=free))
        placed = wait(
            "gpu-first Running",
            lambda: (
                (p := kubectl_json("-n", NAMESPACE, "get", "pod", "gpu-first"))["status"].get("phase") == "Running"
                and p
            ),
            timeout=120,
        )
        assert placed["spec"]["nodeName"] == node
    assert sum(gpus_in_use(node).values()) == allocatable
    apply(pod("gpu-extra", gpus=1))

    def unschedulable():
        status = kubectl_json("-n", NAMESPACE, "get", "pod", "gpu-extra")["status"]
        condition = next((c for c in status.get("conditions", []) if c["type"] == "PodScheduled"), {})
        return condition.get("status") == "False" and condition.get("message")

    message = wait("gpu-extra unschedulable", unschedulable, timeout=60, every=1)
    assert f"Insufficient {GPU}" in message, message
    assert kubectl_json("-n", NAMESPACE, "get", "pod", "gpu-extra")["status"]["phase"] == "Pending"


def model_uid(name: str) -> int:
    """The UID (and fsGroup) the vllm role runs a lab model's pods as: its engine's (roles/vllm/defaults/main.yml)."""
    models = yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / "all" / "60_models.yml").read_text())
    engine = next(m for m in models["inference_models"] if m["name"] == name).get("engine", "vllm")
    return VLLM["vllm_run_as_user"] if engine == "vllm" else VLLM["vllm_llamacpp_run_as_user"]


def generated_model_sha256() -> str:
    out = subprocess.run(
        [*STANDINS["lab_standins_model_generator"]], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["sha256"]


def test_the_mirror_claim_serves_the_lab_model_into_a_cache_claim_of_the_lab_class(standins, cleanup):
    # A model's cache volume as the stand-in made it from inference_models (bound in advance to its claim).
    volumes = kubectl_json("get", "pv", "-l", "inference.platform/lab-standin=storage")["items"]
    volume = next(v for v in volumes if v["spec"]["claimRef"]["name"].endswith("-model-cache"))
    claim = volume["spec"]["claimRef"]["name"]
    created = kubectl("-n", NAMESPACE, "get", "pvc", claim, check=False).returncode != 0
    if created:  # as the vllm role creates it (with the lab inventory's vllm_model_cache_storage_class)
        apply(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": NAMESPACE},
                "spec": {
                    "accessModes": VLLM["vllm_model_cache_access_modes"],
                    "storageClassName": STANDINS["lab_standins_storage_class"],
                    "resources": {"requests": {"storage": volume["spec"]["capacity"]["storage"]}},
                },
            }
        )
    try:
        copy = f"cp /mirror/{GGUF} /models/standin-check.gguf && sha256sum /mirror/{GGUF} /models/standin-check.gguf"
        apply(
            pod(
                "mirror-read",
                command=["sh", "-c", copy + " && rm /models/standin-check.gguf"],
                # As the model's preload Job and server use the volume (its engine's UID and fsGroup): a pod with
                # another fsGroup cannot write into a volume kubelet already gave theirs.
                uid=model_uid(claim.removesuffix("-model-cache")),
                volumes={
                    "mirror": {"claim": STANDINS["lab_standins_mirror_claim"], "path": "/mirror", "readOnly": True},
                    "cache": {"claim": claim, "path": "/models", "readOnly": False},
                },
            )
        )
        done = wait(
            "mirror-read finished",
            lambda: (
                kubectl_json("-n", NAMESPACE, "get", "pod", "mirror-read")["status"].get("phase")
                in ("Succeeded", "Failed")
            ),
            timeout=120,
        )
        logs = kubectl("-n", NAMESPACE, "logs", "mirror-read").stdout
        assert done and kubectl_json("-n", NAMESPACE, "get", "pod", "mirror-read")["status"]["phase"] == "Succeeded", (
            logs
        )
        sums = {line.split()[1]: line.split()[0] for line in logs.splitlines() if line.strip()}
        expected = generated_model_sha256()
        assert sums == {f"/mirror/{GGUF}": expected, "/models/standin-check.gguf": expected}
        pvc = kubectl_json("-n", NAMESPACE, "get", "pvc", claim)
        assert pvc["status"]["phase"] == "Bound"
        assert pvc["spec"]["storageClassName"] == STANDINS["lab_standins_storage_class"]
        assert (
            kubectl_json("-n", NAMESPACE, "get", "pvc", STANDINS["lab_standins_mirror_claim"])["status"]["phase"]
            == "Bound"
        )
    finally:
        if created:
            kubectl("-n", NAMESPACE, "delete", "pod", "mirror-read", "--wait=true", check=False)
            kubectl("-n", NAMESPACE, "delete", "pvc", claim, "--wait=true", check=False)
            # The volume is Retain: make it Available again for the vllm role's claim, as the stand-in left it.
            kubectl(
                "patch",
                "pv",
                f"lab-standin-{claim}",
                "--type",
                "json",
                "-p",
                '[{"op":"remove","path":"/spec/claimRef/uid"},{"op":"remove","path":"/spec/claimRef/resourceVersion"}]',
                check=False,
            )


def test_kubelet_restarted_on_the_gpu_node_keeps_the_stand_in_and_a_second_run_changes_nothing(standins):
    node = gpu_nodes()[0]

    def ready(n):
        return next(c for c in n["status"]["conditions"] if c["type"] == "Ready")

    # A started kubelet posts its Node status at once (then only on changes or every 5 min): a heartbeat newer
    # than the one before the restart, and not older than the restart, is the restarted kubelet's.
    last = ready(kubectl_json("get", "node", node))["lastHeartbeatTime"]
    before = int(time.time())
    assert on_host(node, "systemctl restart kubelet").returncode == 0

    def reported_after_restart():
        n = kubectl_json("get", "node", node)
        beat = ready(n)["lastHeartbeatTime"]
        when = calendar.timegm(time.strptime(beat, "%Y-%m-%dT%H:%M:%SZ"))
        return ready(n)["status"] == "True" and beat != last and when >= before and n

    started = time.monotonic()
    node_obj = wait("the GPU node's restarted kubelet reporting", reported_after_restart, timeout=120, every=2)
    TIMINGS["kubelet restart until it reports"] = time.monotonic() - started
    assert node_obj["status"]["capacity"].get(GPU) == str(GPU_COUNT)
    assert node_obj["status"]["allocatable"].get(GPU) == str(GPU_COUNT)
    # Nothing was cleared, and nothing else moved since the first run: the second run changes nothing anywhere.
    again = run_standins("lab_standins.yml (second run, after the kubelet restart)")
    counts = changed(again)
    assert set(counts) >= {"localhost", *gpu_nodes()} and set(counts.values()) == {0}, counts
