"""The validate stage touches no host: run against this scenario's inventory, it passes or fails with its
message, and the lab host's filesystem is byte for byte what it was before."""

import json
import os
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
# Everything an Ansible task could have left behind on a host (the package database, configuration,
# home of root, local software), listed with size and modification time. /root/.ansible is left out:
# testinfra itself reaches the host through Ansible, whose temporary directory lives there.
SNAPSHOT = (
    "find /etc /root /usr /opt /srv /home /var/lib/dpkg /var/lib/apt -xdev -path /root/.ansible -prune"
    " -o -printf '%p %s %T@\\n' 2>/dev/null | sort | sha256sum"
)


def validate(*extra):
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    result = subprocess.run(
        [
            str(Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin" / "ansible-playbook"),
            "-i",
            str(INVENTORY),
            "playbooks/validate.yml",
            *extra,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    report = json.loads(result.stdout)
    failures = [
        outcome.get("msg")
        for play in report["plays"]
        for task in play["tasks"]
        for outcome in task["hosts"].values()
        if outcome.get("failed")
    ]
    return result.returncode, report["stats"], failures


@pytest.fixture
def unchanged(host):
    before = host.check_output(SNAPSHOT)
    yield
    assert host.check_output(SNAPSHOT) == before, "the validate stage changed the host"


def test_a_broken_setting_fails_with_its_message_and_changes_nothing(host, unchanged):
    rc, stats, failures = validate("-e", "pod_cidr=10.0.128.0/17")
    assert rc == 2
    assert set(stats) == {"localhost"}
    assert failures == [
        [
            "private_network_cidr 10.0.0.0/16 and pod_cidr 10.0.128.0/17 overlap in the inventory's group_vars/all "
            f"({INVENTORY}): packets for one would be routed to the other; "
            "choose pod_cidr outside 10.0.0.0/16 (the k3s "
            "defaults are pod_cidr 10.42.0.0/16, service_cidr 10.43.0.0/16)."
        ]
    ]


def test_a_node_outside_the_private_network_fails_and_changes_nothing(host, unchanged):
    rc, _, failures = validate("-e", "private_network_cidr=10.9.0.0/16")
    assert rc == 2
    assert failures == [
        [
            "Host molecule-vi-server-1: node_ip 10.0.1.10 is outside private_network_cidr 10.9.0.0/16: "
            "write the host's "
            "address on the private network, or correct private_network_cidr in the inventory's group_vars/all."
        ]
    ]


def test_validate_never_connects_to_a_host(host, unchanged):
    """Every host, the controller included, made unreachable (ssh to a TEST-NET address): validate still
    passes, so it opened no connection at all."""
    rc, stats, failures = validate("-e", "ansible_connection=ssh", "-e", "ansible_host=192.0.2.1")
    assert (rc, failures) == (0, [])
    assert set(stats) == {"localhost"}
    assert stats["localhost"]["changed"] == 0
