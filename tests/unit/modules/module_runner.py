"""Helpers for the unit tests of the inference.platform modules.

Modules are run the way Ansible runs them: arguments go in through
``ansible.module_utils.testing.patch_module_args``, ``main()`` runs, and the
JSON the module prints on exit is parsed back. A few tests also run a module
through the ``ansible`` CLI with the collection on the collections path.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils import _internal as _module_utils_internal
from ansible.module_utils.common import warnings as _warnings
from ansible.module_utils.testing import patch_module_args

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = REPO / "collections"
FIXTURES = REPO / "tests" / "fixtures"

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


class ModuleResult(dict):
    """The module's JSON result, plus how it ended."""

    @property
    def failed(self):
        return bool(self.get("failed"))


def run_module(main, args, check_mode=False, diff=False, verbosity=0):
    """Run a module's main() with ``args`` and return its parsed JSON result (raw stdout in ``_stdout``)."""
    full = dict(args)
    full["_ansible_check_mode"] = check_mode
    full["_ansible_diff"] = diff
    full["_ansible_verbosity"] = verbosity
    # AnsibleModule keeps warnings in process-wide lists; a real module process starts empty.
    _warnings._global_warnings.clear()
    _warnings._global_deprecations.clear()
    out = io.StringIO()
    # Once any controller code is imported in this pytest process (another test directory may do so),
    # ansible-core routes module warnings to the controller's Display instead of the module result.
    # A real module runs in its own process, where that flag is False.
    with (
        pytest.MonkeyPatch.context() as patch,
        patch_module_args(full),
        contextlib.redirect_stdout(out),
        pytest.raises(SystemExit) as exc,
    ):
        patch.setattr(_module_utils_internal, "is_controller", False)
        main()
    text = out.getvalue()
    result = ModuleResult(json.loads(text))
    result["_stdout"] = text
    result["_rc"] = exc.value.code
    return result


def ansible_cli(module, args, env=None, extra=(), check=False):
    """Run ``ansible localhost -m inference.platform.<module> -a <json>`` and return the CompletedProcess."""
    ansible = Path(sys.executable).parent / "ansible"
    cmd = [
        str(ansible),
        "localhost",
        "-c",
        "local",
        "-i",
        "localhost,",
        "-m",
        "inference.platform." + module,
        "-a",
        json.dumps(args),
        "-e",
        "ansible_python_interpreter=" + sys.executable,
        *extra,
    ]
    if check:
        cmd.append("--check")
    run_env = dict(os.environ)
    run_env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_CONFIG": str(REPO / "tests" / "unit" / "modules" / "ansible-cli.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        }
    )
    run_env.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=120, check=False)


@pytest.fixture
def fixtures():
    return FIXTURES


def warning_texts(result):
    """Warnings of a module result as plain strings (ansible-core 2.19 returns them as structured summaries)."""
    texts = []
    for warning in result.get("warnings") or []:
        if isinstance(warning, dict):
            warning = (warning.get("event") or {}).get("msg") or warning.get("msg") or json.dumps(warning)
        texts.append(warning)
    return texts


def ansible_playbook(playbook, env=None):
    """Run ``ansible-playbook`` on a playbook file with the project's collection on the collections path."""
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        str(playbook),
        "-e",
        "ansible_python_interpreter=" + sys.executable,
    ]
    run_env = dict(os.environ)
    run_env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_CONFIG": str(REPO / "tests" / "unit" / "modules" / "ansible-cli.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "0",
        }
    )
    run_env.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=120, check=False)
