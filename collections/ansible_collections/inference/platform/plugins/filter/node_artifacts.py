# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Which checked node artifacts a host still needs: roles/kubeadm reads the sha256 of what is installed in one
command and copies only what is missing or different (one copy task per file would cost a round trip per file
on every run). Documentation: the sidecar file artifacts_to_install.yml.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def artifacts_to_install(installed, wanted):
    """The entries of ``wanted`` ({dest, sha256, ...}) whose ``dest`` is absent from or differs in ``installed``.

    ``installed`` is ``sha256sum`` output (a string or its lines); files it could not read are simply absent.
    """
    if isinstance(installed, str):
        installed = installed.splitlines()
    if not isinstance(installed, (list, tuple)) or not isinstance(wanted, (list, tuple)):
        raise AnsibleFilterError("artifacts_to_install expects sha256sum output and a list of {dest, sha256}")
    found = {}
    for line in installed:
        match = _LINE.match(str(line).rstrip("\n"))
        if match:
            found[match.group(2)] = match.group(1).lower()
    result = []
    for entry in wanted:
        if not isinstance(entry, dict) or "dest" not in entry or "sha256" not in entry:
            raise AnsibleFilterError("artifacts_to_install: each wanted entry needs dest and sha256, got %r" % (entry,))
        if found.get(entry["dest"]) != str(entry["sha256"]).lower():
            result.append(entry)
    return result


class FilterModule:
    """The node artifacts filter of inference.platform."""

    def filters(self):
        return {"artifacts_to_install": artifacts_to_install}
