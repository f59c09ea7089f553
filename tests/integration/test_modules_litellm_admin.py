"""inference.platform.litellm_team / litellm_key against the REAL LiteLLM proxy, which has no database.

LiteLLM keeps teams and keys in its database; its Prisma engines cannot be downloaded here, so the
real proxy runs without one and answers its admin API with a "not connected" error. These tests
prove the modules turn that real error into a clear, structured failure (and keep the master key
out of it). What the modules do with a working admin API is covered by the unit tests against a
stand-in written from LiteLLM's documented API (tests/unit/modules/litellm_standin.py).
"""

from __future__ import annotations

import pytest
from ansible_cli import env_ref, run_module

pytestmark = pytest.mark.integration

KEY_ENV = "LITELLM_TEST_MASTER_KEY"


def admin(module: str, proxy, check: bool = False, **args):
    module_args = {"api_url": proxy.root_url, "api_key": env_ref(KEY_ENV), **args}
    return run_module(module, module_args, env={KEY_ENV: proxy.master_key}, check=check)


@pytest.mark.parametrize("check", [False, True], ids=["real run", "check mode"])
def test_team_without_database_is_a_clear_error(litellm_proxy, check):
    run = admin("litellm_team", litellm_proxy, check=check, team_alias="team-a", models=[litellm_proxy.model])
    r = run.result
    assert run.failed, run.describe()
    assert r["changed"] is False
    assert r["error"]["code"] == "client_error"
    assert r["error"]["details"]["status"] == 400
    assert r["error"]["details"]["url"] == f"{litellm_proxy.root_url}/team/list"
    assert r["msg"].startswith(
        f"listing teams failed: HTTP 400 from {litellm_proxy.root_url}/team/list: DB not connected."
    )
    assert r["msg"].endswith("(LiteLLM needs its database for teams and keys: set DATABASE_URL)")
    assert litellm_proxy.master_key not in run.output


@pytest.mark.parametrize("state", ["present", "absent"])
def test_key_without_database_is_a_clear_error(litellm_proxy, state):
    run = admin("litellm_key", litellm_proxy, key_alias="verify-integration", state=state, models=[litellm_proxy.model])
    r = run.result
    assert run.failed, run.describe()
    assert r["changed"] is False
    assert not r.get("secret")
    # LiteLLM 1.106 answers /key/list without a database with 500, worded differently from /team/list.
    assert r["error"]["code"] == "server_error"
    assert r["error"]["details"]["status"] == 500
    assert r["msg"] == (
        "listing keys with alias verify-integration failed: HTTP 500 from "
        f"{litellm_proxy.root_url}/key/list?key_alias=verify-integration&return_full_object=true&size=100: "
        "Authentication Error, Database not connected"
        " (LiteLLM needs its database for teams and keys: set DATABASE_URL)"
    )
    assert litellm_proxy.master_key not in run.output
