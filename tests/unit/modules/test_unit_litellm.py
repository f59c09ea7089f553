"""litellm_team and litellm_key against a STAND-IN of LiteLLM's admin API (litellm_standin.py, not LiteLLM).

Each object goes through: check mode create -> create -> re-run (no change) -> change one field (check mode,
then for real, with diff) -> delete (check mode, then for real) -> delete again (no change).
"""

from __future__ import annotations

import hashlib
import json

import pytest
from ansible_collections.inference.platform.plugins.modules import litellm_key, litellm_team
from litellm_standin import StandInLiteLLMAdmin
from module_runner import FIXTURES, ansible_cli, run_module

MASTER = "sk-master-standin-5f1e2d3c"


@pytest.fixture
def admin():
    with StandInLiteLLMAdmin(MASTER) as server:
        yield server


def team(admin, **args):
    base = {"api_url": admin.url, "api_key": MASTER, "team_alias": "team-a"}
    check = args.pop("_check", False)
    return run_module(litellm_team.main, dict(base, **args), check_mode=check, diff=True)


def key(admin, **args):
    base = {"api_url": admin.url, "api_key": MASTER, "key_alias": "team-a-ci"}
    check = args.pop("_check", False)
    return run_module(litellm_key.main, dict(base, **args), check_mode=check, diff=True)


TEAM_ARGS = {
    "models": ["qwen25-7b"],
    "max_budget": 100,
    "budget_duration": "30d",
    "rpm_limit": 600,
    "metadata": {"managed_by": "ansible"},
}


def test_team_lifecycle(admin):
    res = team(admin, _check=True, **TEAM_ARGS)
    assert res["changed"] is True
    assert admin.teams == {}
    assert admin.mutations() == []
    assert res["diff"]["before"] == {}
    assert res["diff"]["after"]["rpm_limit"] == 600

    res = team(admin, **TEAM_ARGS)
    assert res["changed"] is True
    (stored,) = admin.teams.values()
    assert stored["team_alias"] == "team-a"
    assert stored["models"] == ["qwen25-7b"]
    assert stored["max_budget"] == 100.0
    assert stored["budget_duration"] == "30d"
    assert stored["rpm_limit"] == 600
    assert res["team"]["team_id"] == stored["team_id"]

    calls = len(admin.mutations())
    res = team(admin, **TEAM_ARGS)
    assert res["changed"] is False
    assert len(admin.mutations()) == calls  # no write on the second run
    assert res["diff"]["before"] == res["diff"]["after"]

    res = team(admin, _check=True, **dict(TEAM_ARGS, rpm_limit=1200))
    assert res["changed"] is True
    assert stored["rpm_limit"] == 600
    assert res["diff"]["before"]["rpm_limit"] == 600
    assert res["diff"]["after"]["rpm_limit"] == 1200

    res = team(admin, **dict(TEAM_ARGS, rpm_limit=1200))
    assert res["changed"] is True
    assert stored["rpm_limit"] == 1200
    update = [b for m, p, b in admin.calls if p == "/team/update"]
    assert update == [{"rpm_limit": 1200, "team_id": stored["team_id"]}]  # only the changed field is sent

    # models order and extra metadata keys on the server do not count as differences
    stored["metadata"]["litellm_internal"] = "x"
    res = team(admin, **dict(TEAM_ARGS, rpm_limit=1200, models=["qwen25-7b"]))
    assert res["changed"] is False

    res = team(admin, state="absent", _check=True)
    assert res["changed"] is True and admin.teams
    res = team(admin, state="absent")
    assert res["changed"] is True
    assert admin.teams == {}
    res = team(admin, state="absent")
    assert res["changed"] is False


def test_team_by_id_and_ambiguous_alias(admin):
    res = team(admin, team_id="tenant-a", models=[])
    assert res["changed"] is True
    assert "tenant-a" in admin.teams
    assert team(admin, team_id="tenant-a", models=[])["changed"] is False
    admin.teams["other"] = dict(admin.teams["tenant-a"], team_id="other")
    res = team(admin)
    assert res.failed
    assert res["error"]["code"] == "ambiguous"
    assert "set team_id to say which one" in res["msg"]


def test_team_result_does_not_carry_key_hashes(admin):
    created = team(admin, team_id="tenant-a")
    key(admin, team_id=created["team"]["team_id"])
    res = team(admin, team_id="tenant-a")
    assert "keys" not in res["team"]
    res = team(admin)
    assert "keys" not in res["team"]


def test_key_lifecycle(admin):
    team_id = team(admin, **TEAM_ARGS)["team"]["team_id"]
    args = {"team_id": team_id, "models": ["qwen25-7b"], "max_budget": 10, "budget_duration": "30d", "rpm_limit": 60}

    res = key(admin, _check=True, **args)
    assert res["changed"] is True
    assert res["secret"] is None
    assert admin.keys == {}

    res = key(admin, **args)
    assert res["changed"] is True
    secret = res["secret"]
    assert secret.startswith("sk-")
    token = hashlib.sha256(secret.encode()).hexdigest()
    assert set(admin.keys) == {token}  # the stand-in, like LiteLLM, stores only the hash
    assert res["key"]["token"] == token
    assert res["key"]["rpm_limit"] == 60
    assert "key" not in res["key"]
    # the secret appears exactly once in the whole result: in `secret`
    assert res["_stdout"].count(secret) == 1
    assert secret not in json.dumps(res["diff"])

    calls = len(admin.mutations())
    res = key(admin, **args)
    assert res["changed"] is False
    assert res["secret"] is None
    assert len(admin.mutations()) == calls

    res = key(admin, _check=True, **dict(args, rpm_limit=120))
    assert res["changed"] is True
    assert admin.keys[token]["rpm_limit"] == 60
    res = key(admin, **dict(args, rpm_limit=120))
    assert res["changed"] is True
    assert admin.keys[token]["rpm_limit"] == 120
    assert res["diff"] == {"before": dict(res["diff"]["before"], rpm_limit=60), "after": res["diff"]["after"]}
    assert res["diff"]["after"]["rpm_limit"] == 120
    assert [b for m, p, b in admin.calls if p == "/key/update"] == [{"rpm_limit": 120, "key": token}]
    assert res["secret"] is None

    res = key(admin, state="absent", _check=True)
    assert res["changed"] is True and admin.keys
    res = key(admin, state="absent")
    assert res["changed"] is True
    assert admin.keys == {}
    assert key(admin, state="absent")["changed"] is False


def test_key_with_given_secret(admin):
    wanted = "sk-from-vault-0123456789abcdefghij"
    res = key(admin, key=wanted)
    assert res["changed"] is True
    assert hashlib.sha256(wanted.encode()).hexdigest() in admin.keys
    # the given secret is a no_log option: Ansible masks it wherever it would appear
    assert wanted not in res["_stdout"]


def test_no_database_is_explained(admin):
    admin.database = False
    res = team(admin)
    assert res.failed
    assert "HTTP 400" in res["msg"] and "No connected db." in res["msg"]
    assert "LiteLLM needs its database" in res["msg"]
    res = key(admin)
    assert res.failed
    assert "Database not connected" in res["msg"]  # /key/list, the key module's first call
    assert "LiteLLM needs its database" in res["msg"]


def test_wrong_master_key_never_echoed(admin):
    wrong = "sk-wrong-master-LEAKCHECK-77"
    res = run_module(litellm_team.main, {"api_url": admin.url, "api_key": wrong, "team_alias": "x"})
    assert res.failed
    assert res["error"]["code"] == "unauthorized"
    assert "HTTP 401 (the api_key was refused)" in res["msg"]
    assert wrong not in res["_stdout"]


def test_api_key_is_required():
    res = run_module(litellm_key.main, {"api_url": "http://127.0.0.1:9", "key_alias": "x"})
    assert res.failed
    assert "missing required arguments: api_key" in res["msg"]


def test_documented_generate_response_shapes_are_understood():
    """The key/generate answers from LiteLLM's docs (fixtures) have the field the module reads the secret from."""
    for name in (
        "key-generate-response.litellm-docs-users.json",
        "key-generate-response.litellm-docs-team_logging.json",
    ):
        data = json.loads((FIXTURES / "litellm" / name).read_text())
        assert data["key"].startswith("sk-")
    info = json.loads((FIXTURES / "litellm" / "key-info-response.litellm-docs-virtual_keys.json").read_text())
    assert set(info) == {"key", "info"}


def test_cli_check_mode_then_create(admin):
    """Through ansible: check mode creates nothing, the real run creates the key; the master key never shows."""
    args = {"api_url": admin.url, "api_key": MASTER, "key_alias": "cli-key"}
    proc = ansible_cli("litellm_key", args, check=True, extra=("-vvv",))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CHANGED" in proc.stdout
    assert admin.keys == {}
    assert MASTER not in proc.stdout + proc.stderr
    proc = ansible_cli("litellm_key", args, extra=("-vvv",))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = admin.keys.values()
    assert MASTER not in proc.stdout + proc.stderr
    assert row["key_alias"] == "cli-key"
