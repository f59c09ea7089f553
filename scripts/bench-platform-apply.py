#!/usr/bin/env python3
"""Time the platform's apply mode against the same work done by hand, in one run (issue 14).

Two fresh real control planes (kube-apiserver + etcd + kube-controller-manager from scripts/build-control-plane.sh),
the same chart archives (the real pinned archives, found as tests/cluster_api finds them, with its NO_NODE_VALUES)
and the same objects:

  platform   ansible-playbook playbooks/platform.yml -i inventories/<inventory> (apply mode), twice: first apply and
             the no-change re-run
  by hand    kubectl apply --server-side -f <the rendered manifests> plus helm upgrade --install <each chart> with the
             rendered values, in the platform's order (namespaces and ConfigMaps, charts, the rest), twice

Prints the wall times and the ratios platform / by hand. Not a test (timings on a shared machine are noisy): run it
by hand, e.g.  .venv/bin/python scripts/bench-platform-apply.py --rounds 3
Needs the control plane and Helm built (scripts/build-control-plane.sh, scripts/build-helm.sh) and a kubectl.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "cluster_api"), str(ROOT / "tests" / "support"), str(ROOT / "collections")]

from control_plane import ControlPlane, bin_dir_for_version  # noqa: E402
from kubernetes import config  # noqa: E402
from platform_apply_support import (  # noqa: E402
    CRD_FIXTURES,
    NO_NODE_VALUES,
    apply_crds,
    helm_env,
    pinned_chart_dir,
)

VENV_BIN = Path(sys.executable).parent


def run(argv: list[str], env: dict[str, str], show: bool = False) -> float:
    start = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[:4])}... failed (rc {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
        )
    if show:
        print(done.stdout[done.stdout.rfind("PLAY RECAP"):])
    return seconds


def platform_env(work: Path, helm_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        **helm_env(work),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "HF_TOKEN": "",
        "PATH": os.pathsep.join([str(helm_dir), str(VENV_BIN), os.environ.get("PATH", "")]),
    }


def platform_args(inventory: str, cp: ControlPlane, charts: Path, extra: dict) -> list[str]:
    context = yaml.safe_load(cp.kubeconfig.read_text())["current-context"]
    data = {"cluster_kubeconfig": str(cp.kubeconfig), "cluster_kube_context": context, "platform_delivery": "apply",
            "platform_delivery_chart_dir": str(charts), "platform_delivery_wait": False,
            "gpu_operator_wait_for_gpus": False, "ansible_python_interpreter": sys.executable, **extra}
    path = Path(tempfile.mkstemp(suffix=".json")[1])
    path.write_text(json.dumps(data))
    return [str(VENV_BIN / "ansible-playbook"), "playbooks/platform.yml", "-i", f"inventories/{inventory}", "-e",
            f"@{path}"]


def by_hand(cp: ControlPlane, render: Path, charts: Path, helm: Path, kubectl: str, env: dict[str, str]) -> float:
    """What an operator would run for the same result: server-side applies and helm upgrade --install."""
    docs = []
    for path in sorted(render.glob("*/manifests/*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    first = [d for d in docs if d["kind"] in ("Namespace", "ConfigMap")]
    rest = [d for d in docs if d["kind"] not in ("Namespace", "ConfigMap")]
    work = render.parent
    files = []
    for name, objects in (("first", first), ("rest", rest)):
        path = work / f"by-hand-{name}.yaml"
        path.write_text(yaml.safe_dump_all(objects))
        files.append(path)
    # Each chart as the render wrote it: "# Chart <chart> <version> from <repo>, release <r> in namespace <ns>."
    charts_to_install = []
    for path in sorted(render.glob("*/helm/*.values.yaml")):
        match = re.search(r"# Chart (\S+) (\S+) from \S+, release (\S+) in namespace (\S+)\.", path.read_text())
        charts_to_install.append((match.group(3), match.group(1), match.group(2), match.group(4), path))
    helm_env_all = {**env, "KUBECONFIG": str(cp.kubeconfig)}
    start = time.monotonic()
    apply = [kubectl, "--kubeconfig", str(cp.kubeconfig), "apply", "--server-side", "--force-conflicts",
             "--field-manager", "by-hand", "-f"]
    run([*apply, str(files[0])], env)
    for release, chart, version, namespace, values_file in charts_to_install:
        run([str(helm), "upgrade", "--install", release, str(charts / f"{chart}-{version}.tgz"),
             "--namespace", namespace, "--create-namespace", "-f", str(values_file)], helm_env_all)
    run([*apply, str(files[1])], env)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="onprem")
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything and report medians")
    parser.add_argument("--kubectl", default=shutil.which("kubectl") or "kubectl")
    parser.add_argument("--profile", action="store_true",
                        help="print the slowest tasks of the platform's no-change run (ansible.posix.profile_tasks)")
    args = parser.parse_args()
    helm_dir = Path(subprocess.run([str(ROOT / "scripts/build-helm.sh"), "--print-dir"], capture_output=True,
                                   text=True, check=True).stdout.strip())
    bin_dir = bin_dir_for_version(None)
    results: dict[str, list[float]] = {"platform first": [], "platform again": [], "by hand first": [],
                                       "by hand again": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
            work = Path(tmp)
            env = platform_env(work, helm_dir)
            # The real pinned archives (tests/support/pinned_charts.py sources) with the tests' NO_NODE_VALUES.
            charts = pinned_chart_dir(helm_dir / "helm", work, args.inventory)
            render = work / "render"
            run([str(VENV_BIN / "ansible-playbook"), "playbooks/platform.yml", "-i", f"inventories/{args.inventory}",
                 "-e", "platform_delivery=render", "-e", f"platform_render_dir={render}",
                 "-e", json.dumps(NO_NODE_VALUES)], env)
            planes = [ControlPlane.start(bin_dir, work / name) for name in ("platform", "by-hand")]
            try:
                for cp in planes:
                    api = config.new_client_from_config(config_file=str(cp.kubeconfig))
                    apply_crds(api, sorted((CRD_FIXTURES / "k3s-helm-controller").glob("*.yaml")))
                    api.close()
                argv = platform_args(args.inventory, planes[0], charts, NO_NODE_VALUES)
                results["platform first"].append(run(argv, env))
                again_env = {**env, "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
                             "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "25"} if args.profile else env
                results["platform again"].append(run(argv, again_env, show=args.profile))
                hand = (planes[1], render, charts, helm_dir / "helm", args.kubectl, env)
                results["by hand first"].append(by_hand(*hand))
                results["by hand again"].append(by_hand(*hand))
            finally:
                for cp in planes:
                    cp.stop()
    median = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        print(f"{name:16s} median {median[name]:6.1f} s  ({', '.join(f'{v:.1f}' for v in values)})")
    print(f"ratio first apply   platform / by hand = {median['platform first'] / median['by hand first']:.2f}")
    print(f"ratio no-change run platform / by hand = {median['platform again'] / median['by hand again']:.2f}")


if __name__ == "__main__":
    main()
