"""docs/architecture.md's walkthroughs ("Adding a component", "Adding an inference engine") name files: each must
exist (for the component walkthrough, as the KEDA component has them), so the list stays true as the tree moves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
TEXT = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^#)", TEXT, re.MULTILINE | re.DOTALL)
    assert match, f"docs/architecture.md has no section '{title}'"
    return match.group(1)


def paths(text: str) -> list[str]:
    return sorted(set(re.findall(r"`((?:roles|group_vars|collections|tests|playbooks)/[^`\s]+)`", text)))


@pytest.mark.parametrize("path", paths(section("Adding a component")))
def test_the_component_walkthrough_names_files_a_component_has(path):
    """Written for a new component (kueue); the KEDA component has each of them."""
    assert (ROOT / path.replace("kueue", "keda")).exists(), path


@pytest.mark.parametrize("path", paths(section("Adding an inference engine")))
def test_the_engine_walkthrough_names_files_that_exist(path):
    assert (ROOT / path).exists(), path


def test_the_component_walkthrough_lists_what_the_registry_reads():
    entry = yaml.safe_load((ROOT / "group_vars/all/platform.yml").read_text())["platform_components"][0]
    text = " ".join(TEXT.split())
    for key in entry:
        assert f"`{key}`" in text, f"docs/architecture.md does not explain the registry key {key}"
