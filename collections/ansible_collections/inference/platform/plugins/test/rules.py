# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Jinja tests over the project's shared value rules (plugins/module_utils/_rules.py), so a role's own input check
uses the same rule as the validate stage: ``x is inference.platform.dns_label``, ``image is
inference.platform.pinned_image``, ``version is inference.platform.exact_version``.
Documentation: the sidecar files dns_label.yml, pinned_image.yml, exact_version.yml."""

from __future__ import annotations

from ansible_collections.inference.platform.plugins.module_utils._rules import (
    DNS_LABEL_MAX,
    image_problem,
    is_dns_label,
    version_problem,
)


def dns_label(value, max_length=DNS_LABEL_MAX):
    return is_dns_label(value, max_length)


def pinned_image(value):
    return image_problem(value) is None


def exact_version(value):
    return version_problem(value) is None


class TestModule:
    """The rule tests of inference.platform."""

    def tests(self):
        return {"dns_label": dns_label, "pinned_image": pinned_image, "exact_version": exact_version}
