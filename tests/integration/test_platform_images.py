"""The platform's own images (scripts/build-platform-images.sh) run the way the lab's pods run them.

The script builds (or finds cached) ``localhost/inference-platform/llama-server:<llamacpp_version>`` and
``localhost/inference-platform/litellm:<litellm_version>`` and loads them into podman's store. Then, in one
podman pod (the two containers share its network namespace, as a Service would join them on a cluster):

* llama-server runs from its image's entrypoint on the tiny GGUF, as an arbitrary non-root UID with a
  read-only root file system, with ``--metrics``; its ``/health`` and ``/metrics`` answer and it reports the
  pinned llama.cpp build; the inference_health module (engine=llamacpp) reads its queue and token counts
  through the Ansible CLI;
* LiteLLM's copy-ui init step and the proxy run as the litellm role's Deployment runs them
  (roles/litellm/templates/objects.yaml.j2: ``sh -c cp -R /var/lib/litellm/ui/. ...``, then only
  ``--config FILE --port PORT --prometheus_metrics_port PORT`` as arguments to the image's entrypoint, its
  environment, UID 65534, read-only root, scratch directories as the pod's emptyDirs); with a config routing
  ``tiny-chat`` to llama-server over the OpenAI-compatible route and the prometheus callback it lists the model
  on ``/v1/models``, answers a chat completion with the master key, counts it on the metrics port (the image has
  prometheus_client), serves the admin UI from the copied directory, and ``python3`` (what the tenant-sync Job
  runs) is the image's Python with LiteLLM importable.

The Go programs' images (KEDA's three, the Prometheus stack's six, built from their Go modules) each start their
program as an arbitrary non-root UID on a read-only root and report the pinned version.

What this does not prove: the images on a Kubernetes node (the lab cluster imports them through
kubeadm_local_extra_images_dir; see roles/kubeadm/README.md), nor anything about LiteLLM's database.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from ansible_cli import run_module
from servers.process import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-platform-images.sh"
VERSIONS = yaml.safe_load((ROOT / "group_vars" / "all" / "versions.yml").read_text())
LITELLM_TEMPLATE = ROOT / "roles" / "litellm" / "templates" / "objects.yaml.j2"
SCRATCH = "/var/run/litellm/"  # the template's `scratch`
UID_LLAMA = "4242:4242"  # any non-root UID: the image must not depend on its own USER
UID_LITELLM = "65534:65534"  # the role's pod security context (nobody)
ROUTE = "tiny-chat"
# The Go programs' images: the versions.yml pin of each, the arguments that make it say its version, and what it
# must print. KEDA's programs log their version only once connected to a cluster: here they print their usage (the
# lab gate reads the version from the operator's log, tests/lab_cluster/test_lab_autoscaling.py).
GO_IMAGES = {
    "keda": ("keda_version", ["--help"], "Usage of /keda:"),
    "keda-metrics-apiserver": ("keda_version", ["--help"], "Usage of /keda-adapter:"),
    "keda-admission-webhooks": ("keda_version", ["--help"], "Usage of /keda-admission-webhooks:"),
    "prometheus-operator": ("monitoring_prometheus_operator_version", ["--version"], "version {v}"),
    "prometheus-config-reloader": ("monitoring_prometheus_operator_version", ["--version"], "version {v}"),
    "prometheus": ("monitoring_prometheus_version", ["--version"], "version {v}"),
    "alertmanager": ("monitoring_alertmanager_version", ["--version"], "version {v}"),
    "kube-state-metrics": ("monitoring_kube_state_metrics_version", ["version"], "version {v}"),
    "node-exporter": ("monitoring_node_exporter_version", ["--version"], "version {v}"),
}
PRINT_PREFIX = "import litellm, sys, os; print(sys.prefix, os.environ['LITELLM_LOCAL_MODEL_COST_MAP'])"


def hardened(uid: str) -> list[str]:
    """podman run options for a container as the pod specs run it: read-only root, this UID, no capabilities."""
    return ["--read-only", "--user", uid, "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]


def run(argv: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def http_json(url: str, body: dict | None = None, key: str | None = None, timeout: float = 30.0):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback URL built here
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        raw = response.read().decode()
        return response.status, (json.loads(raw) if raw.startswith(("{", "[")) else raw)


def wait_for(url: str, seconds: float, what: str, logs) -> float:
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < seconds:
        try:
            status, _ = http_json(url, timeout=3)
            if status == 200:
                return time.monotonic() - started
        except OSError as exc:  # refused, reset, HTTP 503 while loading
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(f"{what} did not answer {url} within {seconds} s ({last}); its log:\n{logs()}")


@pytest.fixture(scope="module")
def platform_images(integration_timings) -> dict[str, str]:
    if shutil.which("podman") is None:
        pytest.fail("podman is needed to build and run the platform images (scripts/setup.sh installs it)")
    started = time.monotonic()
    result = run([str(SCRIPT), "--load"], timeout=3600)
    integration_timings["platform images (build or cache + load)"] = time.monotonic() - started
    assert result.returncode == 0, f"scripts/build-platform-images.sh failed:\n{result.stderr[-4000:]}"
    set_dir = Path(result.stdout.strip().splitlines()[-1])
    check = subprocess.run(["sha256sum", "--quiet", "--strict", "-c", "SHA256SUMS"], cwd=set_dir, check=False)
    assert check.returncode == 0, f"{set_dir}: an archive does not match SHA256SUMS"
    refs = json.loads((set_dir / "images.json").read_text())["images"]
    images = {Path(archive).stem: ref for archive, ref in refs.items()}
    assert images == {
        "llama-server": f"localhost/inference-platform/llama-server:{VERSIONS['llamacpp_version']}",
        "litellm": f"localhost/inference-platform/litellm:{VERSIONS['litellm_version']}",
        **{name: f"localhost/inference-platform/{name}:{VERSIONS[pin]}" for name, (pin, _, _) in GO_IMAGES.items()},
    }
    for ref in images.values():
        labels = json.loads(run(["podman", "image", "inspect", "--format", "{{json .Labels}}", ref]).stdout)
        assert any(key.startswith("io.inference-platform.") for key in labels), (
            f"{ref} carries no io.inference-platform.* label: scripts/remove-project-images.sh would not find it"
        )
    return images


@pytest.fixture(scope="module")
def image_pod(platform_images, tiny_model, tmp_path_factory, integration_timings):
    """One podman pod: llama-server on the tiny model, LiteLLM in front of it; ports published on loopback."""
    work = tmp_path_factory.mktemp("platform-images")
    pod = f"ip-images-{secrets.token_hex(4)}"
    llama_port, gateway_port, metrics_port = free_port(), free_port(), free_port()
    master_key = "sk-" + secrets.token_hex(16)
    config = {
        "model_list": [
            {
                "model_name": ROUTE,
                "litellm_params": {
                    "model": "openai/tiny-llama",
                    "api_base": "http://127.0.0.1:8080/v1",
                    "api_key": "none",
                },
            }
        ],
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        "litellm_settings": {"telemetry": False, "callbacks": ["prometheus"]},
    }
    (work / "config").mkdir()
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    scratch = {name: work / name for name in ("ui", "assets", "migrations", "cache", "tmp", "llama-tmp")}
    for name, path in scratch.items():
        path.mkdir()
        uid = int((UID_LLAMA if name == "llama-tmp" else UID_LITELLM).split(":")[0])
        os.chown(path, uid, uid)  # an emptyDir is writable by the pod's user
    model_dir = work / "model"
    model_dir.mkdir()
    shutil.copy(tiny_model.path, model_dir / "tiny.gguf")
    os.chmod(model_dir / "tiny.gguf", 0o644)

    def logs(name: str):
        return lambda: (lambda r: r.stdout[-3000:] + r.stderr[-3000:])(run(["podman", "logs", f"{pod}-{name}"]))

    created = run(
        [
            "podman",
            "pod",
            "create",
            "--name",
            pod,
            "-p",
            f"127.0.0.1:{llama_port}:8080",
            "-p",
            f"127.0.0.1:{gateway_port}:4000",
            "-p",
            f"127.0.0.1:{metrics_port}:4001",
        ]
    )
    assert created.returncode == 0, created.stderr
    try:
        started = time.monotonic()
        llama = run(
            [
                "podman",
                "run",
                "-d",
                "--pod",
                pod,
                "--name",
                f"{pod}-llama",
                *hardened(UID_LLAMA),
                "-v",
                f"{model_dir}:/models:ro",
                "-v",
                f"{scratch['llama-tmp']}:/tmp",
                platform_images["llama-server"],
                "-m",
                "/models/tiny.gguf",
                "--alias",
                "tiny-llama",
                "--port",
                "8080",
                "--metrics",
                "-c",
                "512",
                "-np",
                "2",
                "-t",
                "1",
            ]
        )
        assert llama.returncode == 0, llama.stderr
        # The role's copy-ui init container, as the template writes it (the test checks the template still does).
        copy_ui = run(
            [
                "podman",
                "run",
                "--rm",
                "--pod",
                pod,
                *hardened(UID_LITELLM),
                "-v",
                f"{scratch['ui']}:{SCRATCH}ui",
                "-v",
                f"{scratch['assets']}:{SCRATCH}assets",
                "--entrypoint",
                "sh",
                platform_images["litellm"],
                "-c",
                f"cp -R /var/lib/litellm/ui/. {SCRATCH}ui/ && cp -R /var/lib/litellm/assets/. {SCRATCH}assets/",
            ]
        )
        assert copy_ui.returncode == 0, copy_ui.stderr
        env = {
            "LITELLM_MASTER_KEY": master_key,
            "STORE_MODEL_IN_DB": "False",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOG": "INFO",
            "LITELLM_UI_PATH": SCRATCH + "ui",
            "LITELLM_ASSETS_PATH": SCRATCH + "assets",
            "LITELLM_MIGRATION_DIR": SCRATCH + "migrations",
            "XDG_CACHE_HOME": SCRATCH + "cache",
            "TMPDIR": "/tmp",  # noqa: S108 - inside the container, as the Deployment sets it
            "PROMETHEUS_MULTIPROC_DIR": "/tmp/litellm-prometheus",  # noqa: S108 - as the Deployment sets it
        }
        env_args = [arg for name in env for arg in ("-e", name)]
        gateway = subprocess.run(
            [
                "podman",
                "run",
                "-d",
                "--pod",
                pod,
                "--name",
                f"{pod}-litellm",
                *hardened(UID_LITELLM),
                *env_args,
                "-v",
                f"{work / 'config'}:/etc/litellm:ro",
                *[
                    arg
                    for name in ("ui", "assets", "migrations", "cache")
                    for arg in ("-v", f"{scratch[name]}:{SCRATCH}{name}")
                ],
                "-v",
                f"{scratch['tmp']}:/tmp",
                platform_images["litellm"],
                "--config",
                "/etc/litellm/config.yaml",
                "--port",
                "4000",
                "--prometheus_metrics_port",
                "4001",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **env},
        )
        assert gateway.returncode == 0, gateway.stderr
        llama_url, gateway_url = f"http://127.0.0.1:{llama_port}", f"http://127.0.0.1:{gateway_port}"
        integration_timings["llama-server image ready"] = wait_for(
            f"{llama_url}/health", 120, "llama-server", logs("llama")
        )
        integration_timings["litellm image ready"] = wait_for(
            f"{gateway_url}/health/readiness", 180, "LiteLLM", logs("litellm")
        )
        integration_timings["platform image pod up"] = time.monotonic() - started
        yield {"llama": llama_url, "gateway": gateway_url, "key": master_key, "logs": logs, "pod": pod,
               "metrics": f"http://127.0.0.1:{metrics_port}/metrics/"}
    finally:
        run(["podman", "pod", "rm", "--force", "--time", "0", pod])


def test_litellm_template_still_runs_the_image_this_way():
    """The pod above copies the role's Deployment; fail when the role stops doing what it copies."""
    text = LITELLM_TEMPLATE.read_text()
    copy_ui = (
        "'cp -R /var/lib/litellm/ui/. ' ~ scratch ~ 'ui/ && cp -R /var/lib/litellm/assets/. ' ~ scratch ~ 'assets/'"
    )
    assert copy_ui in text
    assert "['--config', '/etc/litellm/config.yaml', '--port', platform_ports.gateway | string]" in text
    assert "['--prometheus_metrics_port', litellm_metrics_port | string] if metrics" in text
    assert "{'name': 'PROMETHEUS_MULTIPROC_DIR', 'value': '/tmp/litellm-prometheus'}" in text
    assert "{%- set scratch = " + repr(SCRATCH) + " -%}" in text
    assert 'command: ["python3", "/opt/tenants/sync_tenants.py"]' in text
    for name in ("LITELLM_UI_PATH", "LITELLM_ASSETS_PATH", "LITELLM_MIGRATION_DIR", "XDG_CACHE_HOME", "TMPDIR"):
        assert f"'name': '{name}'" in text


def test_llama_server_image(image_pod, platform_images):
    status, health = http_json(f"{image_pod['llama']}/health")
    assert status == 200 and health == {"status": "ok"}
    status, answer = http_json(
        f"{image_pod['llama']}/v1/chat/completions",
        {"model": "tiny-llama", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
    )
    assert status == 200 and answer["usage"]["completion_tokens"] == 4
    _, metrics = http_json(f"{image_pod['llama']}/metrics")
    assert re.search(r"^llamacpp:prompt_tokens_total \d", metrics, re.M), metrics[:500]
    assert re.search(r"^llamacpp:requests_processing \d", metrics, re.M), metrics[:500]
    user = run(["podman", "exec", f"{image_pod['pod']}-llama", "cat", "/proc/1/status"]).stdout
    assert re.search(r"^Uid:\s+4242\s", user, re.M), user
    version = run(
        ["podman", "run", "--rm", "--read-only", "--user", UID_LLAMA, platform_images["llama-server"], "--version"]
    )
    build = VERSIONS["llamacpp_version"].removeprefix("b")
    said = version.stdout + version.stderr
    assert f"(build {build}, commit {VERSIONS['llamacpp_build_commit']})" in said, said
    curl = run(
        [
            "podman",
            "run",
            "--rm",
            "--read-only",
            "--user",
            UID_LLAMA,
            "--entrypoint",
            "curl",
            platform_images["llama-server"],
            "--version",
        ]
    )
    assert curl.returncode == 0, "upstream's image has curl (the preload Job and health checks use it)"


def test_inference_health_reads_the_llama_server_image(image_pod):
    """inference.platform.inference_health (engine=llamacpp) against the real llama-server: its names, its counts."""
    url = image_pod["llama"]
    args = {"api_url": url, "engine": "llamacpp", "expected_models": ["tiny-llama"], "metrics": "required"}
    before = run_module("inference_health", {**args, "max_waiting_requests": 0})
    assert not before.failed, before.describe()
    r = before.result
    assert r["healthy"] is True and r["engine"] == "llamacpp"
    assert r["checks"]["liveness"]["status"] == 200  # llama-server has /health (llama-cpp-python's server has not)
    assert r["checks"]["waiting_requests"]["value"] == 0.0
    assert r["metrics"]["names"]["num_requests_waiting"] == "llamacpp:requests_deferred"
    assert r["metrics"]["names"]["num_requests_running"] == "llamacpp:requests_processing"
    for value in ("kv_cache_usage", "ttft_seconds", "inter_token_latency_seconds", "model_names"):
        assert r["metrics"][value] is None, value  # llama-server b11312 does not report them
    status, answer = http_json(
        f"{url}/v1/chat/completions",
        {"model": "tiny-llama", "messages": [{"role": "user", "content": "count to five"}], "max_tokens": 5},
    )
    assert status == 200 and answer["usage"]["completion_tokens"] == 5
    after = run_module("inference_health", args)
    assert not after.failed, after.describe()
    m0, m1 = before.result["metrics"], after.result["metrics"]
    assert m1["generation_tokens_total"] - m0["generation_tokens_total"] == 5  # exactly this request's tokens
    assert m1["prompt_tokens_total"] > m0["prompt_tokens_total"]
    assert m1["generation_tokens_per_second"] > 0 and m1["prompt_tokens_per_second"] > 0
    # The default engine (vLLM) finds none of its names on this page, and says which engine to set.
    wrong = run_module("inference_health", {"api_url": url, "metrics": "required"})
    assert wrong.failed
    assert wrong.result["failed_checks"] == ["metrics"]
    assert wrong.result["checks"]["metrics"]["detail"].endswith(
        "it has the metrics of llama.cpp (llama-server): set engine=llamacpp"
    ), wrong.describe()


def test_litellm_image_serves_through_llama_server(image_pod, platform_images, integration_timings):
    gateway, key = image_pod["gateway"], image_pod["key"]
    status, models = http_json(f"{gateway}/v1/models", key=key)
    assert status == 200 and ROUTE in [m["id"] for m in models["data"]]
    started = time.monotonic()
    status, answer = http_json(
        f"{gateway}/v1/chat/completions",
        {"model": ROUTE, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 6},
        key=key,
    )
    integration_timings["chat completion through the LiteLLM image"] = time.monotonic() - started
    assert status == 200, answer
    assert answer["usage"]["completion_tokens"] == 6, answer  # the tiny model always runs to max_tokens
    assert answer["choices"][0]["message"]["content"], answer
    _, metrics = http_json(f"{image_pod['llama']}/metrics")
    served = re.search(r"^llamacpp:tokens_predicted_total (\d+)", metrics, re.M)
    assert served and int(served.group(1)) >= 6, "the completion did not reach llama-server"
    # No key: in a cluster only Prometheus reaches this port. LiteLLM counts a request in a callback after the answer,
    # so the count may show a moment later.
    pattern = re.compile(rf'^litellm_proxy_total_requests_metric_total{{[^}}]*requested_model="{ROUTE}"[^}}]*}} [1-9]',
                         re.M)
    deadline, counted = time.monotonic() + 60, ""
    while time.monotonic() < deadline and not pattern.search(counted):
        status, counted = http_json(image_pod["metrics"])
        assert status == 200, counted
        time.sleep(0.5)
    assert pattern.search(counted), counted[-3000:]
    with pytest.raises(urllib.error.HTTPError) as refused:  # the API port keeps its metrics behind a key
        http_json(f"{gateway}/metrics/")
    assert refused.value.code == 401
    status, _ = http_json(f"{gateway}/health/liveliness")
    assert status == 200
    status, page = http_json(f"{gateway}/ui/")
    assert status == 200 and "<html" in page.lower(), "the admin UI copied by copy-ui is not served"
    logs = image_pod["logs"]("litellm")()
    assert "Falling back to packaged UI" not in logs, logs
    python = run(
        [
            "podman",
            "run",
            "--rm",
            "--read-only",
            "--user",
            UID_LITELLM,
            "--entrypoint",
            "python3",
            platform_images["litellm"],
            "-c",
            PRINT_PREFIX,
        ]
    )
    assert python.returncode == 0 and python.stdout.split() == ["/opt/litellm", "True"], python.stdout + python.stderr


@pytest.mark.parametrize("name", sorted(GO_IMAGES))
def test_go_program_image_runs_as_any_user_and_reports_its_pinned_version(platform_images, name):
    """Each Go program's image starts its program from its entrypoint as an arbitrary non-root UID on a read-only root
    (as the charts' restricted pods run it) and, KEDA's aside, is the pinned version (its version stamps)."""
    pin, args, said = GO_IMAGES[name]
    version = str(VERSIONS[pin]).removeprefix("v")
    done = run(
        ["podman", "run", "--rm", *hardened(UID_LLAMA), "--network", "none", platform_images[name], *args], timeout=60
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{name} ({done.returncode}): {output[-1500:]}"
    assert said.format(v=version) in output, f"{name}: {output[-1500:]}"
