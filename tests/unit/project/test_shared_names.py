"""The names two components must agree on are written once (group_vars/all/platform.yml: platform_namespaces,
platform_ports) and read everywhere else (issue 14): changing one moves every reference, so no role, playbook or
inventory may spell a platform namespace or port as a literal. Comments and documentation may name them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SHARED = yaml.safe_load((ROOT / "group_vars" / "all" / "platform.yml").read_text())
CODE = [
    *ROOT.glob("roles/*/tasks/*.yml"),
    *ROOT.glob("roles/*/defaults/*.yml"),
    *ROOT.glob("roles/*/vars/*.yml"),
    *ROOT.glob("roles/*/handlers/*.yml"),
    *ROOT.glob("roles/*/templates/**/*.j2"),
    *ROOT.glob("roles/*/files/*.py"),
    *ROOT.glob("playbooks/*.yml"),
    *ROOT.glob("group_vars/all/*.yml"),
    *ROOT.glob("inventories/*/group_vars/all/*.yml"),
]
# Numbers that happen to equal a shared port without being one: Hetzner's vSwitch VLAN ids start at 4000.
NOT_A_PORT = re.compile(r"hetzner_robot_vswitch_vlan|4000 <= |4000-4091")


def _code(line: str, path: Path) -> str:
    """The line without its comment (YAML '#', Jinja '{# #}'), as far as a line can tell."""
    line = re.sub(r"\{#.*?#\}", "", line)
    if path.suffix in (".yml", ".py") and re.match(r"^\s*#", line):
        return ""
    return re.sub(r"\s+#\s.*$", "", line) if path.suffix == ".yml" else line


def namespace_patterns(value: str) -> list[re.Pattern]:
    """Where a namespace would be spelled out: as a namespace field or flag, a Service's DNS name, a namespace
    selector, or an item of a namespace list (role and chart names that equal a namespace are other facts)."""
    v = re.escape(value)
    end = r"(?![\w.-])"
    return [
        re.compile(r"namespace['\"]?\s*[:=]\s*['\"]?" + v + end, re.IGNORECASE),
        re.compile(r"(?:\s-n|--namespace)[ =]['\"]?" + v + end),
        re.compile(r"\." + v + r"\.svc\b"),
        re.compile(r"metadata\.name['\"]?\s*:\s*['\"]?" + v + end),
        re.compile(r"^\s*[a-z_]*namespaces?[a-z_]*:\s*\[[^]]*(?<![\w.-])" + v + end),
    ]


def literals() -> list[tuple[str, str]]:
    found = []
    names = {value: f"platform_namespaces.{key}" for key, value in SHARED["platform_namespaces"].items()}
    ports = {str(value): f"platform_ports.{key}" for key, value in SHARED["platform_ports"].items()}
    for path in sorted(set(CODE)):
        if path == ROOT / "group_vars" / "all" / "platform.yml" or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = _code(line, path)
            where = f"{path.relative_to(ROOT)}:{number}"
            for value, shared in names.items():
                if any(pattern.search(code) for pattern in namespace_patterns(value)):
                    found.append((where, f"{value} ({shared}): {line.strip()[:120]}"))
            for value, shared in ports.items():
                if re.search(r"(?<![\w.:-])" + value + r"(?![\w.])", code) and not NOT_A_PORT.search(code):
                    found.append((where, f"{value} ({shared}): {line.strip()[:120]}"))
    return found


def test_no_platform_namespace_or_port_is_spelled_out():
    assert [f"{where}: {what}" for where, what in literals()] == []


@pytest.mark.parametrize(
    ("line", "value", "found"),
    [
        ("  namespace: inference", "inference", True),
        ('metadata: {name: x, namespace: "monitoring"}', "monitoring", True),
        ("kubectl -n gpu-operator get pods", "gpu-operator", True),
        ("url: http://x.monitoring.svc.cluster.local:9090", "monitoring", True),
        ("verify_platform_namespaces: [gpu-operator, monitoring]", "monitoring", True),
        ("{'kubernetes.io/metadata.name': 'inference-gateway'}", "inference-gateway", True),
        ("  platform_delivery_component: monitoring", "monitoring", False),
        ("  - litellm_image is inference.platform.pinned_image", "inference", False),
        ("  namespace: inference-platform", "inference", False),
    ],
)
def test_the_check_finds_a_namespace_where_a_namespace_goes(line, value, found):
    """The scan itself: a namespace field, flag, DNS name, selector or list item is found; a role, a label or the
    collection's name that merely contains the word is not."""
    assert any(pattern.search(line) for pattern in namespace_patterns(value)) is found


# --- rules in one place --------------------------------------------------------------------------------

DNS_LABEL_REGEX = re.compile(r"\[a-z0-9\]\(\[-a-z0-9\]")
MODEL_KEYS = re.compile(
    r"\b(tensor_parallel|gpu_memory_utilization|max_model_len|hf_id|replicas\.(min|max)|autoscale\.|budget_duration|"
    r"rpm_limit|tpm_limit|max_budget_usd)\b"
)
# An assert that relates a model key to a role's own setting, not a rule of the model entry itself.
ROLE_OWN_RULES = {
    # replicas.max > 1 needs ReadWriteMany cache volumes: a rule of roles/vllm's storage, not of the entry.
    ("roles/vllm/tasks/objects.yml", "Check the model cache can serve every replica"),
}


def test_the_dns_label_rule_is_written_once():
    """plugins/module_utils/_rules.py holds it; everything else calls is_dns_label or the dns_label test."""
    hits = []
    for path in [*CODE, *ROOT.glob("collections/ansible_collections/inference/platform/plugins/**/*.py")]:
        if path.is_file() and DNS_LABEL_REGEX.search(path.read_text(encoding="utf-8")):
            hits.append(str(path.relative_to(ROOT)))
    assert hits == []


def _asserts(document, path):
    if isinstance(document, dict):
        if "ansible.builtin.assert" in document:
            yield document.get("name", ""), document["ansible.builtin.assert"].get("that", [])
        for value in document.values():
            yield from _asserts(value, path)
    elif isinstance(document, list):
        for item in document:
            yield from _asserts(item, path)


def test_no_role_or_playbook_repeats_a_model_or_tenant_rule():
    """The model and tenant rules are the collection's model_list filter; roles call it instead of asserting keys."""
    repeated = []
    for path in sorted([*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("playbooks/*.yml")]):
        relative = str(path.relative_to(ROOT))
        for name, that in _asserts(yaml.safe_load(path.read_text(encoding="utf-8")), relative):
            conditions = that if isinstance(that, list) else [that]
            if (relative, name) not in ROLE_OWN_RULES and any(MODEL_KEYS.search(str(c)) for c in conditions):
                repeated.append(f"{relative}: {name}")
    assert repeated == []
