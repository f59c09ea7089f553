"""smoke_inference against a loopback OpenAI-compatible stand-in (openai_standin.py), through the real openai SDK."""

from __future__ import annotations

import json
import os
import ssl

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
    assert res["errors"][0]["message"] == "stream ended after 4 content chunk(s) without a finish_reason"
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
        ("malformed", False, "malformed", "all_requests_failed", "response is not valid JSON"),
        ("500", True, "server_error", "all_requests_failed", "HTTP 500: server error"),
        ("403", False, "forbidden", "forbidden", "HTTP 403: the api_key may not use this model"),
        (
            "slow_first_token",
            True,
            "timeout",
            "all_requests_failed",
            "no data within timeout=0.5s (waiting for the first",
        ),
        (
            "slow_first_token",
            False,
            "timeout",
            "all_requests_failed",
            "no data within timeout=0.5s (waiting for the answer",
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


def test_unknown_model(srv):
    res = run({"api_url": srv.url, "model": "no-such-model", "requests": 1})
    assert res.failed
    assert res["error"]["code"] == "not_found"
    assert "HTTP 404: unknown model or wrong api_url" in res["msg"]
    assert "The model `no-such-model` does not exist." in res["msg"]


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
