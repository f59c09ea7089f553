"""The rendered PrometheusRule passes `promtool check rules` and every alert has promtool unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMTOOL_TESTS = Path(__file__).parent / "promtool"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package 'prometheus')")


@pytest.fixture(scope="module")
def rules_dir(renders, tmp_path_factory) -> Path:
    # onprem: the lab does not run the monitoring stack (platform_skip_components), so it renders no rules.
    onprem = renders["onprem"]
    assert onprem.returncode == 0, onprem.stdout[-3000:]
    rule = next(o for o in onprem.objects if o["kind"] == "PrometheusRule")
    directory = tmp_path_factory.mktemp("promtool")
    (directory / "rules.yml").write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    for test in PROMTOOL_TESTS.glob("*.test.yml"):
        shutil.copy(test, directory / test.name)
    return directory


def test_rules_pass_promtool_check(rules_dir):
    result = subprocess.run(
        [PROMTOOL, "check", "rules", "rules.yml"], cwd=rules_dir, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", sorted(p.name for p in PROMTOOL_TESTS.glob("*.test.yml")))
def test_promtool_unit_tests(rules_dir, test_file):
    result = subprocess.run(
        [PROMTOOL, "test", "rules", test_file], cwd=rules_dir, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case(rules_dir):
    alerts = {
        r["alert"]
        for g in yaml.safe_load((rules_dir / "rules.yml").read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert {
        "VLLMTimeToFirstTokenP95High",
        "ModelQueueDepthSustained",
        "ModelServerDown",
        "VLLMKVCacheNearlyFull",
        "GPUXidError",
        "GPUTemperatureHigh",
        "VLLMContainerRestarting",
    } <= alerts
    firing, quiet = set(), set()
    for path in PROMTOOL_TESTS.glob("*.test.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - firing == set(), "alerts without a test that makes them fire"
    assert alerts - quiet == set(), "alerts without a test that keeps them quiet"


def test_the_wake_query_sees_a_request_in_a_new_series_and_nothing_when_idle(renders, tmp_path):
    """The wake-on-request query of a scale_to_zero model (hetzner's llama31-8b-awq), as rendered, on series shaped
    like LiteLLM's (one per gateway pod, key and status, starting at 1 with its first request): a request that only
    creates a series wakes the model, a known series that grows wakes it, and counts that stopped growing longer than
    the window ago do not (the activation threshold is 0)."""
    hetzner = renders["hetzner"]
    assert hetzner.returncode == 0, hetzner.stdout[-3000:]
    scaled = next(o for o in hetzner.objects if o["kind"] == "ScaledObject" and o["spec"].get("idleReplicaCount") == 0)
    model = scaled["metadata"]["name"]
    wake = next(t for t in scaled["spec"]["triggers"] if t["name"] == "wake-on-request")["metadata"]
    assert wake["activationThreshold"] == "0"
    series = f'litellm_proxy_total_requests_metric_total{{requested_model="{model}",pod="litellm-a"'
    cases = {
        # the first failure (no replica to answer): its series appears at 1 at 10m (one sample, no increase to see)
        "new series": ([(f'{series},status_code="200"}}', "3x20"), (f'{series},status_code="500"}}', "_x20 1")],
                       "10m", 1),
        # a known series grows from 3 to 4 at 10m
        "known series grows": ([(f'{series},status_code="200"}}', "3x19 4")], "10m", 1),
        # the last request was 10 minutes ago: idle
        "idle": ([(f'{series},status_code="200"}}', "1x20 2x20")], "20m", 0),
        # another model's requests do not wake this one
        "other model": ([('litellm_proxy_total_requests_metric_total{requested_model="other",pod="litellm-a"}',
                          "_x20 1")], "10m", 0),
    }
    tests = [
        {
            "interval": "30s",
            "input_series": [{"series": name, "values": values} for name, values in inputs],
            "promql_expr_test": [{"expr": f"({wake['query']}) > bool 0", "eval_time": at,
                                  "exp_samples": [{"labels": "{}", "value": expected}]}],
        }
        for inputs, at, expected in cases.values()
    ]
    (tmp_path / "empty.yml").write_text("groups: []\n")
    (tmp_path / "wake.test.yml").write_text(yaml.safe_dump({"rule_files": ["empty.yml"], "tests": tests}))
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "wake.test.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{list(cases)}\n{result.stdout}{result.stderr}"
