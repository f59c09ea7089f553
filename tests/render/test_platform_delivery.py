"""The platform contract on its own: roles/platform_delivery's component entry point with a tiny demo component,
and the registry (group_vars/all/platform.yml) against the roles and playbooks of the tree.

The example inventories (test_render.py) already run every real component; here a demo role in a roles path of its
own goes through ansible-playbook, so the contract is pinned down: a component is a role with an `objects` entry
point plus one registry entry; platform_delivery labels its objects, joins its chart values with the registry's
charts and renders them; a Secret, a chart the registry does not list, an unknown component and a broken registry
are refused before anything is written.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from render_support import ROOT, _run_parallel

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
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo", "namespace": "demo"}, "data": {}}
ENTRY = {
    "name": "demo",
    "namespace": "demo",
    "charts": [
        {"release": "demo", "chart": "demo-chart", "repo": "https://charts.example.invalid", "version": "1.2.3"}
    ],
    "prune_kinds": [{"api_version": "v1", "kind": "ConfigMap"}],
    "wait_seconds": 60,
    "after_apply": "",
    "serving": False,
    "upgrade_order": 1,
}
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "inference.platform/cluster": "unit"}


def demo_role(base, objects, chart_values) -> None:
    tasks = [
        {
            "name": "Build the demo objects",
            "ansible.builtin.set_fact": {"demo_objects": objects, "demo_chart_values": chart_values},
        }
    ]
    (base / "roles/demo/tasks").mkdir(parents=True)
    (base / "roles/demo/tasks/objects.yml").write_text(yaml.safe_dump(tasks, sort_keys=False))


def playbook(component: str) -> list[dict]:
    role = {"name": "platform_delivery", "tasks_from": "component"}
    return [
        {
            "name": "Deliver one demo component",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {"name": "Deliver it", "ansible.builtin.include_role": role,
                 "vars": {"platform_delivery_component": component}}
            ],
        }
    ]


SCENARIOS = {
    # name: (component, objects, chart values, registry overrides)
    "renders": ("demo", [NAMESPACE, CONFIGMAP, MODEL_CONFIGMAP], {"demo": {"replicas": 2}}, {}),
    "secret": ("demo", [NAMESPACE, SECRET], {"demo": {}}, {}),
    "values_for_an_unknown_chart": ("demo", [NAMESPACE], {"demo": {}, "other": {}}, {}),
    "unknown_component": ("nothere", [NAMESPACE], {"demo": {}}, {}),
    "broken_registry": (
        "demo",
        [NAMESPACE],
        {"demo": {}},
        {"namespace": "nowhere", "prune_kinds": [{"api_version": "v1", "kind": "Namespace"}]},
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, object]]:
    base = tmp_path_factory.mktemp("platform_delivery")
    jobs = {}
    for name, (component, objects, chart_values, overrides) in SCENARIOS.items():
        directory = base / name
        directory.mkdir()
        demo_role(directory, objects, chart_values)
        render_dir = directory / "render"
        book = directory / "playbook.yml"
        book.write_text(yaml.safe_dump(playbook(component), sort_keys=False))
        extra = {
            "platform_delivery": "render",
            "platform_render_dir": str(render_dir),
            "cluster_name": "unit",
            "cluster_distribution": "k3s",
            "inference_models": [],
            "inference_tenants": [],
            "platform_namespaces": {"demo": "demo"},
            "platform_ports": {},
            "platform_labels": {**LABELS, "app.kubernetes.io/managed-by": "inference-platform"},
            "platform_components": [{**ENTRY, **overrides}],
        }
        extra_file = directory / "vars.json"
        extra_file.write_text(json.dumps(extra))
        roles_path = f"{directory / 'roles'}:{ROOT / 'roles'}"
        jobs[name] = (
            ["env", f"ANSIBLE_ROLES_PATH={roles_path}", "ansible-playbook", "-i", "localhost,", str(book),
             "-e", f"@{extra_file}"],
            render_dir,
        )
    results = _run_parallel(jobs)
    return {name: (results[name], jobs[name][1]) for name in jobs}


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout[-3000:] + result.stderr[-2000:]


def labelled(obj: dict) -> dict:
    meta = dict(obj["metadata"])
    meta["labels"] = {**meta.get("labels", {}), **LABELS, "app.kubernetes.io/managed-by": "inference-platform",
                      "inference.platform/component": "demo"}
    return {**obj, "metadata": meta}


def test_a_component_is_a_role_with_objects_and_a_registry_entry(runs):
    result, render_dir = runs["renders"]
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
    assert component == [labelled(NAMESPACE), labelled(CONFIGMAP)], "the platform's labels on every object"
    model = list(yaml.safe_load_all((render_dir / "demo/manifests/model-qwen.yaml").read_text()))
    assert model == [labelled(MODEL_CONFIGMAP)]
    assert yaml.safe_load((render_dir / "demo/helm/demo.values.yaml").read_text()) == {"replicas": 2}
    helmchart = yaml.safe_load((render_dir / "demo/k3s/helmchart-demo.yaml").read_text())
    assert helmchart["metadata"]["labels"]["inference.platform/component"] == "demo"
    assert helmchart["spec"]["version"] == "1.2.3", "the version comes from the registry"


def test_a_secret_is_never_rendered(runs):
    result, render_dir = runs["secret"]
    assert result.returncode != 0
    assert "built an object of kind Secret, and rendered files go to Git" in result.stdout, output(result)
    assert not render_dir.exists()


def test_chart_values_must_match_the_registrys_charts(runs):
    result, render_dir = runs["values_for_an_unknown_chart"]
    assert result.returncode != 0
    assert "demo's chart values do not match its registry entry" in result.stdout, output(result)
    assert not render_dir.exists()


def test_a_component_missing_from_the_registry_is_named(runs):
    result, render_dir = runs["unknown_component"]
    assert result.returncode != 0
    assert "nothere is not a platform component (platform_components in group_vars/all/platform.yml lists: demo)" \
        in " ".join(result.stdout.split()), output(result)
    assert not render_dir.exists()


def test_a_broken_registry_is_refused_before_anything_is_written(runs):
    result, render_dir = runs["broken_registry"]
    text = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "namespace 'nowhere' is not a key of platform_namespaces (demo)" in text, output(result)
    assert "prune_kinds lists Namespace" in text
    assert not render_dir.exists()


# --- the registry against the tree ---------------------------------------------------------------------


def registry() -> list[dict]:
    return yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())["platform_components"]


@pytest.mark.parametrize("entry", registry(), ids=lambda entry: entry["name"])
def test_every_registered_component_is_a_role_with_an_objects_entry_point(entry):
    role = ROOT / "roles" / entry["name"]
    assert (role / "tasks/objects.yml").is_file(), f"roles/{entry['name']}/tasks/objects.yml builds the component"
    if entry["after_apply"]:
        assert (role / "tasks" / entry["after_apply"]).is_file(), entry["after_apply"]


@pytest.mark.parametrize("entry", registry(), ids=lambda entry: entry["name"])
def test_a_component_role_delivers_itself_through_platform_delivery_only(entry):
    """One copy of the delivery steps: the role's main.yml hands itself to platform_delivery by name."""
    directory = ROOT / "roles" / entry["name"]
    for copy in ("action_plugins", "tasks/render.yml", "tasks/apply.yml", "templates/render_files.yml.j2"):
        assert not (directory / copy).exists(), f"roles/{entry['name']}/{copy} duplicates roles/platform_delivery"
    tasks = yaml.safe_load((directory / "tasks/main.yml").read_text())
    assert [(t["ansible.builtin.include_role"], t["vars"]) for t in tasks] == [
        ({"name": "platform_delivery", "tasks_from": "component"}, {"platform_delivery_component": entry["name"]})
    ]


def test_no_role_outside_the_registry_builds_platform_objects():
    """A role with an objects entry point that the registry does not list would never be delivered."""
    with_objects = {path.parent.parent.name for path in (ROOT / "roles").glob("*/tasks/objects.yml")}
    assert with_objects == {entry["name"] for entry in registry()}


def test_the_playbooks_take_the_components_from_the_registry():
    """platform.yml delivers the registry; reset, verify and upgrade read it: no playbook lists components."""
    names = {entry["name"] for entry in registry()}
    for playbook in sorted((ROOT / "playbooks").glob("*.yml")):
        plays = yaml.safe_load(playbook.read_text())
        roles = {role["role"] if isinstance(role, dict) else role for play in plays for role in play.get("roles", [])}
        included = {
            task.get("ansible.builtin.include_role", {}).get("name")
            for play in plays
            for task in play.get("tasks", [])
        }
        listed = sorted((roles | included) & names)
        assert listed == [], f"{playbook.relative_to(ROOT)} names components {listed}; read platform_components"
