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
