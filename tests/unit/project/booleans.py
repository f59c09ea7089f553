"""Find the places where a boolean option is used as a condition without `| bool`.

A boolean option can arrive as the string "false" (ansible-playbook -e name=false, an AWX survey): used bare in a
condition it is a non-empty string, so it is true (in Jinja `if`, `and`, `not`) or stops ansible-core 2.19 ("Conditional
result (True) was derived from value of type 'str'"). Every such use must go through the `bool` filter.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from pathlib import Path

import yaml
from jinja2 import Environment, nodes

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CONDITION_KEYS = ("when", "failed_when", "changed_when", "until", "that")
# Only parsed, never rendered: autoescape does not apply.
JINJA = Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"], autoescape=False)  # noqa: S701


def boolean_options() -> set[str]:
    """Names whose documented type or default is a boolean: role defaults and argument specs, group_vars, playbooks."""
    names: set[str] = set()
    for path in [*PROJECT_ROOT.glob("roles/*/defaults/main.yml"), *PROJECT_ROOT.glob("group_vars/all/*.yml")]:
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            if isinstance(value, bool):
                names.add(name)
    specs = [
        *PROJECT_ROOT.glob("roles/*/meta/argument_specs.yml"),
        *PROJECT_ROOT.glob("playbooks/argument_specs/*.yml"),
    ]
    for path in specs:
        document = yaml.safe_load(path.read_text()) or {}
        entries = [document] if "options" in document else list((document.get("argument_specs") or {}).values())
        for entry in entries:
            for name, option in (entry.get("options") or {}).items():
                if isinstance(option, dict) and option.get("type") == "bool":
                    names.add(name)
    return names


@dataclasses.dataclass(frozen=True)
class BareUse:
    path: str
    where: str
    name: str
    text: str

    def __str__(self) -> str:
        return f"{self.path} ({self.where}): {self.name} without | bool in: {self.text.strip()[:160]}"


def _bare_names(tree: nodes.Node, names: set[str], as_condition: bool) -> Iterator[str]:
    """Names of `names` that the expression tests for truth without the bool filter."""

    def visit(node: nodes.Node, boolean_context: bool) -> Iterator[str]:
        if isinstance(node, nodes.Filter) and node.name == "bool":
            return  # everything under `| bool` is converted
        if isinstance(node, nodes.Filter) and node.name in ("default", "d"):
            yield from visit(node.node, boolean_context)
            for argument in node.args:
                yield from visit(argument, False)
            return
        if isinstance(node, nodes.Name):
            if boolean_context and node.name in names:
                yield node.name
            return
        if isinstance(node, (nodes.And, nodes.Or)):
            yield from visit(node.left, True)
            yield from visit(node.right, True)
            return
        if isinstance(node, nodes.Not):
            yield from visit(node.node, True)
            return
        if isinstance(node, (nodes.If, nodes.CondExpr)):
            yield from visit(node.test, True)
            for child in node.iter_child_nodes():
                if child is not node.test:
                    yield from visit(child, False)
            return
        for child in node.iter_child_nodes():
            yield from visit(child, False)

    for output in tree.find_all(nodes.Output) if not as_condition else []:
        yield from visit(output, False)
    if as_condition:
        yield from visit(tree, True)


def _expression(text: str) -> nodes.Node | None:
    try:
        with warnings.catch_warnings():  # Jinja warns about regex escapes in string literals it only parses
            warnings.simplefilter("ignore", DeprecationWarning)
            return JINJA.parse("{{ (" + text + ") }}").body[0].nodes[0]
    except Exception:  # noqa: BLE001 (not an expression: nothing to check)
        return None


def _template(text: str) -> nodes.Node | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return JINJA.parse(text)
    except Exception:  # noqa: BLE001 (not a template: nothing to check)
        return None


def _walk(value, path: str, names: set[str], where: str) -> Iterator[BareUse]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key in CONDITION_KEYS and isinstance(child, (str, bool, list)):
                conditions = child if isinstance(child, list) else [child]
                for condition in conditions:
                    if isinstance(condition, str):
                        text = condition.strip()
                        if text.startswith("{{") and text.endswith("}}"):
                            text = text[2:-2]
                        tree = _expression(text)
                        for name in sorted(set(_bare_names(tree, names, True))) if tree else []:
                            yield BareUse(path, f"{where}{key}", name, condition)
                continue
            yield from _walk(child, path, names, f"{where}{key}." if isinstance(key, str) else where)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            label = child.get("name", index) if isinstance(child, dict) else index
            yield from _walk(child, path, names, f"{where}[{label}].")
    elif isinstance(value, str) and ("{{" in value or "{%" in value):
        tree = _template(value)
        for name in sorted(set(_bare_names(tree, names, False))) if tree else []:
            yield BareUse(path, where.rstrip("."), name, value)


def bare_uses(names: set[str] | None = None) -> list[BareUse]:
    """Every use of a boolean option as a condition without `| bool`, in roles, playbooks and templates."""
    names = boolean_options() if names is None else names
    found: list[BareUse] = []
    yaml_files = [
        *PROJECT_ROOT.glob("roles/*/tasks/*.yml"),
        *PROJECT_ROOT.glob("roles/*/handlers/*.yml"),
        *PROJECT_ROOT.glob("playbooks/*.yml"),
    ]
    for path in sorted(yaml_files):
        document = yaml.safe_load(path.read_text())
        found += _walk(document, str(path.relative_to(PROJECT_ROOT)), names, "")
    templates = [*PROJECT_ROOT.glob("roles/*/templates/**/*.j2"), *PROJECT_ROOT.glob("playbooks/templates/*.j2")]
    for path in sorted(templates):
        tree = _template(path.read_text())
        for name in sorted(set(_bare_names(tree, names, False))) if tree else []:
            found.append(BareUse(str(path.relative_to(PROJECT_ROOT)), "template", name, ""))
    return found
