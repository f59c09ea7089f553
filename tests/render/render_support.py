"""Helpers shared by the render tests and their fixtures (conftest.py): paths, render runs, loading.

A module of its own name so test files import it unambiguously (every test directory has a conftest).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
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


def distribution(inventory: str) -> str:
    """cluster_distribution as the inventory sets it (its group_vars/all), else the project default."""
    for path in sorted((ROOT / "inventories" / inventory / "group_vars" / "all").glob("[1-9]*.yml")):
        value = (yaml.safe_load(path.read_text()) or {}).get("cluster_distribution")
        if value:
            return value
    return yaml.safe_load((ROOT / "group_vars" / "all" / "main.yml").read_text())["cluster_distribution"]
