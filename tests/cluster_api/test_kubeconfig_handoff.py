"""The seam between the cluster stage and every later one (issue 14): site.yml's platform and verify stages act on the
cluster whose kubeconfig the cluster stage wrote, even when ~/.kube/config, KUBECONFIG and K8S_AUTH_KUBECONFIG all
point at another cluster, as they often do on an operator's laptop.

Two real control planes (conftest.py's binaries): "built", whose kubeconfig is written where and as the cluster stage
writes it (build/kubeconfig/<cluster_name>.yaml, context named after the cluster, through the same filter the k3s and
kubeadm roles use), and "other", which the environment names. No kubeconfig path is passed on the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import yaml
from control_plane import REPO_ROOT, ControlPlane
from platform_apply_support import CRD_FIXTURES, NO_NODE_VALUES, VENV_BIN, apply_crds, helm_env, pinned_chart_dir

sys.path.insert(0, str(REPO_ROOT / "collections"))
from ansible_collections.inference.platform.plugins.filter.platform import handed_over_kubeconfig


@pytest.fixture(scope="module")
def clusters(control_plane_bin_dir, tmp_path_factory):
    started = []
    try:
        # The built cluster runs its controller manager (Deployments get their Pending pods, which verify reads).
        for name, controller_manager in (("built", True), ("other", False)):
            started.append(
                ControlPlane.start(
                    control_plane_bin_dir, tmp_path_factory.mktemp(name), controller_manager=controller_manager
                )
            )
        yield dict(zip(("built", "other"), started, strict=True))
    finally:
        for cp in started:
            cp.stop()


@pytest.fixture(scope="module")
def handoff(clusters, helm_bin_dir, tmp_path_factory):
    """site.yml --tags platform,verify with the environment pointing at "other"; returns the run and the names."""
    work = tmp_path_factory.mktemp("handoff")
    cluster_name = f"handoff-{uuid.uuid4().hex[:6]}"
    # What the cluster stage leaves behind: its kubeconfig at cluster_kubeconfig's default path.
    written = REPO_ROOT / "build" / "kubeconfig" / f"{cluster_name}.yaml"
    written.parent.mkdir(parents=True, exist_ok=True)
    admin = yaml.safe_load(clusters["built"].kubeconfig.read_text())
    written.write_text(yaml.safe_dump(handed_over_kubeconfig(admin, clusters["built"].server, cluster_name)))
    written.chmod(0o600)
    # The operator's laptop: every usual kubeconfig source names the other cluster.
    home = work / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(clusters["other"].kubeconfig.read_text())
    charts = pinned_chart_dir(helm_bin_dir / "helm", work, "onprem")
    # The onprem inventory runs k3s, whose helm-controller serves helm.cattle.io: install those CRDs as k3s would.
    from kubernetes import config

    api = config.new_client_from_config(config_file=str(clusters["built"].kubeconfig))
    try:
        apply_crds(api, sorted((CRD_FIXTURES / "k3s-helm-controller").glob("*.yaml")))
    finally:
        api.close()
    extra = {
        "cluster_name": cluster_name,
        "platform_delivery": "apply",
        "platform_delivery_chart_dir": str(charts),
        "platform_delivery_wait": False,
        "gpu_operator_wait_for_gpus": False,
        "ansible_python_interpreter": sys.executable,
        "ansible_connection": "local",
        "verify_gpu_facts": False,
        "verify_auth_check": False,
        "verify_tenant_check": False,
        "verify_smoke_gate": False,
        "verify_pods_ready_retries": 1,
        "verify_pods_ready_delay_seconds": 1,
        "verify_report_dir": str(work / "verify"),
        **NO_NODE_VALUES,
    }
    (work / "extra.json").write_text(json.dumps(extra))
    env = {
        **os.environ,
        **helm_env(work),
        "HOME": str(home),
        "KUBECONFIG": str(clusters["other"].kubeconfig),
        "K8S_AUTH_KUBECONFIG": str(clusters["other"].kubeconfig),
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "HF_TOKEN": "",
        "PATH": os.pathsep.join([str(helm_bin_dir), str(VENV_BIN), os.environ.get("PATH", "")]),
    }
    try:
        run = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), str(REPO_ROOT / "playbooks" / "site.yml"),
             "-i", str(REPO_ROOT / "inventories" / "onprem"), "-i", "localhost,", "--limit", "localhost",
             "--tags", "platform,verify", "-e", f"@{work / 'extra.json'}"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
        )
    finally:
        written.unlink()
    return run, cluster_name, work


def _deployments(cp: ControlPlane, namespace: str) -> list[str]:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(cp.kubeconfig))
    try:
        return [d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment(namespace).items]
    finally:
        api.close()


def _namespaces(cp: ControlPlane) -> set[str]:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(cp.kubeconfig))
    try:
        return {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}
    finally:
        api.close()


def test_the_platform_lands_on_the_cluster_the_cluster_stage_wrote(handoff, clusters):
    run, _, _ = handoff
    output = run.stdout + run.stderr
    assert "Deliver the inference platform" in output, output[-3000:]
    models = yaml.safe_load((REPO_ROOT / "inventories/onprem/group_vars/all/60_models.yml").read_text())
    deployments = _deployments(clusters["built"], "inference")
    for model in models["inference_models"]:
        assert model["name"] in deployments, (model["name"], deployments, output[-3000:])


def test_the_other_cluster_is_never_touched(handoff, clusters):
    namespaces = _namespaces(clusters["other"])
    assert namespaces <= {"default", "kube-system", "kube-public", "kube-node-lease"}, namespaces


def test_verify_read_the_same_cluster(handoff):
    """verify's cluster checks found the model pods the platform stage created (Pending: no kubelet here)."""
    run, _, work = handoff
    assert run.returncode != 0, "verify must fail: no pod can be ready without a kubelet"
    reports = list((work / "verify").glob("*.json"))
    assert len(reports) == 1, (run.stdout + run.stderr)[-6000:]
    (report_path,) = reports
    checks = {check["check"]: check for check in json.loads(report_path.read_text())["checks"]}
    assert checks["pods_ready"]["ok"] is False
    assert "inference: " in checks["pods_ready"]["detail"], checks["pods_ready"]
    models = yaml.safe_load((REPO_ROOT / "inventories/onprem/group_vars/all/60_models.yml").read_text())
    assert any(m["name"] in checks["pods_ready"]["detail"] for m in models["inference_models"]), checks["pods_ready"]
