"""The day-2 playbooks' structure, read from the YAML: the order of plays and tasks the issue asks for
(upgrade: gate before any change, servers before agents, serial 1, drain before the upgrade, uncordon
after, verify gate between nodes, platform after the nodes in serving order; reset and scale: the
guard first), and that every playbook checks its argument spec on the controller first."""

from __future__ import annotations

import subprocess

import pytest
from day2_support import PROJECT_ROOT, ansible_playbook, load_yaml

PLAYBOOKS = PROJECT_ROOT / "playbooks"
DAY2 = ["upgrade", "scale", "model_rollout", "reset"]
CONTRACT = {
    "model_rollout": {
        "model_rollout_name": ("str", True),
        "model_rollout_hf_id": ("str", False),
        "model_rollout_revision": ("str", False),
        "model_rollout_gpus": ("int", False),
        "model_rollout_replicas_min": ("int", False),
        "model_rollout_replicas_max": ("int", False),
    },
    "upgrade": {"upgrade_kubernetes_version": ("str", True)},
    "scale": {"scale_new_hosts": ("list", True)},
    "reset": {"confirm_reset": ("str", False)},
}


def plays(stem):
    return load_yaml(PLAYBOOKS / f"{stem}.yml")


def task_names(path):
    return [task["name"] for task in load_yaml(path)]


def index_of(names, fragment):
    matches = [i for i, name in enumerate(names) if fragment in name]
    assert matches, f"no task with {fragment!r} in {names}"
    return matches[0]


@pytest.mark.parametrize("stem", DAY2)
def test_first_play_validates_the_argument_spec_on_the_controller(stem):
    first = plays(stem)[0]
    assert first["hosts"] == "localhost" and first["connection"] == "local"
    task = first["tasks"][0]
    assert "ansible.builtin.validate_argument_spec" in task
    assert f"/argument_specs/{stem}.yml" in task["ansible.builtin.validate_argument_spec"]["argument_spec"]


@pytest.mark.parametrize("stem", DAY2)
def test_argument_spec_keeps_the_agreed_names_and_types(stem):
    spec = load_yaml(PLAYBOOKS / "argument_specs" / f"{stem}.yml")
    assert spec["short_description"]
    for name, (kind, required) in CONTRACT[stem].items():
        option = spec["options"][name]
        assert option["type"] == kind, f"{stem}: {name} must be {kind}"
        assert bool(option.get("required", False)) is required, f"{stem}: {name} required={required}"
        assert option.get("description")
    if stem == "scale":
        assert spec["options"]["scale_new_hosts"]["elements"] == "str"


@pytest.mark.parametrize("stem", DAY2)
def test_syntax_check(stem):
    run = subprocess.run(
        [ansible_playbook(), "--syntax-check", "-i", "inventories/lab", f"playbooks/{stem}.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_upgrade_gates_every_node_before_any_change():
    gate = plays("upgrade")[1]
    assert gate["hosts"] == "k8s_cluster"
    assert gate["any_errors_fatal"] is True
    assert gate["tasks"][0]["ansible.builtin.include_role"] == {"name": "cluster_upgrade", "tasks_from": "gate"}
    gate_tasks = task_names(PROJECT_ROOT / "roles" / "cluster_upgrade" / "tasks" / "gate.yml")
    assert index_of(gate_tasks, "Refuse a downgrade") < index_of(gate_tasks, "Say what this node will do")
    assert index_of(gate_tasks, "Refuse to skip a minor version") < index_of(gate_tasks, "Say what this node will do")
    text = (PROJECT_ROOT / "roles" / "cluster_upgrade" / "tasks" / "gate.yml").read_text(encoding="utf-8")
    assert text.count("is version(") >= 3


def test_upgrade_takes_servers_then_agents_one_at_a_time():
    upgrade = plays("upgrade")
    node_plays = [
        play
        for play in upgrade
        if any(
            task.get("ansible.builtin.include_role", {}).get("tasks_from") == "node" for task in play.get("tasks", [])
        )
    ]
    assert [play["hosts"] for play in node_plays] == ["k8s_servers", "k8s_agents"]
    for play in node_plays:
        assert play["serial"] == 1
        assert play["any_errors_fatal"] is True
    order = [play.get("name") for play in upgrade]
    assert order.index(node_plays[0]["name"]) > 1, "node plays come after the gate"


def test_upgrade_node_order_drain_upgrade_uncordon_verify():
    names = task_names(PROJECT_ROOT / "roles" / "cluster_upgrade" / "tasks" / "upgrade_node.yml")
    steps = [
        index_of(names, "Cordon the node"),
        index_of(names, "Move the serving replicas off the node"),
        index_of(names, "Drain the node"),
        index_of(names, "Upgrade k3s on the node"),
        index_of(names, "Wait until the node is Ready at the target version"),
        index_of(names, "Uncordon the node"),
        index_of(names, "Verify gate before the next node"),
    ]
    assert steps == sorted(steps)
    assert index_of(names, "Upgrade kubeadm") > index_of(names, "Drain the node")
    assert index_of(names, "Upgrade kubeadm") < index_of(names, "Uncordon the node")
    verify = task_names(PROJECT_ROOT / "roles" / "cluster_upgrade" / "tasks" / "verify_node.yml")
    assert verify == ["Wait until every node is Ready", "Wait until the node allocates its GPUs again"]


def test_upgrade_platform_after_the_nodes_in_serving_order():
    upgrade = plays("upgrade")
    platform_index = next(
        i for i, play in enumerate(upgrade) if play.get("name", "").startswith("Upgrade the platform")
    )
    agents_index = next(i for i, play in enumerate(upgrade) if play.get("hosts") == "k8s_agents")
    assert platform_index > agents_index
    (task,) = upgrade[platform_index]["tasks"]
    assert task["ansible.builtin.include_role"] == {"name": "platform_delivery", "tasks_from": "component"}
    assert task["loop"] == "{{ platform_components | sort(attribute='upgrade_order') }}"
    registry = load_yaml(PROJECT_ROOT / "group_vars/all/platform.yml")["platform_components"]
    in_order = [entry["name"] for entry in sorted(registry, key=lambda entry: entry["upgrade_order"])]
    # GPUs allocatable before anything else moves; the models last, each rolling with a surge replica.
    assert in_order[0] == "gpu_operator" and in_order[-1] == "vllm", in_order
    assert upgrade[-1]["ansible.builtin.import_playbook"] == "verify.yml"


def test_reset_refuses_before_any_host_and_drains_before_resetting():
    reset = plays("reset")
    guard = reset[0]["tasks"][1]["ansible.builtin.assert"]
    assert guard["that"] == ["confirm_reset | default('') == cluster_name"]
    hosts = [play["hosts"] for play in reset]
    assert hosts == ["localhost", "localhost", "k8s_agents", "k8s_servers[1:]", "k8s_cluster"]
    assert reset[3]["serial"] == 1
    names = task_names(PROJECT_ROOT / "roles" / "node_reset" / "tasks" / "main.yml")
    assert names[0] == "Refuse to reset without the cluster's name as confirmation"
    for entry in ("drain.yml", "platform.yml"):
        first = load_yaml(PROJECT_ROOT / "roles" / "node_reset" / "tasks" / entry)[0]
        assert "node_reset_confirm" in " ".join(first["ansible.builtin.assert"]["that"])


def test_scale_checks_provisions_then_prepares_joins_waits_and_verifies():
    scale = plays("scale")
    names = [play.get("name", "") for play in scale]
    assert names[1] == "Validate the inventory with the new hosts"
    assert scale[1]["ansible.builtin.import_playbook"] == "validate.yml"
    # New Hetzner dedicated servers: the Robot account (validate, account) on the controller, then each installed.
    robot_account = [task["ansible.builtin.include_role"] for task in scale[2]["tasks"]]
    assert [(role["name"], role["tasks_from"]) for role in robot_account] == [
        ("hetzner_robot", "validate"),
        ("hetzner_robot", "account"),
    ]
    assert scale[3]["tasks"][0]["ansible.builtin.include_role"] == {"name": "hetzner_robot"}
    assert "hetzner_robot" in scale[3]["tasks"][0]["when"]
    assert [role["role"] for role in scale[4]["roles"]] == ["preflight", "node_identity", "host_prep"]
    assert scale[5]["tasks"][0]["ansible.builtin.include_role"]["name"] == "{{ cluster_distribution }}"
    assert scale[6]["name"] == "Wait for the new nodes' GPUs"
    assert scale[-1]["ansible.builtin.import_playbook"] == "verify.yml"
    for play in scale[3:7]:
        assert "scale_new_hosts" in play["hosts"]
