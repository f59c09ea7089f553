"""Shared helpers of the AWX tests: the AWX definition, the playbooks' argument specs, awx.awx's option docs."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import yaml
from ansible_collections.inference.platform.plugins.filter.platform import playbook_argument_spec

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = ROOT / ".venv" / "bin"
AWX_DEFINITION = ROOT / "awx" / "awx.yml"
SPEC_DIR = ROOT / "playbooks" / "argument_specs"

# Who writes the playbooks the job templates name, so a missing one is reported to the right place.
OTHER_OWNERS = {
    "provision.yml": "the Hetzner provisioning work",
    "destroy_hetzner.yml": "the Hetzner provisioning work",
    "upgrade.yml": "the day-2 work",
    "scale.yml": "the day-2 work",
    "model_rollout.yml": "the day-2 work",
    "reset.yml": "the day-2 work",
}


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's !unsafe tag (used for AWX injector templates) as a plain string."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load_yaml(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


@functools.lru_cache(maxsize=1)
def definition() -> dict:
    return load_yaml(AWX_DEFINITION)


def job_templates() -> list[dict]:
    """Each job template with the shared defaults applied, as awx_configure.yml passes it."""
    data = definition()
    return [{**data["awx_job_template_defaults"], **template} for template in data["awx_job_templates"]]


def playbook_spec(playbook: str) -> dict:
    """The options of playbooks/argument_specs/<stem>.yml for playbooks/<stem>.yml; fails naming a missing file."""
    stem = Path(playbook).stem
    path = SPEC_DIR / f"{stem}.yml"
    owner = OTHER_OWNERS.get(f"{stem}.yml")
    assert path.is_file(), (
        f"playbooks/argument_specs/{stem}.yml does not exist, so nothing says which variables {playbook} accepts"
        + (f" (to be written by {owner}; the lead integrates)" if owner else "")
    )
    data = load_yaml(path)
    shared = load_yaml(SPEC_DIR / "cross_cutting.yml")
    return {**data, "options": playbook_argument_spec(data, shared)}


def env_for_ansible() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@functools.cache
def module_docs(*modules: str) -> dict[str, dict]:
    """ansible-doc -j for the given modules (one call): module name -> its documented options."""
    result = subprocess.run(
        [str(VENV_BIN / "ansible-doc"), "-j", *modules],
        cwd=ROOT,
        env=env_for_ansible(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    docs = json.loads(result.stdout)
    missing = set(modules) - set(docs)
    assert not missing, f"ansible-doc knows no module {sorted(missing)}"
    return {name: doc["doc"]["options"] for name, doc in docs.items()}


# Keys AWX reads in a custom credential type's input field.
CREDENTIAL_FIELD_KEYS = {
    "id",
    "label",
    "type",
    "secret",
    "multiline",
    "help_text",
    "choices",
    "format",
    "ask_at_runtime",
}
