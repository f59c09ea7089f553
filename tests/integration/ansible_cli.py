"""Run the collection's modules and the project's playbooks through the real Ansible CLI.

The CLI is the project venv's (the interpreter running pytest), with the project's own
``ansible.cfg`` (ANSIBLE_CONFIG), so the collection is found on its ``collections_path`` the same way
an operator's run finds it. Modules run on ``localhost`` with the same interpreter (which has the
``openai`` SDK the modules need).

Secrets are never put into argv: pass them in ``env`` and refer to them with
``{{ lookup('ansible.builtin.env', 'NAME') }}`` in the module arguments (see :func:`env_ref`).
ansible-core 2.19 prints the first ~100 characters of an ad hoc task's arguments when the task
fails, so a key given literally with ``-a`` would be shown (test_modules_smoke_inference.py records
this).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_CFG = PROJECT_ROOT / "ansible.cfg"
BIN = Path(sys.executable).parent


def env_ref(name: str) -> str:
    """A module argument that reads environment variable ``name`` on the controller."""
    return "{{ lookup('ansible.builtin.env', '" + name + "') }}"


@dataclasses.dataclass
class AnsibleRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    result: dict | None = None  # the module's result for localhost (json callback runs only)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def failed(self) -> bool:
        return self.returncode != 0

    def describe(self) -> str:
        """For assertion messages: the command's end of output."""
        return f"rc={self.returncode}\n--- stdout (end)\n{self.stdout[-3000:]}\n--- stderr (end)\n{self.stderr[-3000:]}"


def _env(extra: Mapping[str, str] | None, json_callback: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": str(ANSIBLE_CFG),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    if json_callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    env.update(extra or {})
    return env


def run_module(
    module: str,
    args: Mapping[str, object],
    env: Mapping[str, str] | None = None,
    verbosity: int = 0,
    json_callback: bool = True,
    check: bool = False,
    timeout: float = 180,
) -> AnsibleRun:
    """``ansible localhost -m inference.platform.<module> -a <json>``; ``result`` parsed when json_callback."""
    argv = [
        str(BIN / "ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-m",
        f"inference.platform.{module}",
        "-a",
        json.dumps(dict(args)),
    ]
    if verbosity:
        argv.append("-" + "v" * verbosity)
    if check:
        argv.append("--check")
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=_env(env, json_callback),
        cwd=PROJECT_ROOT,
        timeout=timeout,
        check=False,
    )
    run = AnsibleRun(argv, done.returncode, done.stdout, done.stderr)
    if json_callback:
        try:
            run.result = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError) as exc:
            raise AssertionError(f"no JSON result from the ansible CLI ({exc})\n{run.describe()}") from None
    return run


def run_playbook(
    playbook: Path,
    inventory: Path | str,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> AnsibleRun:
    """``ansible-playbook -i INVENTORY PLAYBOOK ...`` from the project root, default (human) output."""
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *extra_args]
    done = subprocess.run(
        argv, capture_output=True, text=True, env=_env(env, False), cwd=PROJECT_ROOT, timeout=timeout, check=False
    )
    return AnsibleRun(argv, done.returncode, done.stdout, done.stderr)
