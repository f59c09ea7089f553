"""Boolean options arrive as strings from -e and AWX surveys ("false"): every condition converts them with `| bool`.

Before issue 19, `-e verify_gpu_facts=false` or `lab_down.yml -e lab_remove_image=true` stopped ansible-core 2.19 with
"Conditional result (True) was derived from value of type 'str'", and a bare "false" in a Jinja `if` is true. The
static check reads every task, handler and template (tests/unit/project/booleans.py); the runs pass each option of
the playbooks' argument specs as a string, the way an operator or a survey does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import booleans
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin"
# A valid inventory whose hosts are unreachable TEST-NET addresses: only the controller's plays can run.
UNREACHABLE = PROJECT_ROOT / "tests" / "fixtures" / "inventories" / "good"
STRING_FALSE_MESSAGE = "derived from value of type"


def test_every_boolean_option_in_a_condition_goes_through_bool():
    assert [str(use) for use in booleans.bare_uses()] == []


def test_the_check_finds_a_bare_boolean(tmp_path):
    """The scanner itself: a bare use in a condition, a Jinja if and an `and` are found; `| bool` is not."""
    names = {"flag"}
    found = list(booleans._walk(
        [
            {"name": "a", "ansible.builtin.debug": {"msg": "x"}, "when": "flag"},
            {"name": "b", "ansible.builtin.debug": {"msg": "{{ 'y' if flag else 'n' }}"}},
            {"name": "c", "ansible.builtin.assert": {"that": ["not flag or other"]}},
            {"name": "d", "ansible.builtin.debug": {"msg": "x"}, "when": "flag | default(true) | bool"},
            {"name": "e", "ansible.builtin.debug": {"msg": "{{ flag }}"}},
        ],
        "synthetic.yml",
        names,
        "",
    ))
    assert sorted(use.where.split(".")[0] for use in found) == ["[a]", "[b]", "[c]"]


def test_the_options_found_include_the_reported_ones():
    names = booleans.boolean_options()
    assert {"verify_gpu_facts", "lab_remove_image", "gpu_required", "destroy_hetzner_detach"} <= names


def _options(playbook: str) -> dict:
    spec = PROJECT_ROOT / "playbooks" / "argument_specs" / f"{playbook}.yml"
    return (yaml.safe_load(spec.read_text()) or {}).get("options") or {}


def _bool_options_of_playbooks() -> list[tuple[str, str]]:
    stems = sorted(path.stem for path in (PROJECT_ROOT / "playbooks" / "argument_specs").glob("*.yml"))
    return [(stem, name) for stem in stems for name, option in _options(stem).items() if option.get("type") == "bool"]


def _required_values(playbook: str) -> dict:
    """A value of the right type for each required option, so the spec check passes and the run goes on."""
    samples = {"str": "fixture", "list": ["fixture"], "int": 1, "float": 1.0, "dict": {}, "bool": True}
    return {name: samples[option.get("type", "str")] for name, option in _options(playbook).items()
            if option.get("required")}


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), *argv],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "HF_TOKEN": "hf_fixture"},
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(("playbook", "option"), _bool_options_of_playbooks())
def test_a_playbooks_boolean_option_given_as_the_string_false(playbook, option):
    """Each boolean a playbook declares, as `-e name=false`, against hosts that cannot be reached: the controller's
    plays evaluate their conditions, the hosts' plays stop unreachable, and no condition trips on the string."""
    required = json.dumps(_required_values(playbook))
    done = run("-i", str(UNREACHABLE), f"playbooks/{playbook}.yml", "--check", "-e", required, "-e", f"{option}=false")
    output = done.stdout + done.stderr
    assert STRING_FALSE_MESSAGE not in output, output[-3000:]
    assert "Validation of arguments failed" not in output, output[-3000:]


def test_verify_without_gpu_facts_as_a_string():
    """Issue 19: `-e verify_gpu_facts=false` skips the GPU facts; the condition is evaluated before any connection."""
    done = run("-i", str(UNREACHABLE), "playbooks/verify.yml", "-e", "verify_gpu_facts=false", "--limit", "gpu-1")
    output = done.stdout + done.stderr
    assert STRING_FALSE_MESSAGE not in output, output[-3000:]
    assert "Read the GPUs with nvidia-smi" not in output or "skipping: [gpu-1]" in output, output[-3000:]


def test_lab_down_removing_the_image_as_a_string(tmp_path):
    """Issue 19: `lab_down.yml -e lab_remove_image=true`, in check mode, on a lab of its own name (that none has)."""
    name = f"booltest-{uuid.uuid4().hex[:6]}"
    done = run(
        "playbooks/lab_down.yml",
        "--check",
        "-e",
        "lab_remove_image=true",
        "-e",
        f"lab_name={name}",
        "-e",
        f"lab_image=localhost/{name}:none",
        "-e",
        f"lab_inventory_file={tmp_path / 'hosts.yml'}",
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert STRING_FALSE_MESSAGE not in output
    assert re.search(r"TASK \[lab : Remove the lab image\] \**\n(ok|changed): \[localhost\]", output), output[-3000:]
