"""Helpers shared by the render tests and their fixtures (conftest.py): paths, render runs, loading.

A module of its own name so test files import it unambiguously (every test directory has a conftest).
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "fixtures" / "reference"
INVENTORIES = ("lab", "onprem", "hetzner")
# The platform's components: the registry in group_vars/all/platform.yml, never a list of its own.
ROLES = tuple(
    entry["name"]
    for entry in yaml.safe_load((ROOT / "group_vars" / "all" / "platform.yml").read_text())["platform_components"]
)
# Custom resources: kind -> (CRD file, apiVersion) under tests/fixtures/reference/crds.
CRDS = {
    "ScaledObject": ("keda/keda.sh_scaledobjects.yaml", "keda.sh/v1alpha1"),
    "ServiceMonitor": ("prometheus-operator/monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com/v1"),
    "PrometheusRule": ("prometheus-operator/monitoring.coreos.com_prometheusrules.yaml", "monitoring.coreos.com/v1"),
    "HelmChart": ("k3s-helm-controller/helm.cattle.io_helmcharts.yaml", "helm.cattle.io/v1"),
    "HelmChartConfig": ("k3s-helm-controller/helm.cattle.io_helmchartconfigs.yaml", "helm.cattle.io/v1"),
    "Application": ("argo-cd/application-crd.v3.5.1.yaml", "argoproj.io/v1alpha1"),
    "ClusterPolicy": ("gpu-operator/nvidia.com_clusterpolicies.yaml", "nvidia.com/v1"),
}
# Documented free-form maps in the charts' values (their defaults are {} or examples, any key is valid):
# paths below which the key check (unknown_keys) stops.
FREE_FORM = {
    "prometheus.prometheusSpec.storageSpec",  # Prometheus Operator StorageSpec (volumeClaimTemplate, emptyDir)
}
# The gateway of the local lab (issue 17): no database, so no tenants; reached on a NodePort, no Ingress.
DBLESS_GATEWAY = {
    "litellm_database": "none",
    "inference_tenants": [],
    "litellm_service_type": "NodePort",
    "litellm_node_port": 30400,
    "litellm_ingress_enabled": False,
}
# The render tier's lab: the lab inventory with every component, the charts' upstream images and a database-backed
# gateway (the tier's vehicle for variants: Argo CD, the host driver strategy, a bad model). `make lab` itself skips
# the GPU Operator, runs KEDA and the Prometheus stack from the images built here (Grafana and the operator's admission
# webhook off, Prometheus on an emptyDir: the lab gate, tests/lab_cluster, proves those values by running them) and
# the gateway without a database (inventories/lab); that gateway is the DBLESS render below.
FULL_PLATFORM_LAB = {
    "platform_skip_components": {},
    "keda_chart_values_extra": {},
    "monitoring_chart_values_extra": {},
    "monitoring_prometheus_storage_size": yaml.safe_load(
        (ROOT / "roles" / "monitoring" / "defaults" / "main.yml").read_text()
    )["monitoring_prometheus_storage_size"],
    "litellm_database": "postgres",
    "litellm_service_type": "ClusterIP",
    "litellm_ingress_enabled": True,
    "inference_tenants": [
        {"name": "lab", "models": ["tiny-llama"], "max_budget_usd": 10, "budget_duration": "30d", "rpm_limit": 60}
    ],
}
# Name of that render where the per-inventory tests list it beside the example inventories.
DBLESS = "lab-dbless-nodeport"
ARGOCD = {
    "enabled": True,
    "repo_url": "https://git.example.internal/platform/gitops.git",
    "revision": "main",
    "path": "clusters/lab",
    "namespace": "argocd",
    "project": "default",
}


@dataclass
class Render:
    inventory: str
    directory: Path
    returncode: int
    stdout: str
    stderr: str
    objects: list[dict] = field(default_factory=list)
    values: dict[str, dict] = field(default_factory=dict)

    @property
    def recap(self) -> dict[str, int]:
        match = re.search(r"localhost\s*:\s*(.*)", self.stdout.split("PLAY RECAP")[-1])
        assert match, f"no PLAY RECAP in the output of {self.inventory}:\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def _command(inventory: str, directory: Path, extra: list[str]) -> list[str]:
    return [
        "ansible-playbook",
        str(ROOT / "playbooks" / "platform.yml"),
        "-i",
        str(ROOT / "inventories" / inventory),
        "-e",
        "platform_delivery=render",
        "-e",
        f"platform_render_dir={directory}",
        *extra,
    ]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "HF_TOKEN": "",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        }
    )
    bindir = str(Path(os.sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def _run_parallel(jobs: dict[str, tuple[list[str], Path]]) -> dict[str, subprocess.CompletedProcess]:
    env = _environment()
    started = {
        name: subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, (cmd, _) in jobs.items()
    }
    results = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=600)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


def load_render(inventory: str, directory: Path, result: subprocess.CompletedProcess) -> Render:
    render = Render(inventory, directory, result.returncode, result.stdout, result.stderr)
    if result.returncode != 0:
        return render
    for path in sorted(directory.rglob("*.yaml")):
        relative = path.relative_to(directory)
        if relative.parts[1] == "helm":
            render.values[f"{relative.parts[0]}/{path.name.removesuffix('.values.yaml')}"] = yaml.safe_load(
                path.read_text()
            )
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                document["__file__"] = str(relative)
                render.objects.append(document)
    return render


def model_entries(inventory: str) -> list[dict]:
    path = ROOT / "inventories" / inventory / "group_vars/all/60_models.yml"
    return yaml.safe_load(path.read_text())["inference_models"]


def inventory_value(inventory: str, name: str, default_file: str = "main.yml"):
    """A variable as the render tier renders the inventory (the lab: FULL_PLATFORM_LAB over its group_vars/all),
    else as the inventory sets it, else the project default in group_vars/all."""
    if inventory == "lab" and name in FULL_PLATFORM_LAB:
        return FULL_PLATFORM_LAB[name]
    for path in sorted((ROOT / "inventories" / inventory / "group_vars" / "all").glob("[1-9]*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        if name in data:
            return data[name]
    return yaml.safe_load((ROOT / "group_vars" / "all" / default_file).read_text())[name]


def distribution(inventory: str) -> str:
    """cluster_distribution as the inventory sets it (its group_vars/all), else the project default."""
    return inventory_value(inventory, "cluster_distribution")


def skipped_components(inventory: str) -> dict:
    """platform_skip_components as the inventory sets it: the components its cluster does not run."""
    return inventory_value(inventory, "platform_skip_components", "platform.yml") or {}


def clean(obj: dict) -> dict:
    return {key: value for key, value in obj.items() if key != "__file__"}


def go_patterns(node):
    """CRDs carry Go regexps; Python accepts an inline flag such as (?i) only at the start."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str) and "(?i)" in value[1:]:
                node[key] = "(?i)" + value.replace("(?i)", "")
            else:
                go_patterns(value)
    elif isinstance(node, list):
        for item in node:
            go_patterns(item)
    return node


def served_schema(crd: dict, api_version: str) -> dict | None:
    """The openAPIV3Schema a CustomResourceDefinition serves for api_version (group/version), Go regexps made
    Python's; None when it does not serve that version."""
    group = crd["spec"]["group"]
    for version in crd["spec"]["versions"]:
        if f"{group}/{version['name']}" == api_version:
            return go_patterns(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
    return None


@cache
def crd_schema(kind: str) -> dict:
    path, api_version = CRDS[kind]
    schema = served_schema(yaml.safe_load((REFERENCE / "crds" / path).read_text()), api_version)
    if schema is None:
        raise AssertionError(f"{api_version} not served by {path}")
    return schema


def all_images(value) -> list[str]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "image" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(all_images(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(all_images(item))
    return found


def unknown_keys(values, defaults, path="") -> list[str]:
    """Keys of `values` that the chart's default values do not have (recursively, maps only)."""
    if path in FREE_FORM or not isinstance(values, dict):
        return []
    if not isinstance(defaults, dict):
        return [f"{path} (the chart's default is {type(defaults).__name__}, not a map)"]
    problems = []
    for key, value in values.items():
        child = f"{path}.{key}" if path else key
        if key not in defaults:
            problems.append(child)
        elif isinstance(value, dict):
            if not defaults[key] and child not in FREE_FORM:
                problems.append(f"{child} (an empty map in the chart: add it to FREE_FORM if documented free-form)")
            else:
                problems.extend(unknown_keys(value, defaults[key], child))
    return problems


# --- Pod Security Standards, profile restricted (kubernetes.io/docs/concepts/security/pod-security-standards) ----
# The one rule set the render tests judge pod specs by: the project's own workloads (test_pod_security.py) and every
# pod template the pinned charts render into a namespace that enforces restricted (test_upstream_charts.py). The API
# server's own PodSecurity admission judges the same objects in tests/cluster_api.

# Volume types restricted allows (everything else, hostPath first, is refused).
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}
# Sysctls baseline (and so restricted) allows.
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def restricted_problems(spec: dict, annotations: dict | None = None) -> list[str]:
    """What the restricted profile refuses in a pod spec (empty when it admits it), baseline's rules included;
    annotations: the pod template's (AppArmor's annotation form)."""
    problems = [
        f"annotation {key}: {value}"
        for key, value in (annotations or {}).items()
        if key.startswith("container.apparmor.security.beta.kubernetes.io/")
        and not (value == "runtime/default" or value.startswith("localhost/"))
    ]
    pod = spec.get("securityContext") or {}
    problems += [f"{host}: true" for host in ("hostNetwork", "hostPID", "hostIPC") if spec.get(host) is True]
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: {', '.join(sorted(kinds - RESTRICTED_VOLUME_TYPES))}")
    problems += [f"sysctl {s['name']}" for s in pod.get("sysctls") or [] if s.get("name") not in SAFE_SYSCTLS]
    if pod.get("runAsUser") == 0:
        problems.append("pod runAsUser: 0")
    if (pod.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
        problems.append(f"pod seLinuxOptions type {pod['seLinuxOptions']['type']}")
    if (pod.get("appArmorProfile") or {}).get("type") == "Unconfined":
        problems.append("pod appArmorProfile: Unconfined")
    pod_seccomp = (pod.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"pod seccompProfile: {pod_seccomp}")
    kinds = ("initContainers", "containers", "ephemeralContainers")
    containers = [container for kind in kinds for container in spec.get(kind) or []]
    for container in containers:
        where = f"container {container['name']}"
        security = container.get("securityContext") or {}
        if security.get("privileged") is True:
            problems.append(f"{where}: privileged")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        capabilities = security.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities do not drop ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: adds capabilities {sorted(set(capabilities['add']) - {'NET_BIND_SERVICE'})}")
        non_root = security.get("runAsNonRoot", pod.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"{where}: runAsNonRoot is not true (pod or container)")
        if security.get("runAsUser") == 0:
            problems.append(f"{where}: runAsUser: 0")
        seccomp = (security.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile is {seccomp} (pod or container)")
        if (security.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
            problems.append(f"{where}: seLinuxOptions type {security['seLinuxOptions']['type']}")
        if (security.get("appArmorProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{where}: appArmorProfile: Unconfined")
        if security.get("procMount") not in (None, "Default"):
            problems.append(f"{where}: procMount {security['procMount']}")
        problems += [f"{where}: hostPort {p['hostPort']}" for p in container.get("ports") or [] if p.get("hostPort")]
    if not containers:
        problems.append("no container")
    return problems
