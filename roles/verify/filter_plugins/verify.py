# Copyright (c) the inference.platform project contributors
# SPDX-License-Identifier: Apache-2.0
"""Filters of the verify role: judge Kubernetes objects and lay out the summary table.

Plain functions over the data k8s_info and smoke_inference return, so the role's tasks stay
readable and the judgement can be tested without a cluster.
"""

from __future__ import annotations

GPU_RESOURCE = "nvidia.com/gpu"


def verify_gpu_shortfall(nodes, hosts, minimum=1):
    """Hosts (Kubernetes node names) that do not allocate ``minimum`` GPUs, each as 'name: reason'."""
    allocatable = {}
    for node in nodes or []:
        name = (node.get("metadata") or {}).get("name")
        allocatable[name] = ((node.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE)
    problems = []
    for host in hosts or []:
        if host not in allocatable:
            problems.append(f"{host}: no such node")
            continue
        value = allocatable[host]
        try:
            count = int(value)
        except (TypeError, ValueError):
            count = 0
        if count < int(minimum):
            shown = "none" if value is None else value
            problems.append(f"{host}: allocatable {GPU_RESOURCE} {shown} < {minimum}")
    return problems


def verify_node_gpus(nodes):
    """{node name: allocatable nvidia.com/gpu as int (0 when absent)}."""
    out = {}
    for node in nodes or []:
        value = ((node.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE)
        try:
            out[(node.get("metadata") or {}).get("name")] = int(value)
        except (TypeError, ValueError):
            out[(node.get("metadata") or {}).get("name")] = 0
    return out


def verify_standin_gpu_nodes(nodes, label="inference.platform/lab-standin"):
    """Names of the nodes whose nvidia.com/gpu is a lab stand-in (roles/lab_standins labels them), sorted."""
    return sorted(
        (node.get("metadata") or {}).get("name")
        for node in nodes or []
        if ((node.get("metadata") or {}).get("labels") or {}).get(label) == "gpu"
    )


def verify_unready_pods(pods):
    """Pods that are neither Ready nor finished (Succeeded), each as 'name (phase, reason)'."""
    problems = []
    for pod in pods or []:
        status = pod.get("status") or {}
        phase = status.get("phase") or "Unknown"
        if phase == "Succeeded":
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if phase == "Running" and ready:
            continue
        reasons = []
        for container in status.get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                reasons.append(f"{container.get('name')}: {waiting['reason']}")
            elif not container.get("ready"):
                reasons.append(f"{container.get('name')}: not ready")
        detail = phase + (", " + ", ".join(reasons) if reasons else "")
        problems.append(f"{(pod.get('metadata') or {}).get('name')} ({detail})")
    return problems


def verify_replicas(deployments):
    """{Deployment name: 'ready/desired'}."""
    out = {}
    for deployment in deployments or []:
        name = (deployment.get("metadata") or {}).get("name")
        ready = (deployment.get("status") or {}).get("readyReplicas") or 0
        desired = (deployment.get("spec") or {}).get("replicas")
        out[name] = f"{ready}/{desired if desired is not None else '?'}"
    return out


def _number(value, unit=""):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}{unit}"
    if value >= 1:
        return f"{value:.2f}{unit}"
    return f"{value:.3f}{unit}"


def verify_table(models, checks):
    """The lines a person reads at the end: one per model, then one per check."""
    rows = [("MODEL", "REPLICAS", "TTFT p95", "tokens/s", "VERDICT")]
    for model in models or []:
        replicas = model.get("replicas")  # ready/desired from the cluster
        if not replicas and model.get("replicas_configured"):
            replicas = f"{model['replicas_configured']} (config)"  # min-max from inference_models
        rows.append(
            (
                model["model"],
                replicas or "-",
                _number(model.get("ttft_p95_seconds"), " s"),
                _number(model.get("output_tokens_per_s_p50")),
                "PASS" if model.get("passed") else "FAIL",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for model in models or []:
        if not model.get("passed"):
            lines.append(f"  {model['model']}: {model.get('message')}")
    for check in checks or []:
        verdict = "SKIP" if check.get("skipped") else "PASS" if check.get("ok") else "FAIL"
        lines.append(f"check {check['check']}: {verdict} - {check.get('detail')}")
    return lines


class FilterModule:
    def filters(self):
        return {
            "verify_gpu_shortfall": verify_gpu_shortfall,
            "verify_node_gpus": verify_node_gpus,
            "verify_standin_gpu_nodes": verify_standin_gpu_nodes,
            "verify_unready_pods": verify_unready_pods,
            "verify_replicas": verify_replicas,
            "verify_table": verify_table,
        }
