"""Unit tests of the inference.platform.problems action plugin (the verdict of validate_inventory and preflight)
and its documentation stub. The action runs in-process; tests/unit/roles runs it through validate.yml."""

from __future__ import annotations

import contextlib
import io
import json
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleActionFail
from ansible.module_utils.testing import patch_module_args
from ansible_collections.inference.platform.plugins.action import problems as action
from ansible_collections.inference.platform.plugins.modules import problems as stub


def run(**args):
    task = SimpleNamespace(args=args, check_mode=False, async_val=0, action="inference.platform.problems")
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    plugin = action.ActionModule(task, connection, None, None, None, None)
    plugin._load_name = "inference.platform.problems"
    return plugin.run(task_vars={})


def test_no_error_passes_with_the_summary_and_changes_nothing():
    result = run(errors=[], warnings=[], summary="Inventory inv is valid.")
    assert result.get("failed") is not True
    assert result["changed"] is False
    assert result["msg"] == "Inventory inv is valid."
    assert "warnings" not in result


def test_every_error_at_once_and_every_warning_on_every_run():
    result = run(errors=["first", "", "second"], warnings=["risky"], summary="unused")
    assert result["failed"] is True
    assert result["msg"] == ["first", "second"], "empty sentences are dropped, the rest kept in order"
    assert result["warnings"] == ["risky"]
    assert run(errors=[], warnings=["risky"])["warnings"] == ["risky"]


def test_a_wrong_argument_is_refused():
    with pytest.raises(AnsibleActionFail, match="bogus"):
        run(errors=[], bogus=1)


def test_the_stub_module_documents_the_same_arguments():
    assert stub.ARGUMENT_SPEC == action.ARGUMENT_SPEC


def test_the_stub_module_refuses_to_run_on_a_host():
    out = io.StringIO()
    with patch_module_args({"errors": []}), contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        stub.main()
    result = json.loads(out.getvalue())
    assert exc.value.code == 1
    assert "runs on the controller as an action plugin" in result["msg"]
