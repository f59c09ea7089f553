"""inference.platform.inference_health through the Ansible CLI against the REAL loopback servers.

llama-cpp-python's server (0.3.36) has no /health and no /metrics (both 404): the module is pointed
at it the way an operator would (``health_missing_ok``, ``metrics: optional``) and must say that
honestly rather than pass silently. vLLM's metrics parsing is covered by the unit tests with a real
vLLM scrape (tests/fixtures/vllm), not here.
"""

from __future__ import annotations

import pytest
from ansible_cli import env_ref, run_module

pytestmark = pytest.mark.integration

KEY_ENV = "HEALTH_TEST_API_KEY"


def health(api_url: str, key: str | None = None, **args):
    module_args = {"api_url": api_url, **args}
    env = {}
    if key is not None:
        module_args["api_key"] = env_ref(KEY_ENV)
        env[KEY_ENV] = key
    return run_module("inference_health", module_args, env=env)


def test_llama_server_is_healthy_and_its_missing_endpoints_are_reported(llama_server):
    run = health(llama_server.root_url, health_missing_ok=True, expected_models=[llama_server.model])
    r = run.result
    assert not run.failed, run.describe()
    assert r["healthy"] is True and r["failed_checks"] == []
    assert r["models"] == [llama_server.model]
    assert r["checks"]["models"]["ok"] is True
    # Not "ok": skipped, with the 404 said out loud.
    liveness, metrics = r["checks"]["liveness"], r["checks"]["metrics"]
    assert (liveness["ok"], liveness["status"]) == (None, 404)
    assert liveness["detail"] == f"skipped: {llama_server.root_url}/health answers 404 and health_missing_ok=true"
    assert (metrics["ok"], metrics["status"]) == (None, 404)
    assert metrics["detail"] == f"GET {llama_server.root_url}/metrics answered HTTP 404: Not Found"
    assert r["metrics"] == {}


def test_llama_server_fails_when_health_and_metrics_are_demanded(llama_server):
    run = health(llama_server.root_url, expected_models=[llama_server.model], metrics="required")
    r = run.result
    assert run.failed, run.describe()
    assert r["error"]["code"] == "check_failed"
    assert r["failed_checks"] == ["liveness", "metrics"]
    assert r["msg"] == (
        f"check 'liveness' failed: GET {llama_server.root_url}/health answered HTTP 404: Not Found; "
        f"check 'metrics' failed: GET {llama_server.root_url}/metrics answered HTTP 404: Not Found"
    )
    assert r["checks"]["models"]["ok"] is True  # what did work is still reported


def test_litellm_liveness_and_routes(litellm_proxy):
    routes = [route.name for route in litellm_proxy.routes]
    run = health(
        litellm_proxy.root_url,
        key=litellm_proxy.master_key,
        health_path="/health/liveliness",
        expected_models=routes,
        metrics="skip",
    )
    r = run.result
    assert not run.failed, run.describe()
    assert r["checks"]["liveness"] == {
        "ok": True,
        "status": 200,
        "url": f"{litellm_proxy.root_url}/health/liveliness",
        "detail": "HTTP 200",
    }
    assert sorted(r["models"]) == sorted(routes)
    assert r["checks"]["metrics"]["ok"] is None
    assert litellm_proxy.master_key not in run.output


def test_missing_model_is_named_with_what_is_served(litellm_proxy):
    run = health(
        litellm_proxy.root_url,
        key=litellm_proxy.master_key,
        health_path="/health/liveliness",
        expected_models=[litellm_proxy.model, "qwen25-7b"],
        metrics="skip",
    )
    r = run.result
    assert run.failed, run.describe()
    assert r["failed_checks"] == ["models"]
    assert r["checks"]["models"]["missing"] == ["qwen25-7b"]
    assert r["msg"].startswith(
        f"check 'models' failed: expected model(s) qwen25-7b not in {litellm_proxy.root_url}/v1/models; "
        "the server lists ["
    )
    assert "'tiny-chat'" in r["msg"]


def test_stopped_server_cannot_be_reached(dead_backend_url):
    root = dead_backend_url.removesuffix("/v1")
    run = health(root, health_missing_ok=True, expected_models=["tiny-llama"], metrics="skip")
    r = run.result
    assert run.failed, run.describe()
    assert r["failed_checks"] == ["liveness", "models"]
    assert f"check 'models' failed: cannot reach {root}/v1/models: " in r["msg"]
    assert "Connection refused" in r["msg"]
