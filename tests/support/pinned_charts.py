"""The pinned upstream Helm charts, for the tests that render them (tests/render) and install them (tests/cluster_api).

Where an archive comes from is decided by the collection's ``chart_source`` (plugins/plugin_utils/_chart_source.py),
the function the platform's delivery uses, in this order:

1. the inventory's ``platform_delivery_chart_dir`` (the air-gapped option), as Ansible resolves it;
2. the directory the environment variable ``INFERENCE_PLATFORM_CHART_DIR`` names (.ci/run and scripts/test.sh set
   it; this is the only way the tests reach a directory outside the clone);
3. ``helm pull`` of the pinned version into ~/.cache/inference-platform/charts, where a chart repository is reachable.

Without any of them the calling test fails with the message naming the three (``ChartsUnavailable``); it never skips.
The Helm CLI is the one the project builds from its Go module (``scripts/build-helm.sh --print-dir``, cached by
version); the gate that builds it is ``go-builds``.

On pytest's pythonpath (pyproject.toml): helpers more than one test layer imports.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from ansible_collections.inference.platform.plugins.plugin_utils._chart_source import (
    ChartSourceError,
    chart_source,
    repository_reference,
)

ROOT = Path(__file__).resolve().parents[2]
HELM_BUILD_SCRIPT = ROOT / "scripts" / "build-helm.sh"
VERSIONS_FILE = ROOT / "group_vars" / "all" / "versions.yml"
PLATFORM_FILE = ROOT / "group_vars" / "all" / "platform.yml"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "inference-platform" / "charts"
# The comment render mode writes at the top of each values file (roles/platform_delivery/templates/render_files.yml.j2).
VALUES_HEADER = re.compile(r"^# Chart (\S+) (\S+) from (\S+), release (\S+) in namespace (\S+)\.$", re.MULTILINE)
SOURCE_COMMENT = re.compile(r"^# Source: (\S+)", re.MULTILINE)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's safe loader (libyaml's where built: a chart's CRDs are megabytes), except that a bare `=` is the
    string it is (YAML 1.1 resolves it to a 'value' tag PyYAML cannot construct; Kubernetes and Helm read "=")."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def load_yaml(text):
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def load_yaml_all(text):
    return list(yaml.load_all(text, Loader=_Loader))


class ChartsUnavailable(Exception):
    """The charts or the Helm CLI cannot be had: the message says what was tried and what to do."""


@dataclass(frozen=True)
class Chart:
    """One chart release as the roles render it."""

    release: str
    chart: str
    version: str
    repo: str
    namespace: str


def rendered_charts(render_dir: Path) -> dict[Chart, Path]:
    """Each chart release a render wrote (render_dir/<component>/helm/<release>.values.yaml) -> its values file."""
    found = {}
    for path in sorted(render_dir.glob("*/helm/*.values.yaml")):
        match = VALUES_HEADER.search(path.read_text())
        if not match:
            raise AssertionError(f"{path}: no '# Chart <chart> <version> from <repo>, release ...' line")
        chart, version, repo, release, namespace = match.groups()
        found[Chart(release, chart, version, repo, namespace)] = path
    return found


def registry_charts() -> list[tuple[str, str, str]]:
    """(chart, version, repository) of every chart in the component registry (group_vars/all/platform.yml), the
    version and repository resolved from versions.yml and platform_chart_repositories as the roles resolve them."""
    platform = yaml.safe_load(PLATFORM_FILE.read_text())
    versions = yaml.safe_load(VERSIONS_FILE.read_text())
    charts = []
    for component in platform["platform_components"]:
        for chart in component["charts"]:
            version = re.fullmatch(r"\{\{ (\w+) \}\}", chart["version"])
            repo = re.fullmatch(r"\{\{ platform_chart_repositories\['([\w-]+)'\] \}\}", chart["repo"])
            assert version and repo, f"registry entry {chart} is not '{{{{ <version var> }}}}' and a repository"
            charts.append((chart["chart"], str(versions[version.group(1)]),
                           platform["platform_chart_repositories"][repo.group(1)]))
    return charts


def helm_binary() -> Path:
    """The project's Helm CLI, as scripts/build-helm.sh --print-dir names it (built by the go-builds gate)."""
    done = subprocess.run([str(HELM_BUILD_SCRIPT), "--print-dir"], capture_output=True, text=True, timeout=60,
                          check=False)
    helm = Path(done.stdout.strip() or "/nonexistent") / "helm"
    if done.returncode != 0 or not helm.is_file():
        raise ChartsUnavailable(
            f"no Helm CLI at {helm}: build it (from its Go module, cached by version; about 2 min) with "
            f"{HELM_BUILD_SCRIPT.relative_to(ROOT)} (rc {done.returncode}: {done.stderr[-500:]})"
        )
    return helm


def helm_env(home: Path) -> dict[str, str]:
    """Helm's config, cache and data under `home`, never the user's."""
    return {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def inventory_settings(inventory: str) -> dict[str, str]:
    """What an example inventory's controller resolves for the settings the chart tests follow: chart_dir
    (platform_delivery_chart_dir, '' when unset), nvidia_driver_strategy, cluster_distribution, kube_version (the
    pinned Kubernetes of that distribution, as Helm's --kube-version takes it)."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    wanted = ("{{ {'chart_dir': platform_delivery_chart_dir | default(''), "
              "'nvidia_driver_strategy': nvidia_driver_strategy, 'cluster_distribution': cluster_distribution, "
              "'kube_version': k3s_version if cluster_distribution == 'k3s' else kubeadm_kubernetes_version} }}")
    done = subprocess.run(
        ["ansible", "localhost", "-i", str(ROOT / "inventories" / inventory), "-m", "ansible.builtin.debug",
         "-a", "msg=" + wanted],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    try:
        settings = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError(f"cannot read the settings of {inventory}: {done.stdout[-2000:]}{done.stderr}") from exc
    # k3s versions carry their own suffix (v1.35.4+k3s1): Helm takes the Kubernetes version.
    settings["kube_version"] = settings["kube_version"].split("+")[0]
    return settings


def _puller(helm: Path):
    def pull(chart: str, version: str, repo: str, destination: str) -> str | None:
        Path(destination).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="helm-pull-") as home:
            done = subprocess.run(
                [str(helm), "pull", *repository_reference(chart, version, repo), "--destination", destination],
                env=helm_env(Path(home)), capture_output=True, text=True, timeout=300, check=False,
            )
        return None if done.returncode == 0 else done.stderr.strip() or f"helm pull: rc {done.returncode}"

    return pull


def archives(charts, chart_dir: str, helm: Path) -> dict[str, Path]:
    """chart name -> its pinned archive, from the first source that is configured (module docstring).

    charts: (chart, version, repository) triples."""
    found, problems = {}, []
    for chart in sorted(set(charts)):
        try:
            source = chart_source(*chart, chart_dir=chart_dir, environ=os.environ, cache_dir=str(CACHE_DIR),
                                  pull=_puller(helm))
        except ChartSourceError as exc:
            problems.append(str(exc))
            continue
        found[chart[0]] = Path(source.archive)
    if problems:
        raise ChartsUnavailable("the pinned charts cannot be had:\n" + "\n".join(problems))
    return found


def archive_dir(found: dict[str, Path], directory: Path) -> Path:
    """A directory holding each archive under its own name (links), for platform_delivery_chart_dir."""
    directory.mkdir(parents=True, exist_ok=True)
    for archive in found.values():
        link = directory / archive.name
        if not link.exists():
            link.symlink_to(archive.resolve())
    return directory


def chart_metadata(archive: Path, chart: str, member: str = "Chart.yaml"):
    """A YAML file of the chart inside its archive (Chart.yaml, values.yaml), parsed."""
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(f"{chart}/{member}")
        assert handle is not None, f"{archive}: no {chart}/{member}"
        return load_yaml(handle.read())


def template(helm: Path, chart: Chart, archive: Path, values: Path, kube_version: str, home: Path):
    """`helm template` of the chart with the values file: (CompletedProcess, objects). Each object carries
    __file__ = the chart template it came from (Helm's '# Source:' line); CRDs are included."""
    done = subprocess.run(
        [str(helm), "template", chart.release, str(archive), "--namespace", chart.namespace, "--values", str(values),
         "--kube-version", kube_version, "--include-crds"],
        env=helm_env(home), capture_output=True, text=True, timeout=300, check=False,
    )
    objects = []
    if done.returncode == 0:
        for text in re.split(r"^---\s*$", done.stdout, flags=re.MULTILINE):
            document = load_yaml(text)
            if document:
                source = SOURCE_COMMENT.search(text)
                document["__file__"] = f"{chart.chart} chart: {source.group(1) if source else '?'}"
                objects.append(document)
    return done, objects
