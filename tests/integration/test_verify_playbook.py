"""playbooks/verify.yml (roles/verify) run with ansible-playbook against the REAL loopback servers.

What runs here: LiteLLM refuses a request without a key, and the smoke gate (inference.platform.
smoke_inference through the real LiteLLM proxy to the real llama-cpp-python server) for two routes,
then the table and the JSON report; a second run with an impossible threshold on one model fails
naming it.

What does not run here, switched off by variable, and why:
* ``verify_gpu_facts: false``: this machine has no GPU (gpu_facts is proven against recorded
  nvidia-smi outputs in tests/unit/modules).
* ``verify_cluster_checks: false``: there is no cluster here (node GPU capacity, pods, replicas).
* The tenant check: the tenant key is created with litellm_key, which needs LiteLLM's database; the real
  proxy here has none (test_modules_litellm_admin.py shows its real error), which is what
  ``litellm_database: none`` says. The inventory sets that and nothing else: the role's default then
  switches the tenant check off, and the table and the report say it was skipped and why. The
  module's behaviour is covered by the unit stand-in.

The inventory is a temporary one in the shape of the project's (group_vars/all/00_project linked to
the project defaults, overrides in 50_test.yml) with localhost only and an empty gpu_nodes group.
Concurrency is 1: llama-cpp-python serves one request at a time and cuts a running stream short
when a second one arrives (test_modules_smoke_inference.py).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from ansible_cli import PROJECT_ROOT, run_playbook

pytestmark = pytest.mark.integration

PLAYBOOK = PROJECT_ROOT / "playbooks" / "verify.yml"


@pytest.fixture(scope="module")
def verify_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inventory = tmp_path_factory.mktemp("verify-inventory")
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "group_vars" / "all" / "00_project").symlink_to(PROJECT_ROOT / "group_vars" / "all")
    (inventory / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                    }
                },
                "gpu_nodes": {"hosts": {}},
            }
        )
    )
    return inventory


def write_vars(inventory: Path, litellm_proxy, report_dir: Path, **overrides) -> None:
    data = {
        "cluster_name": "it-verify",
        "inference_models": [
            {"name": litellm_proxy.model, "replicas": {"min": 1, "max": 1}},
            {"name": "tiny-chat-slow", "replicas": {"min": 1, "max": 2}},  # through the delay stand-in, delay 0 here
        ],
        "inference_tenants": [],
        # No GPU and no cluster on this machine; no LiteLLM database, so no tenant key (module docstring).
        "verify_gpu_facts": False,
        "verify_gpu_facts_skip_reason": "this machine has no GPU",
        "verify_cluster_checks": False,
        "litellm_database": "none",
        "verify_litellm_url": litellm_proxy.root_url,
        "verify_smoke_concurrency": 1,
        "verify_smoke_requests": 3,
        "verify_smoke_max_tokens": 16,
        "verify_smoke_max_ttft_p95_seconds": 5.0,
        "verify_smoke_min_output_tokens_per_s": 5.0,
        "verify_report_dir": str(report_dir),
        **overrides,
    }
    (inventory / "group_vars" / "all" / "50_test.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def run_verify(inventory: Path, litellm_proxy):
    # The master key reaches the role the way an operator's would: LITELLM_MASTER_KEY in the environment.
    return run_playbook(PLAYBOOK, inventory, env={"LITELLM_MASTER_KEY": litellm_proxy.master_key})


def only_report(report_dir: Path) -> dict:
    reports = sorted(report_dir.glob("it-verify-*.json"))
    assert len(reports) == 1, reports
    assert re.fullmatch(r"it-verify-\d{8}T\d{6}Z\.json", reports[0].name)
    return json.loads(reports[0].read_text())


def summary_lines(stdout: str) -> list[str]:
    """The debug lines of the Summary task (YAML list items; the callback folds a long item onto more lines)."""
    block = stdout.split("TASK [verify : Summary]", 1)[1].split("TASK [", 1)[0]
    items: list[str] = []
    for line in block.splitlines():
        if line.strip().startswith("- "):
            items.append(line.strip()[2:])
        elif items and line.strip():
            items[-1] += " " + line.strip()
    return [item.strip("'") for item in items]


def test_verify_passes_and_reports(verify_inventory, litellm_proxy, delay_proxy, tmp_path):
    report_dir = tmp_path / "reports"
    write_vars(verify_inventory, litellm_proxy, report_dir)
    run = run_verify(verify_inventory, litellm_proxy)
    assert run.returncode == 0, run.describe()
    assert "PLAY [Read the GPUs of the GPU nodes]" in run.stdout
    assert "skipping: no hosts matched" in run.stdout  # empty gpu_nodes here

    lines = summary_lines(run.stdout)
    assert re.fullmatch(r"MODEL\s+REPLICAS\s+TTFT p95\s+tokens/s\s+VERDICT", lines[0]), lines
    assert re.fullmatch(r"tiny-chat\s+1-1 \(config\)\s+[\d.]+ s\s+[\d.]+\s+PASS", lines[1]), lines
    assert re.fullmatch(r"tiny-chat-slow\s+1-2 \(config\)\s+[\d.]+ s\s+[\d.]+\s+PASS", lines[2]), lines
    assert "check litellm_refuses_no_key: PASS - HTTP 401 without a key" in lines
    assert "check gpu_facts: SKIP - skipped: this machine has no GPU" in lines
    assert (
        "check tenant_key: SKIP - skipped: litellm_database is none: the gateway has no database, and tenant keys, "
        "teams and budgets live in it" in lines
    ), lines
    assert lines[-1].startswith(f"report: {report_dir}/it-verify-")

    report = only_report(report_dir)
    assert report["passed"] is True
    assert report["cluster_name"] == "it-verify"
    assert report["endpoint"] == litellm_proxy.root_url
    assert report["checks_run"] == {
        "gpu_facts": False,
        "cluster": False,
        "auth": True,
        "tenant": False,
        "smoke_gate": True,
    }
    assert report["checks"] == [
        {"check": "gpu_facts", "ok": True, "skipped": True, "detail": "skipped: this machine has no GPU"},
        {"check": "litellm_refuses_no_key", "ok": True, "detail": "HTTP 401 without a key"},
        {
            "check": "tenant_key",
            "ok": True,
            "skipped": True,
            "detail": "skipped: litellm_database is none: the gateway has no database, and tenant keys, teams and "
            "budgets live in it",
        },
    ]
    assert [m["model"] for m in report["models"]] == ["tiny-chat", "tiny-chat-slow"]
    for model in report["models"]:
        assert model["passed"] is True and model["failed_thresholds"] == []
        result = model["result"]
        assert result["requests"]["succeeded"] == 3 and result["requests"]["concurrency"] == 1
        assert model["ttft_p95_seconds"] == result["ttft_seconds"]["p95"] <= 5.0
        assert model["output_tokens_per_s_p50"] == result["output_tokens_per_s"]["p50"] >= 5.0
        assert result["thresholds"]["max_ttft_p95_seconds"]["ok"] is True
    assert report["gate"]["max_ttft_p95_seconds"] == 5.0
    key = litellm_proxy.master_key
    assert key not in run.output
    assert key not in json.dumps(report)


def test_verify_fails_naming_the_model_and_threshold(verify_inventory, litellm_proxy, delay_proxy, tmp_path):
    report_dir = tmp_path / "reports"
    write_vars(
        verify_inventory,
        litellm_proxy,
        report_dir,
        verify_smoke_model_thresholds={"tiny-chat-slow": {"min_output_tokens_per_s": 1000000000.0}},
    )
    run = run_verify(verify_inventory, litellm_proxy)
    assert run.returncode != 0, run.describe()
    lines = summary_lines(run.stdout)
    assert re.fullmatch(r"tiny-chat\s+1-1 \(config\)\s+[\d.]+ s\s+[\d.]+\s+PASS", lines[1]), lines
    assert re.fullmatch(r"tiny-chat-slow\s+1-2 \(config\)\s+[\d.]+ s\s+[\d.]+\s+FAIL", lines[2]), lines
    assert re.search(
        r"verify failed: tiny-chat-slow: min_output_tokens_per_s missed: output tokens/s p50 is [\d.]+ < 1e\+09 "
        r"\(short by [\d.e+]+, [\d.]+%\)",
        run.output,
    ), run.describe()
    report = only_report(report_dir)
    assert report["passed"] is False
    slow = report["models"][1]
    assert slow["passed"] is False and slow["failed_thresholds"] == ["min_output_tokens_per_s"]
    assert slow["error_code"] == "threshold_missed"
    assert report["models"][0]["passed"] is True
    assert litellm_proxy.master_key not in run.output
