"""node_artifacts against artifacts directories made in the test: real files, real SHA256SUMS, real image archives.

The image archives are real tar files in the two layouts containerd imports: an OCI image layout (``index.json``
with ``org.opencontainers.image.ref.name``, as ``podman save --format oci-archive`` writes it) and a Docker
archive (``manifest.json`` with ``RepoTags``, as the upstream Kubernetes release's image tarballs are).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
from ansible_collections.inference.platform.plugins.modules import node_artifacts
from module_runner import run_module

VERSIONS = {"kubernetes": "v1.35.4", "containerd": "v2.2.10"}
PAUSE = "localhost/kubeadm/pause:3.10.1"
PROXY = "localhost/kubeadm/kube-proxy:v1.35.4"


def _tar(path, members):
    with tarfile.open(path, "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def oci_archive(path, ref):
    index = {
        "schemaVersion": 2,
        "manifests": [
            {"digest": "sha256:" + "0" * 64, "size": 1, "annotations": {"org.opencontainers.image.ref.name": ref}}
        ],
    }
    _tar(path, {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index).encode()})


def docker_archive(path, ref):
    _tar(path, {"manifest.json": json.dumps([{"Config": "c.json", "RepoTags": [ref], "Layers": []}]).encode()})


def write_sums(root):
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(root)}")
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")


@pytest.fixture
def artifacts(tmp_path):
    root = tmp_path / "v1.35.4"
    (root / "bin").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "bin" / "kubelet").write_bytes(b"kubelet binary")
    (root / "bin" / "containerd").write_bytes(b"containerd binary")
    oci_archive(root / "images" / "pause.tar", PAUSE)
    docker_archive(root / "images" / "kube-proxy.tar", PROXY)
    manifest = {"versions": VERSIONS, "images": {"images/pause.tar": PAUSE, "images/kube-proxy.tar": PROXY}}
    (root / "artifacts.json").write_text(json.dumps(manifest))
    write_sums(root)
    return root


def check(root, **overrides):
    args = {"path": str(root), "files": ["bin/kubelet", "bin/containerd"], "versions": VERSIONS}
    args["images"] = [PAUSE, PROXY]
    args.update(overrides)
    return run_module(node_artifacts.main, args)


def test_a_complete_directory_passes_and_reports_checksums_and_image_names(artifacts):
    result = check(artifacts)
    assert not result.failed, result.get("msg")
    assert result["changed"] is False
    assert result["checksums"]["bin/kubelet"] == hashlib.sha256(b"kubelet binary").hexdigest()
    assert result["image_archives"] == {"images/kube-proxy.tar": [PROXY], "images/pause.tar": [PAUSE]}


def test_check_mode_reads_the_same(artifacts):
    result = run_module(node_artifacts.main, {"path": str(artifacts), "files": ["bin/kubelet"]}, check_mode=True)
    assert not result.failed and result["changed"] is False


def test_a_missing_file_is_refused_by_name(artifacts):
    (artifacts / "bin" / "kubelet").unlink()
    result = check(artifacts)
    assert result.failed
    assert "REFUSED" in result["msg"] and "nothing was changed" in result["msg"]
    assert f"{artifacts}/bin/kubelet: missing" in result["msg"]
    assert result["error"]["code"] == "artifacts_refused"


def test_a_damaged_file_is_refused_with_both_checksums(artifacts):
    (artifacts / "bin" / "containerd").write_bytes(b"containerd binary, truncated in transfer")
    result = check(artifacts)
    assert result.failed
    [problem] = result["error"]["details"]["problems"]
    assert problem.startswith(f"{artifacts}/bin/containerd: sha256 ")
    assert hashlib.sha256(b"containerd binary").hexdigest() in problem


def test_a_file_the_checksums_do_not_list_is_refused(artifacts):
    (artifacts / "bin" / "crictl").write_bytes(b"crictl")
    result = check(artifacts, files=["bin/kubelet", "bin/crictl"])
    assert result.failed
    assert "bin/crictl: not listed in SHA256SUMS" in result["msg"]


def test_artifacts_of_another_release_are_refused(artifacts):
    result = check(artifacts, versions={"kubernetes": "v1.35.4", "containerd": "v2.2.11"})
    assert result.failed
    assert "containerd is v2.2.10, but v2.2.11 is pinned" in result["msg"]


def test_an_archive_that_carries_another_image_is_refused(artifacts):
    oci_archive(artifacts / "images" / "pause.tar", "localhost/kubeadm/pause:3.9")
    write_sums(artifacts)
    result = check(artifacts)
    assert result.failed
    assert f"images/pause.tar: carries localhost/kubeadm/pause:3.9, but artifacts.json says {PAUSE}" in result["msg"]
    assert f"no image archive provides {PAUSE}" in result["msg"]


def test_an_image_the_role_needs_but_no_archive_provides_is_refused(artifacts):
    result = check(artifacts, images=[PAUSE, PROXY, "localhost/kubeadm/flannel:v0.28.10"])
    assert result.failed
    assert "no image archive provides localhost/kubeadm/flannel:v0.28.10" in result["msg"]


def test_a_missing_directory_or_checksums_file_is_refused(tmp_path, artifacts):
    assert "no such directory" in check(tmp_path / "absent")["msg"]
    (artifacts / "SHA256SUMS").unlink()
    assert "SHA256SUMS" in check(artifacts)["msg"]


def test_checksum_lines_in_sha256sum_format():
    digest = "a" * 64
    assert node_artifacts.parse_checksums(f"{digest}  bin/x\n{digest} *./bin/y\n\n") == {
        "bin/x": digest,
        "bin/y": digest,
    }
    with pytest.raises(ValueError):
        node_artifacts.parse_checksums("not-a-checksum bin/x\n")
