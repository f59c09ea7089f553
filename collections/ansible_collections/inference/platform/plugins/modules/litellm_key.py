#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: litellm_key
short_description: Manage a LiteLLM virtual key, identified by its alias
version_added: 0.1.0
description:
  - Creates, updates or deletes a virtual key through the LiteLLM proxy's admin API (C(/key/generate), C(/key/update),
    C(/key/list), C(/key/delete)).
  - The key is identified by O(key_alias) (LiteLLM keeps aliases unique), so running the task again finds the same key
    and changes nothing.
  - Only the options set in the task are managed; an option left out keeps the value LiteLLM has.
  - The secret of a new key is returned once, in RV(secret), when the key is created. LiteLLM stores only its hash, so
    it cannot be read again later; store it at once (a Kubernetes Secret, a root-only file) and B(set no_log on
    the task), since Ansible cannot hide a value a module returns. The secret is never part of RV(key), the diff or
    any message.
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.endpoint
  - inference.platform.attributes
  - inference.platform.attributes.MANAGE
  - inference.platform.attributes.ACTIONGROUP_LITELLM
options:
  api_key:
    description:
      - The LiteLLM master key (C(general_settings.master_key)) or another key allowed to manage keys.
      - Never written to the output, the error message or the diff.
    type: str
    required: true
  key_alias:
    description: Alias of the virtual key; identifies it.
    type: str
    required: true
  state:
    description: Whether the key should exist.
    type: str
    choices: [present, absent]
    default: present
  key:
    description:
      - The secret to create the key with (must start with C(sk-)), for example one kept in Ansible Vault, so a
        re-created LiteLLM gets the same key. When not set, LiteLLM generates one.
      - Used only when the key is created; an existing key is not rotated.
    type: str
  team_id:
    description: Team the key belongs to (RV(inference.platform.litellm_team#module:team.team_id)). Its team limits
      apply too.
    type: str
  models:
    description: Model names (LiteLLM routes) the key may use. An empty list means every model the team allows.
    type: list
    elements: str
  max_budget:
    description: Spend limit of the key in USD per O(budget_duration).
    type: float
  budget_duration:
    description: How often the key's spend resets, for example V(30d).
    type: str
  rpm_limit:
    description: Requests per minute for the key.
    type: int
  tpm_limit:
    description: Tokens per minute for the key.
    type: int
  metadata:
    description:
      - Free-form metadata stored with the key. The keys given must have the given values; other keys are kept.
    type: dict
  duration:
    description:
      - Lifetime of a new key, for example V(90d); without it the key does not expire.
      - Used only when the key is created.
    type: str
notes:
  - LiteLLM keeps keys in its database; without C(DATABASE_URL) the admin API answers C(DB not connected) and this
    module fails saying so.
  - In this project the module is unit-tested against a stand-in HTTP server written from LiteLLM's documented API
    (the real LiteLLM's database layer cannot run offline); see the collection's C(docs/modules.md).
seealso:
  - module: inference.platform.litellm_team
  - name: LiteLLM virtual keys
    description: What a virtual key can limit.
    link: https://docs.litellm.ai/docs/proxy/virtual_keys
"""

EXAMPLES = r"""
- name: A key for team-a's CI
  inference.platform.litellm_key:
    api_url: "http://litellm.inference.svc:4000"
    api_key: "{{ litellm_master_key }}"
    key_alias: team-a-ci
    team_id: "{{ teams.results[0].team.team_id }}"
    models: [qwen25-7b]
    max_budget: 10
    budget_duration: 30d
    rpm_limit: 60
  register: ci_key
  no_log: true  # the new key's secret is in the result

- name: Keep the secret where the next run finds it
  kubernetes.core.k8s:
    state: present
    definition:
      apiVersion: v1
      kind: Secret
      metadata: {name: team-a-ci-key, namespace: team-a}
      stringData: {api-key: "{{ ci_key.secret }}"}
  when: ci_key.secret is not none
  no_log: true

- name: Revoke it
  inference.platform.litellm_key:
    api_url: "http://litellm.inference.svc:4000"
    api_key: "{{ litellm_master_key }}"
    key_alias: team-a-ci
    state: absent
"""

RETURN = r"""
key:
  description:
    - The key's settings as LiteLLM stores them after the change (as they would be, in check mode), without any secret.
      C(token) is LiteLLM's hash of the key, usable with C(/key/info). Empty when absent.
  returned: always
  type: dict
  sample:
    key_alias: team-a-ci
    token: 7f0b2f3c2d4e1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b
    team_id: 1f0c6b3e-6f2a-4c4e-9d0e-2b1b2a7f9a10
    models: [qwen25-7b]
    max_budget: 10.0
    budget_duration: 30d
    rpm_limit: 60
    tpm_limit: null
    metadata: {}
    spend: 0.0
secret:
  description:
    - The new key (C(sk-...)), only when this run created it; V(null) otherwise and in check mode.
    - It is shown once. Set C(no_log) on the task.
    - When O(key) was given, Ansible masks this value as C(********) because O(key) is a C(no_log) option; you already
      have the secret then.
  returned: always
  type: str
  sample: null
diff:
  description: The managed fields before and after, with C(--diff). Never contains the secret.
  returned: when diff mode is on
  type: dict
  sample: {before: {rpm_limit: 60}, after: {rpm_limit: 120}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inference.platform.plugins.module_utils._litellm import (
    LIMIT_FIELDS,
    ApiError,
    LiteLLMModule,
    litellm_argument_spec,
)

KEY_FIELDS = (*LIMIT_FIELDS, "team_id")
# Fields a key row may carry that hold a secret or an internal id; never returned.
SECRET_FIELDS = ("key", "api_key", "token_id")


class LiteLLMKey(LiteLLMModule):
    def __init__(self, module):
        super(LiteLLMKey, self).__init__(module)
        self.add_secret(module.params.get("key"))
        self.secret = None

    def find(self):
        alias = self.module.params["key_alias"]
        _dummy, data = self.call(
            "GET",
            "/key/list",
            query={"key_alias": alias, "return_full_object": "true", "size": 100},
            what="listing keys with alias %s" % alias,
        )
        keys = data.get("keys", []) if isinstance(data, dict) else []
        # Older LiteLLM versions ignore the key_alias filter: filter here as well.
        matches = [k for k in keys if isinstance(k, dict) and k.get("key_alias") == alias]
        if len(matches) > 1:
            raise ApiError(
                "%d keys have the alias %r; LiteLLM should keep aliases unique, clean up by hand"
                % (len(matches), alias),
                "ambiguous",
            )
        return matches[0] if matches else None

    def public(self, row):
        return {k: v for k, v in (row or {}).items() if k not in SECRET_FIELDS}

    def run(self):
        params = self.module.params
        current = self.find()
        before = self.view(current, (*KEY_FIELDS, "key_alias")) if current else {}
        row = current or {}

        if params["state"] == "absent":
            if current:
                if not self.module.check_mode:
                    self.call("POST", "/key/delete", body={"keys": [current["token"]]}, what="deleting the key")
                self._mark_as_changed()
            self.finish(before, {}, {})

        if current is None:
            body = self.desired(KEY_FIELDS)
            body["key_alias"] = params["key_alias"]
            if params["duration"]:
                body["duration"] = params["duration"]
            if params["key"]:
                body["key"] = params["key"]
            row = dict(body)
            if not self.module.check_mode:
                _dummy, created = self.call("POST", "/key/generate", body=body, what="creating the key")
                self.secret = created.get("key")
                if not self.secret:
                    raise ApiError("/key/generate answered without a key", "invalid_response")
                # Keep the secret out of everything this module prints, except the one field meant for it.
                self.add_secret(self.secret)
                row = self.find() or created
            self._mark_as_changed()
        else:
            wanted = self.changes(current, KEY_FIELDS)
            if wanted:
                row = dict(current, **wanted)
                if not self.module.check_mode:
                    body = dict(wanted, key=current["token"])
                    self.call("POST", "/key/update", body=body, what="updating the key")
                    row = self.find() or row
                self._mark_as_changed()
        after = self.view(row, (*KEY_FIELDS, "key_alias"))
        self.finish(before, after, row)

    def finish(self, before, after, row):
        if self.module._diff:
            self.result["diff"] = {"before": before, "after": after}
        result = dict(self.result)
        result["key"] = self.public(row)
        result = self.redact(result)
        result["secret"] = self.secret  # the only place the secret may appear
        self.module.exit_json(**result)


def main():
    argument_spec = litellm_argument_spec()
    argument_spec["api_key"]["required"] = True
    argument_spec.update(
        key_alias={"type": "str", "required": True, "no_log": False},
        key={"type": "str", "no_log": True},
        team_id={"type": "str"},
        duration={"type": "str"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
    )
    key = LiteLLMKey(module)
    key.run_safely(key.run)


if __name__ == "__main__":
    main()
