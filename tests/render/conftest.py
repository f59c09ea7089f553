"""Render the platform for every example inventory once per session (in parallel) and share it.

Fixtures:
``renders``        dict inventory name -> Render (render dir, playbook result) of the first run.
``rerun``          Render of a second run of the onprem inventory into the same directory.
``removed``        Render of the hetzner inventory with one model removed, run over a copy of its output.
``bad_model_run``  CompletedProcess of a render with an invalid model entry (must fail at the door).
``renders["lab"]``, ``host_driver``, ``bad_model_run``: the lab inventory with the full platform
                   (render_support.FULL_PLATFORM_LAB); make lab's own skips are the lab-cluster gate's.
``host_driver``    Render of the lab inventory with nvidia_driver_strategy: host (no example inventory uses it).
``dbless_gateway`` Render of the lab inventory with the gateway the local lab runs: litellm_database none (no
                   tenants), a NodePort Service and no Ingress (no example inventory uses it).

Everything the tests read comes from the project's own clone (tests/fixtures/reference).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from render_support import (
    ARGOCD,
    DBLESS_GATEWAY,
    FULL_PLATFORM_LAB,
    INVENTORIES,
    ROOT,
    Render,
    _command,
    _run_parallel,
    load_render,
)


@pytest.fixture(scope="session")
def render_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("render")


def full_lab_vars(render_root: Path) -> Path:
    """The vars file that renders the lab inventory with the full platform (render_support.FULL_PLATFORM_LAB)."""
    path = render_root / "full-platform-lab.json"
    path.write_text(json.dumps(FULL_PLATFORM_LAB))
    return path


@pytest.fixture(scope="session")
def renders(render_root) -> dict[str, Render]:
    argocd_vars = render_root / "argocd.json"
    argocd_vars.write_text(json.dumps({"platform_delivery_argocd": ARGOCD}))
    jobs = {}
    for inventory in INVENTORIES:
        extra = ["-e", f"@{full_lab_vars(render_root)}", "-e", f"@{argocd_vars}"] if inventory == "lab" else []
        jobs[inventory] = (_command(inventory, render_root / inventory, extra), render_root / inventory)
    results = _run_parallel(jobs)
    return {name: load_render(name, jobs[name][1], results[name]) for name in INVENTORIES}


@pytest.fixture(scope="session")
def second_round(renders, render_root) -> dict[str, subprocess.CompletedProcess]:
    """Second round, in parallel: onprem again (idempotence), hetzner minus a model, an invalid model."""
    assert renders["hetzner"].returncode == 0, renders["hetzner"].stderr[-3000:]
    hetzner_models = yaml.safe_load((ROOT / "inventories/hetzner/group_vars/all/60_models.yml").read_text())
    kept = [model for model in hetzner_models["inference_models"] if model["name"] != "llama31-8b-awq"]
    assert len(kept) == len(hetzner_models["inference_models"]) - 1, "the hetzner example lost llama31-8b-awq"
    tenants = [
        {**tenant, "models": [m for m in tenant["models"] if m != "llama31-8b-awq"]}
        for tenant in hetzner_models["inference_tenants"]
    ]
    removal_vars = render_root / "removal.json"
    removal_vars.write_text(json.dumps({"inference_models": kept, "inference_tenants": tenants}))
    removed_dir = render_root / "hetzner-removed"
    shutil.copytree(render_root / "hetzner", removed_dir)

    # A vLLM entry (onprem's first) whose GPUs tensor parallelism cannot divide, rendered with the lab inventory.
    vllm_models = yaml.safe_load((ROOT / "inventories/onprem/group_vars/all/60_models.yml").read_text())
    bad = [{**vllm_models["inference_models"][0], "gpus": 3, "tensor_parallel": 2}]
    bad_vars = render_root / "bad.json"
    bad_vars.write_text(json.dumps({"inference_models": bad}))

    jobs = {
        "rerun": (_command("onprem", render_root / "onprem", []), render_root / "onprem"),
        "removed": (_command("hetzner", removed_dir, ["-e", f"@{removal_vars}"]), removed_dir),
        "bad": (
            _command("lab", render_root / "bad", ["-e", f"@{full_lab_vars(render_root)}", "-e", f"@{bad_vars}"]),
            render_root / "bad",
        ),
        "host_driver": (
            _command("lab", render_root / "host-driver",
                     ["-e", f"@{full_lab_vars(render_root)}", "-e", "nvidia_driver_strategy=host"]),
            render_root / "host-driver",
        ),
    }
    dbless_vars = render_root / "dbless.json"
    dbless_vars.write_text(json.dumps(DBLESS_GATEWAY))
    jobs["dbless_gateway"] = (
        # The full-platform lab with only the gateway changed, so the two renders differ by the gateway alone.
        _command("lab", render_root / "dbless-gateway",
                 ["-e", f"@{full_lab_vars(render_root)}", "-e", f"@{dbless_vars}"]),
        render_root / "dbless-gateway",
    )
    results = _run_parallel(jobs)
    results["removed_dir"] = removed_dir
    return results


@pytest.fixture(scope="session")
def rerun(second_round, render_root) -> Render:
    return load_render("onprem", render_root / "onprem", second_round["rerun"])


@pytest.fixture(scope="session")
def removed(second_round) -> Render:
    return load_render("hetzner", second_round["removed_dir"], second_round["removed"])


@pytest.fixture(scope="session")
def bad_model_run(second_round) -> subprocess.CompletedProcess:
    return second_round["bad"]


@pytest.fixture(scope="session")
def host_driver(second_round, render_root) -> Render:
    return load_render("lab", render_root / "host-driver", second_round["host_driver"])


@pytest.fixture(scope="session")
def dbless_gateway(second_round, render_root) -> Render:
    return load_render("lab", render_root / "dbless-gateway", second_round["dbless_gateway"])


@pytest.fixture(scope="session")
def kubernetes_version() -> str:
    """The Kubernetes minor the cluster stage installs (group_vars/all/versions.yml), as x.y.0."""
    versions = yaml.safe_load((ROOT / "group_vars/all/versions.yml").read_text())
    distribution = yaml.safe_load((ROOT / "group_vars/all/main.yml").read_text())["cluster_distribution"]
    pinned = versions["k3s_version"] if distribution == "k3s" else versions["kubeadm_kubernetes_version"]
    match = re.match(r"v?(\d+)\.(\d+)\.", pinned)
    assert match, f"cannot read a Kubernetes version from {pinned!r}"
    return f"{match.group(1)}.{match.group(2)}.0"
