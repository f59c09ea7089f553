"""Helpers of the lab cluster gate: a lab of its own, the playbooks run as `make lab` runs them, kubectl.

The gate's lab is separate from the one `make lab` starts (containers ``inference-gate-*``, network
10.89.43.0/24, cluster ``labgate``), so running the tests leaves a developer's lab alone. Its inventory
is the lab inventory's own group_vars (linked) beside the hosts file the lab role writes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "build" / "lab-cluster"
INVENTORY = WORK / "inventory"
LAB_NAME = "inference-gate"
CLUSTER = "labgate"
NETWORK = "10.89.43.0/24"
KUBECONFIG = REPO / "build" / "kubeconfig" / f"{CLUSTER}.yaml"
SERVER = f"{LAB_NAME}-server-1"
AGENTS = [f"{LAB_NAME}-agent-1", f"{LAB_NAME}-agent-2"]
NODES = [SERVER, *AGENTS]

# What the lab playbooks need to build this lab instead of `make lab`'s, and what site.yml needs to
# reach it (-e wins over the lab inventory's group_vars).
LAB_VARS = {"lab_name": LAB_NAME, "lab_network_cidr": NETWORK, "lab_inventory_file": str(INVENTORY / "hosts.yml")}
SITE_VARS = {"cluster_name": CLUSTER, "private_network_cidr": NETWORK}
# Wall time of each step, printed at the end of the run (conftest.py).
TIMINGS: dict[str, float] = {}
INVENTORY_ARGS = ("-i", str(INVENTORY))


def timed(label: str, proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Record a playbook's wall time under `label` for the summary."""
    TIMINGS[label] = proc.seconds
    return proc


def prepare_inventory() -> None:
    """The gate's inventory directory, and no playbook log of an earlier run."""
    INVENTORY.mkdir(parents=True, exist_ok=True)
    for log in WORK.glob("*.log"):
        log.unlink()
    link = INVENTORY / "group_vars"
    if not link.is_symlink():
        link.symlink_to(REPO / "inventories" / "lab" / "group_vars")


def playbook(name: str, *args: str, extra: dict | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    """ansible-playbook of the project venv on playbooks/NAME, output kept in build/lab-cluster/<log>."""
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), f"playbooks/{name}", *args]
    for key, value in (extra or {}).items():
        cmd += ["-e", f"{key}={value}"]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    proc.seconds = time.monotonic() - started
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{len(list(WORK.glob('*.log'))):02d}-{name.removesuffix('.yml')}.log"
    log.write_text(" ".join(cmd) + "\n\n" + proc.stdout + proc.stderr)
    proc.log = log
    return proc


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters by host."""
    hosts = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE):
        hosts[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counters)}
    return hosts


def artifacts_dir() -> Path:
    out = subprocess.run(
        [str(REPO / "scripts" / "build-node-artifacts.sh"), "--print-dir"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


def kubectl(*args: str, check: bool = True, stdin: str | None = None, timeout: int = 120):
    """The kubectl of the node artifacts (the cluster's own release) with the kubeconfig the cluster stage fetched."""
    cmd = [str(artifacts_dir() / "bin" / "kubectl"), "--kubeconfig", str(KUBECONFIG), *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return proc


def kubectl_json(*args: str) -> dict:
    return json.loads(kubectl(*args, "-o", "json").stdout)


def on_host(host: str, command: str) -> subprocess.CompletedProcess:
    """A shell command inside a lab host (a podman container)."""
    return subprocess.run(["podman", "exec", host, "sh", "-c", command], capture_output=True, text=True, check=False)


def wait(what: str, probe, timeout: float = 300, every: float = 3):
    """Call probe() until it returns something true; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
