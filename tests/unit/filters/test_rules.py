"""The shared value rules (plugins/module_utils/_rules.py) and the Jinja tests over them (plugins/test/rules.py):
the DNS-1123 label, pinned images, exact versions, booleans as -e gives them, world-open networks."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.inference.platform.plugins.module_utils import _rules
from ansible_collections.inference.platform.plugins.test.rules import TestModule as RuleTests

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("gpu-1", True), ("a", True), ("a" * 63, True), ("a" * 64, False), ("GPU_1", False), ("-a", False),
     ("a-", False), ("", False), (None, False), (7, False)],
)
def test_dns_label(value, expected):
    assert _rules.is_dns_label(value) is expected


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("docker.io/vllm/vllm-openai:v0.33.0", None),
        ("ghcr.io/berriai/litellm-database:main-v1.80.12", None),
        ("registry.example:5000/team/img@sha256:" + "a" * 64, None),
        ("img:latest@sha256:" + "b" * 64, None),
        ("docker.io/vllm/vllm-openai", "has no tag, so it floats to whatever the registry calls latest"),
        ("docker.io/vllm/vllm-openai:latest", "floats (its tag 'latest' moves under you)"),
        ("ghcr.io/berriai/litellm-database:main-latest", "floats (its tag 'main-latest' moves under you)"),
        ("img:stable", "floats (its tag 'stable' moves under you)"),
        ("img:cuda12-nightly", "floats (its tag 'cuda12-nightly' moves under you)"),
        ("Not An Image", "is not an image reference such as registry/name:tag or registry/name@sha256:<digest>"),
    ],
)
def test_image_pins(image, problem):
    assert _rules.image_problem(image) == problem


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("v1.35.4", None),
        ("2.20.2", None),
        ("v1.35.4+k3s1", None),
        ("v26.7.0", None),
        ("1.0.0-rc.1", None),
        ("v1.35", "is not an exact release (major.minor.patch)"),
        ("*", "is a version range, not one release"),
        (">=2.0", "is a version range, not one release"),
        ("~1.2.3", "is a version range, not one release"),
        ("1.x", "is a version range, not one release"),
        ("latest", "floats ('latest' moves under you)"),
        ("", "is empty"),
        (2.2, "is float 2.2, not a release string; quote it (e.g. '2.20.2')"),
    ],
)
def test_exact_versions(version, problem):
    assert _rules.version_problem(version) == problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, (True, True)), ("false", (True, False)), ("False", (True, False)), ("yes", (True, True)),
     ("0", (True, False)), (1, (True, True)), ("maybe", (False, None)), (None, (False, None)), (2, (False, None))],
)
def test_booleans_as_the_command_line_gives_them(value, expected):
    assert _rules.as_bool(value) == expected


@pytest.mark.parametrize(
    ("cidr", "world"),
    [("0.0.0.0/0", True), ("0.0.0.0/7", True), ("10.0.0.0/8", False), ("::/0", True), ("2000::/15", True),
     ("2001::/16", False), ("198.51.100.0/24", False)],
)
def test_world_open_networks(cidr, world):
    assert _rules.is_world_open(ipaddress.ip_network(cidr)) is world


def test_the_jinja_tests_are_the_same_rules():
    tests = RuleTests().tests()
    assert set(tests) == {"dns_label", "pinned_image", "exact_version"}
    assert tests["dns_label"]("a" * 41, 40) is False
    assert tests["pinned_image"]("img:main-latest") is False
    assert tests["exact_version"]("v1.35") is False


def test_ansible_finds_the_tests_by_their_collection_name():
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "localhost",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ ['GPU_1' is inference.platform.dns_label, 'img:v1.2.3' is inference.platform.pinned_image] }}",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "- false\n    - true" in result.stdout.lower(), result.stdout


@pytest.mark.parametrize(
    ("value", "expected"),
    [(30400, 30400), ("30400", 30400), (" 5 ", 5), (0, 0), (True, None), ("5.0", None), ("-1", None), (None, None),
     (2.5, None), ("", None)],
)
def test_a_whole_number_is_read_as_an_e_or_a_survey_gives_it(value, expected):
    assert _rules.as_whole_number(value) == expected
