"""Playbook argument specs (playbooks/argument_specs/<stem>.yml) and the check each playbook starts with.

The contract (shared with the Hetzner and day-2 playbooks): a playbook that takes extra variables has
playbooks/argument_specs/<stem>.yml with short_description, the cross-cutting variables it takes under
cross_cutting (declared once, in cross_cutting.yml) and its own options (a role argument spec's format); its first
play validates both on the controller with ansible.builtin.validate_argument_spec.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.inference.platform.plugins.filter.platform import playbook_argument_spec
from awx_support import ROOT, SPEC_DIR, VENV_BIN, env_for_ansible, load_yaml

# The stage playbooks, site.yml and the playbooks of this part.
STEMS = ["site", "validate", "prepare", "cluster", "platform", "verify", "tenant_key", "awx_configure"]
SHARED = "cross_cutting"
ALL_SPECS = sorted(path.stem for path in SPEC_DIR.glob("*.yml") if path.stem != SHARED)
PROJECT_DEFAULTS = ROOT / "group_vars" / "all" / "main.yml"


def spec(stem: str) -> dict:
    """The spec as the playbook validates it: its own options and the cross-cutting ones it names."""
    data = load_yaml(SPEC_DIR / f"{stem}.yml")
    return {**data, "options": playbook_argument_spec(data, load_yaml(SPEC_DIR / f"{SHARED}.yml"))}


@pytest.mark.parametrize("stem", STEMS)
def test_spec_file_has_the_contract_shape(stem):
    path = SPEC_DIR / f"{stem}.yml"
    assert path.is_file(), f"playbooks/argument_specs/{stem}.yml is missing"
    data = spec(stem)
    assert set(data) <= {"short_description", "cross_cutting", "options"} and "options" in data, (
        f"{path.name}: keys must be short_description, cross_cutting (optional) and options"
    )
    assert path.read_text(encoding="utf-8").splitlines()[1].startswith("# "), (
        f"{path.name}: second line is a one-line comment"
    )
    for name, option in data["options"].items():
        assert option.get("type") and option.get("description"), f"{path.name}: {name} needs a type and a description"
    # Ansible itself must accept the spec (unknown types or keys raise here).
    result = ArgumentSpecValidator(data["options"]).validate({})
    required = {name for name, option in data["options"].items() if option.get("required")}
    assert {error.split(": ")[-1] for error in result.error_messages} <= {", ".join(sorted(required))} | set(required)


@pytest.mark.parametrize("stem", STEMS)
def test_first_play_validates_the_spec_on_the_controller(stem):
    plays = yaml.safe_load((ROOT / "playbooks" / f"{stem}.yml").read_text(encoding="utf-8"))
    first = next(play for play in plays if "hosts" in play)
    task = (first.get("pre_tasks") or first.get("tasks") or [{}])[0]
    hint = (
        "make the first play run on localhost (connection: local) and start with\n"
        f"    - name: Validate the variables against argument_specs/{stem}.yml\n"
        "      ansible.builtin.validate_argument_spec:\n"
        "        argument_spec: >-\n"
        f"          {{{{ lookup('ansible.builtin.file', playbook_dir ~ '/argument_specs/{stem}.yml') | from_yaml\n"
        "             | inference.platform.playbook_argument_spec(lookup('ansible.builtin.file', playbook_dir ~ "
        "'/argument_specs/cross_cutting.yml') | from_yaml) }}"
    )
    assert first["hosts"] == "localhost" and first.get("connection") == "local", f"playbooks/{stem}.yml: {hint}"
    assert "ansible.builtin.validate_argument_spec" in task, f"playbooks/{stem}.yml: {hint}"
    check = task["ansible.builtin.validate_argument_spec"]["argument_spec"]
    assert f"/argument_specs/{stem}.yml'" in check and "inference.platform.playbook_argument_spec(" in check, hint


def test_options_mean_the_same_in_every_spec():
    """A variable several playbooks take has the same type and choices in every spec, and in its role's spec."""
    seen: dict[str, tuple[str, dict]] = {}
    for stem in ALL_SPECS:
        for name, option in (spec(stem).get("options") or {}).items():
            shape = {key: option.get(key) for key in ("type", "elements", "choices")}
            if name in seen:
                other_stem, other = seen[name]
                where = f"{name}: {other_stem}.yml says {other}, {stem}.yml says {shape}"
                assert (other["type"], other["elements"]) == (shape["type"], shape["elements"]), where
                # validate.yml and site.yml leave choices to roles/validate_inventory; where both list them, they agree.
                assert not (other["choices"] and shape["choices"]) or other["choices"] == shape["choices"], where
            seen[name] = (stem, shape) if shape["choices"] or name not in seen else seen[name]
    for role in sorted((ROOT / "roles").iterdir()):
        role_spec = role / "meta" / "argument_specs.yml"
        if not role_spec.is_file():
            continue
        role_options = load_yaml(role_spec)["argument_specs"]["main"].get("options", {})
        for name, (stem, shape) in seen.items():
            if name in role_options:
                # path is a str that Ansible expands; the roles themselves use both for platform_render_dir.
                # raw: the role checks the value itself (roles/validate_inventory writes its own messages).
                types = {role_options[name].get("type", "str"), shape["type"]}
                assert len(types) == 1 or types == {"str", "path"} or "raw" in types, (
                    f"{name}: roles/{role.name} says {role_options[name].get('type')}, "
                    f"argument_specs/{stem}.yml {shape['type']}"
                )


@pytest.mark.parametrize("stem", ["site", "validate", "prepare", "cluster", "platform", "verify"])
def test_project_defaults_pass_every_stage_spec(stem):
    """The values of group_vars/all/main.yml (what every inventory starts from) are accepted."""
    defaults = load_yaml(PROJECT_DEFAULTS)
    options = spec(stem)["options"]
    given = {name: value for name, value in defaults.items() if name in options}
    assert given, f"{stem}.yml checks none of the project's cross-cutting variables"
    result = ArgumentSpecValidator(options).validate(given)
    assert not result.error_messages, f"{stem}.yml rejects the project defaults: {result.error_messages}"


def test_a_bad_value_stops_a_stage_before_any_host_play():
    """Real run: cluster.yml with a wrong cluster_distribution fails in its first play, naming the variable."""
    result = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "inventories/onprem",
            "playbooks/cluster.yml",
            "-e",
            "cluster_distribution=k8s",
        ],
        cwd=ROOT,
        env=env_for_ansible(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "cluster_distribution must be k3s or kubeadm (it is 'k8s'" in " ".join(output.split()), output
    assert "Check the cluster stage's inputs against argument_specs/cluster.yml" in output, output
    assert "Initialise the cluster on the first server" not in output, "a host play ran after the failed check"


def _run_awx_configure(*extra):
    env = {key: value for key, value in env_for_ansible().items() if not key.startswith(("CONTROLLER_", "TOWER_"))}
    result = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/onprem", "playbooks/awx_configure.yml", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_awx_configure_stops_before_contacting_awx_on_bad_input():
    """Real runs, no AWX: a missing required option, then a missing controller connection, each stop it with
    a message saying what to set, before any awx.awx task."""
    code, output = _run_awx_configure()
    assert code != 0
    assert "awx_configure_scm_url" in output and "awx_configure_ee_image" in output, output
    code, output = _run_awx_configure(
        "-e", "awx_configure_scm_url=https://git.example.invalid/p.git", "-e", "awx_configure_ee_image=ee:1"
    )
    assert code != 0
    assert "Set CONTROLLER_HOST (the AWX URL) and CONTROLLER_OAUTH_TOKEN" in output, output
    assert "TASK [Organization]" not in output, output


def test_every_cross_cutting_variable_is_declared_once():
    """cross_cutting.yml declares them; no other playbook spec and no role spec declares one again (issue 14)."""
    shared = set(load_yaml(SPEC_DIR / f"{SHARED}.yml")["options"])
    again = []
    for stem in ALL_SPECS:
        again += [f"playbooks/argument_specs/{stem}.yml: {name}"
                  for name in load_yaml(SPEC_DIR / f"{stem}.yml").get("options") or {} if name in shared]
    for role_spec in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        for entry, data in load_yaml(role_spec)["argument_specs"].items():
            again += [f"{role_spec.relative_to(ROOT)} ({entry}): {name}"
                      for name in data.get("options") or {} if name in shared]
    assert again == []


def test_every_cross_cutting_variable_has_a_project_value():
    """Each is set in group_vars/all (main.yml or platform.yml), where an operator reads what it means."""
    defined = {}
    for path in sorted((ROOT / "group_vars" / "all").glob("*.yml")):
        defined |= load_yaml(path) or {}
    missing = sorted(set(load_yaml(SPEC_DIR / f"{SHARED}.yml")["options"]) - set(defined))
    assert missing == []
