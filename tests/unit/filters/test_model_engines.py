"""The engine seam of the model list (ENGINES): which keys apply to which engine, how each is served.

Every engine-specific fact (flags, probes, metrics, the gateway's provider route, the image) comes from the one
registry, module_utils/_engines.py, read through the model_list filters (and by the inference_health module);
these tests pin what an operator sees for a vLLM and a llama.cpp entry.
"""

from __future__ import annotations

import copy
import http.server
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.inference.platform.plugins.filter import model_list
from ansible_collections.inference.platform.plugins.filter.model_list import (
    DRAIN_MARGIN_SECONDS,
    DRAIN_SCRIPT,
    ENGINES,
    drain_command,
    engine_queries,
    model_engines,
    model_list_errors,
    model_memory_problems,
    model_server,
)
from ansible_collections.inference.platform.plugins.module_utils import _engines

VLLM = {
    "name": "qwen25-7b",
    "hf_id": "Qwen/Qwen2.5-7B-Instruct",
    "revision": "main",
    "gpus": 2,
    "tensor_parallel": 2,
    "max_model_len": 8192,
    "gpu_memory_utilization": 0.90,
    "quantization": "awq",
    "extra_args": ["--enforce-eager"],
    "replicas": {"min": 1, "max": 2},
    "autoscale": {"queue_threshold": 5, "cooldown_seconds": 300, "scale_to_zero": False},
}
LLAMACPP = {
    "name": "tiny-llama",
    "engine": "llamacpp",
    "hf_id": "inference-lab/tiny-random-llama",
    "gguf_file": "model.gguf",
    "revision": "lab",
    "gpus": 1,
    "max_model_len": 1024,
    "extra_args": ["--threads", "2"],
    "replicas": {"min": 1, "max": 2},
    "autoscale": {"queue_threshold": 2, "cooldown_seconds": 60, "scale_to_zero": False},
}
W = "inference_models[0] ('tiny-llama')"
# The pods listen on every interface (the Service and probes use the pod IP).
ANY = "0.0.0.0"  # noqa: S104


def entry(base, **changes):
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is KeyError:
            result.pop(key)
        else:
            result[key] = value
    return result


def test_both_engines_accept_their_entries_and_vllm_is_the_default():
    assert model_list_errors([VLLM, LLAMACPP]) == []
    assert model_list_errors([entry(VLLM, engine="vllm")]) == []


def test_a_cpu_model_is_accepted_for_llamacpp_not_for_vllm():
    assert model_list_errors([entry(LLAMACPP, gpus=0)]) == []
    assert model_list_errors([entry(VLLM, gpus=0, tensor_parallel=1)]) == [
        "inference_models[0] ('qwen25-7b'): gpus is 0; write the number of GPUs one replica uses, an integer >= 1 "
        "(e.g. gpus: 1)."
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"tensor_parallel": 1},
            f"{W}: tensor_parallel applies to vLLM only (engine: vllm), not to llama.cpp (llama-server) "
            "(engine: llamacpp); remove it (a GGUF file carries its own quantization and context; extra_args take the "
            "engine's flags).",
        ),
        (
            {"gpu_memory_utilization": 0.9},
            f"{W}: gpu_memory_utilization applies to vLLM only (engine: vllm), not to llama.cpp (llama-server) "
            "(engine: llamacpp); remove it (a GGUF file carries its own quantization and context; extra_args take "
            "the engine's flags).",
        ),
        (
            {"gguf_file": KeyError},
            f"{W}: missing gguf_file; a llama.cpp (llama-server) model entry needs name, hf_id, gguf_file, revision, "
            "gpus, max_model_len, replicas, autoscale.",
        ),
        (
            {"gguf_file": "../etc/passwd.gguf"},
            f"{W}: gguf_file is '../etc/passwd.gguf'; write the path of the .gguf file inside the repository hf_id "
            "names, e.g. qwen2.5-0.5b-instruct-q4_k_m.gguf (no '..', no leading '/').",
        ),
        (
            {"gguf_file": "model.safetensors"},
            f"{W}: gguf_file is 'model.safetensors'; write the path of the .gguf file inside the repository hf_id "
            "names, e.g. qwen2.5-0.5b-instruct-q4_k_m.gguf (no '..', no leading '/').",
        ),
        (
            {"gpus": -1},
            f"{W}: gpus is -1; write the number of GPUs one replica uses, an integer >= 0 (0 runs the model on CPU).",
        ),
        (
            {"engine": "sglang"},
            f"{W}: engine is 'sglang'; write one of llamacpp, vllm (or leave it out for vllm).",
        ),
        (
            {"extra_args": ["-c", "4096"]},
            f"{W}: extra_args sets -c, which the platform sets from the model entry; remove it from extra_args and "
            "write max_model_len (each slot gets max_model_len tokens; slots are vllm_llamacpp_slots) in the model "
            "entry instead.",
        ),
        (
            {"extra_args": ["--metrics"]},
            f"{W}: extra_args sets --metrics, which the platform sets from the model entry; remove it from "
            "extra_args and write nothing (the platform always exposes /metrics: KEDA and the alerts read it).",
        ),
    ],
    ids=["tensor_parallel", "gpu_memory_utilization", "no gguf_file", "gguf escapes", "not gguf", "negative gpus",
         "unknown engine", "managed -c", "managed --metrics"],
)
def test_a_bad_llamacpp_entry_is_named_with_its_fix(changes, expected):
    assert model_list_errors([entry(LLAMACPP, **changes)]) == [expected]


def test_vllm_only_flags_are_not_managed_for_llamacpp_and_the_reverse():
    assert model_list_errors([entry(LLAMACPP, extra_args=["--max-model-len", "9"])]) == []
    assert model_list_errors([entry(VLLM, extra_args=["--alias", "x"])]) == []


def test_vllm_is_served_with_its_flags_probes_and_image():
    server = model_server(VLLM, 8000, "/models/local/abcd1234", default_args={"vllm": ["--enable-prefix-caching"]})
    assert server["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert server["args"] == [
        "--model", "Qwen/Qwen2.5-7B-Instruct", "--revision", "main", "--served-model-name", "qwen25-7b",
        "--host", ANY, "--port", "8000", "--tensor-parallel-size", "2", "--max-model-len", "8192",
        "--gpu-memory-utilization", "0.9", "--quantization", "awq", "--enable-prefix-caching", "--enforce-eager",
    ]
    assert server["image"] == "vllm" and server["label"] == "vllm" and server["shm"] is True
    assert server["probes"] == {"startup": "/health", "ready": "/v1/models", "live": "/health"}
    assert {"name": "HF_HUB_OFFLINE", "value": "1"} in server["env"]
    mirrored = model_server(VLLM, 8000, "/models/local/abcd1234", from_mirror=True)
    assert mirrored["args"][:4] == ["--model", "/models/local/abcd1234", "--served-model-name", "qwen25-7b"]


def test_llamacpp_reads_its_gguf_from_the_cache_with_a_context_per_slot():
    server = model_server(LLAMACPP, 8000, "/models/local/abcd1234/", default_args={"llamacpp": ["--no-mmap"]},
                          llamacpp_slots=4)
    assert server["command"] == ["/app/llama-server"]
    assert server["args"] == [
        "--model", "/models/local/abcd1234/model.gguf", "--alias", "tiny-llama", "--host", ANY,
        "--port", "8000", "--ctx-size", "4096", "--parallel", "4", "--n-gpu-layers", "999", "--metrics",
        "--no-mmap", "--threads", "2",
    ]
    assert server["image"] == "llamacpp_cuda" and server["label"] == "llamacpp" and server["shm"] is False
    cpu = model_server(entry(LLAMACPP, gpus=0), 8000, "/w")
    assert cpu["image"] == "llamacpp"
    assert cpu["args"][cpu["args"].index("--n-gpu-layers") + 1] == "0"
    assert server["litellm"] == {"provider": "openai", "params": {"api_key": "llama-server-checks-no-key"}}
    assert server["metrics"]["waiting"] == "llamacpp:requests_deferred"


def test_an_invalid_entry_or_slot_count_is_refused_when_served():
    with pytest.raises(AnsibleFilterError, match="run the validate stage first"):
        model_server(entry(LLAMACPP, tensor_parallel=1), 8000, "/w")
    with pytest.raises(AnsibleFilterError, match="llamacpp_slots is 0"):
        model_server(LLAMACPP, 8000, "/w", llamacpp_slots=0)


def test_model_engines_lists_the_engines_used_or_all_of_them():
    assert [e["name"] for e in model_engines([LLAMACPP])] == ["llamacpp"]
    assert [e["name"] for e in model_engines([LLAMACPP, VLLM])] == list(ENGINES)
    assert [e["name"] for e in model_engines([])] == list(ENGINES)
    assert model_engines([VLLM])[0]["litellm"] == {"provider": "hosted_vllm", "params": {}}


def test_the_filters_and_the_modules_read_the_one_engine_table():
    """The table lives in module_utils (the inference_health module reads it too); the filter only imports it."""
    assert ENGINES is _engines.ENGINES
    assert model_list.DEFAULT_ENGINE == _engines.DEFAULT_ENGINE == "vllm"
    source = Path(model_list.__file__).read_text()
    assert "llamacpp:" not in source and "vllm:" not in source  # no metric name written a second time


def test_every_engine_names_the_metrics_the_rules_keda_and_dashboards_read():
    for name, spec in ENGINES.items():
        assert set(spec["metrics"]) == {"waiting", "running", "generation_tokens", "prompt_tokens", "model_label"}, name
        assert set(spec["probes"]) == {"startup", "ready", "live"}, name
        assert set(spec["health"]) == {
            "kv_cache_usage", "ttft_seconds", "inter_token_latency_seconds", "prompt_seconds", "generation_seconds",
            "page_model_label",
        }, name
    assert engine_queries("waiting", "waiting") == [
        ["sum by (model_name) (vllm:num_requests_waiting)", "%model_name% waiting"],
        ["sum by (service) (llamacpp:requests_deferred)", "%service% waiting"],
    ]
    assert engine_queries("generation_tokens", "generated", "5m")[1] == [
        "sum by (service) (rate(llamacpp:tokens_predicted_total[5m]))", "%service% generated",
    ]


def test_the_memory_check_judges_vllm_models_only():
    nodes = {"gpu-1": {"gpu_memory_gib": 1, "gpu_count": 1}}
    result = model_memory_problems([entry(LLAMACPP)], nodes)
    assert result == {"errors": [], "unchecked": []}


def test_every_replica_drains_before_it_stops_with_its_engine_s_metrics_and_tools():
    llamacpp = model_server(LLAMACPP, 8000, "/w", drain_settle_seconds=5, grace_seconds=120)["pre_stop"]
    assert llamacpp[:3] == ["sh", "-c", DRAIN_SCRIPT]
    assert llamacpp[3:] == ["drain", "5", "105", "http://127.0.0.1:8000/metrics", "llamacpp:requests_deferred",
                            "llamacpp:requests_processing", "curl", "-fsS", "--max-time", "5"]
    vllm = model_server(VLLM, 8000, "/w", drain_settle_seconds=0, grace_seconds=30)["pre_stop"]
    assert vllm[4:8] == ["0", "20", "http://127.0.0.1:8000/metrics", "vllm:num_requests_waiting"]
    assert vllm[9:11] == ["python3", "-c"]
    with pytest.raises(AnsibleFilterError, match="give vllm_termination_grace_period_seconds at least 16"):
        model_server(LLAMACPP, 8000, "/w", drain_settle_seconds=5, grace_seconds=15)
    with pytest.raises(AnsibleFilterError, match="must be integers"):
        drain_command("llamacpp", 8000, -1, 120)


class _Metrics(http.server.BaseHTTPRequestHandler):
    """A metrics page whose body the test changes (the engine's /metrics)."""

    body = ""

    def do_GET(self):
        data = type(self).body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def metrics_page():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def _drain(port, engine, limit, busy_body, idle_body, idle_after):
    """Run the engine's drain (its own http_get) against the local page; the page turns idle after idle_after s."""
    _Metrics.body = busy_body
    timer = threading.Timer(idle_after, lambda: setattr(_Metrics, "body", idle_body))
    timer.start()
    command = drain_command(engine, port, 0, limit + DRAIN_MARGIN_SECONDS)
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit + 20, check=False)
    finally:
        timer.cancel()
    return done.returncode, time.monotonic() - started


BUSY_LLAMACPP = "# HELP llamacpp:requests_processing x\nllamacpp:requests_processing 1\nllamacpp:requests_deferred 0\n"
IDLE_LLAMACPP = "llamacpp:requests_processing 0\nllamacpp:requests_deferred 0\nllamacpp:tokens_predicted_total 9\n"


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("awk") is None, reason="needs curl and awk")
def test_the_drain_waits_while_requests_run_and_ends_once_the_engine_is_idle(metrics_page):
    code, seconds = _drain(metrics_page, "llamacpp", 20, BUSY_LLAMACPP, IDLE_LLAMACPP, idle_after=3)
    assert code == 0
    assert 3 <= seconds < 10, seconds  # busy for 3 s, then two idle reads a second apart


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("awk") is None, reason="needs curl and awk")
def test_the_drain_gives_up_at_its_limit_when_requests_keep_running(metrics_page):
    code, seconds = _drain(metrics_page, "llamacpp", 3, BUSY_LLAMACPP, BUSY_LLAMACPP, idle_after=60)
    assert code == 0
    assert 3 <= seconds < 8, seconds


@pytest.mark.skipif(shutil.which("awk") is None, reason="needs awk")
def test_the_vllm_drain_reads_labelled_metrics_with_python(metrics_page):
    busy = ('vllm:num_requests_running{model_name="qwen25-7b"} 0.0\n'
            'vllm:num_requests_waiting{model_name="qwen25-7b"} 2.0\n')
    idle = busy.replace("2.0", "0.0")
    code, seconds = _drain(metrics_page, "vllm", 20, busy, idle, idle_after=2)
    assert code == 0
    assert 2 <= seconds < 9, seconds


@pytest.mark.skipif(shutil.which("awk") is None, reason="needs awk")
def test_an_unreadable_metrics_page_counts_as_idle():
    command = drain_command("llamacpp", 9, 0, 30)  # nothing listens on port 9
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0
    assert time.monotonic() - started < 5
