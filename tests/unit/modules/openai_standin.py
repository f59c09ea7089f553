"""A STAND-IN OpenAI-compatible server for unit tests (not vLLM, not LiteLLM).

It runs on 127.0.0.1 in a thread and answers the few routes the modules use, shaped like vLLM's answers:
``/health``, ``/v1/models``, ``/metrics`` (a captured vLLM page, or any text) and ``/v1/chat/completions``
(JSON or Server-Sent Events, as vLLM streams them). Each fault the modules must explain can be switched on:
slow first token, truncated stream, malformed JSON chunk, 401/403, unknown model (404), 400, 429, 500, and the
faults a deadline must catch or a shape check must name: a stream of keep-alives that never sends a token, a
stream that stalls after its first token, an answer trickled one byte at a time, an HTML page or a whole JSON
answer to a streamed request, a non-JSON or wrong-shaped 200 body, an answer without content.

The real-server tests (llama-cpp-python, LiteLLM) live in tests/integration.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (timeout tests) leaves a broken pipe behind; that is expected here.
        pass


class StandInOpenAI:
    def __init__(self, api_key=None, models=("tiny-model",), metrics_text=None, health_status=200):
        self.api_key = api_key
        self.models = list(models)
        self.metrics_text = metrics_text
        self.health_status = health_status  # None -> route absent (404)
        self.echo_key_in_errors = False
        # chat behaviour
        # None | 'slow_first_token' | 'truncated' | 'malformed' | '400' | '403' | '429' | '500' | 'keepalive'
        # | 'stall_after_first_token' | 'trickle' | 'html' | 'json_to_stream' | 'not_json' | 'wrong_shape'
        # | 'wrong_chunk' | 'empty_content'
        self.fault = None
        self.fault_every = 1  # apply the fault to every Nth chat request (1 = all)
        self.first_token_delay = 0.0
        self.token_delay = 0.0
        self.output_tokens = 8
        # 'keepalive': what is sent instead of tokens ('comments' ": keep-alive" lines, 'empty_events' "data:" with
        # nothing, 'no_content' chunks whose delta has no content), how often, and for how long; then the stream
        # closes (no finish_reason), or with keepalive_then_answer=True the real answer follows.
        self.keepalive_style = "comments"
        self.keepalive_interval = 0.2
        self.keepalive_seconds = 20.0
        self.keepalive_then_answer = False
        # 'stall_after_first_token': silence after the first token (first_token_delay applies before it).
        self.stall_seconds = 20.0
        # 'trickle': seconds between single bytes of an otherwise valid answer.
        self.trickle_delay = 0.01
        # 'wrong_shape': the JSON body of a non-streamed 200 answer.
        self.wrong_shape_body = {"object": "list", "data": []}
        self.echo_key_in_body = False  # 'html': the page quotes the request's Authorization header
        self._closing = threading.Event()  # set on exit: endless faults stop sending
        self.requests = []  # (method, path, headers, body) of every request
        self._chat_count = 0
        self._lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # each response ends with the connection, like a plain SSE stream

            def log_message(self, *args):
                pass

            def _send_json(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status, message, err_type):
                self._send_json(
                    status, {"error": {"message": message, "type": err_type, "param": None, "code": status}}
                )

            def _authorized(self):
                if not standin.api_key:
                    return True
                if self.headers.get("Authorization") == f"Bearer {standin.api_key}":
                    return True
                message = "Unauthorized"
                if standin.echo_key_in_errors:  # some proxies quote the key they refused; the modules must hide it
                    message = "Invalid key, received {}".format(self.headers.get("Authorization"))
                self._error(401, message, "authentication_error")
                return False

            def do_GET(self):
                standin.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, None))
                path = self.path.split("?")[0]
                if path == "/health" and standin.health_status is not None:
                    self.send_response(standin.health_status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path == "/metrics" and standin.metrics_text is not None:
                    body = standin.metrics_text.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if path == "/v1/models":
                    if not self._authorized():
                        return
                    self._send_json(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {"id": m, "object": "model", "created": 1700000000, "owned_by": "vllm"}
                                for m in standin.models
                            ],
                        },
                    )
                    return
                self._send_json(404, {"detail": "Not Found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                standin.requests.append(("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
                if self.path.split("?")[0] != "/v1/chat/completions":
                    self._send_json(404, {"detail": "Not Found"})
                    return
                if not self._authorized():
                    return
                body = json.loads(raw or b"{}")
                with standin._lock:
                    standin._chat_count += 1
                    number = standin._chat_count
                fault = standin.fault if (number % standin.fault_every == 0) else None
                if fault == "403":
                    self._error(403, "key not allowed to access model", "permission_error")
                    return
                if body.get("model") not in standin.models:
                    self._error(404, "The model `{}` does not exist.".format(body.get("model")), "NotFoundError")
                    return
                if fault == "500":
                    self._error(500, "CUDA out of memory (stand-in)", "InternalServerError")
                    return
                if fault == "400":
                    self._error(400, "No connected db.", "BadRequestError")  # LiteLLM without a database
                    return
                if fault == "429":
                    self._error(429, "Rate limit reached for key (stand-in)", "RateLimitError")
                    return
                if fault == "html":
                    self._html()
                    return
                if fault == "not_json":
                    self._raw(
                        200, "text/plain; charset=utf-8", b"upstream connect error or disconnect/reset before headers"
                    )
                    return
                if fault == "wrong_shape" and not body.get("stream"):
                    self._raw(200, "application/json", json.dumps(standin.wrong_shape_body).encode())
                    return
                if fault == "json_to_stream" and body.get("stream"):
                    body = dict(body, stream=False)  # answer as if stream had not been asked for
                n = int(body.get("max_tokens") or body.get("max_completion_tokens") or standin.output_tokens)
                n = min(n, standin.output_tokens)
                if body.get("stream"):
                    self._stream(body, n, fault)
                else:
                    self._complete(body, n, fault)

            def _raw(self, status, content_type, data, trickle=False):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not trickle:
                    self.wfile.write(data)
                    return
                self.wfile.flush()
                for i in range(len(data)):
                    if standin._closing.is_set():
                        return
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(standin.trickle_delay)

            def _html(self):
                quoted = ""
                if standin.echo_key_in_body:  # a debug page of a misrouted ingress quoting the request headers
                    quoted = "<pre>Authorization: {}</pre>".format(self.headers.get("Authorization"))
                page = (
                    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body>"
                    + quoted
                    + "<h1>Sign in to continue</h1>"
                    + "<p>"
                    + "This page is served by a stand-in login portal. " * 8
                    + "</p></body></html>\n"
                )
                self._raw(200, "text/html; charset=utf-8", page.encode())

            def _complete(self, body, n, fault):
                if fault == "slow_first_token":
                    time.sleep(standin.first_token_delay)
                time.sleep(standin.token_delay * n)
                if fault == "malformed":
                    data = b'{"id": "chatcmpl-x", "choices": [ {"message": '
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                answer = {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "" if fault == "empty_content" else " tok" * n},
                            "finish_reason": "length" if n >= standin.output_tokens else "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n},
                }
                self._raw(200, "application/json", json.dumps(answer).encode(), trickle=fault == "trickle")

            def _event(self, payload):
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self._write(f"data: {data}\n\n".encode())

            def _write(self, data):
                if self._trickle:
                    for i in range(len(data)):
                        if standin._closing.is_set():
                            raise BrokenPipeError("stand-in closing")
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        time.sleep(standin.trickle_delay)
                    return
                self.wfile.write(data)
                self.wfile.flush()

            def _keepalive(self, chunk):
                """Send anything but a token for standin.keepalive_seconds; True when the stream should go on."""
                end = time.monotonic() + standin.keepalive_seconds
                while time.monotonic() < end:
                    if standin._closing.is_set():
                        return False
                    if standin.keepalive_style == "comments":
                        self._write(b": keep-alive\n\n")
                    elif standin.keepalive_style == "empty_events":
                        self._write(b"data: \n\n")
                    else:  # 'no_content'
                        self._event(chunk({"content": ""}))
                    time.sleep(standin.keepalive_interval)
                return standin.keepalive_then_answer

            def _stream(self, body, n, fault):
                self._trickle = fault == "trickle"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                base = {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body["model"],
                }

                def chunk(delta, finish=None):
                    return dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

                if fault == "wrong_chunk":
                    self._event({"object": "chat.completion.chunk", "delta": {"content": " tok"}})  # no choices
                    self._event("[DONE]")
                    return
                self._event(chunk({"role": "assistant", "content": ""}))
                if fault == "keepalive" and not self._keepalive(chunk):
                    return  # the connection closes: no token was ever sent
                if fault in ("slow_first_token", "stall_after_first_token"):
                    time.sleep(standin.first_token_delay)
                if fault == "empty_content":
                    n = 0
                for i in range(n):
                    if i:
                        time.sleep(standin.token_delay)
                    if fault == "stall_after_first_token" and i == 1:
                        deadline = time.monotonic() + standin.stall_seconds
                        while time.monotonic() < deadline and not standin._closing.is_set():
                            time.sleep(0.05)
                        return
                    if fault == "malformed" and i == 1:
                        self._event('{"id": "chatcmpl-standin", "choices": [{"delta": {"content": " to')
                        return
                    if fault == "truncated" and i == n // 2:
                        return  # the connection closes mid-answer: no finish_reason, no [DONE]
                    self._event(chunk({"content": " tok"}))
                self._event(chunk({}, "length" if n >= standin.output_tokens else "stop"))
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._event(
                        dict(
                            base, choices=[], usage={"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}
                        )
                    )
                self._event("[DONE]")

        return Handler
