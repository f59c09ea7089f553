"""artifacts_to_install: which checked artifacts a host lacks, from one real sha256sum run over what it has."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.filter.node_artifacts import artifacts_to_install


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def host(tmp_path):
    """A host directory with one current file, one outdated file and one missing file; sha256sum's real output."""
    (tmp_path / "kubelet").write_bytes(b"kubelet v1.35.4")
    (tmp_path / "containerd").write_bytes(b"containerd v2.2.9")
    wanted = [
        {"src": "bin/kubelet", "dest": str(tmp_path / "kubelet"), "sha256": sha(b"kubelet v1.35.4")},
        {"src": "bin/containerd", "dest": str(tmp_path / "containerd"), "sha256": sha(b"containerd v2.2.10")},
        {"src": "bin/runc", "dest": str(tmp_path / "runc"), "sha256": sha(b"runc v1.3.7")},
    ]
    out = subprocess.run(["sha256sum", "--", *(w["dest"] for w in wanted)], capture_output=True, text=True, check=False)
    assert out.returncode == 1  # one file is missing: sha256sum says so on stderr and lists the others
    return out.stdout, wanted


def test_only_missing_and_different_files_are_installed(host):
    installed, wanted = host
    assert [w["src"] for w in artifacts_to_install(installed, wanted)] == ["bin/containerd", "bin/runc"]


def test_lines_or_text_and_uppercase_digests_alike(host):
    installed, wanted = host
    upper = [line[:64].upper() + line[64:] for line in installed.splitlines()]
    assert artifacts_to_install(upper, wanted) == artifacts_to_install(installed, wanted)


def test_nothing_to_do_when_all_match(host):
    installed, wanted = host
    assert artifacts_to_install(installed, wanted[:1]) == []


def test_everything_when_nothing_is_installed(host):
    _, wanted = host
    assert artifacts_to_install("", wanted) == wanted


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError):
        artifacts_to_install({"not": "output"}, [])
    with pytest.raises(AnsibleFilterError):
        artifacts_to_install("", [{"dest": "/usr/local/bin/kubelet"}])
