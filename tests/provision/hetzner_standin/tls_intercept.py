"""A loopback HTTPS-intercepting CONNECT proxy and a throwaway test CA, for the Robot STAND-IN. NOT Hetzner.

community.hrobot has the Robot endpoint fixed (``BASE_URL = "https://robot-ws.your-server.de"`` in
plugins/module_utils/robot.py) and talks to it through ansible's ``open_url``/``fetch_url``, that is through
urllib. urllib honours ``https_proxy``/``HTTPS_PROXY`` (it opens a ``CONNECT host:443`` tunnel through the proxy
and does TLS with the real host name inside it), and ansible's ``make_context`` starts from
``ssl.create_default_context()``, whose default trust store OpenSSL reads from ``SSL_CERT_FILE``. So the
unmodified modules reach a stand-in without /etc/hosts, the system trust store or DNS being touched:

- :func:`make_test_ca` makes a throwaway CA (name-constrained to the intercepted host names, valid for two days,
  its private key never written anywhere) and a server certificate for ``robot-ws.your-server.de``, in a
  private temporary directory, plus a trust bundle = the CAs already trusted + the test CA.
- :class:`InterceptProxy` listens on 127.0.0.1 (kernel-picked port). It accepts only ``CONNECT
  robot-ws.your-server.de:443``; any other request or target gets ``403`` and is recorded in ``refused``:
  nothing is ever forwarded anywhere, so a misdirected request cannot leak to the internet. An accepted tunnel
  is answered ``200``, the client socket is wrapped in TLS with the test certificate and the HTTP requests
  inside are served by ``app`` (for the Robot: :meth:`RobotStandin.handle`).
- :meth:`InterceptProxy.env` is what a subprocess (``ansible``, ``ansible-playbook``, ``ansible-inventory``)
  needs on top of its environment; :meth:`InterceptProxy.subprocess_env` is a whole environment with every
  other ``*_proxy`` variable removed first.

What was verified (tests/provision/test_robot_standin.py and the lead's notes):

- ansible needs nothing else. ``make_context`` additionally loads the system CA directories itself
  (``get_ca_certs``: /etc/pki/..., /etc/ssl/certs via OpenSSL's default capath), so the system CAs stay
  trusted even with a bundle holding only the test CA. The bundle still includes the CAs that were trusted
  before (the current ``SSL_CERT_FILE``, else OpenSSL's default file, else certifi) so that other programs in
  the same environment which read ``SSL_CERT_FILE`` (Go programs such as podman, pip, ...) lose nothing.
- With ``SSL_CERT_FILE`` not pointing at the bundle, the modules fail with CERTIFICATE_VERIFY_FAILED: the
  interception is never trusted by accident.
- ``requests`` does not read ``SSL_CERT_FILE`` (it uses ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` or certifi),
  so its trust is unchanged; it does honour ``https_proxy``, so an https:// request made by requests in such an
  environment goes to this proxy and is refused (403) unless it is for the Robot host, and then fails
  certificate verification. Plain http:// (the Cloud stand-in on loopback) is not proxied at all: no
  ``http_proxy`` is set, and ``no_proxy``/``NO_PROXY`` = ``127.0.0.1,localhost`` besides.
- The Robot host name does not resolve on this machine. Through the proxy the client never resolves it (urllib
  connects to the proxy and sends the name in the CONNECT line), so a module run that succeeds proves the
  request went through the proxy.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROBOT_HOST = "robot-ws.your-server.de"
LOOPBACK = "127.0.0.1"
NO_PROXY = "127.0.0.1,localhost"

# app(method, target, headers, body) -> (status, [(header, value), ...], body)
App = Callable[[str, str, Mapping[str, str], bytes], tuple[int, list[tuple[str, str]], bytes]]

_MAX_CONNECT_HEADER = 16 * 1024
_REFUSAL = (
    b"robot stand-in proxy: only CONNECT " + ROBOT_HOST.encode() + b":443 is served here; nothing is forwarded.\n"
)


@dataclass(frozen=True)
class TestCA:
    """Files of a throwaway CA made by :func:`make_test_ca` (the CA's private key is not among them)."""

    __test__ = False  # not a pytest test class

    directory: Path
    ca_cert: Path  # the test CA alone (PEM)
    server_cert: Path  # leaf certificate for the intercepted host names (PEM)
    server_key: Path  # its private key (PEM, mode 0600)
    bundle: Path  # previously trusted CAs + the test CA: what SSL_CERT_FILE points at
    hostnames: tuple[str, ...]


def _previously_trusted_bundle() -> Path | None:
    """The CA file that was trusted before: $SSL_CERT_FILE, else OpenSSL's default file, else certifi's."""
    candidates = [os.environ.get("SSL_CERT_FILE")]
    paths = ssl.get_default_verify_paths()
    candidates += [paths.cafile, paths.openssl_cafile]
    with contextlib.suppress(ImportError):
        import certifi

        candidates.append(certifi.where())
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def make_test_ca(
    directory: Path, hostnames: Sequence[str] = (ROBOT_HOST,), include_trusted: bool = True, days: int = 2
) -> TestCA:
    """Write a throwaway CA and a server certificate for ``hostnames`` into ``directory`` (must exist)."""
    now = datetime.datetime.now(datetime.UTC)
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "inference-platform provision tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Robot STAND-IN throwaway test CA (not Hetzner)"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Even while it exists, this CA can vouch for the intercepted names only (and for no IP address).
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(name) for name in hostnames],
                excluded_subtrees=[
                    x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
                    x509.IPAddress(ipaddress.ip_network("::/0")),
                ],
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in hostnames]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ca_path = directory / "robot-standin-ca.pem"
    ca_path.write_bytes(ca_pem)
    cert_path = directory / "robot-standin-server.pem"
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path = directory / "robot-standin-server.key"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    trusted = _previously_trusted_bundle() if include_trusted else None
    bundle_path = directory / "trust-bundle.pem"
    previous = trusted.read_bytes() if trusted is not None else b""
    if previous and not previous.endswith(b"\n"):
        previous += b"\n"
    bundle_path.write_bytes(previous + ca_pem)
    return TestCA(directory, ca_path, cert_path, key_path, bundle_path, tuple(hostnames))


class _TunnelHTTPHandler(BaseHTTPRequestHandler):
    """Serves the HTTP/1.1 requests inside one decrypted tunnel with the proxy's ``app``."""

    protocol_version = "HTTP/1.1"
    server_version = "robot-standin"
    sys_version = ""
    timeout = 30
    server: InterceptProxy  # type: ignore[assignment]  # the proxy object is passed as "server"

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the stand-in keeps its own request log

    def _dispatch(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.send_error(411, "Length Required")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            status, headers, payload = self.server.app(self.command, self.path, self.headers, body)
        except Exception as exc:  # noqa: BLE001 - any bug in the app becomes a 500 and is recorded
            self.server.app_errors.append(f"{self.command} {self.path}: {exc!r}")
            status, headers = 500, [("Content-Type", "application/json")]
            payload = b'{"error": {"status": 500, "code": "INTERNAL_ERROR", "message": "stand-in error"}}'
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _ConnectHandler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        proxy = self.server.proxy
        sock: socket.socket = self.request
        sock.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk or len(head) > _MAX_CONNECT_HEADER:
                return
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        target = parts[1].lower() if len(parts) == 3 else ""
        if len(parts) != 3 or parts[0] != "CONNECT" or target not in proxy.allowed_targets:
            with proxy._lock:
                proxy.refused.append(request_line)
            sock.sendall(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(_REFUSAL)}\r\n\r\n".encode()
                + _REFUSAL
            )
            return
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with proxy._lock:
            proxy.tunnels += 1
        try:
            tls = proxy.server_context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with proxy._lock:
                proxy.tls_errors.append(repr(exc))
            return
        try:
            _TunnelHTTPHandler(tls, self.client_address, proxy)  # type: ignore[arg-type]
        except (ssl.SSLError, OSError) as exc:
            with proxy._lock:
                proxy.tls_errors.append(repr(exc))
        finally:
            tls.close()


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: InterceptProxy


class InterceptProxy:
    """CONNECT proxy on 127.0.0.1 that terminates TLS for ``hostnames`` and serves ``app``; refuses all else.

    Use as a context manager (or ``start()``/``stop()``). ``env()`` gives the variables a subprocess needs.
    Recorded: ``tunnels`` (accepted CONNECTs), ``refused`` (request lines answered 403), ``tls_errors``
    (handshakes the client broke off, e.g. because it did not trust the test CA), ``app_errors``.
    """

    def __init__(self, app: App, hostnames: Sequence[str] = (ROBOT_HOST,), directory: Path | None = None) -> None:
        self.app = app
        self.hostnames = tuple(name.lower() for name in hostnames)
        self.allowed_targets = frozenset(f"{name}:443" for name in self.hostnames)
        self.tunnels = 0
        self.refused: list[str] = []
        self.tls_errors: list[str] = []
        self.app_errors: list[str] = []
        self.ca: TestCA | None = None
        self.server_context: ssl.SSLContext | None = None
        self.port: int | None = None
        self._directory = directory
        self._own_directory = False
        self._lock = threading.Lock()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"InterceptProxy(url={self.url if self.port else None!r}, hostnames={self.hostnames!r})"

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("InterceptProxy is not started")
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> InterceptProxy:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="robot-standin-tls-"))  # mode 0700
            self._own_directory = True
        self.ca = make_test_ca(self._directory, self.hostnames)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.ca.server_cert, self.ca.server_key)
        self.server_context = context
        server = _ProxyServer((LOOPBACK, 0), _ConnectHandler)
        server.proxy = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="robot-standin-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._own_directory and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
            self._own_directory = False

    def __enter__(self) -> InterceptProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Variables to add to a subprocess's environment so urllib-based clients reach the stand-in."""
        if self.ca is None:
            raise RuntimeError("InterceptProxy is not started")
        return {
            "https_proxy": self.url,
            "HTTPS_PROXY": self.url,
            "no_proxy": NO_PROXY,
            "NO_PROXY": NO_PROXY,
            "SSL_CERT_FILE": str(self.ca.bundle),
        }

    def subprocess_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default os.environ) without any ``*_proxy`` variable, plus :meth:`env`."""
        source = os.environ if base is None else base
        env = {key: value for key, value in source.items() if not key.lower().endswith("_proxy")}
        env.update(self.env())
        return env
