# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Controller-side writer of a component's render output (inference.platform.render_files).

The platform_delivery role calls it for every platform component in render mode. It runs in the
controller process, not as a module, so a component with dozens of files renders in milliseconds
instead of one module round-trip per file. The documentation is plugins/modules/render_files.py.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# Kept equal to plugins/modules/render_files.py (tests/unit/plugins/test_render_files.py checks it).
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


def _inside(path, root):
    """True if path, with every symlink resolved, is root or below it."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _write(path, data):
    """Write data to path atomically with mode 0644 (a temporary file in the same directory, then rename)."""
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".render-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]

        root = Path(args["root"])
        header = args["header"]
        if not root.is_absolute() or len(root.parts) < 3:
            raise AnsibleActionFail("root must be an absolute directory at least two levels deep, got %s" % root)
        if not header.startswith("#"):
            raise AnsibleActionFail("header must be a comment line that marks rendered files")

        wanted = {}
        for item in args["files"]:
            relative = Path(item["path"])
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise AnsibleActionFail("file path must be relative to root without '..': %s" % item["path"])
            if not item["content"].startswith(header):
                raise AnsibleActionFail("%s does not start with the render header" % relative)
            path = root / relative
            if path in wanted:
                raise AnsibleActionFail("%s is listed twice in files" % relative)
            if not _inside(path.parent, root):
                raise AnsibleActionFail("%s would be written outside root through a symlink" % relative)
            wanted[path] = item["content"].encode("utf-8")

        check = bool(self._task.check_mode)
        written, removed, foreign = [], [], []
        for path, data in sorted(wanted.items()):
            if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
                continue
            written.append(str(path.relative_to(root)))
            if not check:
                _write(path, data)

        if root.is_dir():
            marker = header.encode("utf-8")
            for path in sorted(root.rglob("*")):
                if path in wanted or path.is_dir():
                    continue
                ours = False
                if path.is_file():
                    with open(path, "rb") as stream:
                        ours = stream.read(len(marker)) == marker
                if not ours:
                    foreign.append(str(path.relative_to(root)))
                    continue
                removed.append(str(path.relative_to(root)))
                if not check:
                    path.unlink()
            if not check:
                directories = [p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()]
                for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
                    if not any(directory.iterdir()):
                        directory.rmdir()

        result.update(
            changed=bool(written or removed), root=str(root), written=written, removed=removed, foreign=foreign
        )
        return result
