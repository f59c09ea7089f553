# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations


class ModuleDocFragment(object):
    # The meaning of each attribute. Combine with one of the support fragments below.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run with C(--check) and predict whether it would change something, without changing it.
  diff_mode:
    description: With C(--diff), returns the state before and after the change (or the change it would make in check
      mode).
  idempotent:
    description:
      - Run twice in a row with the same arguments (outside check mode), the second run reports no change.
      - This holds as long as nothing else changed the managed object between the two runs.
"""

    # For modules that only read (facts, probes, smoke tests).
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module changes nothing, so it runs the same way in check mode.
  diff_mode:
    support: N/A
    details:
      - This module changes nothing.
  idempotent:
    support: full
    details:
      - This module changes nothing; it always reports C(changed=false).
"""

    # For modules that manage an object through an API.
    MANAGE = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

    ACTIONGROUP_ENDPOINT = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/inference.platform.endpoint) in C(module_defaults) to set O(api_url), O(api_key) and TLS
      options once.
    support: full
    membership:
      - inference.platform.endpoint
"""

    ACTIONGROUP_LITELLM = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/inference.platform.litellm) in C(module_defaults) to set O(api_url), O(api_key) and TLS
      options once.
    support: full
    membership:
      - inference.platform.litellm
"""
