"""Helpers shared by the cluster tests (a module of its own name: every test directory has a conftest)."""

from __future__ import annotations

import sys
from pathlib import Path


def ansible_playbook() -> str:
    """ansible-playbook of the interpreter running the tests (the project venv), else from PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else "ansible-playbook"
