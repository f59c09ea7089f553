"""Helpers for test_platform_apply.py and test_kubeconfig_handoff.py: the real pinned chart archives, runs of
playbooks/platform.yml, reading results.

A module of its own name (every test directory has a conftest), imported by the test files only.

THE CHARTS ARE THE REAL PINNED ARCHIVES (issue 15): ``pinned_chart_dir`` finds them as tests/support/pinned_charts.py
does (the inventory's platform_delivery_chart_dir, else INFERENCE_PLATFORM_CHART_DIR, else `helm pull` into the
cache; none is a failure) and hands them to the platform as platform_delivery_chart_dir, the air-gapped path. The
real Helm installs them into the real kube-apiserver with the project's real values. No kubelet runs: the operators'
Deployments and DaemonSets are stored, their pods stay Pending, and no operator reconciles anything.

NO_NODE_VALUES: what this tier adds to the roles' chart values, and why. kube-prometheus-stack's admission webhook
gets its certificate from two Helm hook Jobs (admission-create pre-install, admission-patch post-install). Helm runs
hooks and waits for hook Jobs to complete even without --wait; without a node they never start, so the install would
hang until Helm's timeout and fail. Here the webhook is switched off (prometheusOperator.admissionWebhooks.enabled:
false), which removes the Jobs, the webhook configurations and the operator's TLS flags. That the delivered values
render those Jobs is proven by tests/render/test_upstream_charts.py; that they complete needs a real node.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pinned_charts
import pytest
import yaml
from control_plane import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "reference" / "crds"
VENV_BIN = Path(sys.executable).parent
NO_NODE_VALUES = {"monitoring_chart_values_extra": {"prometheusOperator": {"admissionWebhooks": {"enabled": False}}}}


def pinned_chart_dir(helm: Path, work_dir: Path, inventory: str) -> Path:
    """A platform_delivery_chart_dir with the real pinned archive of every chart in the component registry."""
    chart_dir = pinned_charts.inventory_settings(inventory)["chart_dir"]
    try:
        found = pinned_charts.archives(pinned_charts.registry_charts(), chart_dir, helm)
    except pinned_charts.ChartsUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    return pinned_charts.archive_dir(found, work_dir / "charts")


def helm_env(work_dir: Path) -> dict[str, str]:
    """Helm's config, cache and data under the test's work directory, never the user's."""
    return {
        "HELM_CONFIG_HOME": str(work_dir / "helm" / "config"),
        "HELM_CACHE_HOME": str(work_dir / "helm" / "cache"),
        "HELM_DATA_HOME": str(work_dir / "helm" / "data"),
    }


def run_helm(helm: Path, work_dir: Path, args: list[str], kubeconfig: Path | None = None) -> str:
    env = {**os.environ, **helm_env(work_dir)}
    if kubeconfig:
        env["KUBECONFIG"] = str(kubeconfig)
    completed = subprocess.run([str(helm), *args], env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, f"helm {' '.join(args)}: rc={completed.returncode}\n{completed.stderr}"
    return completed.stdout


class PlatformRunner:
    """Runs playbooks/platform.yml against the real API server, the way an operator runs it."""

    def __init__(self, kubeconfig: Path, helm_bin_dir: Path, chart_dir: Path, work_dir: Path, inventory: str):
        self.kubeconfig = kubeconfig
        self.helm_bin_dir = helm_bin_dir
        self.chart_dir = chart_dir
        self.work_dir = work_dir
        self.inventory = REPO_ROOT / "inventories" / inventory
        self.context = yaml.safe_load(kubeconfig.read_text())["current-context"]
        self.runs = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(helm_env(self.work_dir))
        env.update(
            ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_DEPRECATION_WARNINGS="0",
            ANSIBLE_LOCAL_TEMP=str(self.work_dir / "ansible-tmp"),
            # The platform acts on cluster_kubeconfig (extra_vars), whatever the environment says; these point at a
            # file that does not exist, so a call that ignored cluster_kubeconfig would fail, not reach the server.
            K8S_AUTH_KUBECONFIG=str(self.work_dir / "not-this-kubeconfig.yaml"),
            KUBECONFIG=str(self.work_dir / "not-this-kubeconfig.yaml"),
            HF_TOKEN="",
            PATH=os.pathsep.join([str(self.helm_bin_dir), str(VENV_BIN), env.get("PATH", "")]),
        )
        return env

    def extra_vars(self, **overrides) -> Path:
        self.runs += 1
        data = {
            # What the cluster stage hands over: the kubeconfig it wrote and its context.
            "cluster_kubeconfig": str(self.kubeconfig),
            "cluster_kube_context": self.context,
            "platform_delivery": "apply",
            "platform_delivery_chart_dir": str(self.chart_dir),
            # No kubelet here: nothing would ever become ready. Apply and move on; assert state instead.
            "platform_delivery_wait": False,
            "gpu_operator_wait_for_gpus": False,
            "ansible_python_interpreter": sys.executable,
            **NO_NODE_VALUES,
            **overrides,
        }
        path = self.work_dir / f"extra-vars-{self.runs}.json"
        path.write_text(json.dumps(data))
        return path

    def run(self, *args: str, playbook: str = "platform.yml", **overrides) -> PlaybookResult:
        command = [
            str(VENV_BIN / "ansible-playbook"),
            str(REPO_ROOT / "playbooks" / playbook),
            "-i",
            str(self.inventory),
            "-e",
            f"@{self.extra_vars(**overrides)}",
            *args,
        ]
        completed = subprocess.run(
            command, cwd=REPO_ROOT, env=self.env(), capture_output=True, text=True, timeout=900
        )
        return PlaybookResult(completed)


class PlaybookResult:
    def __init__(self, completed: subprocess.CompletedProcess):
        self.completed = completed
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        try:
            self.data = json.loads(completed.stdout)
        except json.JSONDecodeError:
            self.data = {}

    def explain(self) -> str:
        failed = [
            f"{task} -> {json.dumps(result)[:1500]}"
            for task, result in self.task_results()
            if result.get("failed") or any(r.get("failed") for r in result.get("results", []))
        ]
        return (
            f"rc={self.returncode}\nfailed tasks: {failed}\n"
            f"stderr: {self.stderr[-3000:]}\nstdout: {self.stdout[-2000:]}"
        )

    @property
    def stats(self) -> dict:
        return self.data.get("stats", {}).get("localhost", {})

    def task_results(self) -> list[tuple[str, dict]]:
        return [
            (task["task"]["name"], task["hosts"]["localhost"])
            for play in self.data.get("plays", [])
            for task in play["tasks"]
            if "localhost" in task["hosts"]
        ]

    def changed_items(self) -> list[tuple[str, str]]:
        """(task name, change) of every change: one per object, Secret, chart or deletion of platform_apply, else the
        loop label."""
        changed = []
        for name, result in self.task_results():
            for item in result.get("results") or [result]:
                if not item.get("changed"):
                    continue
                if "changes" in item:  # inference.platform.platform_apply: one line per change
                    changed += [(name, change) for change in item["changes"]]
                else:
                    changed.append((name, _label(item)))
        return changed


def _label(item: dict) -> str:
    label = item.get("_ansible_item_label", item.get("item", ""))
    return label if isinstance(label, str) else json.dumps(label, sort_keys=True)


def rendered_objects(render_dir: Path) -> list[dict]:
    """Every Kubernetes object a render wrote under render_dir/<component>/manifests/."""
    objects = []
    for path in sorted(render_dir.glob("*/manifests/*.yaml")):
        objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def rendered_helm_values(render_dir: Path) -> dict[str, dict]:
    """{release: values} of every chart a render wrote (render_dir/<component>/helm/<release>.values.yaml)."""
    return {
        re.sub(r"\.values\.yaml$", "", path.name): yaml.safe_load(path.read_text()) or {}
        for path in sorted(render_dir.glob("*/helm/*.values.yaml"))
    }


def apply_crds(k8s_api, paths) -> None:
    from kubernetes import client

    ext = client.ApiextensionsV1Api(k8s_api)
    names = []
    for path in paths:
        for manifest in yaml.safe_load_all(path.read_text()):
            if manifest and manifest.get("kind") == "CustomResourceDefinition":
                ext.create_custom_resource_definition(manifest)
                names.append(manifest["metadata"]["name"])

    def established() -> bool:
        for name in names:
            conditions = {c.type: c.status for c in ext.read_custom_resource_definition(name).status.conditions or []}
            if conditions.get("Established") != "True":
                return False
        return True

    wait_for(f"CRDs {names} Established", established, timeout=30)


