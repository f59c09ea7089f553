"""Make LiteLLM's teams match inference_tenants (run by the litellm-tenants Job, in the cluster).

Reads the desired tenants from the JSON file named by TENANTS_FILE, talks to the proxy at
LITELLM_URL with the master key from LITELLM_MASTER_KEY (never printed), and for each tenant
creates or updates the team whose team_alias is the tenant's name (models, max_budget,
budget_duration, rpm_limit). Teams this script created earlier (metadata managed-by =
inference-platform) whose tenant was removed are deleted. Standard library only.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

MANAGED = {"managed-by": "inference-platform"}


def call(method, path, body=None):
    url = os.environ["LITELLM_URL"].rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - in-cluster http URL
    request.add_header("Authorization", "Bearer " + os.environ["LITELLM_MASTER_KEY"])
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - in-cluster http URL
        return json.loads(response.read() or b"null")


def wait_ready(deadline):
    while True:
        try:
            urllib.request.urlopen(os.environ["LITELLM_URL"].rstrip("/") + "/health/readiness", timeout=10)  # noqa: S310
            return
        except (urllib.error.URLError, OSError) as error:
            if time.monotonic() > deadline:
                sys.exit(f"LiteLLM did not become ready: {error}")
            time.sleep(5)


def team_body(tenant):
    body = {
        "team_alias": tenant["name"],
        "models": tenant["models"],
        "metadata": MANAGED,
    }
    for key, field in (
        ("max_budget_usd", "max_budget"),
        ("budget_duration", "budget_duration"),
        ("rpm_limit", "rpm_limit"),
    ):
        if tenant.get(key) is not None:
            body[field] = tenant[key]
    return body


def main():
    with open(os.environ["TENANTS_FILE"], encoding="utf-8") as handle:
        tenants = json.load(handle)
    wait_ready(time.monotonic() + float(os.environ.get("READY_TIMEOUT", "600")))
    listed = call("GET", "/team/list")
    teams = listed if isinstance(listed, list) else listed.get("teams", [])
    by_alias = {team.get("team_alias"): team for team in teams}
    for tenant in tenants:
        body = team_body(tenant)
        team = by_alias.get(tenant["name"])
        if team is None:
            call("POST", "/team/new", body)
            print(f"created team {tenant['name']}")
        else:
            call("POST", "/team/update", {"team_id": team["team_id"], **body})
            print(f"updated team {tenant['name']}")
    wanted = {tenant["name"] for tenant in tenants}
    stale = [
        team["team_id"]
        for team in teams
        if (team.get("metadata") or {}).get("managed-by") == MANAGED["managed-by"]
        and team.get("team_alias") not in wanted
    ]
    if stale:
        call("POST", "/team/delete", {"team_ids": stale})
        print(f"deleted {len(stale)} team(s) of removed tenants")


if __name__ == "__main__":
    main()
