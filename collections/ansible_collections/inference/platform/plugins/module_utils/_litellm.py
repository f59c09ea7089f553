# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""Shared work of the LiteLLM admin modules (litellm_team, litellm_key).

PRIVATE to the inference.platform collection; no compatibility promise outside it.

Request and response shapes follow LiteLLM's proxy management endpoints as of
litellm 1.109 (``/team/new``, ``/team/update``, ``/team/info``, ``/team/list``,
``/team/delete``, ``/key/generate``, ``/key/update``, ``/key/list``,
``/key/delete``). Every one of them needs LiteLLM's database.
"""

from __future__ import annotations

from ansible_collections.inference.platform.plugins.module_utils._api import (
    ApiError,
    InferenceModule,
    endpoint_argument_spec,
)

# Options managed on both teams and keys; None in the task means "leave as it is".
LIMIT_FIELDS = ("models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata")


def litellm_argument_spec():
    spec = endpoint_argument_spec()
    spec.update(
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        models={"type": "list", "elements": "str"},
        max_budget={"type": "float"},
        budget_duration={"type": "str"},
        rpm_limit={"type": "int"},
        tpm_limit={"type": "int"},
        metadata={"type": "dict"},
    )
    return spec


def same(field, current, desired):
    """Whether the server's value already satisfies the task's value for ``field``."""
    if field == "models":
        return sorted(current or []) == sorted(desired)
    if field == "metadata":
        current = current or {}
        return all(k in current and current[k] == v for k, v in desired.items())
    if field == "max_budget" and current is not None and desired is not None:
        return abs(float(current) - float(desired)) < 1e-9
    return current == desired


class LiteLLMModule(InferenceModule):
    """InferenceModule plus JSON calls that fail loudly and a field-by-field comparison."""

    def call(self, method, path, body=None, query=None, what=None, ok_statuses=()):
        """Send a request; return (status, decoded JSON). Statuses outside 2xx and ok_statuses raise ApiError."""
        resp = self.request(method, path, body=body, query=query)
        if resp.status in ok_statuses:
            return resp.status, None
        if not resp.ok:
            err = self.http_error(resp, what or "%s %s" % (method, path))
            text = resp.text().lower()
            # LiteLLM words it "No connected db.", "DB not connected" or "Database not connected" by endpoint
            if resp.status in (400, 500) and ("db" in text or "database" in text) and "connect" in text:
                err.message += " (LiteLLM needs its database for teams and keys: set DATABASE_URL)"
            raise err
        return resp.status, resp.json()

    def changes(self, current, fields):
        """Fields whose task value differs from ``current``: {field: desired}."""
        params = self.module.params
        wanted = {}
        for field in fields:
            desired = params.get(field)
            if desired is None:
                continue
            if not same(field, current.get(field), desired):
                if field == "metadata":
                    merged = dict(current.get("metadata") or {})
                    merged.update(desired)
                    desired = merged
                wanted[field] = desired
        return wanted

    def desired(self, fields):
        params = self.module.params
        return {f: params[f] for f in fields if params.get(f) is not None}

    @staticmethod
    def view(obj, fields):
        return {f: obj.get(f) for f in fields}

    def run_safely(self, func):
        try:
            func()
        except ApiError as exc:
            self.fail_from(exc)


__all__ = ["LIMIT_FIELDS", "ApiError", "LiteLLMModule", "litellm_argument_spec", "same"]
