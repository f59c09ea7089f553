"""The AWX definition (awx/awx.yml) checked without an AWX server.

What these tests prove: every key of the data reaches an awx.awx module option through
playbooks/awx_configure.yml (checked against the modules' own argument docs via ansible-doc), every
job template names a playbook that exists, every survey variable is accepted, with the same type, by
that playbook's playbooks/argument_specs/<stem>.yml, surveys follow AWX's own survey rules, the
workflow chains the stages in order, and every credential type injects what a module, inventory
plugin or role of the project reads. What only a real AWX proves: that AWX accepts and runs it
(awx/README.md says how to check).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from awx_support import ROOT, definition, job_templates, load_yaml, module_docs, playbook_spec

CONFIGURE = ROOT / "playbooks" / "awx_configure.yml"
# The chain of the issue (and of site.yml): provision comes after validate, which reads only the inventory.
STAGES = ["validate", "provision", "prepare", "cluster", "platform", "verify"]
# Data keys awx_configure.yml turns into module options itself instead of passing them on.
TRANSLATED_KEYS = {"awx_credentials": {"inputs_from_env"}}
# The data entries' collections and the module each is applied with.
DATA_MODULES = {
    "awx_organization": "awx.awx.organization",
    "awx_execution_environment": "awx.awx.execution_environment",
    "awx_credential_types": "awx.awx.credential_type",
    "awx_credentials": "awx.awx.credential",
    "awx_project": "awx.awx.project",
    "awx_inventories": "awx.awx.inventory",
    "awx_inventory_sources": "awx.awx.inventory_source",
    "awx_job_templates": "awx.awx.job_template",
    "awx_workflow_job_templates": "awx.awx.workflow_job_template",
}
# Python types of the module option types the data uses (raw and others are not checked).
PYTHON_TYPES = {"str": str, "bool": bool, "int": int, "list": list, "dict": dict}
# AWX survey question types and the Python type AWX requires of their default (awx/api/views: survey spec checks).
SURVEY_DEFAULT_TYPES = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": (int, float),
}
SURVEY_QUESTION_KEYS = {
    "question_name",
    "question_description",
    "variable",
    "type",
    "required",
    "default",
    "choices",
    "min",
    "max",
    "new_question",
}


def configure_tasks() -> list[dict]:
    plays = yaml.safe_load(CONFIGURE.read_text(encoding="utf-8"))
    return [task for play in plays for task in play.get("tasks", [])]


def awx_tasks() -> list[tuple[str, dict]]:
    found = []
    for task in configure_tasks():
        module = next((key for key in task if key.startswith("awx.awx.")), None)
        if module:
            found.append((module, task))
    return found


def data_name_of(task: dict, module: str) -> str:
    """Which awx/awx.yml collection a task applies (its loop, or the singleton its options read)."""
    text = yaml.safe_dump(task)
    names = [name for name, mod in DATA_MODULES.items() if mod == module and name in text]
    assert len(names) == 1, f"awx_configure.yml task {task['name']!r}: cannot tell which data it applies ({names})"
    return names[0]


def referenced_keys(task: dict, module: str) -> set[str]:
    args = yaml.safe_dump(task[module]) + yaml.safe_dump(task.get("vars", {}))
    return set(
        re.findall(r"\b(?:item|awx_configure_jt|awx_organization|awx_project|awx_execution_environment)\.(\w+)", args)
    )


def entries(name: str) -> list[dict]:
    if name == "awx_job_templates":
        return job_templates()
    value = definition()[name]
    return value if isinstance(value, list) else [value]


def test_every_data_collection_is_applied_by_awx_configure():
    applied = {data_name_of(task, module) for module, task in awx_tasks()}
    assert applied == set(DATA_MODULES), f"not applied by awx_configure.yml: {sorted(set(DATA_MODULES) - applied)}"


@pytest.mark.parametrize(
    ("module", "task"), awx_tasks(), ids=lambda value: value if isinstance(value, str) else value["name"]
)
def test_awx_configure_passes_only_options_the_module_has(module, task):
    options = module_docs(*sorted(set(DATA_MODULES.values())))[module]
    unknown = set(task[module]) - set(options)
    assert not unknown, f"awx_configure.yml task {task['name']!r}: {module} has no option {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(DATA_MODULES))
def test_every_data_key_is_a_module_option_that_awx_configure_passes_on(name):
    module = DATA_MODULES[name]
    options = module_docs(*sorted(set(DATA_MODULES.values())))[module]
    task = next(task for mod, task in awx_tasks() if mod == module and data_name_of(task, mod) == name)
    passed = referenced_keys(task, module)
    for entry in entries(name):
        keys = set(entry) - TRANSLATED_KEYS.get(name, set())
        assert keys <= set(options), (
            f"awx/awx.yml {name} {entry.get('name')!r}: {module} has no option {sorted(keys - set(options))}"
        )
        for key in keys:
            value, option = entry[key], options[key]
            where = f"awx/awx.yml {name} {entry.get('name')!r}: {key}"
            if isinstance(value, str) and "{{" in value:
                continue  # filled in by awx_configure.yml's variables
            if option.get("choices"):
                assert value in option["choices"], f"{where} is {value!r}; {module} takes {option['choices']}"
            expected = PYTHON_TYPES.get(option.get("type", "str"))
            assert expected is None or isinstance(value, expected), f"{where} must be a {option.get('type', 'str')}"
        dropped = set(entry) - passed
        assert not dropped, (
            f"awx/awx.yml {name} {entry.get('name')!r}: {sorted(dropped)} would be silently dropped; "
            f"awx_configure.yml task {task['name']!r} does not pass them on"
        )


def test_workflow_nodes_use_only_documented_suboptions():
    node_options = module_docs(*sorted(set(DATA_MODULES.values())))["awx.awx.workflow_job_template"]["workflow_nodes"][
        "suboptions"
    ]
    for workflow in definition()["awx_workflow_job_templates"]:
        for node in workflow["workflow_nodes"]:
            assert set(node) <= set(node_options), (
                f"{workflow['name']}: node keys {sorted(set(node) - set(node_options))} unknown"
            )
            ujt = node_options["unified_job_template"]["suboptions"]
            assert set(node["unified_job_template"]) <= set(ujt), (
                f"{workflow['name']}: {node['identifier']} unknown keys"
            )
            assert set(node.get("related", {})) <= set(node_options["related"]["suboptions"])


def test_the_scanner_above_would_notice_a_dropped_key():
    """Positive control: a key the task does not pass is reported (the check is not vacuous)."""
    task = next(task for module, task in awx_tasks() if module == "awx.awx.inventory")
    assert "host_filter" not in referenced_keys(task, "awx.awx.inventory")
    assert {"name", "description", "organization"} <= referenced_keys(task, "awx.awx.inventory")


@pytest.mark.parametrize("template", job_templates(), ids=lambda template: template["name"])
def test_every_job_template_names_an_existing_playbook(template):
    playbook = ROOT / template["playbook"]
    spec_owner = "" if playbook.is_file() else " (its author has not delivered it yet; the lead integrates)"
    assert playbook.is_file(), (
        f"job template {template['name']!r} runs {template['playbook']}, which does not exist{spec_owner}"
    )
    assert template["project"] == definition()["awx_project"]["name"]
    assert template["inventory"] in {inventory["name"] for inventory in definition()["awx_inventories"]}
    assert template["execution_environment"] == definition()["awx_execution_environment"]["name"]
    assert template["ask_variables_on_launch"] is False, "extra variables outside the survey would bypass its checks"


def survey_type_matches(question: dict, option: dict) -> str | None:
    """None when AWX's answer to the question is a value the argument spec option accepts; else why not."""
    qtype, otype = question["type"], option.get("type", "raw")
    if otype == "raw":
        return None
    if qtype in ("text", "textarea", "password"):
        # Ansible's list type takes a comma-separated string ("gpu-3,gpu-4"), as --limit does; the playbook
        # must split it itself (validate_argument_spec checks, it does not rewrite the variable).
        if otype == "list" and option.get("elements", "str") == "str":
            return None
        return None if otype == "str" else f"a {qtype} question sends a string, the spec says {otype}"
    if qtype == "integer":
        return None if otype == "int" else f"an integer question sends an int, the spec says {otype}"
    if qtype == "float":
        return None if otype == "float" else f"a float question sends a number, the spec says {otype}"
    if qtype == "multiselect":
        return None if otype == "list" else f"a multiselect question sends a list, the spec says {otype}"
    if qtype == "multiplechoice":
        if otype == "str":
            allowed = option.get("choices")
            extra = set(question["choices"]) - set(allowed) if allowed else set()
            return f"choices {sorted(extra)} are not among the spec's {allowed}" if extra else None
        if otype == "bool":
            # The answer is the string 'true' or 'false', which Ansible's bool type and the `bool` filter accept.
            return None if set(question["choices"]) <= {"true", "false"} else "a bool takes only the choices true/false"
        return f"a multiplechoice question sends one string, the spec says {otype}"
    return f"unknown survey type {qtype}"


SURVEYED = [template for template in job_templates() if template.get("survey_enabled")]


@pytest.mark.parametrize("template", SURVEYED, ids=lambda template: template["name"])
def test_every_survey_variable_is_accepted_by_the_playbook(template):
    options = playbook_spec(template["playbook"]).get("options") or {}
    where = f"job template {template['name']!r} ({template['playbook']})"
    for question in template["survey_spec"]["spec"]:
        variable = question["variable"]
        assert variable in options, (
            f"{where}: survey variable {variable} is not an option of playbooks/argument_specs/"
            f"{Path(template['playbook']).stem}.yml (options: {', '.join(sorted(options))})"
        )
        mismatch = survey_type_matches(question, options[variable])
        assert mismatch is None, f"{where}: survey variable {variable}: {mismatch}"
        if options[variable].get("required"):
            assert question["required"], f"{where}: {variable} is required by the playbook; make the question required"
    required = {name for name, option in options.items() if option.get("required")}
    asked = {question["variable"] for question in template["survey_spec"]["spec"]}
    assert required <= asked, (
        f"{where}: the playbook requires {sorted(required - asked)}, which the survey does not ask"
    )


def test_survey_type_check_rejects_mismatches():
    """Positive control for survey_type_matches: the mismatches it must catch."""
    assert survey_type_matches({"type": "text"}, {"type": "list", "elements": "int"})
    assert survey_type_matches({"type": "text"}, {"type": "list", "elements": "str"}) is None  # "a,b" is a list
    assert survey_type_matches({"type": "integer"}, {"type": "str"})
    assert survey_type_matches(
        {"type": "multiplechoice", "choices": ["a", "z"]}, {"type": "str", "choices": ["a", "b"]}
    )
    assert survey_type_matches({"type": "multiplechoice", "choices": ["yes", "no"]}, {"type": "bool"})
    assert survey_type_matches({"type": "float"}, {"type": "float"}) is None


@pytest.mark.parametrize("template", SURVEYED, ids=lambda template: template["name"])
def test_surveys_follow_awx_survey_rules(template):
    """The checks AWX's API makes on a survey spec (awx/api/views, JobTemplateSurveySpec)."""
    survey = template["survey_spec"]
    assert isinstance(survey.get("name"), str) and isinstance(survey.get("description"), str)
    assert isinstance(survey.get("spec"), list) and survey["spec"], "a survey needs at least one question"
    variables = [question["variable"] for question in survey["spec"]]
    assert len(variables) == len(set(variables)), f"{template['name']}: a variable is asked twice"
    for question in survey["spec"]:
        where = f"{template['name']}: question {question.get('variable')}"
        assert set(question) <= SURVEY_QUESTION_KEYS, (
            f"{where}: unknown keys {sorted(set(question) - SURVEY_QUESTION_KEYS)}"
        )
        for key in ("type", "question_name", "question_description", "variable"):
            assert isinstance(question.get(key), str) and question[key], f"{where}: {key} must be a non-empty string"
        assert isinstance(question.get("required"), bool), f"{where}: required must be true or false"
        assert question["type"] in SURVEY_DEFAULT_TYPES, f"{where}: type {question['type']} is not an AWX survey type"
        if question.get("default", "") != "":
            assert isinstance(question["default"], SURVEY_DEFAULT_TYPES[question["type"]]), (
                f"{where}: default has the wrong type"
            )
        for key in ("min", "max"):
            assert key not in question or isinstance(question[key], int), f"{where}: AWX wants an integer {key}"
        if question["type"] in ("multiplechoice", "multiselect"):
            assert question.get("choices"), f"{where}: choices are required"
            if "default" in question:
                assert question["default"] in question["choices"], f"{where}: the default is not one of the choices"
        if question["type"] in ("text", "textarea") and "default" in question:
            assert question.get("min", 0) <= len(question["default"]) <= question.get("max", 1024), (
                f"{where}: default length"
            )
        if question["type"] in ("integer", "float") and "default" in question:
            assert question["min"] <= question["default"] <= question["max"], f"{where}: default outside min..max"


def test_job_templates_get_at_most_one_credential_per_type():
    types = {credential["name"]: credential["credential_type"] for credential in definition()["awx_credentials"]}
    for template in job_templates():
        names = template.get("credentials", [])
        unknown = set(names) - set(types)
        assert not unknown, (
            f"job template {template['name']!r}: credentials {sorted(unknown)} are not in awx_credentials"
        )
        kinds = [types[name] for name in names]
        assert len(kinds) == len(set(kinds)), f"job template {template['name']!r}: AWX allows one credential per type"


def test_workflow_chains_the_stages_in_order():
    (workflow,) = definition()["awx_workflow_job_templates"]
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    templates = {template["name"]: template for template in job_templates()}
    successors = {
        identifier: [next_node["identifier"] for next_node in node.get("related", {}).get("success_nodes", [])]
        for identifier, node in nodes.items()
    }
    targets = {successor for successor_list in successors.values() for successor in successor_list}
    (start,) = [identifier for identifier in nodes if identifier not in targets]
    chain = [start]
    while successors[chain[-1]]:
        (following,) = successors[chain[-1]]
        chain.append(following)
    assert chain == STAGES, f"the workflow runs {chain}; it must run {STAGES}"
    for identifier in chain:
        ujt = nodes[identifier]["unified_job_template"]
        assert ujt["type"] == "job_template"
        assert ujt["name"] in templates, (
            f"workflow node {identifier} runs {ujt['name']!r}, which awx_job_templates lacks"
        )
        assert templates[ujt["name"]]["playbook"] == f"playbooks/{identifier}.yml"
        for key in ("failure_nodes", "always_nodes"):
            assert not nodes[identifier].get("related", {}).get(key), (
                f"{identifier}: a failed stage must stop the workflow"
            )
    assert workflow["inventory"] in {inventory["name"] for inventory in definition()["awx_inventories"]}


def test_inventory_sources_read_inventory_files_of_the_project():
    credentials = {credential["name"]: credential for credential in definition()["awx_credentials"]}
    types = {credential_type["name"]: credential_type for credential_type in definition()["awx_credential_types"]}
    sources = definition()["awx_inventory_sources"]
    assert any(source["source_path"] == "inventories/hetzner/hcloud.yml" for source in sources), "no hcloud source"
    for source in sources:
        path = ROOT / source["source_path"]
        assert path.is_file(), f"inventory source {source['name']!r}: {source['source_path']} does not exist"
        assert source["inventory"] in {inventory["name"] for inventory in definition()["awx_inventories"]}
        assert source["source_project"] == definition()["awx_project"]["name"]
        plugin = (load_yaml(path) or {}).get("plugin")
        if plugin in {"hetzner.hcloud.hcloud", "inference.platform.hcloud"}:
            credential_type = types[credentials[source["credential"]]["credential_type"]]
            assert "HCLOUD_TOKEN" in credential_type["injectors"]["env"], (
                f"{source['name']}: its credential must inject HCLOUD_TOKEN"
            )
