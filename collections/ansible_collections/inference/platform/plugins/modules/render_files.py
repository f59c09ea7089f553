#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: render_files
short_description: Write a component's rendered files on the controller and delete the stale ones
version_added: 0.1.0
description:
  - Makes the directory O(root) on the Ansible controller hold exactly the rendered files of one component, for GitOps
    (render mode of the platform roles, through the C(platform_delivery) role).
  - Writes each entry of O(files) whose content differs from the file on disk, atomically (a temporary file in the same
    directory, then a rename) with mode C(0644), creating directories as needed (mode C(0755) before the umask).
    A file whose content is already right is not touched.
  - Deletes every other regular file below O(root) whose first bytes are O(header) (a file an earlier run wrote and
    this run no longer wants, such as the file of a removed model), then removes directories left empty.
  - Leaves every other file alone and lists it in RV(foreign), so a hand-written file or a C(.git) directory inside
    O(root) is never deleted.
  - This is an action plugin; it runs in the controller process whatever the target host is, and never connects to
    it. The module file only carries this documentation.
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is written or deleted; RV(written) and RV(removed) list what would be.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A second run with the same O(files) writes nothing and reports C(changed=false).
  action:
    support: full
    description: Runs as an action plugin on the controller.
  async:
    support: none
    description: Cannot run asynchronously.
  platform:
    support: full
    description: Runs on the Ansible controller only; the target host of the play does not matter.
    platforms: posix
options:
  root:
    description:
      - Absolute path of the directory the component owns on the controller, for example
        C({{ platform_render_dir }}/vllm). It is created if missing.
      - Must be at least two levels deep (V(/srv/render) is accepted, V(/srv) is refused), so a wrong variable cannot
        point the stale-file clean-up at a top-level directory.
    type: path
    required: true
  header:
    description:
      - Text every rendered file starts with, a comment line beginning with C(#).
      - Only files below O(root) that start with it are ever deleted. Every O(files[].content) must start with it.
    type: str
    required: true
  files:
    description:
      - The files O(root) must hold. Every file below O(root) that starts with O(header) and is not listed here is
        deleted.
      - An empty list deletes every file an earlier run wrote.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Path of the file relative to O(root). An absolute path, a path with a C(..) component, a path listed twice
            and a path that a symlink below O(root) would lead outside O(root) are refused.
        type: str
        required: true
      content:
        description:
          - Full text of the file, written UTF-8 encoded. It must start with O(header).
        type: str
        required: true
notes:
  - Symlinks below O(root) are not followed when looking for stale files; a symlink that starts with O(header) is
    removed itself, never its target.
"""

EXAMPLES = r"""
- name: Write the vllm files and delete stale ones
  inference.platform.render_files:
    root: "{{ platform_render_dir }}/vllm"
    header: "# Rendered by the inference.platform vllm role"
    files:
      - path: manifests/vllm.yaml
        content: |
          # Rendered by the inference.platform vllm role
          ---
          apiVersion: v1
          kind: Namespace
          metadata:
            name: inference
  register: vllm_rendered

- name: Show what a render would change, without writing
  inference.platform.render_files:
    root: /srv/gitops/clusters/lab/keda
    header: "# Rendered by the inference.platform keda role"
    files: "{{ keda_render_files }}"
  check_mode: true
"""

RETURN = r"""
root:
  description: The directory the files were written to.
  returned: always
  type: str
  sample: /srv/gitops/clusters/lab/vllm
written:
  description: Files written because they were missing or their content differed (in check mode, would be written),
    relative to RV(root), sorted.
  returned: always
  type: list
  elements: str
  sample: [manifests/model-qwen25-7b.yaml]
removed:
  description: Files that started with O(header) but are no longer wanted, deleted (in check mode, would be deleted),
    relative to RV(root), sorted.
  returned: always
  type: list
  elements: str
  sample: [manifests/model-llama31-8b-awq.yaml]
foreign:
  description: Files below RV(root) that do not start with O(header) and were left alone, relative to RV(root), sorted.
  returned: always
  type: list
  elements: str
  sample: [README.md]
"""

from ansible.module_utils.basic import AnsibleModule

# Kept equal to plugins/action/render_files.py (tests/unit/plugins/test_render_files.py checks it).
ARGUMENT_SPEC = {
    "root": {"type": "path", "required": True},
    "header": {"type": "str", "required": True},
    "files": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "path": {"type": "str", "required": True},
            "content": {"type": "str", "required": True},
        },
    },
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(
        msg="inference.platform.render_files runs on the controller as an action plugin; this module file only "
        "documents it. Call it as a task (inference.platform.render_files), not as a module on a host."
    )


if __name__ == "__main__":
    main()
