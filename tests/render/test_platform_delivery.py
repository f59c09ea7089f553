"""The shared delivery role on its own: its main entry point, its argument checks, and its guards.

The example inventories (test_render.py) already run tasks_from: render for all five platform roles;
here a tiny component goes through ansible-playbook, so the role's own contract is pinned down:
main picks render by platform_delivery and checks that entry point's options, a Secret is refused,
and a chart without a version fails the argument spec before anything is written.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from render_support import ROLES, ROOT, _run_parallel

HEADER = "# Rendered by the inference.platform demo role (platform_delivery=render) for cluster unit."
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "demo-settings", "namespace": "demo"},
    "data": {"a": "b"},
}
MODEL_CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "demo-qwen", "namespace": "demo", "labels": {"inference.platform/model": "qwen"}},
    "data": {"model": "qwen"},
}
CHART = {
    "release": "demo",
    "chart": "demo-chart",
    "repo": "https://charts.example.invalid",
    "version": "1.2.3",
    "namespace": "demo",
    "values": {"replicas": 2},
}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo", "namespace": "demo"}, "data": {}}


def playbook(entry: str) -> list[dict]:
    role = {"name": "platform_delivery"} | ({"tasks_from": entry} if entry != "main" else {})
    return [
        {
            "name": "Deliver one demo component",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [{"name": "Deliver demo", "ansible.builtin.include_role": role}],
        }
    ]


SCENARIOS = {
    # name: (entry point, variables)
    "main": ("main", {"platform_delivery_namespace": "demo"}),
    "main_without_namespace": ("main", {}),
    "secret": ("render", {"platform_delivery_namespace": "demo", "platform_delivery_objects": [NAMESPACE, SECRET]}),
    "chart_without_version": (
        "render",
        {
            "platform_delivery_namespace": "demo",
            "platform_delivery_charts": [{k: v for k, v in CHART.items() if k != "version"}],
        },
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, object]]:
    base = tmp_path_factory.mktemp("platform_delivery")
    jobs = {}
    for name, (entry, variables) in SCENARIOS.items():
        render_dir = base / name / "render"
        book = base / name / "playbook.yml"
        book.parent.mkdir()
        book.write_text(yaml.safe_dump(playbook(entry), sort_keys=False))
        extra = {
            "platform_delivery": "render",
            "platform_render_dir": str(render_dir),
            "cluster_name": "unit",
            "cluster_distribution": "k3s",
            "platform_delivery_component": "demo",
            "platform_delivery_objects": [NAMESPACE, CONFIGMAP, MODEL_CONFIGMAP],
            "platform_delivery_charts": [CHART],
            **variables,
        }
        extra_file = base / name / "vars.json"
        extra_file.write_text(json.dumps(extra))
        jobs[name] = (["ansible-playbook", "-i", "localhost,", str(book), "-e", f"@{extra_file}"], render_dir)
    results = _run_parallel(jobs)
    return {name: (results[name], jobs[name][1]) for name in jobs}


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout[-3000:] + result.stderr[-2000:]


def test_main_renders_by_platform_delivery(runs):
    result, render_dir = runs["main"]
    assert result.returncode == 0, output(result)
    files = sorted(str(p.relative_to(render_dir)) for p in render_dir.rglob("*") if p.is_file())
    assert files == [
        "demo/helm/demo.values.yaml",
        "demo/k3s/helmchart-demo.yaml",
        "demo/manifests/demo.yaml",
        "demo/manifests/model-qwen.yaml",
    ]
    for path in render_dir.rglob("*.yaml"):
        assert path.read_text().startswith(HEADER + " Do not edit"), path
    component = list(yaml.safe_load_all((render_dir / "demo/manifests/demo.yaml").read_text()))
    assert component == [NAMESPACE, CONFIGMAP]
    assert list(yaml.safe_load_all((render_dir / "demo/manifests/model-qwen.yaml").read_text())) == [MODEL_CONFIGMAP]
    assert yaml.safe_load((render_dir / "demo/helm/demo.values.yaml").read_text()) == {"replicas": 2}
    helmchart = yaml.safe_load((render_dir / "demo/k3s/helmchart-demo.yaml").read_text())
    assert helmchart["metadata"]["labels"]["inference.platform/component"] == "demo"
    assert helmchart["spec"]["version"] == "1.2.3"


def test_main_checks_the_options_of_the_mode_it_runs(runs):
    result, render_dir = runs["main_without_namespace"]
    assert result.returncode != 0
    assert "missing required arguments: platform_delivery_namespace" in result.stdout, output(result)
    assert "Check the options of the entry point | render" in result.stdout
    assert not render_dir.exists()


def test_a_secret_is_never_rendered(runs):
    result, render_dir = runs["secret"]
    assert result.returncode != 0
    assert "must not hold a Secret" in result.stdout + result.stderr, output(result)
    assert not render_dir.exists()


def test_a_chart_without_a_version_fails_the_argument_spec(runs):
    result, render_dir = runs["chart_without_version"]
    assert result.returncode != 0
    assert "missing required arguments: version found in platform_delivery_charts" in result.stdout, output(result)
    assert "arg spec 'render'" in result.stdout
    assert not render_dir.exists()


@pytest.mark.parametrize("role", ROLES)
def test_platform_roles_hold_no_copy_of_the_delivery_steps(role):
    """One copy only: every platform role includes platform_delivery for both modes and keeps no steps of its own."""
    directory = ROOT / "roles" / role
    for copy in ("action_plugins", "tasks/render.yml", "tasks/apply.yml", "templates/render_files.yml.j2"):
        assert not (directory / copy).exists(), f"roles/{role}/{copy} duplicates roles/platform_delivery"
    tasks = yaml.safe_load((directory / "tasks/main.yml").read_text())
    included = {
        (task["ansible.builtin.include_role"]["tasks_from"], task["vars"]["platform_delivery_component"])
        for task in tasks
        if task.get("ansible.builtin.include_role", {}).get("name") == "platform_delivery"
    }
    assert included == {("render", role), ("apply", role)}
