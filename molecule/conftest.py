"""Testinfra on lab hosts: run each command with `podman exec` instead of one Ansible task per command.

Molecule hands testinfra an Ansible inventory whose hosts use the podman connection, which
testinfra's Ansible backend does not map to a native backend: every check would then run as an
Ansible module round-trip (seconds each). The lab hosts are local podman containers named like
their inventory hosts, so the verify steps reach them directly; what is checked is the same.
"""

import pytest
import testinfra


@pytest.fixture(scope="module")
def host(_testinfra_host):
    return testinfra.get_host(f"podman://{_testinfra_host.backend.get_hostname()}")
