"""playbooks/reset.yml refuses, on the controller and before any host is contacted, unless
confirm_reset names the cluster. The inventory's hosts are local hosts that must never be reached."""

from __future__ import annotations

from day2_support import local_inventory, recap, run_playbook


def inventory(tmp_path):
    return local_inventory(
        tmp_path,
        hosts={"server-1": {}, "agent-1": {}},
        groups={"k8s_servers": ["server-1"], "k8s_agents": ["agent-1"], "gpu_nodes": ["agent-1"]},
        all_vars={"cluster_name": "prod-a"},
    )


def test_wrong_confirmation_is_refused_before_any_host(tmp_path):
    run = run_playbook(inventory(tmp_path), "reset.yml", "-e", "confirm_reset=prod-b")
    assert run.returncode != 0
    text = " ".join((run.stdout + run.stderr).split())
    assert "REFUSED: reset destroys the cluster 'prod-a'" in text
    assert "Confirm with -e confirm_reset=prod-a (given: 'prod-b'). Nothing was changed." in text
    assert set(recap(run.stdout)) == {"localhost"}


def test_missing_confirmation_is_refused_with_the_value_to_type(tmp_path):
    """Without -e confirm_reset the operator reads the REFUSED text naming the value, not an argument-spec dump."""
    run = run_playbook(inventory(tmp_path), "reset.yml")
    assert run.returncode != 0
    text = " ".join((run.stdout + run.stderr).split())
    assert "REFUSED: reset destroys the cluster 'prod-a'" in text
    assert "Confirm with -e confirm_reset=prod-a (given: ''). Nothing was changed." in text
    assert "argument_spec_data" not in text and "missing required arguments" not in text
    assert set(recap(run.stdout)) == {"localhost"}


def test_role_refuses_without_confirmation_even_when_included_directly(tmp_path):
    playbook = tmp_path / "direct.yml"
    playbook.write_text(
        "- hosts: server-1\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role: {name: node_reset}\n"
        "      vars: {node_reset_confirm: someone-else}\n",
        encoding="utf-8",
    )
    run = run_playbook(inventory(tmp_path), str(playbook))
    assert run.returncode != 0
    assert "node_reset deletes Kubernetes and its data from this host" in " ".join((run.stdout + run.stderr).split())
    assert recap(run.stdout)["server-1"]["changed"] == 0
