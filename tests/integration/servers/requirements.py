"""The servers' own venv: where it is, and which of the packages it must hold are missing.

The real servers (llama-cpp-python, LiteLLM) run from a venv of their own, built from
``requirements-servers.txt`` at the project root, like a real deployment runs from its own image:
their packages conflict with the project venv's (LiteLLM pins openai 2.x; the project's modules use
openai 3.x). The tests themselves run in the project venv and reach the servers over HTTP only.

``INFERENCE_PLATFORM_SERVERS_PYTHON`` names that venv's interpreter; by default
``<project>/.venv-servers/bin/python`` (created by ``scripts/setup.sh``).

Only the standard library is used here, so ``conftest.py`` can report a missing venv or package
clearly before anything that needs them runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
REQUIREMENTS_FILE = PROJECT_ROOT / "requirements-servers.txt"
SERVERS_PYTHON_ENV = "INFERENCE_PLATFORM_SERVERS_PYTHON"
DEFAULT_SERVERS_PYTHON = PROJECT_ROOT / ".venv-servers" / "bin" / "python"

# import name -> what to install (the pins are in requirements-servers.txt)
MODULES = {
    "gguf": "gguf",
    "numpy": "numpy",
    "yaml": "PyYAML",
    "llama_cpp": "llama-cpp-python[server]",
    # llama_cpp.server's own dependencies (the [server] extra)
    "fastapi": "llama-cpp-python[server]",
    "uvicorn": "llama-cpp-python[server]",
    "sse_starlette": "llama-cpp-python[server]",
    "starlette_context": "llama-cpp-python[server]",
    "pydantic_settings": "llama-cpp-python[server]",
    "litellm": "litellm[proxy]",
    # two of the modules the [proxy] extra brings and the proxy imports at start
    "backoff": "litellm[proxy]",
    "apscheduler": "litellm[proxy]",
    # In litellm's "extra-proxy" extra, not "proxy": without it LiteLLM 1.106 answers a request
    # that has no key with 500 (its auth error handler imports prisma) instead of 401.
    "prisma": "prisma",
}

_PROBE = """
import importlib.util, json, sys
print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]))
"""


def servers_python() -> Path:
    """The interpreter of the servers' venv (not necessarily existing)."""
    return Path(os.environ.get(SERVERS_PYTHON_ENV) or DEFAULT_SERVERS_PYTHON)


def setup_command() -> str:
    """What creates the servers' venv by hand (scripts/setup.sh does the same, with a stamp)."""
    pip = PROJECT_ROOT / ".venv-servers" / "bin" / "pip"
    return (
        f"python3.11 -m venv {PROJECT_ROOT / '.venv-servers'} && "
        f"grep -E '^pip==' {REQUIREMENTS_FILE} > /tmp/pip-lock.txt && "
        f"{pip} install --require-hashes -r /tmp/pip-lock.txt && "
        f"{pip} install --require-hashes -r {REQUIREMENTS_FILE} --build-constraint {REQUIREMENTS_FILE}"
    )


def install_hint() -> str:
    return f"scripts/setup.sh (or by hand: {setup_command()})"


def missing(python: Path | None = None) -> list[str]:
    """Human-readable list of what is missing from the servers' venv; empty when all is there."""
    python = python or servers_python()
    if not os.access(python, os.X_OK):
        how = f"set by {SERVERS_PYTHON_ENV}" if os.environ.get(SERVERS_PYTHON_ENV) else "the default"
        return [f"the servers' interpreter {python} ({how}) does not exist"]
    probe = subprocess.run(
        [str(python), "-c", _PROBE, *MODULES], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        return [f"{python} could not be run: {probe.stderr.strip()[-500:]}"]
    gone: dict[str, list[str]] = {}
    for module in json.loads(probe.stdout):
        gone.setdefault(MODULES[module], []).append(module)
    return [f"{package} (no module {', '.join(mods)} in {python})" for package, mods in gone.items()]
