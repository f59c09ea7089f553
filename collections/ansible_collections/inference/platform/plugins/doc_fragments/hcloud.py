# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations


class ModuleDocFragment(object):
    # Options shared by the Hetzner Cloud modules (module_utils/_hcloud.py hcloud_argument_spec).
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Hetzner Cloud API token of the project (Read & Write for modules that change something).
      - If not set, the value of the environment variable E(HCLOUD_TOKEN) is used. The module fails, saying so, when
        neither is set.
      - Never written to the output, the error message or the diff.
    type: str
  api_endpoint:
    description:
      - Base URL of the Hetzner Cloud API, with the C(/v1) suffix.
      - If not set, the value of the environment variable E(HCLOUD_ENDPOINT) is used, else the public API.
    type: str
    default: https://api.hetzner.cloud/v1
requirements:
  - hcloud (the Hetzner Cloud Python client) where the module runs, usually the controller. Tested with 2.27.0.
notes:
  - These modules read a server's C(location). They never read C(datacenter), which the Hetzner Cloud API stopped
    returning on 2026-07-01.
"""

    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/inference.platform.hcloud) in C(module_defaults) to set O(api_token) and
      O(api_endpoint) once.
    support: full
    membership:
      - inference.platform.hcloud
"""
