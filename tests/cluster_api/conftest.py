"""Session fixtures: a real Kubernetes control plane on 127.0.0.1 (see README.md in this directory).

``control_plane``      ControlPlane (control_plane.py): etcd + kube-apiserver (+ kube-controller-manager when
                       built) started once per session from the binaries scripts/build-control-plane.sh
                       built; ``.kubeconfig`` (admin, group system:masters), ``.server``, ``.version``,
                       ``.pki``, ``.get(path)``. Stopped, and checked stopped, at the end of the session.
``k8s_api``            kubernetes.client.ApiClient for the admin kubeconfig.
``namespace``          (function scope) a fresh namespace, deleted afterwards.
``keda_crd``           the KEDA ScaledObject CRD (tests/fixtures/reference/crds/keda) applied and Established, for
                       one test module; deleted after it, since test_platform_apply.py installs the real KEDA
                       chart, which owns that CRD and refuses to adopt one Helm did not create.
``helm_bin_dir``       directory of the Helm CLI scripts/build-helm.sh built from its Go module.

If the binaries are missing every test here fails, naming the build script to run.
INFERENCE_PLATFORM_SKIP_CONTROL_PLANE=1 skips these tests instead, with that reason shown.
INFERENCE_PLATFORM_KUBERNETES_VERSION selects another built version than the one the project pins.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from control_plane import (
    BUILD_SCRIPT,
    REPO_ROOT,
    ControlPlane,
    bin_dir_for_version,
    missing_binaries,
    read_stamp,
    wait_for,
)

SKIP_ENV = "INFERENCE_PLATFORM_SKIP_CONTROL_PLANE"
VERSION_ENV = "INFERENCE_PLATFORM_KUBERNETES_VERSION"
HERE = Path(__file__).resolve().parent
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "reference" / "crds" / "keda"
KEDA_CRD = FIXTURES / "keda.sh_scaledobjects.yaml"
HELM_BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-helm.sh"

_TIMINGS: dict[str, float] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(SKIP_ENV) != "1":
        return
    skip = pytest.mark.skip(reason=f"{SKIP_ENV}=1: tests against a real kube-apiserver skipped on request")
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _TIMINGS:
        terminalreporter.write_sep("-", "real control plane (measured this session)")
        for name, seconds in _TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.2f} s")


@pytest.fixture(scope="session")
def control_plane_bin_dir() -> Path:
    version = os.environ.get(VERSION_ENV)
    bin_dir = bin_dir_for_version(version)
    gone = missing_binaries(bin_dir)
    if gone:
        command = BUILD_SCRIPT.relative_to(REPO_ROOT).as_posix() + (f" --version {version}" if version else "")
        pytest.fail(
            f"no real control plane to test against: {', '.join(gone)} missing in {bin_dir}. "
            f"Build them (from Go modules, cached by version; 8-30 min cold by machine load, ~1 s cached) with: "
            f"{command}  (or set {SKIP_ENV}=1 to skip these tests on purpose)",
            pytrace=False,
        )
    return bin_dir


@pytest.fixture(scope="session")
def helm_bin_dir() -> Path:
    """Directory of the Helm CLI scripts/build-helm.sh built (helm_version of versions.yml)."""
    completed = subprocess.run(
        [str(HELM_BUILD_SCRIPT), "--print-dir"], capture_output=True, text=True, check=True, timeout=30
    )
    bin_dir = Path(completed.stdout.strip())
    if not (bin_dir / "helm").is_file():
        pytest.fail(
            f"no Helm CLI to apply the platform's charts with: {bin_dir / 'helm'} is missing. Build it (from its Go "
            f"module, cached by version; about 2 min) with: {HELM_BUILD_SCRIPT.relative_to(REPO_ROOT).as_posix()}  "
            f"(or set {SKIP_ENV}=1 to skip these tests on purpose)",
            pytrace=False,
        )
    return bin_dir


@pytest.fixture(scope="session")
def control_plane_stamp(control_plane_bin_dir: Path) -> dict[str, str]:
    return read_stamp(control_plane_bin_dir)


@pytest.fixture(scope="session")
def control_plane(control_plane_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    work_dir = tmp_path_factory.mktemp("cluster-api")
    start = time.monotonic()
    cp = ControlPlane.start(control_plane_bin_dir, work_dir)
    _TIMINGS["control plane start (certs, etcd, apiserver /readyz, controller-manager)"] = time.monotonic() - start
    for name, seconds in cp.timings.items():
        _TIMINGS[name] = seconds
    try:
        yield cp
    finally:
        start = time.monotonic()
        cp.stop()
        _TIMINGS["control plane stop"] = time.monotonic() - start
        alive = [p.name for p in cp.processes if p.popen.poll() is None]
        assert not alive, f"still running after stop: {alive}"


@pytest.fixture(scope="session")
def k8s_api(control_plane: ControlPlane):
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace(k8s_api) -> Iterator[str]:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    name = f"t-{uuid.uuid4().hex[:10]}"
    client.CoreV1Api(k8s_api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    # Namespace deletion is finished by the controller manager's namespace controller (if it runs).
    try:
        client.CoreV1Api(k8s_api).delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:  # a test may have deleted it already
            raise


@pytest.fixture(scope="module")
def keda_crd(k8s_api) -> Iterator[dict]:
    from kubernetes import client

    manifest = yaml.safe_load(KEDA_CRD.read_text())
    ext = client.ApiextensionsV1Api(k8s_api)
    # The Python model classes would drop fields they do not know; send the manifest as a plain dict.
    ext.create_custom_resource_definition(manifest)

    def established():
        crd = ext.read_custom_resource_definition(manifest["metadata"]["name"])
        conditions = {c.type: c.status for c in (crd.status.conditions or [])}
        return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"

    wait_for("CRD scaledobjects.keda.sh Established", established, timeout=30)
    yield manifest
    ext.delete_custom_resource_definition(manifest["metadata"]["name"])

    def gone():
        names = {crd.metadata.name for crd in ext.list_custom_resource_definition().items}
        return manifest["metadata"]["name"] not in names

    wait_for("CRD scaledobjects.keda.sh deleted", gone, timeout=60)
