# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Controller-side verdict of a checking role (inference.platform.problems).

A checking role (validate_inventory, preflight) collects every problem with the filters of this
collection, then calls this once: it fails with all errors at once, so an operator fixes everything in
one pass, and prints each warning as an Ansible warning on every run. The documentation is
plugins/modules/problems.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# Kept equal to plugins/modules/problems.py (tests/unit/plugins/test_problems.py checks it).
ARGUMENT_SPEC = {
    "errors": {"type": "list", "elements": "str", "default": []},
    "warnings": {"type": "list", "elements": "str", "default": []},
    "summary": {"type": "str", "default": ""},
}


class ActionModule(ActionBase):
    """Fail with every error, warn with every warning, or report the summary."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if validation.error_messages:
            raise AnsibleActionFail("; ".join(validation.error_messages))
        errors = [text for text in args["errors"] if text]
        warnings = [text for text in args["warnings"] if text]
        result["changed"] = False
        if warnings:
            result["warnings"] = warnings
        if errors:
            result["failed"] = True
            result["msg"] = errors
        else:
            result["msg"] = args["summary"] or "No problem found."
        return result
