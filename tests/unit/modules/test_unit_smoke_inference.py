"""smoke_inference against a loopback OpenAI-compatible stand-in (openai_standin.py), through the real openai SDK."""

from __future__ import annotations

import json
import os
import re
import ssl
import time

import pytest
from ansible_collections.inference.platform.plugins.modules import smoke_inference
from module_runner import ansible_cli, run_module
from openai_standin import StandInOpenAI

KEY = "sk-standin-key-0123456789abcdef"


def run(args, **kw):
    base = {"api_key": KEY, "model": "tiny-model", "timeout": 5}
    base.update(args)
    return run_module(smoke_inference.main, base, **kw)


@pytest.fixture
def srv():
    with StandInOpenAI(api_key=KEY) as server:
        yield server


def test_streamed_measures_ttft_itl_and_rate(srv):
    srv.fault = "slow_first_token"
    srv.first_token_delay = 0.25
    srv.token_delay = 0.03
    srv.output_tokens = 6
    res = run({"api_url": srv.url, "requests": 4, "concurrency": 2, "max_tokens": 6})
    assert not res.failed, res.get("msg")
    assert res["passed"] is True
    assert res["requests"] == {
        "total": 4,
        "succeeded": 4,
        "failed": 0,
        "error_rate": 0.0,
        "concurrency": 2,
        "stream": True,
    }
    assert 0.25 <= res["ttft_seconds"]["p50"] < 1.5
    assert 0.025 <= res["inter_token_latency_seconds"]["p50"] < 0.5
    # 6 tokens: 5 gaps per request, 20 gaps in all
    assert res["output_tokens"]["total"] == 24
    assert res["token_count_source"] == "usage"  # noqa: S105
    e2e = res["e2e_latency_seconds"]["p50"]
    assert e2e >= res["ttft_seconds"]["p50"] + 5 * 0.03 * 0.9
    assert res["output_tokens_per_s"]["p50"] == pytest.approx(6 / e2e, rel=0.35)
    assert res["thresholds"]["max_error_rate"] == {"limit": 0.0, "value": 0.0, "ok": True, "missed_by": 0.0}
    sent = [json.loads(body) for method, path, _h, body in srv.requests if method == "POST"]
    assert len(sent) == 4
    assert all(b["stream"] is True and b["stream_options"] == {"include_usage": True} for b in sent)
    assert all(b["max_tokens"] == 6 and b["model"] == "tiny-model" for b in sent)


def test_not_streamed(srv):
    res = run({"api_url": srv.url, "stream": False, "requests": 3, "prompt": "hi"})
    assert not res.failed, res.get("msg")
    assert res["ttft_seconds"] is None
    assert res["inter_token_latency_seconds"] is None
    assert res["output_tokens"]["total"] == 3 * 8
    body = json.loads(next(b for m, _p, _h, b in srv.requests if m == "POST"))
    assert "stream" not in body or body["stream"] is False
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_ttft_threshold_names_limit_and_margin(srv):
    srv.fault = "slow_first_token"
    srv.first_token_delay = 0.3
    res = run({"api_url": srv.url, "requests": 2, "max_ttft_p95_seconds": 0.1, "min_output_tokens_per_s": 100000})
    assert res.failed
    assert res["error"]["code"] == "threshold_missed"
    assert res["failed_thresholds"] == ["max_ttft_p95_seconds", "min_output_tokens_per_s"]
    ttft = res["thresholds"]["max_ttft_p95_seconds"]
    assert ttft["ok"] is False and ttft["value"] >= 0.3
    assert ttft["missed_by"] == pytest.approx(ttft["value"] - 0.1)
    assert "max_ttft_p95_seconds missed: TTFT p95 is" in res["msg"]
    assert "> 0.1 (over by" in res["msg"]
    assert "min_output_tokens_per_s missed: output tokens/s p50 is" in res["msg"]
    assert "(short by" in res["msg"]


def test_some_requests_truncated_error_rate(srv):
    srv.fault = "truncated"
    srv.fault_every = 4  # requests 4 and 8 of 8
    res = run({"api_url": srv.url, "requests": 8, "concurrency": 1, "max_error_rate": 0.25})
    assert not res.failed, res.get("msg")
    assert res["requests"]["failed"] == 2
    assert res["error_kinds"] == {"truncated": 2}
    assert res["errors"][0]["message"].startswith(
        "stream ended after 4 content chunk(s) without a finish_reason. Next: read the server's logs for a crash"
    )
    srv._chat_count = 0
    res = run({"api_url": srv.url, "requests": 8, "concurrency": 1, "max_error_rate": 0.2})
    assert res.failed
    assert res["failed_thresholds"] == ["max_error_rate"]
    assert "max_error_rate missed: 2 of 8 request(s) failed (25.0% > 20.0%): 2 x truncated" in res["msg"]
    assert res["thresholds"]["max_error_rate"]["missed_by"] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("fault", "stream", "kind", "code", "text"),
    [
        ("truncated", True, "truncated", "all_requests_failed", "without a finish_reason"),
        ("malformed", True, "malformed", "all_requests_failed", "a stream chunk is not valid JSON"),
        (
            "malformed",
            False,
            "malformed",
            "all_requests_failed",
            "HTTP 200 with Content-Type 'application/json': the body is not JSON",
        ),
        ("500", True, "server_error", "all_requests_failed", "HTTP 500: server error"),
        ("403", False, "forbidden", "forbidden", "HTTP 403: the api_key may not use this model"),
        (
            "slow_first_token",
            True,
            "timeout",
            "all_requests_failed",
            "no first token within the timeout=0.5s deadline: HTTP 200 text/event-stream",
        ),
        (
            "slow_first_token",
            False,
            "timeout",
            "all_requests_failed",
            "no HTTP response within the timeout=0.5s deadline",
        ),
    ],
)
def test_faults_are_named(srv, fault, stream, kind, code, text):
    srv.fault = fault
    srv.first_token_delay = 1.5
    res = run({"api_url": srv.url, "requests": 2, "stream": stream, "timeout": 0.5})
    assert res.failed
    assert res["error_kinds"] == {kind: 2}
    assert res["error"]["code"] == code
    assert text in res["msg"]
    assert res["msg"].startswith(f"all 2 request(s) to {srv.url}/v1/chat/completions failed (2 x {kind})")
    assert re.search(r"\. Next: \S.*$", res["msg"]), res["msg"]


def test_unknown_model(srv):
    res = run({"api_url": srv.url, "model": "no-such-model", "requests": 1})
    assert res.failed
    assert res["error"]["code"] == "not_found"
    assert "HTTP 404: unknown model or wrong api_url" in res["msg"]
    assert "The model `no-such-model` does not exist." in res["msg"]
    assert res["msg"].endswith(
        f"Next: check the model name no-such-model against GET {srv.url}/v1/models with the same key (vLLM "
        "--served-model-name, LiteLLM model_name of a route), and that api_url has no /v1 suffix"
    )


def test_refused_key_never_echoed_even_if_server_quotes_it(srv):
    srv.echo_key_in_errors = True
    wrong = "sk-wrong-key-SHOULD-NOT-LEAK-42"
    res = run({"api_url": srv.url, "api_key": wrong, "requests": 2})
    assert res.failed
    assert res["error"]["code"] == "unauthorized"
    assert "HTTP 401: the endpoint refused the api_key" in res["msg"]
    assert "Invalid key, received Bearer ********" in res["msg"]  # the server's words, key masked
    assert wrong not in res["_stdout"]


def test_connection_refused():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run({"api_url": f"http://127.0.0.1:{port}", "requests": 1, "timeout": 2})
    assert res.failed
    assert res["error_kinds"] == {"connection": 1}


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ({"stream": False, "max_ttft_p95_seconds": 1.0}, "need(s) stream=true"),
        ({"requests": 0}, "requests must be at least 1"),
        ({"max_error_rate": 2}, "max_error_rate must be between 0 and 1"),
        ({"prompt": "a", "messages": [{"role": "user", "content": "b"}]}, "mutually exclusive"),
    ],
)
def test_bad_arguments_fail_at_the_door(args, text):
    res = run(dict({"api_url": "http://127.0.0.1:9"}, **args))
    assert res.failed
    assert text in res["msg"]


def test_cli_vvv_never_shows_the_key(srv):
    srv.echo_key_in_errors = True
    args = {"api_url": srv.url, "api_key": KEY, "model": "tiny-model", "requests": 2}
    ok = ansible_cli("smoke_inference", args, extra=("-vvv",))
    out = ok.stdout + ok.stderr
    assert ok.returncode == 0, out
    assert "SUCCESS" in out
    assert KEY not in out
    wrong = "sk-wrong-cli-key-LEAKCHECK"
    bad = ansible_cli("smoke_inference", dict(args, api_key=wrong), extra=("-vvv",))
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0
    assert "HTTP 401" in out
    assert wrong not in out


SYSTEM_CA = ssl.get_default_verify_paths().openssl_cafile


@pytest.mark.parametrize("tls", [{"validate_certs": False}, {"ca_path": SYSTEM_CA}])
def test_tls_options_build_a_client(srv, tls):
    # the stand-in speaks plain HTTP; this proves the TLS options are accepted by the SDK's HTTP client
    if tls.get("ca_path") and not os.path.isfile(tls["ca_path"]):
        pytest.skip("no system CA bundle at {}".format(tls["ca_path"]))
    res = run(dict({"api_url": srv.url, "requests": 1}, **tls))
    assert not res.failed, res.get("msg")
    assert res["requests"]["succeeded"] == 1


def test_ca_path_that_does_not_exist_is_reported(srv):
    res = run({"api_url": srv.url, "requests": 1, "ca_path": "/nonexistent/ca.pem"})
    assert res.failed
    assert res["error"]["code"] == "invalid_argument"
    assert res["msg"].startswith("ca_path /nonexistent/ca.pem cannot be used:")


# --- one wall-clock deadline per request ----------------------------------------------------------


def timed(args, **kw):
    started = time.monotonic()
    res = run(args, **kw)
    return res, time.monotonic() - started


@pytest.mark.parametrize("style", ["comments", "empty_events", "no_content"])
def test_keepalive_only_stream_fails_within_the_deadline(srv, style):
    """200 text/event-stream with only keep-alives (no token, ever): timeout=2 must end it, wall clock < 4 s."""
    srv.fault = "keepalive"
    srv.keepalive_style = style
    res, wall = timed({"api_url": srv.url, "requests": 2, "concurrency": 2, "timeout": 2})
    assert res.failed
    assert wall < 4.0, f"returned after {wall:.2f}s with timeout=2"
    assert res["error_kinds"] == {"timeout": 2}
    error = res["errors"][0]
    assert error["status"] == 200
    assert 1.9 <= error["seconds"] <= 2.0 + smoke_inference.WATCHDOG_GRACE_SECONDS + 0.2
    assert "no first token within the timeout=2s deadline: HTTP 200 text/event-stream, then " in error["message"]
    counted = {
        "comments": r"([1-9]\d*) keep-alive comment\(s\), 0 empty event\(s\), 1 chunk\(s\) without content",
        "empty_events": r"0 keep-alive comment\(s\), ([1-9]\d*) empty event\(s\), 1 chunk\(s\) without content",
        "no_content": r"0 keep-alive comment\(s\), 0 empty event\(s\), ([1-9]\d*) chunk\(s\) without content",
    }[style]
    assert re.search(counted, error["message"]), error["message"]
    assert "timeout is one wall-clock deadline for the whole request. Next: read the server's logs" in error["message"]
    assert "raise timeout (now 2s) above the time one request of max_tokens=64 takes" in res["msg"]


def test_keepalives_before_the_answer_are_not_the_first_token(srv):
    """Regression guard (passes before and after the deadline fix): keep-alives do not count as TTFT."""
    srv.fault = "keepalive"
    srv.keepalive_seconds = 0.6
    srv.keepalive_then_answer = True
    res = run({"api_url": srv.url, "requests": 1, "timeout": 5})
    assert not res.failed, res.get("msg")
    assert res["ttft_seconds"]["min"] >= 0.6
    assert res["output_tokens"]["total"] == 8


def test_stall_after_the_first_token_is_cut_at_the_deadline_not_a_read_timeout_later(srv):
    """First token at 1.8 s, then silence: a per-read timeout of 2 s would wait until 3.8 s; the deadline is 2 s."""
    srv.fault = "stall_after_first_token"
    srv.first_token_delay = 1.8
    res, wall = timed({"api_url": srv.url, "requests": 1, "timeout": 2})
    assert res.failed
    assert wall < 2.0 + smoke_inference.WATCHDOG_GRACE_SECONDS + 0.35, f"returned after {wall:.2f}s"
    assert res["error_kinds"] == {"timeout": 1}
    assert "stream not finished within the timeout=2s deadline: 1 content chunk(s), the first after 1.8" in res["msg"]


@pytest.mark.parametrize("stream", [True, False])
def test_trickled_answer_fails_at_the_deadline(srv, stream):
    """A valid answer sent one byte every 10 ms: no read ever waits long, the whole request does (about 3-16 s)."""
    srv.fault = "trickle"
    res, wall = timed({"api_url": srv.url, "requests": 1, "timeout": 1, "stream": stream})
    assert res.failed
    assert wall < 2.0, f"returned after {wall:.2f}s with timeout=1"
    assert res["error_kinds"] == {"timeout": 1}
    expected = "no first token within" if stream else "answer not complete within the timeout=1s deadline: HTTP 200"
    assert expected in res["msg"]


# --- 200 answers that are not what was asked for -------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_html_page_is_malformed_naming_content_type_and_first_bytes_without_the_key(srv, stream):
    srv.fault = "html"
    srv.echo_key_in_body = True
    res = run({"api_url": srv.url, "requests": 1, "stream": stream})
    assert res.failed
    assert res["error_kinds"] == {"malformed": 1}
    message = res["errors"][0]["message"]
    if stream:
        assert message.startswith(
            "HTTP 200 with Content-Type 'text/html; charset=utf-8' to a streamed request, not an event stream "
            '(text/event-stream); the body starts: "<!DOCTYPE html> <html><head><title>Sign in</title>'
        ), message
    else:
        assert message.startswith(
            "HTTP 200 with Content-Type 'text/html; charset=utf-8': the body is not JSON (Expecting value: line 1 "
            'column 1 (char 0)); it starts: "<!DOCTYPE html>'
        ), message
    quoted = re.search(r'"(.*?)\.\.\." \(first 200 characters\)', message)
    assert quoted and len(quoted.group(1)) == 200, message
    assert "Authorization: Bearer ********" in message
    assert KEY not in res["_stdout"]
    assert KEY[:8] not in res["_stdout"]
    assert message.endswith(
        f"Next: check that api_url ({srv.url}) is the OpenAI-compatible server itself (vLLM or LiteLLM, without /v1) "
        "and not an ingress default page, a login page or another service: the body quoted above is what answered; "
        "then read the server's logs (kubectl -n <namespace> logs deploy/<name> of the Service forwarded to "
        f"{srv.url}, or the log of the server listening there)"
    )


def test_whole_json_answer_to_a_streamed_request_is_malformed(srv):
    srv.fault = "json_to_stream"
    res = run({"api_url": srv.url, "requests": 1})
    assert res.failed
    assert res["error_kinds"] == {"malformed": 1}
    assert "HTTP 200 with Content-Type 'application/json' to a streamed request, not an event stream" in res["msg"]
    assert 'the body starts: "{"id": "chatcmpl-standin", "object": "chat.completion", "created": ' in res["msg"]
    assert res["msg"].endswith(
        "Next: this server (or a proxy before it) ignored stream=true and sent a whole answer: route the request to "
        "a server that streams, or set stream: false (no TTFT or inter-token latency then)"
    )


def test_non_json_200_without_stream_is_malformed(srv):
    srv.fault = "not_json"
    res = run({"api_url": srv.url, "requests": 1, "stream": False})
    assert res.failed
    assert res["error_kinds"] == {"malformed": 1}
    assert (
        "HTTP 200 with Content-Type 'text/plain; charset=utf-8': the body is not JSON (Expecting value: line 1 "
        'column 1 (char 0)); it starts: "upstream connect error or disconnect/reset before headers". Next: '
    ) in res["msg"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"object": "list", "data": []}, "the body is not a chat completion: no 'choices' list (keys: data, object)"),
        ([1, 2], "the body is JSON but not an object"),
        ({"choices": [{"text": "hi"}]}, "the body is not a chat completion: choices[0] has no 'message' object"),
        ({"choices": "none"}, "the body is not a chat completion: no 'choices' list (keys: choices)"),
    ],
)
def test_wrong_shaped_json_without_stream_is_malformed(srv, body, text):
    srv.fault = "wrong_shape"
    srv.wrong_shape_body = body
    res = run({"api_url": srv.url, "requests": 1, "stream": False})
    assert res.failed
    assert res["error_kinds"] == {"malformed": 1}, res["msg"]
    assert f"HTTP 200 with Content-Type 'application/json': {text}; it starts: " in res["msg"]


def test_stream_chunk_without_choices_is_malformed(srv):
    srv.fault = "wrong_chunk"
    res = run({"api_url": srv.url, "requests": 1})
    assert res.failed
    assert res["error_kinds"] == {"malformed": 1}
    assert (
        "a stream chunk is not a chat completion chunk (needs a 'choices' list of objects with a 'delta' object; "
        "keys: delta, object)"
    ) in res["msg"]


# --- every failure ends with what to do next -------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "args", "kind", "next_step"),
    [
        ("slow_first_token", {"timeout": 0.5}, "timeout", "raise timeout (now 0.5s) above the time one request"),
        ("truncated", {}, "truncated", "a crash, an out-of-memory kill or a restart"),
        ("malformed", {}, "malformed", "is the OpenAI-compatible server itself"),
        ("500", {}, "server_error", "read the server's logs for this error (kubectl -n <namespace> logs"),
        ("403", {}, "forbidden", "allow model tiny-model for this key or its team"),
        ("429", {}, "rate_limited", "raise rpm_limit/tpm_limit of the key or its team"),
        ("400", {}, "client_error", "LiteLLM has no database to look this key up: give it DATABASE_URL"),
        ("empty_content", {}, "empty", "check the model's chat template and max_tokens (now 64)"),
        ("empty_content", {"stream": False}, "empty", "check the model's chat template and max_tokens (now 64)"),
        (None, {"api_key": "sk-wrong"}, "unauthorized", "check the api_key given to this task"),
    ],
)
def test_every_failure_kind_ends_with_the_next_step(srv, fault, args, kind, next_step):
    srv.fault = fault
    srv.first_token_delay = 1.5
    res = run(dict({"api_url": srv.url, "requests": 1}, **args))
    assert res.failed
    assert res["error_kinds"] == {kind: 1}
    message = res["errors"][0]["message"]
    assert re.search(r"\. Next: [^.].*$", message), message
    assert next_step in message.rsplit(". Next: ", 1)[1], message
    assert res["msg"].endswith(message)  # the task's message ends with the first error's next step


def test_connection_refused_says_what_to_check():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run({"api_url": f"http://127.0.0.1:{port}", "requests": 1, "timeout": 2})
    assert res["error_kinds"] == {"connection": 1}
    assert res["msg"].endswith(
        f"Next: check that http://127.0.0.1:{port} is reachable from the host this task runs on (DNS name, port, "
        "firewall, proxy; for TLS validate_certs and ca_path), then that the server runs (is the kubectl "
        "port-forward or local server still running?)"
    )


def test_threshold_misses_end_with_the_next_step(srv):
    srv.fault = "slow_first_token"
    srv.first_token_delay = 0.3
    res = run({"api_url": srv.url, "requests": 2, "max_ttft_p95_seconds": 0.1, "min_output_tokens_per_s": 100000})
    assert res["error"]["code"] == "threshold_missed"
    ttft, rate = res["msg"].split("; min_output_tokens_per_s missed")
    assert re.search(
        r"Next: check the model's queue and KV-cache use .*; raise max_ttft_p95_seconds \(now 0\.1\) only "
        r"if 0\.3\d* s is acceptable for tiny-model$",
        ttft,
    ), ttft
    assert re.search(
        r"Next: check GPU load and .*; lower min_output_tokens_per_s \(now 100000\) only if [\d.]+ "
        r"tokens/s is acceptable for tiny-model$",
        rate,
    ), rate


class _Params:
    def __init__(self, api_url, model="qwen25-7b", namespaces=None):
        self.params = {"api_url": api_url, "model": model, "max_tokens": 64, "concurrency": 2,
                       "platform_namespaces": namespaces}


NAMESPACES = {"gateway": "inference-gateway", "models": "inference"}


@pytest.mark.parametrize(
    ("api_url", "logs", "pods"),
    [
        (
            "http://qwen25-7b.inference.svc:8000",
            "kubectl -n inference logs deploy/qwen25-7b",
            "kubectl -n inference get endpoints qwen25-7b",
        ),
        (
            "http://litellm.inference-gateway.svc.cluster.local:4000/",
            "kubectl -n inference-gateway logs deploy/litellm; if that is a gateway, also the model server behind "
            "route qwen25-7b",
            "kubectl -n inference-gateway get endpoints litellm",
        ),
        (
            "https://llm.example.com",
            "this platform's gateway: kubectl -n inference-gateway logs deploy/litellm; the model's server: "
            "kubectl -n inference logs deploy/qwen25-7b",
            "kubectl -n inference-gateway get pods; kubectl -n inference get pods",
        ),
    ],
)
def test_next_steps_name_the_deployment_when_api_url_is_a_service(api_url, logs, pods):
    smoke = smoke_inference.SmokeInference.__new__(smoke_inference.SmokeInference)
    smoke.module = _Params(api_url, namespaces=NAMESPACES)
    smoke.timeout = 30.0
    assert smoke.logs_hint() == logs
    assert smoke.pods_hint() == pods
    assert smoke.next_step("server_error") == f"read the server's logs for this error ({logs})"
    assert f"({logs}) and its queue" in smoke.next_step("timeout")
    assert smoke.next_step("timeout").endswith(
        "raise timeout (now 30s) above the time one request of max_tokens=64 takes"
    )


def test_without_the_platforms_namespaces_the_next_step_names_no_namespace():
    smoke = smoke_inference.SmokeInference.__new__(smoke_inference.SmokeInference)
    smoke.module = _Params("https://llm.example.com")
    assert smoke.logs_hint() == (
        "this platform's gateway: kubectl logs deploy/litellm in the gateway's namespace; the model's server: "
        "kubectl logs deploy/qwen25-7b in the models' namespace"
    )
    assert smoke.pods_hint() == "kubectl get pods in the gateway's and the models' namespaces"


def test_check_mode_sends_the_same_requests(srv):
    """Regression guard: check mode runs the same real requests and reports no change."""
    res = run({"api_url": srv.url, "requests": 2}, check_mode=True)
    assert not res.failed, res.get("msg")
    assert res["changed"] is False
    assert res["requests"]["succeeded"] == 2
    assert sum(1 for m, _p, _h, _b in srv.requests if m == "POST") == 2


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ({"timeout": 0}, "timeout must be above 0, got 0.0. Next: set timeout to the seconds one whole request"),
        ({"stream": False, "max_ttft_p95_seconds": 1.0}, "Next: set stream: true, or drop max_ttft_p95_seconds"),
        ({"requests": 0}, "requests must be at least 1, got 0. Next: set requests to 1 or more"),
    ],
)
def test_bad_arguments_say_what_to_change(args, text):
    res = run(dict({"api_url": "http://127.0.0.1:9"}, **args))
    assert res.failed
    assert res["error"]["code"] == "invalid_argument"
    assert res["msg"].endswith(text) or text in res["msg"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_sse_parser_splits_lines_however_they_end_and_however_the_bytes_arrive(newline):
    stream = newline.join(
        [
            b": keep-alive",
            b"",
            b"event: ping",
            b"data: {}",
            b"",
            b'data: {"a":',
            b"data: 1}",
            b"",
            b"data: [DONE]",
            b"",
            b"",
        ]
    )
    for size in (1, 3, len(stream)):
        parser = smoke_inference.SseParser()
        items = []
        for i in range(0, len(stream), size):
            items.extend(parser.feed(stream[i : i + size]))
        items.extend(parser.feed(b"", final=True))
        assert items == [
            ("comment", None, None),
            ("event", "ping", "{}"),
            ("event", None, '{"a":\n1}'),
            ("event", None, "[DONE]"),
        ], (newline, size)
