"""The litellm role's proxy settings with ``litellm_database: none``, run by the REAL LiteLLM proxy on loopback.

roles/litellm/templates/config.yaml.j2 is rendered by ansible-playbook with the role's defaults, the project's
group_vars and ``litellm_database: none``; its ``general_settings``, ``litellm_settings`` and ``router_settings``
are given to the pinned proxy (requirements-servers.txt), with the llama server's routes instead of the cluster's
vLLM Services. The environment is the one the Deployment gives a DB-less proxy: the master key, no DATABASE_URL and
no LITELLM_SALT_KEY. Measured here: the pod's probes answer (readiness 200 with ``db: Not connected``, liveliness
200), the master key lists and serves the models, a request without a key is refused (401), an unknown bearer key is
refused (no database to look it up), and a completion is served. With the prometheus callback and the metrics server
the Deployment starts (``--prometheus_metrics_port``, ``PROMETHEUS_MULTIPROC_DIR``): /metrics/ on the API port asks
for a key, the metrics port answers without one and counts the served request by model (what the scale-to-zero wake
trigger queries), in series without the client's address or user agent (``prometheus_exclude_labels``).

Not here: the image (no registry), a cluster's probes and Prometheus's scrape; the lab gate (tests/lab_cluster)
proves those.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from ansible_cli import PROJECT_ROOT, run_playbook

pytestmark = pytest.mark.integration

TEMPLATE = PROJECT_ROOT / "roles" / "litellm" / "templates" / "config.yaml.j2"


def _render_role_config(tmp: Path, database: str) -> dict:
    inventory = tmp / f"inventory-{database}"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "group_vars" / "all" / "00_project").symlink_to(PROJECT_ROOT / "group_vars" / "all")
    localhost = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts = {"all": {"hosts": {"localhost": localhost}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    out = tmp / f"config-{database}.yaml"
    playbook = tmp / f"render-{database}.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Render the litellm role's proxy config",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars_files": [str(PROJECT_ROOT / "roles" / "litellm" / "defaults" / "main.yml")],
                    "vars": {
                        "cluster_name": "it-dbless",
                        "inference_models": [
                            {"name": "tiny-chat", "hf_id": "x/y", "revision": "main", "max_model_len": 2048}
                        ],
                    },
                    "tasks": [
                        {
                            "name": "Write it",
                            "ansible.builtin.copy": {
                                "content": "{{ lookup('ansible.builtin.template', '" + str(TEMPLATE) + "') }}",
                                "dest": str(out),
                                "mode": "0600",
                            },
                        }
                    ],
                }
            ]
        )
    )
    # -e: the role's defaults come in as vars_files, which take precedence over play vars.
    run = run_playbook(playbook, inventory, ["-e", f"litellm_database={database}"])
    assert run.returncode == 0, run.describe()
    return yaml.safe_load(out.read_text())


def _get(url: str, key: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback http only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _complete(proxy) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        f"{proxy.base_url}/chat/completions",
        data=json.dumps(
            {"model": "tiny-chat", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]}
        ).encode(),
        headers={**proxy.auth_headers(), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return json.loads(response.read())


@pytest.fixture(scope="module")
def role_settings(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("litellm-dbless")
    with_db = _render_role_config(tmp, "postgres")
    without = _render_role_config(tmp, "none")
    # The only difference the database makes to the proxy's config: the database URL.
    assert with_db["general_settings"].pop("database_url") == "os.environ/DATABASE_URL"
    assert with_db == without
    assert "database_url" not in without["general_settings"]
    settings = {name: without[name] for name in ("general_settings", "litellm_settings", "router_settings")}
    assert settings["litellm_settings"]["callbacks"] == ["prometheus"]  # the ServiceMonitor's default: on
    assert settings["litellm_settings"]["prometheus_exclude_labels"] == ["client_ip", "user_agent"]
    return settings


@pytest.fixture(scope="module")
def metrics_port() -> int:
    from servers.process import free_port

    return free_port()


@pytest.fixture(scope="module")
def dbless_proxy(role_settings, llama_server, integration_workdir: Path, metrics_port: int):
    from servers.litellm_proxy import Route, start_litellm_proxy

    # start_litellm_proxy scrubs DATABASE_URL and LITELLM_SALT_KEY from the environment, as the DB-less Deployment
    # leaves them out.
    work = integration_workdir / "litellm-dbless"
    proxy = start_litellm_proxy(
        (Route("tiny-chat", llama_server.model, llama_server.base_url),),
        work,
        settings=role_settings,
        extra_args=("--prometheus_metrics_port", str(metrics_port)),
        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus-multiproc")},
    )
    yield proxy
    proxy.stop()


def test_the_role_config_runs_without_database_or_salt_key(dbless_proxy, role_settings):
    assert role_settings["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    root = dbless_proxy.root_url
    status, body = _get(f"{root}/health/readiness")  # the Deployment's startup and readiness probe
    assert status == 200 and json.loads(body)["db"] == "Not connected", body
    assert _get(f"{root}/health/liveliness")[0] == 200  # its liveness probe
    status, body = _get(f"{root}/v1/models", dbless_proxy.master_key)
    assert status == 200 and [m["id"] for m in json.loads(body)["data"]] == ["tiny-chat"], body
    assert _get(f"{root}/v1/models")[0] == 401
    status, body = _get(f"{root}/v1/models", "sk-not-the-master-key")
    assert status in (400, 401, 403), (status, body)  # no database to find another key in
    answer = _complete(dbless_proxy)
    assert answer["choices"][0]["message"]["content"] is not None and answer["usage"]["completion_tokens"] >= 1


def test_the_metrics_port_serves_what_the_api_port_keeps_behind_a_key(dbless_proxy, metrics_port):
    status, body = _get(f"{dbless_proxy.root_url}/metrics/")
    assert status == 401, (status, body[:300])  # LiteLLM's default: a tenant on the API port reads no metrics
    assert _get(f"{dbless_proxy.root_url}/metrics/", dbless_proxy.master_key)[0] == 200
    _complete(dbless_proxy)
    # No key: in a cluster only Prometheus reaches this port (the litellm NetworkPolicy). LiteLLM counts a request in a
    # callback after the answer, so the count may show a moment later.
    deadline, served = time.monotonic() + 60, []
    while time.monotonic() < deadline and not served:
        status, body = _get(f"http://127.0.0.1:{metrics_port}/metrics/")
        assert status == 200, (status, body[:300])
        served = [line for line in body.splitlines()
                  if line.startswith("litellm_proxy_total_requests_metric_total{")
                  and 'requested_model="tiny-chat"' in line and 'status_code="200"' in line]
        time.sleep(0.5)
    assert served and float(served[0].rsplit(" ", 1)[1]) >= 1, body[:2000]
    # The role's prometheus_exclude_labels: no series keeps the client's address or user agent.
    labelled = [line for line in body.splitlines() if "client_ip=" in line or "user_agent=" in line]
    assert labelled == [], labelled[:3]
