#!/usr/bin/env python3
"""Check that the collections Ansible resolves are exactly the versions requirements.yml pins.

Ansible uses the first copy of a collection it finds on its collections path (the project's
./collections, then ~/.ansible/collections, then the copies bundled with the `ansible` package).
This asks ansible-galaxy which copy wins for each pinned collection and fails, naming the
collection, the pinned and the resolved version, when they differ or a collection is missing.
Run it with the project venv's Python; it uses that venv's ansible-galaxy and ansible.cfg.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def pinned_collections(requirements_file: Path) -> dict[str, str]:
    data = yaml.safe_load(requirements_file.read_text(encoding="utf-8"))
    return {entry["name"]: str(entry["version"]) for entry in data["collections"]}


def resolved_collections() -> dict[str, str]:
    """Map collection name -> version of the copy Ansible uses (first on the path)."""
    output = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    ).stdout
    by_path = json.loads(output)
    resolved: dict[str, str] = {}
    for collections in by_path.values():  # ansible-galaxy lists paths in search order
        for name, info in collections.items():
            resolved.setdefault(name, info["version"])
    return resolved


def mismatches(pinned: dict[str, str], resolved: dict[str, str]) -> list[str]:
    problems = []
    for name, version in sorted(pinned.items()):
        found = resolved.get(name)
        if found is None:
            problems.append(f"{name}: pinned {version} in requirements.yml, but Ansible finds no copy of it")
        elif found != version:
            problems.append(f"{name}: pinned {version} in requirements.yml, but Ansible resolves {found}")
    return problems


def main() -> int:
    pinned = pinned_collections(PROJECT_ROOT / "requirements.yml")
    problems = mismatches(pinned, resolved_collections())
    if problems:
        print("Collection versions do not match requirements.yml:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(
            "Change the pin in requirements.yml to the resolved version, or install the pinned one with\n"
            "  ansible-galaxy collection install -r requirements.yml -p ~/.ansible/collections",
            file=sys.stderr,
        )
        return 1
    print(f"collections: all {len(pinned)} pinned versions match what Ansible resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
