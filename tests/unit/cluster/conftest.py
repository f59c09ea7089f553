"""pytest setup for the cluster tests: lets one test module import the shared render helper."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def ansible_playbook() -> str:
    """ansible-playbook of the interpreter running the tests (the project venv), else from PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else "ansible-playbook"
