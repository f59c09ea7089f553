#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: litellm_team
short_description: Manage a LiteLLM team (tenant) with its budget, rate limits and allowed models
version_added: 0.1.0
description:
  - Creates, updates or deletes a team through the LiteLLM proxy's admin API (C(/team/new), C(/team/update),
    C(/team/info), C(/team/list), C(/team/delete)).
  - The team is found by O(team_id) when given, else by O(team_alias) (which must then be unique).
  - Only the options set in the task are managed; an option left out keeps the value LiteLLM has.
  - For O(metadata), the keys given must have the given values; other keys LiteLLM stores are kept.
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
      - The LiteLLM master key (C(general_settings.master_key)) or another key allowed to manage teams.
      - Never written to the output, the error message or the diff.
    type: str
    required: true
  team_alias:
    description: Human-readable team name, for example the tenant name of C(inference_tenants).
    type: str
    required: true
  team_id:
    description:
      - Team id. When set, the team is looked up by it and created with it; when not set, LiteLLM picks a UUID on
        creation and the team is found by O(team_alias).
    type: str
  state:
    description: Whether the team should exist.
    type: str
    choices: [present, absent]
    default: present
  models:
    description: Model names (LiteLLM routes) the team may use. An empty list means every model.
    type: list
    elements: str
  max_budget:
    description: Spend limit in USD per O(budget_duration).
    type: float
  budget_duration:
    description: How often the spend resets, for example V(30d), V(1h), V(1mo).
    type: str
  rpm_limit:
    description: Requests per minute for the whole team.
    type: int
  tpm_limit:
    description: Tokens per minute for the whole team.
    type: int
  metadata:
    description: Free-form metadata stored with the team.
    type: dict
  blocked:
    description: Block every request of the team.
    type: bool
notes:
  - LiteLLM keeps teams in its database; without C(DATABASE_URL) the admin API answers
    C(No connected db.) and this module fails saying so.
  - In this project the module is unit-tested against a stand-in HTTP server written from LiteLLM's documented API
    (the real LiteLLM's database layer cannot run offline); see the collection's C(docs/modules.md).
seealso:
  - module: inference.platform.litellm_key
  - name: LiteLLM team budgets
    description: What LiteLLM enforces for teams.
    link: https://docs.litellm.ai/docs/proxy/team_budgets
"""

EXAMPLES = r"""
- name: One team per tenant
  inference.platform.litellm_team:
    api_url: "http://litellm.inference.svc:4000"
    api_key: "{{ litellm_master_key }}"
    team_alias: "{{ item.name }}"
    models: "{{ item.models }}"
    max_budget: "{{ item.max_budget_usd }}"
    budget_duration: "{{ item.budget_duration }}"
    rpm_limit: "{{ item.rpm_limit }}"
    metadata:
      managed_by: ansible
  loop: "{{ inference_tenants }}"
  register: teams

- name: Remove a tenant's team
  inference.platform.litellm_team:
    api_url: "http://litellm.inference.svc:4000"
    api_key: "{{ litellm_master_key }}"
    team_alias: team-old
    state: absent
"""

RETURN = r"""
team:
  description:
    - The team as LiteLLM returns it after the change (as it would be, in check mode). Empty when absent.
  returned: always
  type: dict
  sample:
    team_id: 1f0c6b3e-6f2a-4c4e-9d0e-2b1b2a7f9a10
    team_alias: team-a
    models: [qwen25-7b]
    max_budget: 100.0
    budget_duration: 30d
    rpm_limit: 600
    tpm_limit: null
    metadata: {managed_by: ansible}
    blocked: false
    spend: 0.0
diff:
  description: The managed fields before and after, with C(--diff).
  returned: when diff mode is on
  type: dict
  sample: {before: {rpm_limit: 600}, after: {rpm_limit: 1200}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inference.platform.plugins.module_utils._litellm import (
    LIMIT_FIELDS,
    ApiError,
    LiteLLMModule,
    litellm_argument_spec,
)

TEAM_FIELDS = (*LIMIT_FIELDS, "blocked")


class LiteLLMTeam(LiteLLMModule):
    def find(self):
        params = self.module.params
        if params["team_id"]:
            status, data = self.call(
                "GET",
                "/team/info",
                query={"team_id": params["team_id"]},
                what="looking up team %s" % params["team_id"],
                ok_statuses=(404,),
            )
            if status == 404:
                return None
            return data.get("team_info") or data
        _dummy, teams = self.call("GET", "/team/list", what="listing teams")
        if isinstance(teams, dict):  # some versions wrap the list
            teams = teams.get("teams") or teams.get("data") or []
        matches = [t for t in teams if t.get("team_alias") == params["team_alias"]]
        if len(matches) > 1:
            raise ApiError(
                "%d teams are called %r (ids %s); set team_id to say which one"
                % (len(matches), params["team_alias"], ", ".join(t.get("team_id", "?") for t in matches)),
                "ambiguous",
                {"team_ids": [t.get("team_id") for t in matches]},
            )
        return matches[0] if matches else None

    def run(self):
        params = self.module.params
        current = self.find()
        before = self.view(current, (*TEAM_FIELDS, "team_alias")) if current else {}
        team = current or {}

        if params["state"] == "absent":
            if current:
                if not self.module.check_mode:
                    self.call("POST", "/team/delete", body={"team_ids": [current["team_id"]]}, what="deleting the team")
                self._mark_as_changed()
                team = {}
            self.finish(before, {}, team)

        if current is None:
            body = self.desired(TEAM_FIELDS)
            body["team_alias"] = params["team_alias"]
            if params["team_id"]:
                body["team_id"] = params["team_id"]
            team = dict(body)
            if not self.module.check_mode:
                _status, team = self.call("POST", "/team/new", body=body, what="creating the team")
            self._mark_as_changed()
        else:
            wanted = self.changes(current, TEAM_FIELDS)
            if current.get("team_alias") != params["team_alias"]:
                wanted["team_alias"] = params["team_alias"]
            if wanted:
                team = dict(current, **wanted)
                if not self.module.check_mode:
                    body = dict(wanted, team_id=current["team_id"])
                    _dummy, answer = self.call("POST", "/team/update", body=body, what="updating the team")
                    team = (answer or {}).get("data") or team
                self._mark_as_changed()
        after = self.view(team, (*TEAM_FIELDS, "team_alias"))
        self.finish(before, after, team)

    def finish(self, before, after, team):
        # /team/list and /team/info carry the team's key rows (token hashes) and memberships: not ours to print.
        team = {k: v for k, v in (team or {}).items() if k not in ("keys", "team_memberships")}
        if self.module._diff:
            self.result["diff"] = {"before": before, "after": after}
        self.exit(team=team)


def main():
    argument_spec = litellm_argument_spec()
    argument_spec["api_key"]["required"] = True
    argument_spec.update(
        team_alias={"type": "str", "required": True},
        team_id={"type": "str"},
        blocked={"type": "bool"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
    )
    team = LiteLLMTeam(module)
    team.run_safely(team.run)


if __name__ == "__main__":
    main()
