#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: problems
short_description: Fail once with every problem a check found, and print every warning
version_added: 0.2.0
description:
  - The verdict task of a checking role (C(validate_inventory), C(preflight)). The role collects every problem with
    the collection's filters (for example P(inference.platform.inventory_problems#filter)), then calls this once.
  - With any O(errors) the task fails, and its C(msg) is the list of every error, so an operator fixes them all in one
    pass. Each of O(warnings) is shown as an Ansible warning, on every run, whether or not there are errors.
  - Without errors the task passes with O(summary) as its message.
  - This is an action plugin; it runs in the controller process and never connects to the target host. The module
    file only carries this documentation.
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.attributes
  - inference.platform.attributes.READ_ONLY
attributes:
  action:
    support: full
    description: Runs as an action plugin on the controller.
  async:
    support: none
    description: Cannot run asynchronously.
  platform:
    support: full
    description: Runs on the Ansible controller only.
    platforms: posix
options:
  errors:
    description: The problems found, one sentence each, saying what is wrong, where, and what to write instead.
    type: list
    elements: str
    default: []
  warnings:
    description: Risks accepted by an explicit setting, printed as warnings on every run.
    type: list
    elements: str
    default: []
  summary:
    description: The message when there is no error.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Report every problem of the inventory
  inference.platform.problems:
    errors: "{{ found.errors }}"
    warnings: "{{ found.warnings }}"
    summary: Inventory is valid.
"""

RETURN = r"""
msg:
  description: The list of errors when the task failed, else O(summary).
  returned: always
  type: raw
  sample: Inventory inventories/onprem is valid.
"""

from ansible.module_utils.basic import AnsibleModule

# Kept equal to plugins/action/problems.py (tests/unit/plugins/test_problems.py checks it).
ARGUMENT_SPEC = {
    "errors": {"type": "list", "elements": "str", "default": []},
    "warnings": {"type": "list", "elements": "str", "default": []},
    "summary": {"type": "str", "default": ""},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(
        msg="inference.platform.problems runs on the controller as an action plugin; this module file only documents "
        "it. Call it as a task (inference.platform.problems), not as a module on a host."
    )


if __name__ == "__main__":
    main()
