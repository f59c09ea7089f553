"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver and kube-controller-manager.

The binaries come from ``scripts/build-control-plane.sh`` (built from Go modules through the Go module
proxy, cached under ~/.cache/inference-platform/control-plane/<version>/bin). Nothing here downloads
anything. Everything listens on 127.0.0.1 only, on free ports, with certificates made on the spot:

* etcd: client and peer URLs on loopback (plain HTTP on loopback, data dir in the work dir);
* kube-apiserver: TLS with a throw-away CA, client-certificate authentication, RBAC authorization,
  the default admission plugins, a service-account key pair (token signing and verification);
* kube-controller-manager (when built): its own client certificate (``system:kube-controller-manager``)
  and per-controller service-account credentials, as kubeadm sets it up; no leader election.

There is no kubelet, no scheduler and no node: pods are accepted and stay Pending, they never run.

Use from Python (the pytest fixtures in conftest.py do this)::

    with ControlPlane.start(bin_dir, work_dir) as cp:
        cp.kubeconfig  # admin kubeconfig (client certificate, group system:masters)

or by hand, for poking at it or for other tests (stops on Ctrl-C)::

    .venv/bin/python tests/cluster_api/control_plane.py [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-control-plane.sh"
SERVICE_CIDR = "10.96.0.0/12"
SERVICE_IP = "10.96.0.1"  # first address of SERVICE_CIDR: the `kubernetes` Service
BINARIES = ("etcd", "kube-apiserver")
OPTIONAL_BINARIES = ("kube-controller-manager",)


class ControlPlaneError(RuntimeError):
    pass


def bin_dir_for_version(version: str | None = None) -> Path:
    """Where build-control-plane.sh puts (or has put) the binaries; asks the script, builds nothing."""
    env = dict(os.environ)
    if version:
        env["KUBERNETES_VERSION"] = version
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-dir"], check=True, capture_output=True, text=True, env=env
    )
    return Path(out.stdout.strip())


def missing_binaries(bin_dir: Path) -> list[str]:
    return [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]


def read_stamp(bin_dir: Path) -> dict[str, str]:
    stamp = bin_dir.parent / "stamp"
    if not stamp.is_file():
        return {}
    pairs = (line.split("=", 1) for line in stamp.read_text().splitlines() if "=" in line)
    return dict(pairs)


def pinned_kubernetes_version() -> str:
    """kubeadm_kubernetes_version from group_vars/all/versions.yml (the release the project pins)."""
    import yaml

    versions = yaml.safe_load((REPO_ROOT / "group_vars" / "all" / "versions.yml").read_text())
    return str(versions["kubeadm_kubernetes_version"])


def wait_for(what: str, probe, timeout: float = 30.0, interval: float = 0.25):
    """Poll ``probe`` until it returns something truthy and return that; AssertionError otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not true after {timeout:.0f} s (last value: {last!r})")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --- certificates ---------------------------------------------------------------------------------


@dataclass
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    kcm_cert: Path
    kcm_key: Path
    front_proxy_ca_cert: Path
    proxy_client_cert: Path
    proxy_client_key: Path
    sa_key: Path
    sa_pub: Path


def _write_key(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _cert(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca: bool, usages=(), sans=()) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    """A throw-away CA, the API server's serving certificate, two client certificates, an SA key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    curve = ec.SECP256R1()
    ca_key = ec.generate_private_key(curve)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inference-platform-test-ca")])
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)

    def leaf(cn: str, org: str | None, usage, sans=()):
        key = ec.generate_private_key(curve)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return key, _cert(x509.Name(attrs), key, ca_name, ca_key, ca=False, usages=[usage], sans=sans)

    server_key, server = leaf(
        "kube-apiserver",
        None,
        ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
            x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
            x509.IPAddress(ipaddress.ip_address(SERVICE_IP)),
        ],
    )
    # Group system:masters is bound to cluster-admin by the API server's bootstrap RBAC policy.
    admin_key, admin = leaf("inference-platform-test-admin", "system:masters", ExtendedKeyUsageOID.CLIENT_AUTH)
    # The bootstrap policy's own identity for the controller manager (ClusterRole system:kube-controller-manager).
    kcm_key, kcm = leaf("system:kube-controller-manager", None, ExtendedKeyUsageOID.CLIENT_AUTH)
    # Aggregation layer (front proxy): its own CA, as kubeadm does, so that no ordinary client certificate
    # can pass itself off as the proxy. Extension API servers (KEDA's metrics server) trust requests so signed.
    fp_ca_key = ec.generate_private_key(curve)
    fp_ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inference-platform-test-front-proxy-ca")])
    fp_ca = _cert(fp_ca_name, fp_ca_key, fp_ca_name, fp_ca_key, ca=True)
    proxy_key = ec.generate_private_key(curve)
    proxy = _cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "front-proxy-client")]),
        proxy_key,
        fp_ca_name,
        fp_ca_key,
        ca=False,
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pki = Pki(
        dir=directory,
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "apiserver.crt",
        server_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        kcm_cert=directory / "controller-manager.crt",
        kcm_key=directory / "controller-manager.key",
        front_proxy_ca_cert=directory / "front-proxy-ca.crt",
        proxy_client_cert=directory / "front-proxy-client.crt",
        proxy_client_key=directory / "front-proxy-client.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
    )
    for path, cert in (
        (pki.ca_cert, ca),
        (pki.server_cert, server),
        (pki.admin_cert, admin),
        (pki.kcm_cert, kcm),
        (pki.front_proxy_ca_cert, fp_ca),
        (pki.proxy_client_cert, proxy),
    ):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for path, key in (
        (pki.ca_key, ca_key),
        (pki.server_key, server_key),
        (pki.admin_key, admin_key),
        (pki.kcm_key, kcm_key),
        (pki.proxy_client_key, proxy_key),
        (pki.sa_key, sa_key),
    ):
        _write_key(path, key)
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return pki


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    # JSON is YAML: no YAML library needed, and every Kubernetes client reads it.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster-api-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": user, "context": {"cluster": "cluster-api-test", "user": user}}],
        "current-context": user,
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path


# --- processes ------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        # Each process leads its own session: signal the group, then escalate.
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def _spawn(name: str, argv: list[str], log_dir: Path) -> Proc:
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    try:
        popen = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    finally:
        handle.close()
    return Proc(name, popen, log)


@dataclass
class ControlPlane:
    bin_dir: Path
    work_dir: Path
    pki: Pki
    api_port: int
    etcd_port: int
    kubeconfig: Path
    version: str
    processes: list[Proc] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.api_port}"

    @property
    def controller_manager(self) -> Proc | None:
        return next((p for p in self.processes if p.name == "kube-controller-manager"), None)

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        ctx.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return ctx

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.server + path, context=self.ssl_context(), timeout=timeout) as resp:  # noqa: S310
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def _check_alive(self) -> None:
        for proc in self.processes:
            code = proc.popen.poll()
            if code is not None:
                raise ControlPlaneError(f"{proc.name} exited with {code}; last log lines ({proc.log}):\n{proc.tail()}")

    def _wait(self, what: str, probe, timeout: float) -> float:
        start = time.monotonic()
        last: object = None
        while time.monotonic() - start < timeout:
            self._check_alive()
            try:
                last = probe()
                if last is True:
                    return time.monotonic() - start
            except (OSError, urllib.error.URLError, ssl.SSLError) as exc:
                last = exc
            time.sleep(0.25)
        logs = "\n".join(f"--- {p.name} ({p.log}):\n{p.tail()}" for p in self.processes)
        raise ControlPlaneError(f"{what} not ready after {timeout:.0f} s (last: {last!r})\n{logs}")

    @classmethod
    def start(
        cls, bin_dir: Path, work_dir: Path, *, controller_manager: bool = True, timeout: float = 90.0
    ) -> ControlPlane:
        gone = missing_binaries(bin_dir)
        if gone:
            raise ControlPlaneError(f"missing in {bin_dir}: {', '.join(gone)}; build them with {BUILD_SCRIPT}")
        work_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        pki = make_pki(work_dir / "pki")
        t_pki = time.monotonic() - t0
        etcd_port, etcd_peer, api_port, kcm_port = free_port(), free_port(), free_port(), free_port()
        kubeconfig = write_kubeconfig(
            work_dir / "admin.kubeconfig",
            f"https://{LOOPBACK}:{api_port}",
            pki.ca_cert,
            pki.admin_cert,
            pki.admin_key,
            "test-admin",
        )
        version = subprocess.run(
            [str(bin_dir / "kube-apiserver"), "--version"], check=True, capture_output=True, text=True
        ).stdout.split()[-1]
        cp = cls(bin_dir, work_dir, pki, api_port, etcd_port, kubeconfig, version)
        cp.timings["pki_seconds"] = t_pki
        try:
            cp._start_all(etcd_peer, kcm_port, controller_manager, timeout)
        except BaseException:
            cp.stop()
            raise
        return cp

    def _start_all(self, etcd_peer: int, kcm_port: int, controller_manager: bool, timeout: float) -> None:
        wd, pki = self.work_dir, self.pki
        etcd_url = f"http://{LOOPBACK}:{self.etcd_port}"
        peer_url = f"http://{LOOPBACK}:{etcd_peer}"
        t0 = time.monotonic()
        self.processes.append(
            _spawn(
                "etcd",
                [
                    str(self.bin_dir / "etcd"),
                    "--name=cluster-api-test",
                    f"--data-dir={wd / 'etcd-data'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=cluster-api-test={peer_url}",
                    "--initial-cluster-state=new",
                    "--log-level=warn",
                    "--quota-backend-bytes=1073741824",
                    "--unsafe-no-fsync",  # a throw-away test store: speed over durability
                ],
                wd,
            )
        )

        def etcd_healthy() -> bool:
            with urllib.request.urlopen(f"{etcd_url}/health", timeout=2) as resp:  # noqa: S310
                return json.loads(resp.read()).get("health") == "true"

        self.timings["etcd_ready_seconds"] = self._wait("etcd /health", etcd_healthy, timeout)

        self.processes.append(
            _spawn(
                "kube-apiserver",
                [
                    str(self.bin_dir / "kube-apiserver"),
                    f"--etcd-servers={etcd_url}",
                    f"--bind-address={LOOPBACK}",
                    f"--advertise-address={LOOPBACK}",
                    f"--secure-port={self.api_port}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    f"--tls-cert-file={pki.server_cert}",
                    f"--tls-private-key-file={pki.server_key}",
                    f"--client-ca-file={pki.ca_cert}",
                    "--authorization-mode=RBAC",
                    "--anonymous-auth=false",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={pki.sa_pub}",
                    f"--service-account-signing-key-file={pki.sa_key}",
                    f"--requestheader-client-ca-file={pki.front_proxy_ca_cert}",
                    "--requestheader-allowed-names=front-proxy-client",
                    "--requestheader-username-headers=X-Remote-User",
                    "--requestheader-group-headers=X-Remote-Group",
                    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                    f"--proxy-client-cert-file={pki.proxy_client_cert}",
                    f"--proxy-client-key-file={pki.proxy_client_key}",
                    # 127.0.0.1 may not be an Endpoints address: do not publish the `kubernetes` Service
                    # endpoints (there is no pod network to reach them from anyway).
                    "--endpoint-reconciler-type=none",
                    f"--cert-dir={wd / 'apiserver-certs'}",
                    "--profiling=false",
                    "--v=1",
                ],
                wd,
            )
        )
        self.timings["apiserver_ready_seconds"] = self._wait(
            "kube-apiserver /readyz", lambda: self.get("/readyz")[0] == 200, timeout
        )
        self.timings["etcd_started_to_apiserver_ready_seconds"] = time.monotonic() - t0

        if controller_manager and os.access(self.bin_dir / "kube-controller-manager", os.X_OK):
            kcm_kubeconfig = write_kubeconfig(
                wd / "controller-manager.kubeconfig",
                self.server,
                pki.ca_cert,
                pki.kcm_cert,
                pki.kcm_key,
                "system:kube-controller-manager",
            )
            self.processes.append(
                _spawn(
                    "kube-controller-manager",
                    [
                        str(self.bin_dir / "kube-controller-manager"),
                        f"--kubeconfig={kcm_kubeconfig}",
                        f"--authentication-kubeconfig={kcm_kubeconfig}",
                        f"--authorization-kubeconfig={kcm_kubeconfig}",
                        f"--bind-address={LOOPBACK}",
                        f"--secure-port={kcm_port}",
                        f"--cert-dir={wd / 'controller-manager-certs'}",
                        "--leader-elect=false",
                        "--use-service-account-credentials=true",
                        f"--service-account-private-key-file={pki.sa_key}",
                        f"--root-ca-file={pki.ca_cert}",
                        f"--cluster-signing-cert-file={pki.ca_cert}",
                        f"--cluster-signing-key-file={pki.ca_key}",
                        f"--service-cluster-ip-range={SERVICE_CIDR}",
                        "--profiling=false",
                        "--v=1",
                    ],
                    wd,
                )
            )
            kcm_ctx = ssl.create_default_context()
            kcm_ctx.check_hostname = False
            kcm_ctx.verify_mode = ssl.CERT_NONE  # its serving certificate is self-signed on the spot

            def kcm_healthy() -> bool:
                with urllib.request.urlopen(
                    f"https://{LOOPBACK}:{kcm_port}/healthz", context=kcm_ctx, timeout=2
                ) as resp:
                    return resp.status == 200

            self.timings["controller_manager_ready_seconds"] = self._wait(
                "kube-controller-manager /healthz", kcm_healthy, timeout
            )

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", help="Kubernetes version (default: the one the project pins)")
    parser.add_argument("--work-dir", type=Path, help="state directory (default: a new temporary one)")
    parser.add_argument("--no-controller-manager", action="store_true")
    args = parser.parse_args(argv)
    bin_dir = bin_dir_for_version(args.version)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="cluster-api-"))
    with ControlPlane.start(bin_dir, work_dir, controller_manager=not args.no_controller_manager) as cp:
        print(f"Kubernetes {cp.version} at {cp.server}; kubeconfig: {cp.kubeconfig}; logs in {work_dir}")
        print(f"  KUBECONFIG={cp.kubeconfig} kubectl get --raw /readyz ; Ctrl-C stops everything", flush=True)
        try:
            while True:
                cp._check_alive()
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
