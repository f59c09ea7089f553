"""playbooks/kubeadm_artifacts.yml against a STAND-IN of the upstream release hosts (never counted as proof of them).

A loopback HTTP server serves stand-in release files at the paths the real releases use (dl.k8s.io's
release layout, GitHub's releases/download layout), each with a checksum file in the format its real release
publishes: a bare sha256 (Kubernetes, CNI plugins' .sha256 is "sum  name"), "sum  name" lines (runc,
containerd). The files are small stand-ins, not real binaries; no image is pulled (no registry here).
What this proves: the playbook's URLs and unpacking match those layouts, every download is checked against the
published checksum, a tampered file is refused and leaves no SHA256SUMS, and the directory it writes is the
one the kubeadm role checks (the role's own module accepts it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from cluster_support import ansible_playbook

ROOT = Path(__file__).resolve().parents[3]
PINS = yaml.safe_load((ROOT / "group_vars" / "all" / "versions.yml").read_text())
K8S = PINS["kubeadm_kubernetes_version"]
CONTAINERD = PINS["kubeadm_containerd_version"]
RUNC = PINS["kubeadm_runc_version"]
CNI = PINS["kubeadm_cni_plugins_version"]
CRICTL = PINS["kubeadm_crictl_version"]

sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.inference.platform.plugins.modules.node_artifacts import check_directory  # noqa: E402


def stand_in_program(name: str) -> bytes:
    return f"#!/bin/sh\n# STAND-IN for {name}, served by a test\necho {name} stand-in\n".encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tarball(members: dict[str, bytes], gz: bool = True) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def put(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def upstream(root: Path) -> None:
    """The stand-in release files and their published checksum files."""
    kube = f"release/{K8S}/bin/linux/amd64"
    for name in ("kubeadm", "kubelet", "kubectl"):
        data = stand_in_program(name)
        put(root, f"{kube}/{name}", data)
        put(root, f"{kube}/{name}.sha256", sha(data).encode())  # a bare sum, as dl.k8s.io publishes it
    runc = f"opencontainers/runc/releases/download/{RUNC}"
    data = stand_in_program("runc")
    put(root, f"{runc}/runc.amd64", data)
    put(root, f"{runc}/runc.sha256sum", f"{sha(b'arm')}  runc.arm64\n{sha(data)}  runc.amd64\n".encode())
    name = f"containerd-{CONTAINERD.removeprefix('v')}-linux-amd64.tar.gz"
    data = tarball({f"bin/{b}": stand_in_program(b) for b in ("containerd", "containerd-shim-runc-v2", "ctr")})
    put(root, f"containerd/containerd/releases/download/{CONTAINERD}/{name}", data)
    put(
        root,
        f"containerd/containerd/releases/download/{CONTAINERD}/{name}.sha256sum",
        f"{sha(data)}  {name}\n".encode(),
    )
    name = f"cni-plugins-linux-amd64-{CNI}.tgz"
    data = tarball(
        {f"./{p}": stand_in_program(p) for p in ("bridge", "host-local", "loopback", "portmap", "bandwidth")}
    )
    put(root, f"containernetworking/plugins/releases/download/{CNI}/{name}", data)
    put(root, f"containernetworking/plugins/releases/download/{CNI}/{name}.sha256", f"{sha(data)}  {name}\n".encode())
    name = f"crictl-{CRICTL}-linux-amd64.tar.gz"
    data = tarball({"crictl": stand_in_program("crictl")})
    put(root, f"kubernetes-sigs/cri-tools/releases/download/{CRICTL}/{name}", data)
    put(root, f"kubernetes-sigs/cri-tools/releases/download/{CRICTL}/{name}.sha256", sha(data).encode())


@pytest.fixture
def stand_in(tmp_path):
    """The stand-in upstream on a loopback port: (its root directory, its URL)."""
    root = tmp_path / "upstream"
    upstream(root)
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def fill(url: str, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [
            ansible_playbook(),
            "playbooks/kubeadm_artifacts.yml",
            *("-e", f"kubeadm_artifacts_dir={out}"),
            *("-e", f"kubeadm_artifacts_kubernetes_url={url}/release"),
            *("-e", f"kubeadm_artifacts_github_url={url}"),
            *("-e", "kubeadm_artifacts_pull_images=false"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_fills_the_layout_the_role_checks(stand_in, tmp_path):
    _, url = stand_in
    out = tmp_path / "artifacts"
    proc = fill(url, out)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for name in ("kubeadm", "kubelet", "kubectl", "runc", "containerd", "containerd-shim-runc-v2", "ctr", "crictl"):
        assert (out / "bin" / name).read_bytes() == stand_in_program(name), name
        assert os.access(out / "bin" / name, os.X_OK), name
    assert (out / "cni" / "bridge").read_bytes() == stand_in_program("bridge")
    subprocess.run(["sha256sum", "--quiet", "--strict", "-c", "SHA256SUMS"], cwd=out, check=True)
    manifest = json.loads((out / "artifacts.json").read_text())
    assert manifest["versions"]["kubernetes"] == K8S and manifest["versions"]["containerd"] == CONTAINERD
    files = [f"bin/{b}" for b in ("kubeadm", "kubelet", "kubectl", "runc", "containerd", "ctr", "crictl")]
    files += ["cni/bridge", "cni/loopback", "cni/portmap"]
    problems, *_ = check_directory(str(out), "SHA256SUMS", "artifacts.json", files, {"containerd": CONTAINERD}, [])
    assert problems == []


def test_a_file_that_does_not_match_its_published_checksum_is_refused(stand_in, tmp_path):
    root, url = stand_in
    (root / f"release/{K8S}/bin/linux/amd64/kubelet").write_bytes(b"#!/bin/sh\necho tampered in transit\n")
    out = tmp_path / "artifacts"
    proc = fill(url, out)
    assert proc.returncode != 0
    output = " ".join((proc.stdout + proc.stderr).split())
    assert "bin/kubelet" in output and "checksum" in output.lower()
    assert not (out / "bin" / "kubelet").exists()
    assert not (out / "SHA256SUMS").exists()
