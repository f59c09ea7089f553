"""playbooks/tenant_key.yml run for real against the LiteLLM admin STAND-IN of tests/unit/modules.

The stand-in is NOT LiteLLM (real LiteLLM's key database cannot run here; see litellm_standin.py): these
runs prove the playbook's own logic (the key is created with the secret the playbook generated, attached
to the tenant's team, never printed unless asked, refused to be printed under AWX, a second run changes
nothing, bad input stops it before any change). The Kubernetes Secret write is switched off here (no
cluster); tests/cluster_api is where a real API server is available. A real LiteLLM and cluster prove
the rest: awx/README.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import urllib.request

import pytest
import yaml
from awx_support import ROOT, VENV_BIN, env_for_ansible

MASTER_KEY = "sk-master-standin-0123456789"


def _standin_class():
    spec = importlib.util.spec_from_file_location("litellm_standin", ROOT / "tests/unit/modules/litellm_standin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StandInLiteLLMAdmin


def add_team(admin, alias):
    request = urllib.request.Request(  # noqa: S310 - http on loopback, the stand-in's own URL
        f"{admin.url}/team/new",
        data=json.dumps({"team_alias": alias, "models": ["qwen25-7b", "llama-8b"]}).encode(),
        headers={"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback stand-in
        return json.load(response)["team_id"]


@pytest.fixture
def litellm():
    with _standin_class()(MASTER_KEY) as admin:
        admin.team_id = add_team(admin, "team-a")
        yield admin


@pytest.fixture
def inventory(tmp_path):
    # The project defaults, linked as every inventory links them (group_vars/all/00_project), and this test's values
    # over them in 50_unit.yml, as an inventory sets them.
    group_vars = tmp_path / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    (group_vars / "00_project").symlink_to(ROOT / "group_vars" / "all")
    (group_vars / "50_unit.yml").write_text(
        yaml.safe_dump(
            {
                "cluster_name": "unit",
                "inference_tenants": [
                    {"name": "team-a", "models": ["qwen25-7b", "llama-8b"]},
                    {"name": "team-b", "models": ["llama-8b"]},
                ],
            }
        )
    )
    path = tmp_path / "hosts.yml"
    path.write_text(
        yaml.safe_dump(
            {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                             "ansible_python_interpreter": sys.executable}}}}
        )
    )
    return path


def run(inventory, litellm, *extra, check=False, env_extra=None, team=None):
    env = env_for_ansible()
    env["LITELLM_MASTER_KEY"] = MASTER_KEY
    env.update(env_extra or {})
    if team:
        add_team(litellm, team)
    args = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        "playbooks/tenant_key.yml",
        "-e",
        f"tenant_key_litellm_url={litellm.url}",
        "-e",
        "tenant_key_store_secret=false",
        *extra,
    ]
    if check:
        args.append("--check")
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    output = result.stdout + result.stderr
    assert MASTER_KEY not in output, "the master key was printed"
    return result.returncode, output


def recap_changed(output: str) -> int:
    return int(re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", output).group(1))


def test_key_is_created_with_the_generated_secret_shown_once_then_left_alone(inventory, litellm):
    code, output = run(inventory, litellm, "-e", "tenant_key_tenant=team-a", "-e", "tenant_key_reveal=true", check=True)
    assert code == 0, output
    assert not litellm.keys, "check mode created a key"

    code, output = run(inventory, litellm, "-e", "tenant_key_tenant=team-a", "-e", "tenant_key_reveal=true")
    assert code == 0, output
    secrets = set(re.findall(r"sk-[A-Za-z0-9]{48}", output))
    assert len(secrets) == 1, output
    (secret,) = secrets
    (row,) = litellm.keys.values()
    assert row["token"] == hashlib.sha256(secret.encode()).hexdigest(), "the key was not created with the shown secret"
    assert row["key_alias"] == "team-a-key"
    assert row["team_id"] == litellm.team_id
    assert sorted(row["models"]) == ["llama-8b", "qwen25-7b"]
    assert "created" in output

    before = list(litellm.mutations())
    code, output = run(inventory, litellm, "-e", "tenant_key_tenant=team-a", "-e", "tenant_key_reveal=true")
    assert code == 0, output
    assert recap_changed(output) == 0, output
    assert litellm.mutations() == before
    assert "sk-" not in output.replace(MASTER_KEY, ""), (
        "an existing key's secret cannot be shown, and nothing else may be"
    )
    assert "unchanged" in output


def test_secret_goes_to_kubernetes_first_and_a_failed_write_creates_no_key(inventory, litellm, tmp_path):
    """No reveal, Secret storage on, and no cluster to write to: the run stops at the Secret, before the key
    exists (so no key whose secret nobody has), and the generated secret appears nowhere in the output."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "none",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "none", "user": {"token": "unused"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
            }
        )
    )
    code, output = run(
        inventory,
        litellm,
        "-e",
        "tenant_key_tenant=team-b",
        "-e",
        "tenant_key_alias=team-b-ci",
        "-e",
        "tenant_key_store_secret=true",
        "-e",
        f"cluster_kubeconfig={kubeconfig}",
        "-e",
        "cluster_kube_context=none",
        team="team-b",
    )
    assert code != 0, output
    assert "Store the secret in a Kubernetes Secret before the key exists" in output, output
    assert "censored" in output, output
    assert not re.search(r"sk-[A-Za-z0-9]{48}", output), output
    assert not litellm.keys, "the key was created although its secret could not be stored"


def test_reveal_is_refused_under_awx_before_any_change(inventory, litellm):
    code, output = run(
        inventory, litellm, "-e", "tenant_key_tenant=team-a", "-e", "tenant_key_reveal=true", "-e", "awx_job_id=42"
    )
    assert code != 0
    assert "refused under AWX" in output, output
    assert litellm.mutations() == [("POST", "/team/new")]


def test_unknown_tenant_and_missing_team_stop_before_any_change(inventory, litellm):
    code, output = run(inventory, litellm, "-e", "tenant_key_tenant=team-z", "-e", "tenant_key_reveal=true")
    assert code != 0
    assert "tenant_key_tenant 'team-z' must be an inference_tenants name (team-a, team-b" in output, output

    code, output = run(inventory, litellm, "-e", "tenant_key_tenant=team-b", "-e", "tenant_key_reveal=true")
    assert code != 0
    assert "LiteLLM has no team 'team-b'" in output, output
    assert litellm.mutations() == [("POST", "/team/new")]
