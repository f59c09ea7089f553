"""Fault helpers for tests that need a server to misbehave in a known, real way.

* Server stopped: ``LlamaServer.stop()`` on a server of your own (fixture
  ``stoppable_llama_server``), or a URL on :class:`~.process.ReservedDeadPort` (fixture
  ``dead_backend_url``), which refuses connections for the whole session.
* Slow first token: :func:`slow_first_byte` on the session's :class:`~.delay_proxy.FirstByteDelayProxy`
  (fixture ``delay_proxy``; LiteLLM route ``tiny-chat-slow`` goes through it).
* Wrong model name: :data:`WRONG_MODEL`. Note what each server does with it (measured, see
  tests/integration/README.md): LiteLLM refuses it (HTTP 400), while llama-cpp-python's server,
  which serves a single model, ignores the name and answers with its own model.
* Bad key: :data:`BAD_KEY`. LiteLLM without a database answers 400 "No connected db." for any key
  other than the master key (not 401); no key at all gets 401.
* What arrives, and when: :class:`FaultFront`, a STAND-IN HTTP front in front of the real llama
  server that changes only the delivery of the real server's own answers: keep-alive comments
  before the real tokens (or instead of them), the real answer trickled one byte at a time, the
  real non-streamed JSON answer to a streamed request, the real server's own HTML page (``/docs``)
  or OpenAPI document (``/openapi.json``) as the 200 answer to a chat request (a misrouted URL).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .delay_proxy import FirstByteDelayProxy
from .process import LOOPBACK

WRONG_MODEL = "no-such-model-anywhere"
# Well-formed, deliberately not the master key; not a secret.
BAD_KEY = "sk-integration-tests-wrong-key-0000000000"


@contextlib.contextmanager
def slow_first_byte(proxy: FirstByteDelayProxy, seconds: float) -> Iterator[FirstByteDelayProxy]:
    """Delay the first byte of every response through ``proxy`` by ``seconds`` inside the block."""
    previous = proxy.first_byte_delay
    proxy.first_byte_delay = seconds
    try:
        yield proxy
    finally:
        proxy.first_byte_delay = previous


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (the deadline tests) leaves a broken pipe behind: expected here.
        pass


class FaultFront:
    """STAND-IN HTTP front on loopback before a REAL OpenAI-compatible server (``upstream_root``, no /v1).

    Every byte of every answer comes from the real server; the front only changes how it is delivered.
    ``mode`` (changeable while it runs):

    * ``"pass"``: relay unchanged.
    * ``"keepalive"``: a streamed chat request gets 200 ``text/event-stream`` at once, then a
      ``: keep-alive`` comment every ``interval`` s for ``hold`` s, then the real server's stream.
    * ``"trickle"``: the real answer (status, Content-Type, body) one byte every ``delay`` s.
    * ``"json_to_stream"``: a streamed chat request is sent to the real server without streaming and
      its whole JSON answer is relayed with status 200.
    * ``"html"``: the real server's ``GET /docs`` page (HTML) is the 200 answer to a chat request.
    * ``"openapi"``: the real server's ``GET /openapi.json`` (JSON, not a chat completion) likewise.

    Answers are HTTP/1.0 (the connection closes after each), like a plain SSE stream. Every loop
    stops when the client goes away or :meth:`stop` is called.
    """

    def __init__(
        self, upstream_root: str, mode: str = "pass", hold: float = 0.0, interval: float = 0.2, delay: float = 0.02
    ) -> None:
        parts = urlsplit(upstream_root)
        self.upstream_host = parts.hostname or LOOPBACK
        self.upstream_port = parts.port or 80
        self.mode = mode
        self.hold = hold
        self.interval = interval
        self.delay = delay
        self.answers = 0
        self.keepalives_sent = 0
        self._closing = threading.Event()
        self.server = _Server((LOOPBACK, 0), self._handler())
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def root_url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}"

    def start(self) -> FaultFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _upstream(self, method: str, path: str, body: bytes | None, headers: dict[str, str]):
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        conn.request(method, path, body=body, headers=headers)
        return conn, conn.getresponse()

    def _handler(self):
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def _send(self, data: bytes) -> None:
                if front.mode == "trickle":
                    for i in range(len(data)):
                        if front._closing.is_set():
                            raise BrokenPipeError("front stopping")
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        time.sleep(front.delay)
                    return
                self.wfile.write(data)
                self.wfile.flush()

            def _relay(self, response, headers_sent: bool = False) -> None:
                if not headers_sent:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.getheader("Content-Type") or "application/octet-stream")
                    self.end_headers()
                    self.wfile.flush()
                while not front._closing.is_set():
                    data = response.read1(65536)
                    if not data:
                        break
                    self._send(data)

            def _get_upstream(self, path: str) -> None:
                conn, response = front._upstream("GET", path, None, {})
                try:
                    page = response.read()
                    self.send_response(200)
                    self.send_header("Content-Type", response.getheader("Content-Type") or "text/plain")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                finally:
                    conn.close()

            def do_POST(self):
                front.answers += 1
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                streamed = bool(body.get("stream"))
                headers = {"Content-Type": "application/json"}
                if self.headers.get("Authorization"):
                    headers["Authorization"] = self.headers["Authorization"]
                mode = front.mode
                if mode == "html":
                    self._get_upstream("/docs")
                    return
                if mode == "openapi":
                    self._get_upstream("/openapi.json")
                    return
                if mode == "json_to_stream" and streamed:
                    body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
                    raw = json.dumps(body).encode()
                headers_sent = False
                if mode == "keepalive" and streamed:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    headers_sent = True
                    end = time.monotonic() + front.hold
                    while time.monotonic() < end:
                        if front._closing.is_set():
                            return
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                        front.keepalives_sent += 1
                        time.sleep(front.interval)
                conn, response = front._upstream("POST", self.path, raw, headers)
                try:
                    self._relay(response, headers_sent)
                finally:
                    conn.close()

        return Handler
