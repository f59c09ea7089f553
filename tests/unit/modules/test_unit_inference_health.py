"""inference_health: the Prometheus parser on real vLLM and llama-server scrapes, and the module against a loopback
stand-in serving them."""

from __future__ import annotations

import json
import math
import re
import socket

import pytest
from ansible_collections.inference.platform.plugins.module_utils import _prometheus as prom
from ansible_collections.inference.platform.plugins.module_utils._engines import ENGINES
from ansible_collections.inference.platform.plugins.modules import inference_health
from module_runner import FIXTURES, ansible_cli, ansible_playbook, run_module
from openai_standin import StandInOpenAI

V0_CAPTURE = (FIXTURES / "vllm" / "vllm-metrics-v0-capture.kubeai.txt").read_text()
NAMES_FILE = FIXTURES / "vllm" / "vllm-metric-names.txt"
# A real llama-server b11312 scrape with 2 requests running and 1 deferred (tests/fixtures/llamacpp/ATTRIBUTION.md).
LLAMACPP_CAPTURE = (FIXTURES / "llamacpp" / "llama-server-b11312-metrics.txt").read_text()
LLAMA = "neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8"

# A V1 page written for these tests from the names, types, labels (model_name, engine) and default buckets listed
# in vllm-metric-names.txt (vLLM 0.33). No real V1 capture with a known source was available; see ATTRIBUTION.md.
V1_PAGE = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="qwen25-7b"} 4.0
vllm:num_requests_running{engine="1",model_name="qwen25-7b"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="qwen25-7b"} 7.0
vllm:num_requests_waiting{engine="1",model_name="qwen25-7b"} 1.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="qwen25-7b"} 0.83
vllm:kv_cache_usage_perc{engine="1",model_name="qwen25-7b"} 0.41
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="qwen25-7b"} 1000.0
vllm:generation_tokens_total{engine="1",model_name="qwen25-7b"} 500.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="qwen25-7b"} 10.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.25",model_name="qwen25-7b"} 30.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="qwen25-7b"} 40.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="qwen25-7b"} 40.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="qwen25-7b"} 8.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="0.1",model_name="qwen25-7b"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="0.25",model_name="qwen25-7b"} 10.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="+Inf",model_name="qwen25-7b"} 10.0
vllm:time_to_first_token_seconds_count{engine="1",model_name="qwen25-7b"} 10.0
vllm:time_to_first_token_seconds_sum{engine="1",model_name="qwen25-7b"} 2.0
# TYPE vllm:inter_token_latency_seconds histogram
vllm:inter_token_latency_seconds_bucket{engine="0",le="0.01",model_name="qwen25-7b"} 50.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="0.025",model_name="qwen25-7b"} 100.0
vllm:inter_token_latency_seconds_bucket{engine="0",le="+Inf",model_name="qwen25-7b"} 100.0
vllm:inter_token_latency_seconds_count{engine="0",model_name="qwen25-7b"} 100.0
vllm:inter_token_latency_seconds_sum{engine="0",model_name="qwen25-7b"} 1.5
"""


def run(args, **kw):
    return run_module(inference_health.main, args, **kw)


# --- parser and quantiles --------------------------------------------------------------------------------


def test_parse_real_v0_capture():
    metrics = prom.Metrics(V0_CAPTURE)
    assert metrics.types["vllm:time_to_first_token_seconds"] == "histogram"  # noqa: S105
    assert metrics.sum("vllm:num_requests_waiting") == 5.0
    assert metrics.sum("vllm:num_requests_waiting", {"model_name": "other/OTHER"}) == 3.0
    ((labels, value),) = metrics.series("vllm:cache_config_info")
    assert labels["num_gpu_blocks"] == "4574"
    assert labels["swap_space_bytes"] == "4294967296"
    assert value == 1.0
    assert metrics.sum("process_virtual_memory_bytes") == 3.9024848896e10


def test_summarize_v0_capture():
    summary = inference_health.summarize(prom.Metrics(V0_CAPTURE), [0.5, 0.95, 0.99])
    assert summary["num_requests_running"] == 3.0
    assert summary["num_requests_waiting"] == 5.0  # 2 (llama) + 3 (other/OTHER)
    assert summary["kv_cache_usage"] == pytest.approx(0.0026235242675994863)
    assert summary["generation_tokens_total"] == 2546.0
    assert summary["prompt_tokens_total"] == 90.0
    assert summary["names"]["kv_cache_usage"] == "vllm:gpu_cache_usage_perc"  # V0 name
    assert summary["names"]["inter_token_latency_seconds"] == "vllm:time_per_output_token_seconds"  # noqa: S105 (V0 name)
    ttft = summary["ttft_seconds"]
    # buckets le=0.04 -> 1, 0.06 -> 6, 0.08 -> 9 of 9: p50 = 0.04 + 0.02 * (4.5 - 1) / 5
    assert ttft["count"] == 9.0
    assert ttft["p50"] == pytest.approx(0.054)
    assert ttft["p95"] == pytest.approx(0.06 + 0.02 * (8.55 - 6) / 3)
    assert ttft["p99"] == pytest.approx(0.06 + 0.02 * (8.91 - 6) / 3)
    assert ttft["mean"] == pytest.approx(0.5106480121612549 / 9)
    itl = summary["inter_token_latency_seconds"]
    # le=0.025 -> 0, 0.05 -> 2519, 0.1 -> 2537 of 2537
    assert itl["p50"] == pytest.approx(0.025 + 0.025 * (0.5 * 2537) / 2519)
    assert itl["p99"] == pytest.approx(0.025 + 0.025 * (0.99 * 2537) / 2519)  # rank 2511.6 is still below 2519
    assert summary["model_names"] == [LLAMA]


def test_summarize_v0_one_model():
    summary = inference_health.summarize(prom.Metrics(V0_CAPTURE), [0.5], model=LLAMA)
    assert summary["num_requests_waiting"] == 2.0


def test_summarize_v1_names_and_engines():
    summary = inference_health.summarize(prom.Metrics(V1_PAGE), [0.5, 0.95])
    assert summary["names"]["kv_cache_usage"] == "vllm:kv_cache_usage_perc"
    assert summary["names"]["inter_token_latency_seconds"] == "vllm:inter_token_latency_seconds"  # noqa: S105
    assert summary["num_requests_running"] == 6.0
    assert summary["num_requests_waiting"] == 8.0
    assert summary["kv_cache_usage"] == 0.83  # the fullest engine, not a sum
    # merged buckets: 0.1 -> 10, 0.25 -> 40, +Inf -> 50; p50 rank 25: 0.1 + 0.15 * 15/30; p95 rank 47.5 is in +Inf
    assert summary["ttft_seconds"]["p50"] == pytest.approx(0.175)
    assert summary["ttft_seconds"]["p95"] == 0.25
    assert summary["ttft_seconds"]["count"] == 50.0
    assert summary["prompt_tokens_total"] is None


def test_every_v1_name_read_exists_in_vllm_033():
    """The first (preferred) name of each value must be a real vLLM 0.33 metric (exposition name)."""
    listed = set()
    for line in NAMES_FILE.read_text().splitlines():
        m = re.match(r"^(vllm:\S+) (gauge|counter|histogram)", line)
        if m:
            name, kind = m.groups()
            listed.add(name + "_total" if kind == "counter" and not name.endswith("_total") else name)
    preferred = [names[0] for _key, _how, names in inference_health.value_names("vllm") if names]
    assert len(preferred) == 7  # waiting, running, 2 token counters, KV cache, 2 histograms
    missing = [n for n in preferred if n not in listed]
    assert missing == []
    assert "vllm:gpu_cache_usage_perc" not in listed  # the V0 fallback really is gone in V1


def test_summarize_real_llamacpp_capture():
    summary = inference_health.summarize(prom.Metrics(LLAMACPP_CAPTURE), [0.5, 0.95], engine="llamacpp")
    assert summary["num_requests_running"] == 2.0  # llamacpp:requests_processing (2 slots busy)
    assert summary["num_requests_waiting"] == 1.0  # llamacpp:requests_deferred (the third request)
    assert summary["prompt_tokens_total"] == 57.0
    assert summary["generation_tokens_total"] == 32.0
    assert summary["prompt_tokens_per_second"] == pytest.approx(57 / 0.002233)
    assert summary["generation_tokens_per_second"] == pytest.approx(32 / 0.005099)
    for value in ("kv_cache_usage", "ttft_seconds", "inter_token_latency_seconds", "model_names"):
        assert summary[value] is None, value
    assert summary["names"] == {
        "num_requests_running": "llamacpp:requests_processing",
        "num_requests_waiting": "llamacpp:requests_deferred",
        "prompt_tokens_total": "llamacpp:prompt_tokens_total",
        "generation_tokens_total": "llamacpp:tokens_predicted_total",
        "kv_cache_usage": None,
        "ttft_seconds": None,
        "inter_token_latency_seconds": None,
        "prompt_tokens_per_second": "llamacpp:prompt_seconds_total",
        "generation_tokens_per_second": "llamacpp:tokens_predicted_seconds_total",
    }


def test_every_llamacpp_name_read_is_on_the_real_page_and_the_nulls_are_true():
    """What the engine table reads for llama.cpp is on b11312's page; what it leaves out is not there either."""
    metrics = prom.Metrics(LLAMACPP_CAPTURE)
    names = [name for _key, _how, candidates in inference_health.value_names("llamacpp") for name in candidates]
    assert len(names) == 6
    assert [name for name in names if not metrics.series(name)] == []
    assert not [name for name in metrics.types if "kv_cache" in name or "ttft" in name or "first_token" in name]
    assert [t for t in metrics.types.values() if t == "histogram"] == []
    assert [labels for _name, labels, _value in metrics.samples if labels] == []  # nothing tells models apart


def test_vllm_page_read_as_llamacpp_and_back_finds_nothing():
    assert inference_health.engines_on_page(prom.Metrics(LLAMACPP_CAPTURE)) == ["llamacpp"]
    assert inference_health.engines_on_page(prom.Metrics(V0_CAPTURE)) == ["vllm"]
    summary = inference_health.summarize(prom.Metrics(V0_CAPTURE), [0.5], engine="llamacpp")
    assert {key for key, value in summary["names"].items() if value} == set()


def test_label_escapes_and_special_values():
    samples, _types = prom.parse(
        'm{a="x\\"y",b="line\\nbreak",c="back\\\\slash"} +Inf\nn NaN 1700000000000\no{} -1.5e3\n'
    )
    assert samples[0][1] == {"a": 'x"y', "b": "line\nbreak", "c": "back\\slash"}
    assert samples[0][2] == math.inf
    assert math.isnan(samples[1][2])
    assert samples[2] == ("o", {}, -1500.0)


@pytest.mark.parametrize("bad", ['m{a="x} 1', "m{a=x} 1", "m", "m{} abc", "9bad 1"])
def test_parse_errors(bad):
    with pytest.raises(prom.MetricsParseError):
        prom.parse(bad)


def test_quantile_edges():
    assert prom.histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None
    assert prom.histogram_quantile(0.5, [(1.0, 4.0)]) is None  # no +Inf bucket
    assert prom.histogram_quantile(0.99, [(1.0, 1.0), (2.0, 2.0), (math.inf, 10.0)]) == 2.0
    assert prom.histogram_quantile(0.25, [(1.0, 4.0), (math.inf, 4.0)]) == pytest.approx(0.25)
    assert inference_health.quantile_key(0.999) == "p99.9"


# --- the module against the stand-in ------------------------------------------------------------------------


def test_healthy_vllm(tmp_path):
    with StandInOpenAI(models=[LLAMA], metrics_text=V0_CAPTURE) as srv:
        res = run({"api_url": srv.url, "expected_models": [LLAMA], "metrics": "required", "max_waiting_requests": 5})
    assert not res.failed, res["msg"] if res.failed else ""
    assert res["engine"] == "vllm"  # the default
    assert res["metrics"]["generation_tokens_per_second"] is None  # vLLM has no seconds counters
    assert res["healthy"] is True
    assert res["failed_checks"] == []
    assert res["models"] == [LLAMA]
    assert res["checks"]["liveness"]["status"] == 200
    assert res["checks"]["waiting_requests"] == {
        "ok": True,
        "detail": "5 request(s) waiting, limit max_waiting_requests=5",
        "value": 5.0,
        "limit": 5,
    }
    assert res["metrics"]["ttft_seconds"]["p95"] == pytest.approx(0.077)
    assert res["changed"] is False


def test_missing_model_names_check_and_what_was_seen():
    with StandInOpenAI(models=["other-model"], metrics_text=V0_CAPTURE) as srv:
        res = run({"api_url": srv.url, "expected_models": ["qwen25-7b", "other-model"]})
    assert res.failed
    assert res["error"]["code"] == "check_failed"
    assert res["failed_checks"] == ["models"]
    assert "check 'models' failed: expected model(s) qwen25-7b not in" in res["msg"]
    assert "the server lists ['other-model']" in res["msg"]
    assert res["checks"]["models"]["missing"] == ["qwen25-7b"]


def test_thresholds_crossed():
    with StandInOpenAI(models=[LLAMA], metrics_text=V1_PAGE) as srv:
        res = run({"api_url": srv.url, "max_waiting_requests": 3, "max_kv_cache_usage": 0.8})
    assert res.failed
    assert res["failed_checks"] == ["waiting_requests", "kv_cache_usage"]
    assert "8 request(s) waiting, limit max_waiting_requests=3" in res["msg"]
    assert "KV cache 83.0% used, limit max_kv_cache_usage=0.8" in res["msg"]


def test_no_health_route():
    with StandInOpenAI(health_status=None) as srv:
        res = run({"api_url": srv.url, "metrics": "skip"})
        assert res.failed
        assert f"check 'liveness' failed: GET {srv.url}/health answered HTTP 404" in res["msg"]
        res = run({"api_url": srv.url, "metrics": "skip", "health_missing_ok": True})
        assert not res.failed
        assert res["checks"]["liveness"]["ok"] is None
        res = run({"api_url": srv.url, "metrics": "skip", "health_path": ""})
        assert not res.failed
        assert res["checks"]["liveness"]["detail"] == "skipped (health_path is empty)"


def test_metrics_optional_and_required():
    with StandInOpenAI(metrics_text=None) as srv:
        res = run({"api_url": srv.url})
        assert not res.failed
        assert res["checks"]["metrics"]["ok"] is None
        assert res["checks"]["metrics"]["status"] == 404
        res = run({"api_url": srv.url, "metrics": "required"})
        assert res.failed
        assert res["failed_checks"] == ["metrics"]
        # a limit turns optional into required
        res = run({"api_url": srv.url, "max_kv_cache_usage": 0.9})
        assert res.failed and res["failed_checks"] == ["metrics"]


def test_metrics_not_prometheus():
    with StandInOpenAI(metrics_text="<html>login</html>") as srv:
        res = run({"api_url": srv.url})
    assert res.failed
    assert "is not Prometheus text" in res["msg"]


def test_threshold_with_metrics_skip_is_refused():
    res = run({"api_url": "http://127.0.0.1:9", "metrics": "skip", "max_waiting_requests": 1})
    assert res.failed
    assert res["error"]["code"] == "invalid_argument"


def test_refused_key_is_reported_and_never_echoed():
    secret = "sk-standin-0123456789-SECRET"  # noqa: S105 (made-up key)
    with StandInOpenAI(api_key="sk-the-right-one") as srv:
        res = run({"api_url": srv.url, "api_key": secret, "metrics": "skip"})
    assert res.failed
    assert "HTTP 401 (the api_key was refused)" in res["msg"]
    assert secret not in res["_stdout"]


def test_bearer_is_sent():
    with StandInOpenAI(api_key="sk-good") as srv:
        res = run({"api_url": srv.url, "api_key": "sk-good", "metrics": "skip"})
        auth = [h.get("authorization") for method, path, h, _b in srv.requests if path == "/v1/models"]
    assert not res.failed
    assert auth == ["Bearer sk-good"]


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run({"api_url": f"http://127.0.0.1:{port}", "timeout": 2})
    assert res.failed
    assert res["failed_checks"] == ["liveness", "models"]
    assert f"cannot reach http://127.0.0.1:{port}/health" in res["msg"]


def test_healthy_llamacpp_and_its_queue_limit():
    with StandInOpenAI(models=["tiny-llama"], metrics_text=LLAMACPP_CAPTURE) as srv:
        args = {"api_url": srv.url, "engine": "llamacpp", "expected_models": ["tiny-llama"], "max_waiting_requests": 1}
        res = run(args)
        crossed = run(dict(args, max_waiting_requests=0))
    assert not res.failed, res["msg"] if res.failed else ""
    assert res["engine"] == "llamacpp"
    assert res["checks"]["metrics"]["ok"] is True
    assert res["checks"]["waiting_requests"]["value"] == 1.0
    assert res["metrics"]["num_requests_running"] == 2.0
    assert res["metrics"]["kv_cache_usage"] is None
    assert crossed.failed
    assert crossed["failed_checks"] == ["waiting_requests"]
    assert "1 request(s) waiting, limit max_waiting_requests=0" in crossed["msg"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"max_kv_cache_usage": 0.9},
            "max_kv_cache_usage is set, but llama.cpp (llama-server) (engine=llamacpp) does not report its KV-cache "
            "usage on /metrics: leave max_kv_cache_usage out for this engine",
        ),
        (
            {"metrics_model": "tiny-llama"},
            "metrics_model is set, but llama.cpp (llama-server) (engine=llamacpp) serves one model and its /metrics "
            "labels no series with a model name: leave metrics_model out for this engine",
        ),
    ],
)
def test_llamacpp_refuses_what_it_cannot_report_before_asking(args, message):
    with StandInOpenAI(models=["tiny-llama"], metrics_text=LLAMACPP_CAPTURE) as srv:
        res = run(dict(args, api_url=srv.url, engine="llamacpp"))
        asked = list(srv.requests)
    assert res.failed
    assert res["error"]["code"] == "invalid_argument"
    assert res["msg"] == message
    assert asked == []


def test_engine_mismatch_names_the_engine_to_set():
    with StandInOpenAI(models=["tiny-llama"], metrics_text=LLAMACPP_CAPTURE) as srv:
        res = run({"api_url": srv.url, "metrics": "required"})
        optional = run({"api_url": srv.url})
    assert res.failed
    assert res["failed_checks"] == ["metrics"]
    assert res["checks"]["metrics"]["detail"] == (
        f"{srv.url}/metrics has 15 samples but no vLLM metrics (vllm:num_requests_running, "
        "vllm:num_requests_waiting); it has the metrics of llama.cpp (llama-server): set engine=llamacpp"
    )
    assert not optional.failed and optional["checks"]["metrics"]["ok"] is None
    with StandInOpenAI(models=[LLAMA], metrics_text=V0_CAPTURE) as srv:
        res = run({"api_url": srv.url, "metrics": "required", "engine": "llamacpp"})
    assert res.failed
    assert res["checks"]["metrics"]["detail"].endswith(
        "but no llama.cpp (llama-server) metrics (llamacpp:requests_processing, llamacpp:requests_deferred); "
        "it has the metrics of vLLM: set engine=vllm"
    )


def test_engine_choices_are_the_engine_table():
    res = run({"api_url": "http://127.0.0.1:9", "engine": "tgi"})
    assert res.failed
    assert f"value of engine must be one of: {', '.join(ENGINES)}, got: tgi" in res["msg"]


def test_cli_vvv_does_not_show_key():
    secret = "sk-cli-SECRET-4242"  # noqa: S105 (made-up key)
    with StandInOpenAI(api_key=secret, models=[LLAMA], metrics_text=V0_CAPTURE) as srv:
        proc = ansible_cli(
            "inference_health", {"api_url": srv.url, "api_key": secret, "expected_models": [LLAMA]}, extra=("-vvv",)
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert secret not in out
    result = json.loads(out.split("SUCCESS =>", 1)[1].split("\n}\n", 1)[0] + "\n}")
    assert result["healthy"] is True
    assert result["metrics"]["num_requests_running"] == 3.0


def test_action_group_module_defaults(tmp_path):
    """group/inference.platform.endpoint in module_defaults gives api_url and api_key to both endpoint modules."""
    secret = "sk-group-defaults-SECRET"  # noqa: S105 (made-up key)
    with StandInOpenAI(api_key=secret, models=["tiny-model"], metrics_text=V1_PAGE) as srv:
        playbook = tmp_path / "play.yml"
        playbook.write_text(
            f"""
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/inference.platform.endpoint:
      api_url: {srv.url}
      api_key: {secret}
  tasks:
    - inference.platform.inference_health:
        expected_models: [tiny-model]
      register: health
    - inference.platform.smoke_inference:
        model: tiny-model
        requests: 2
      register: smoke
    - ansible.builtin.assert:
        that:
          - health.metrics.kv_cache_usage == 0.83
          - smoke.requests.succeeded == 2
"""
        )
        proc = ansible_playbook(playbook, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
        auth = {(path, h.get("authorization")) for _m, path, h, _b in srv.requests if path != "/health"}
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "ok=3" in out
    bearer = f"Bearer {secret}"
    assert auth == {("/v1/models", bearer), ("/metrics", bearer), ("/v1/chat/completions", bearer)}
