# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The inference engines a model entry may name, in one table (ENGINES).

This file is PRIVATE to the inference.platform collection. It may change or
disappear in any release without notice; do not import it from other
collections or from your own plugins.

The model_list filters (model_server, model_engines, engine_queries and the
model-list checks) and the inference_health module read every engine fact from
here, so an engine changes in one place.
"""

from __future__ import annotations

# The engine of a model entry without an engine key.
DEFAULT_ENGINE = "vllm"
# Flags the platform sets from the model entry, per engine: extra_args may not repeat them (flag -> what to write
# instead).
VLLM_MANAGED_FLAGS = {
    "--model": "hf_id",
    "--revision": "revision",
    "--served-model-name": "name",
    "--host": "nothing (the platform sets it)",
    "--port": "nothing (the platform sets it)",
    "--tensor-parallel-size": "tensor_parallel",
    "--max-model-len": "max_model_len",
    "--gpu-memory-utilization": "gpu_memory_utilization",
    "--quantization": "quantization",
    "--download-dir": "nothing (the model cache volume is mounted for it)",
}
LLAMACPP_MANAGED_FLAGS = {
    "--model": "hf_id and gguf_file",
    "-m": "hf_id and gguf_file",
    "--hf-repo": "hf_id (the preload Job fetches the file into the model cache)",
    "-hf": "hf_id (the preload Job fetches the file into the model cache)",
    "--hf-file": "gguf_file",
    "-hff": "gguf_file",
    "--alias": "name",
    "-a": "name",
    "--host": "nothing (the platform sets it)",
    "--port": "nothing (the platform sets it)",
    "--ctx-size": "max_model_len (each slot gets max_model_len tokens; slots are vllm_llamacpp_slots)",
    "-c": "max_model_len (each slot gets max_model_len tokens; slots are vllm_llamacpp_slots)",
    "--parallel": "nothing (vllm_llamacpp_slots sets it for every llama.cpp model)",
    "-np": "nothing (vllm_llamacpp_slots sets it for every llama.cpp model)",
    "--n-gpu-layers": "gpus (0 runs on CPU; >= 1 offloads every layer)",
    "-ngl": "gpus (0 runs on CPU; >= 1 offloads every layer)",
    "--metrics": "nothing (the platform always exposes /metrics: KEDA and the alerts read it)",
}
# The inference engines a model entry may name (engine:), each in this one place: the model-entry keys that apply
# to it, its GPUs, the flags the platform manages, how it is probed, the metrics that mean "requests waiting" and
# "running" (KEDA's query, the alert rules, the dashboards read them from here) and LiteLLM's provider route.
# A third engine is one more entry (plus its image in group_vars/all/versions.yml and its args in the model_list
# filter's model_server).
#   label           app.kubernetes.io/name of its pods (the Deployment's selector: never change it for an engine)
#   required/optional  model-entry keys only this engine takes (besides the model_list filter's
#                   MODEL_REQUIRED_KEYS/MODEL_OPTIONAL_KEYS)
#   min_gpus        fewest GPUs a replica may ask for (0: it can run on CPU)
#   probes          HTTP paths: startup (loading), ready (the model answers a models request), live (the process)
#   metrics         Prometheus names: waiting, running (gauges), generation_tokens, prompt_tokens (counters) and
#                   the label that tells models apart (vLLM: model_name; llama.cpp has none: the scraped Service's)
#   health          what the inference_health module reads on the server's own /metrics page beside `metrics`:
#                   candidate names, newest first (an empty tuple: this engine does not report it), of the
#                   KV-cache usage (0-1) gauge, the time-to-first-token and inter-token-latency histograms, the
#                   counters of seconds spent on prompts and on generation (tokens / seconds = tokens per second),
#                   and page_model_label, the label of the page itself that tells models apart (None: one model)
#   litellm         provider prefix of the gateway's route and extra litellm_params
#   shm             needs a large in-memory /dev/shm (NCCL, tensor-parallel workers)
#   http_get        argv that prints the body of the URL appended to it, with the tools of the engine's image (the
#                   drain before a replica stops reads the engine's metrics with it: model_list's DRAIN_SCRIPT)
ENGINES = {
    "vllm": {
        "title": "vLLM",
        "label": "vllm",
        "required": ("tensor_parallel", "gpu_memory_utilization"),
        "optional": ("quantization", "size"),
        "min_gpus": 1,
        "managed_flags": VLLM_MANAGED_FLAGS,
        "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
        "probes": {"startup": "/health", "ready": "/v1/models", "live": "/health"},
        "metrics": {
            "waiting": "vllm:num_requests_waiting",
            "running": "vllm:num_requests_running",
            "generation_tokens": "vllm:generation_tokens_total",
            "prompt_tokens": "vllm:prompt_tokens_total",
            "model_label": "model_name",
        },
        # vLLM 0.33 (V1 engine) names, then the V0 engine's.
        "health": {
            "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
            "ttft_seconds": ("vllm:time_to_first_token_seconds",),
            "inter_token_latency_seconds": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
            "prompt_seconds": (),
            "generation_seconds": (),
            "page_model_label": "model_name",
        },
        "litellm": {"provider": "hosted_vllm", "params": {}},
        "env": {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"},
        "shm": True,
        # The vLLM image has Python for certain (its server is Python), curl not necessarily.
        "http_get": ["python3", "-c", "import http.client, sys, urllib.parse; u = urllib.parse.urlsplit(sys.argv[1]); "
                     "c = http.client.HTTPConnection(u.netloc, timeout=5); c.request('GET', u.path); "
                     "r = c.getresponse(); body = r.read().decode(); "
                     "sys.stdout.write(body if r.status == 200 else '')"],
    },
    "llamacpp": {
        "title": "llama.cpp (llama-server)",
        "label": "llamacpp",
        "required": ("gguf_file",),
        "optional": (),
        "min_gpus": 0,
        "managed_flags": LLAMACPP_MANAGED_FLAGS,
        "command": ["/app/llama-server"],
        "probes": {"startup": "/health", "ready": "/v1/models", "live": "/health"},
        "metrics": {
            "waiting": "llamacpp:requests_deferred",
            "running": "llamacpp:requests_processing",
            "generation_tokens": "llamacpp:tokens_predicted_total",
            "prompt_tokens": "llamacpp:prompt_tokens_total",
            "model_label": "service",
        },
        # llama-server b11312 (read from its /metrics, tests/fixtures/llamacpp): no KV-cache gauge and no histograms.
        # Its *_tokens_seconds gauges are averages since the previous scrape (each scrape resets them), so the
        # per-second rates come from the counters instead.
        "health": {
            "kv_cache_usage": (),
            "ttft_seconds": (),
            "inter_token_latency_seconds": (),
            "prompt_seconds": ("llamacpp:prompt_seconds_total",),
            "generation_seconds": ("llamacpp:tokens_predicted_seconds_total",),
            "page_model_label": None,
        },
        # llama-server speaks the OpenAI API; it checks no key unless started with one (the gateway is the edge).
        "litellm": {"provider": "openai", "params": {"api_key": "llama-server-checks-no-key"}},
        "env": {},
        "shm": False,
        # llama.cpp's server images (upstream's and the lab's, scripts/build-platform-images.sh) carry curl.
        "http_get": ["curl", "-fsS", "--max-time", "5"],
    },
}
