"""Helpers of the lab cluster gate: a lab of its own, the playbooks run as `make lab` runs them, kubectl.

The gate's lab is separate from the one `make lab` starts (containers ``inference-gate-*``, network
10.89.43.0/24, cluster ``labgate``), so running the tests leaves a developer's lab alone. Its inventory
is the lab inventory's own group_vars (linked) beside the hosts file the lab role writes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "build" / "lab-cluster"
# LAB_CLUSTER_ON_MAKE_LAB=1: run the tests on the lab `make lab` left running (its names, its inventory), without
# starting or removing it; site.yml still runs first. For developing a test file (select it); the gate never sets it.
ON_MAKE_LAB = os.environ.get("LAB_CLUSTER_ON_MAKE_LAB") == "1"
if ON_MAKE_LAB:
    INVENTORY, LAB_NAME, CLUSTER, NETWORK = REPO / "inventories" / "lab", "inference-lab", "lab", "10.89.42.0/24"
else:
    INVENTORY, LAB_NAME, CLUSTER, NETWORK = WORK / "inventory", "inference-gate", "labgate", "10.89.43.0/24"
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
    WORK.mkdir(parents=True, exist_ok=True)
    for log in WORK.glob("*.log"):
        log.unlink()
    if ON_MAKE_LAB:
        return
    INVENTORY.mkdir(parents=True, exist_ok=True)
    link = INVENTORY / "group_vars"
    if not link.is_symlink():
        link.symlink_to(REPO / "inventories" / "lab" / "group_vars")


def playbook(name: str, *args: str, extra: dict | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    """ansible-playbook of the project venv on playbooks/NAME, output kept in build/lab-cluster/<log>."""
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), f"playbooks/{name}", *args]
    for key, value in (extra or {}).items():
        cmd += ["-e", f"{key}={value}"]
    # The Helm CLI the platform stage installs the charts with, as `make lab` puts it on PATH (scripts/build-helm.sh;
    # the gate go-builds builds it); the chart archives come through INFERENCE_PLATFORM_CHART_DIR (.ci/run sets it).
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env["PATH"] = os.pathsep.join([str(helm_dir()), env.get("PATH", "")])
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


def helm_dir() -> Path:
    out = subprocess.run(
        [str(REPO / "scripts" / "build-helm.sh"), "--print-dir"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


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


# --- the platform on the gate's lab: its shared names, the lab inventory, the gateway, Prometheus ------------------

SHARED = yaml.safe_load((REPO / "group_vars" / "all" / "platform.yml").read_text())
NAMESPACES = SHARED["platform_namespaces"]
LAB: dict = {}
for _path in sorted((REPO / "inventories" / "lab" / "group_vars" / "all").glob("[1-9]*.yml")):
    LAB.update(yaml.safe_load(_path.read_text()) or {})
MODELS = LAB["inference_models"]


def gateway_url() -> str:
    """The gateway's NodePort on the gate's first server, at the address playbooks/lab.yml gave it."""
    hosts = yaml.safe_load((INVENTORY / "hosts.yml").read_text())
    return f"http://{hosts['lab']['hosts'][SERVER]['node_ip']}:{LAB['litellm_node_port']}"


def master_key() -> str:
    secret = kubectl_json("-n", NAMESPACES["gateway"], "get", "secret", SHARED["platform_gateway_secret"])
    return base64.b64decode(secret["data"]["master-key"]).decode()


def gateway_request(path: str, body: dict | None = None, key: str | None = None) -> urllib.request.Request:
    """A request to the gateway's NodePort (plain http: the lab has no ingress controller and no TLS)."""
    return urllib.request.Request(  # noqa: S310 - the URL is http://<lab node>:<NodePort>, built here
        gateway_url() + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})},
    )


def send(request: urllib.request.Request, timeout: float = 60) -> tuple[int, bytes]:
    """Send a gateway request; its HTTP status and body, an error status included."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http to the lab's NodePort
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def call(path: str, body: dict | None = None, key: str | None = None, timeout: float = 60):
    status, answer = send(gateway_request(path, body, key), timeout)
    if status >= 400:
        return status, answer.decode(errors="replace")
    return status, json.loads(answer or b"null")


def stream_chat(key: str, model: str, max_tokens: int, prompt: str = "aaaa", timeout: float = 120) -> dict:
    """One streamed chat completion through the gateway. ok: HTTP 200, no error event, and the closing [DONE]."""
    request = gateway_request(
        "/v1/chat/completions",
        {
            "model": model,
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": 0,
            "messages": [{"role": "user", "content": prompt}],
        },
        key,
    )
    started = time.monotonic()
    result = {"ok": False, "chunks": 0, "first_token_s": None, "error": None}
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http to the lab's NodePort
            for raw in response:
                line = raw.decode(errors="replace").strip()
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    result["ok"] = result["error"] is None
                    break
                event = json.loads(line[6:])
                if "error" in event:
                    result["error"] = str(event["error"])[:300]
                    continue
                if event.get("choices") and event["choices"][0].get("delta", {}).get("content"):
                    result["chunks"] += 1
                    if result["first_token_s"] is None:
                        result["first_token_s"] = time.monotonic() - started
            else:
                result["error"] = result["error"] or "the stream ended without [DONE]"
    except urllib.error.HTTPError as error:
        result["error"] = f"HTTP {error.code}: {error.read().decode(errors='replace')[:300]}"
    except (OSError, ValueError) as error:
        result["error"] = f"{type(error).__name__}: {error}"
    result["seconds"] = time.monotonic() - started
    return result


def monitoring_api(service: str, path: str):
    """GET a path of a Service of the monitoring release (<release>-<service>, e.g. "prometheus:9090") through the API
    server's service proxy; the JSON it answers."""
    name = f"{SHARED['platform_monitoring_release']}-{service}"
    proxy = f"/api/v1/namespaces/{NAMESPACES['monitoring']}/services/{name}/proxy"
    return json.loads(kubectl("get", "--raw", f"{proxy}{path}").stdout)


def prometheus(path: str, **params: str):
    """GET Prometheus's HTTP API (e.g. "query", "rules", "alerts") through the API server's service proxy."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    body = monitoring_api("prometheus:9090", f"/api/v1/{path}{query}")
    assert body.get("status") == "success", body
    return body["data"]


def query_value(expr: str) -> float | None:
    """The value of an instant query with one series (None when it has none)."""
    result = prometheus("query", query=expr)["result"]
    return float(result[0]["value"][1]) if result else None
