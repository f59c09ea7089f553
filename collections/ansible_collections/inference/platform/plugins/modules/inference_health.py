#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: inference_health
short_description: Probe an OpenAI-compatible inference endpoint (vLLM, llama.cpp's llama-server, LiteLLM)
version_added: 0.1.0
description:
  - Runs three checks against an endpoint and reports each one, machine-readable.
  - "B(liveness): C(GET <api_url><health_path>) answers 2xx. vLLM serves C(/health); LiteLLM serves
    C(/health/liveliness)
    without auth; servers without such a path can be tolerated with O(health_missing_ok=true)."
  - "B(models): C(GET <api_url>/v1/models) answers and lists every model of O(expected_models) (by C(id))."
  - "B(metrics): C(GET <api_url>/metrics) is parsed (Prometheus text format) into running and waiting requests,
    token counts and what else the server's engine (O(engine)) reports: for vLLM the KV-cache usage and
    time-to-first-token and inter-token latency quantiles, for llama.cpp's llama-server the prompt and generation
    speeds. The metric names are the collection's engine table, the one the model_list filters (KEDA's query, the
    alert rules, the dashboards) read. For vLLM both the current (V1) names such as C(vllm:kv_cache_usage_perc) and the
    older V0 names such as C(vllm:gpu_cache_usage_perc) and C(vllm:time_per_output_token_seconds) are understood."
  - Fails when a check fails (or a threshold such as O(max_waiting_requests) is crossed), with a message that names
    each failing check and what was seen. RV(checks) is returned on failure too.
  - Quantiles come from the server's cumulative histograms, so they cover every request since the server started,
    not a recent window; use Prometheus for windows.
author:
  - Inference Platform maintainers (!UNKNOWN)
extends_documentation_fragment:
  - inference.platform.endpoint
  - inference.platform.attributes
  - inference.platform.attributes.READ_ONLY
  - inference.platform.attributes.ACTIONGROUP_ENDPOINT
options:
  health_path:
    description:
      - Path of the liveness endpoint. Use V(/health/liveliness) for LiteLLM.
      - Set to an empty string to skip the liveness check (the models check still proves the server answers).
    type: str
    default: /health
  health_missing_ok:
    description:
      - Treat HTTP 404 on O(health_path) as "this server has no health endpoint" rather than a failure.
      - llama-cpp-python's server, for example, has no C(/health).
    type: bool
    default: false
  models_path:
    description: Path of the model list.
    type: str
    default: /v1/models
  expected_models:
    description:
      - Model names (C(id) in the C(/v1/models) answer) that must be served. For vLLM this is its
        C(--served-model-name),
        for LiteLLM the C(model_name) of the route.
      - Empty means only that the list answers.
    type: list
    elements: str
    default: []
  metrics:
    description:
      - V(required) fails when C(/metrics) cannot be read or parsed, V(optional) reports why it was not read and goes
        on (LiteLLM does not serve an engine's metrics), V(skip) does not ask.
      - V(optional) behaves as V(required) when O(max_waiting_requests) or O(max_kv_cache_usage) is set; V(skip) with
        one of them is refused.
    type: str
    choices: [required, optional, skip]
    default: optional
  metrics_path:
    description: Path of the Prometheus metrics page.
    type: str
    default: /metrics
  metrics_model:
    description:
      - Only count metric series whose C(model_name) label equals this value (a vLLM server can serve several).
      - By default gauges are summed over all series (the KV-cache usage is the highest of them) and histograms merged.
      - Refused with O(engine=llamacpp), whose llama-server serves one model and labels no series with it.
    type: str
  engine:
    description:
      - The inference engine behind O(api_url); it decides which metric names are read from C(/metrics).
      - V(vllm) reads C(vllm:num_requests_waiting), C(vllm:num_requests_running), the KV-cache gauge and the latency
        histograms.
      - V(llamacpp) (llama.cpp's C(llama-server) started with C(--metrics), as the platform starts it) reads
        C(llamacpp:requests_deferred) as waiting and C(llamacpp:requests_processing) as running requests,
        C(llamacpp:prompt_tokens_total) and C(llamacpp:tokens_predicted_total) as token counts, and the seconds
        counters beside them for the speeds. It reports no KV-cache usage and no latency histograms (llama.cpp
        b11312), so those values are V(null) and O(max_kv_cache_usage) is refused.
      - Not detected from the page, so that a threshold the engine cannot judge is refused before anything is
        asked and a page without engine metrics (LiteLLM's) is not guessed at. When the page lacks this engine's
        metrics but has another's, the metrics check says which O(engine) to set.
      - For a model of the model list, pass the C(engine) of what the C(inference.platform.model_server) filter
        returns for its entry (V(vllm) for an entry that names none).
    type: str
    choices: [vllm, llamacpp]
    default: vllm
    version_added: 0.2.0
  quantiles:
    description: Quantiles to compute from the latency histograms, between 0 and 1.
    type: list
    elements: float
    default: [0.5, 0.95, 0.99]
  max_waiting_requests:
    description: Fail when more requests than this wait in the queue (C(vllm:num_requests_waiting), llama.cpp
      C(llamacpp:requests_deferred)).
    type: int
  max_kv_cache_usage:
    description:
      - Fail when the KV-cache usage (0 to 1) is above this value.
      - Refused for an O(engine) that does not report it (V(llamacpp)).
    type: float
notes:
  - vLLM metric names are those of vLLM 0.33 (V1 engine) with fall-backs to the V0 names; llama.cpp's are those of
    llama-server b11312; see RV(metrics.names).
  - Tested against a real vLLM V0 C(/metrics) scrape, V1 names taken from vLLM 0.33's source, and a real
    llama-server b11312 C(/metrics) scrape; and against the real llama-server of the platform's image.
  - "Reading llama-server's C(/metrics) resets its C(llamacpp:prompt_tokens_seconds) and
    C(llamacpp:predicted_tokens_seconds) gauges (averages since the previous scrape); this module does not use them."
seealso:
  - module: inference.platform.smoke_inference
  - name: vLLM production metrics
    description: Meaning of each vLLM metric.
    link: https://docs.vllm.ai/en/latest/usage/metrics.html
  - name: llama.cpp server
    description: llama-server's options, among them C(--metrics), and its endpoints.
    link: https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
"""

EXAMPLES = r"""
- name: Probe vLLM inside the cluster
  inference.platform.inference_health:
    api_url: "http://qwen25-7b.inference.svc:8000"
    expected_models: [qwen25-7b]
    metrics: required
    max_waiting_requests: 20

- name: Probe a llama.cpp model (llama-server) and bound its queue
  inference.platform.inference_health:
    api_url: "http://tiny-llama.inference.svc:8000"
    engine: llamacpp
    expected_models: [tiny-llama]
    metrics: required
    max_waiting_requests: 4

- name: Probe every model of the model list with its own engine
  inference.platform.inference_health:
    api_url: "http://{{ item.name }}.inference.svc:{{ platform_ports.model }}"
    engine: "{{ (item | inference.platform.model_server(platform_ports.model, '/models')).engine }}"
    expected_models: ["{{ item.name }}"]
    metrics: required
  loop: "{{ inference_models }}"
  loop_control:
    label: "{{ item.name }}"

- name: Probe through LiteLLM with a tenant key (no vLLM metrics there)
  inference.platform.inference_health:
    api_url: "https://llm.example.com"
    api_key: "{{ tenant_key }}"
    health_path: /health/liveliness
    expected_models: [qwen25-7b]
    metrics: skip

- name: Wait until the model is loaded (vLLM answers /v1/models only then)
  inference.platform.inference_health:
    api_url: "http://127.0.0.1:8000"
    expected_models: [qwen25-7b]
  register: health
  until: health is succeeded
  retries: 60
  delay: 10

- name: Show the queue and the KV cache (null for an engine that does not report it)
  ansible.builtin.debug:
    msg: "waiting={{ health.metrics.num_requests_waiting }} kv={{ health.metrics.kv_cache_usage }}"
"""

RETURN = r"""
healthy:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: true
engine:
  description: The engine whose metric names were read (O(engine)).
  returned: always
  type: str
  sample: vllm
failed_checks:
  description: Names of the checks that failed (V(liveness), V(models), V(metrics), V(waiting_requests),
    V(kv_cache_usage)).
  returned: always
  type: list
  elements: str
  sample: []
checks:
  description: One entry per check with C(ok) (V(true), V(false), or V(null) when skipped), C(status) (HTTP status or
    V(null)) and C(detail).
  returned: always
  type: dict
  sample:
    liveness: {ok: true, status: 200, url: "http://127.0.0.1:8000/health", detail: "HTTP 200"}
    models: {ok: true, status: 200, url: "http://127.0.0.1:8000/v1/models", detail: "all 1 expected model(s) served",
      missing: []}
    metrics: {ok: true, status: 200, url: "http://127.0.0.1:8000/metrics", detail: "parsed 98 samples"}
models:
  description: Model ids listed by C(/v1/models), in the server's order.
  returned: always
  type: list
  elements: str
  sample: [qwen25-7b]
metrics:
  description:
    - Values read from C(/metrics) with the names of O(engine); empty when not read.
    - V(null) inside when the server does not expose that metric, and always for a value the engine does not report
      (V(llamacpp) - llama-server b11312 - reports no RV(metrics.kv_cache_usage), RV(metrics.ttft_seconds) or
      RV(metrics.inter_token_latency_seconds); vLLM no RV(metrics.prompt_tokens_per_second) or
      RV(metrics.generation_tokens_per_second)).
  returned: always
  type: dict
  contains:
    num_requests_running:
      description: Requests being processed (C(vllm:num_requests_running), llama.cpp C(llamacpp:requests_processing)).
      type: float
      sample: 3
    num_requests_waiting:
      description: Requests queued (C(vllm:num_requests_waiting), llama.cpp C(llamacpp:requests_deferred)).
      type: float
      sample: 2
    kv_cache_usage:
      description: KV-cache usage from 0 to 1 (C(vllm:kv_cache_usage_perc), V0 C(vllm:gpu_cache_usage_perc));
        V(null) for llama.cpp.
      type: float
      sample: 0.0026
    prompt_tokens_total:
      description: Prompt tokens processed since start (C(vllm:prompt_tokens_total); llama.cpp
        C(llamacpp:prompt_tokens_total), which leaves out prompt tokens reused from its cache).
      type: float
      sample: 90
    generation_tokens_total:
      description: Tokens generated since start (C(vllm:generation_tokens_total), llama.cpp
        C(llamacpp:tokens_predicted_total)).
      type: float
      sample: 2546
    prompt_tokens_per_second:
      description: Prompt processing speed since start, RV(metrics.prompt_tokens_total) divided by the seconds
        spent on prompts (llama.cpp C(llamacpp:prompt_seconds_total)); the seconds of concurrent requests add up, so
        this is the speed one request sees, not the server's throughput. V(null) for vLLM and before any prompt.
      type: float
      sample: 6373.0
    generation_tokens_per_second:
      description: Generation speed since start, RV(metrics.generation_tokens_total) divided by the seconds spent
        generating (llama.cpp C(llamacpp:tokens_predicted_seconds_total)); per request like
        RV(metrics.prompt_tokens_per_second). V(null) for vLLM (see RV(metrics.inter_token_latency_seconds)) and
        before any token.
      type: float
      sample: 140.2
    ttft_seconds:
      description: Time to first token from C(vllm:time_to_first_token_seconds) with C(count), C(mean) and
        C(p50)/C(p95)/... per O(quantiles); V(null) for llama.cpp.
      type: dict
      sample: {count: 9, sum: 0.51, mean: 0.0567, p50: 0.054, p95: 0.077, p99: 0.0794}
    inter_token_latency_seconds:
      description: Inter-token latency (C(vllm:inter_token_latency_seconds), V0
        C(vllm:time_per_output_token_seconds)), same keys as RV(metrics.ttft_seconds); V(null) for llama.cpp.
      type: dict
    model_names:
      description: Values of the C(model_name) label seen on C(vllm:num_requests_running); V(null) for llama.cpp,
        whose page labels no series with its model.
      type: list
      elements: str
      sample: [neuralmagic/Meta-Llama-3.1-8B-Instruct-FP8]
    names:
      description: The metric name actually read for each value (V(null) when none was), so V0 and V1 servers can be
        told apart; for the two speeds, the seconds counter.
      type: dict
      sample: {kv_cache_usage: "vllm:gpu_cache_usage_perc", ttft_seconds: "vllm:time_to_first_token_seconds"}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.inference.platform.plugins.module_utils._api import (
    ApiError,
    InferenceModule,
    endpoint_argument_spec,
)
from ansible_collections.inference.platform.plugins.module_utils._engines import DEFAULT_ENGINE, ENGINES
from ansible_collections.inference.platform.plugins.module_utils._prometheus import (
    Metrics,
    MetricsParseError,
    histogram_quantile,
)


def quantile_key(q):
    """0.5 -> 'p50', 0.95 -> 'p95', 0.999 -> 'p99.9'."""
    pct = round(q * 100, 6)
    return "p%s" % (int(pct) if pct == int(pct) else pct)


def value_names(engine):
    """(result key, how it is read, candidate metric names newest first) for one engine, all from ENGINES."""
    metrics, health = ENGINES[engine]["metrics"], ENGINES[engine]["health"]
    return (
        ("num_requests_running", "sum", (metrics["running"],)),
        ("num_requests_waiting", "sum", (metrics["waiting"],)),
        ("prompt_tokens_total", "sum", (metrics["prompt_tokens"],)),
        ("generation_tokens_total", "sum", (metrics["generation_tokens"],)),
        ("kv_cache_usage", "max", tuple(health["kv_cache_usage"])),
        ("ttft_seconds", "histogram", tuple(health["ttft_seconds"])),
        ("inter_token_latency_seconds", "histogram", tuple(health["inter_token_latency_seconds"])),
        ("prompt_seconds_total", "sum", tuple(health["prompt_seconds"])),
        ("generation_seconds_total", "sum", tuple(health["generation_seconds"])),
    )


# Values an engine cannot report (its table names no metric for them): a threshold on one is refused.
LIMITED_VALUES = (("max_kv_cache_usage", "kv_cache_usage", "KV-cache usage"),)


def engines_on_page(metrics):
    """The engines whose waiting or running gauge is on a parsed /metrics page, in ENGINES order."""
    return [
        engine
        for engine, spec in ENGINES.items()
        if metrics.series(spec["metrics"]["running"]) or metrics.series(spec["metrics"]["waiting"])
    ]


def summarize(metrics, quantiles, model=None, engine=DEFAULT_ENGINE):
    """Read one engine's numbers out of a parsed /metrics page; None where the page (or engine) has no such metric."""
    label = ENGINES[engine]["health"]["page_model_label"]
    match = {label: model} if model and label else None
    out = {"names": {}}
    seconds = {}

    def first(names):
        for name in names:
            if metrics.series(name, match):
                return name
        return None

    for key, how, names in value_names(engine):
        if how == "histogram":
            chosen, hist = None, None
            for name in names:
                hist = metrics.histogram(name, match)
                if hist:
                    chosen = name
                    break
            out["names"][key] = chosen
            if not hist:
                out[key] = None
                continue
            buckets, count, total = hist
            entry = {"count": count, "sum": total, "mean": (total / count) if count and total is not None else None}
            for q in quantiles:
                entry[quantile_key(q)] = histogram_quantile(q, buckets)
            out[key] = entry
            continue
        name = first(names)
        value = (metrics.max(name, match) if how == "max" else metrics.sum(name, match)) if name else None
        if key.endswith("_seconds_total"):  # only the rates below are returned
            seconds[key] = (name, value)
            continue
        out[key] = value
        out["names"][key] = name
    for kind in ("prompt", "generation"):
        name, spent = seconds["%s_seconds_total" % kind]
        tokens = out["%s_tokens_total" % kind]
        rate_key = "%s_tokens_per_second" % kind
        out[rate_key] = tokens / spent if tokens is not None and spent else None
        out["names"][rate_key] = name
    running = ENGINES[engine]["metrics"]["running"]
    out["model_names"] = metrics.label_values(running, label) if label else None
    return out


class InferenceHealth(InferenceModule):
    def __init__(self, module):
        super(InferenceHealth, self).__init__(module)
        self.checks = {}
        self.failures = []

    def record(self, name, ok, detail, **extra):
        entry = {"ok": ok, "detail": detail}
        entry.update(extra)
        self.checks[name] = entry
        if ok is False:
            self.failures.append((name, detail))

    def check_liveness(self):
        path = self.module.params["health_path"]
        if not path:
            self.record("liveness", None, "skipped (health_path is empty)", status=None, url=None)
            return
        try:
            resp = self.request("GET", path)
        except ApiError as exc:
            self.record("liveness", False, exc.message, status=None, url=self.url_for(path))
            return
        if resp.ok:
            self.record("liveness", True, "HTTP %s" % resp.status, status=resp.status, url=resp.url)
        elif resp.status == 404 and self.module.params["health_missing_ok"]:
            self.record(
                "liveness",
                None,
                "skipped: %s answers 404 and health_missing_ok=true" % resp.url,
                status=404,
                url=resp.url,
            )
        else:
            self.record(
                "liveness",
                False,
                "GET %s answered HTTP %s: %s" % (resp.url, resp.status, resp.error_detail()),
                status=resp.status,
                url=resp.url,
            )

    def check_models(self):
        path = self.module.params["models_path"]
        expected = self.module.params["expected_models"]
        models = []
        try:
            resp = self.request("GET", path)
            if not resp.ok:
                raise self.http_error(resp, "GET %s" % path)
            data = resp.json()
            entries = data.get("data") if isinstance(data, dict) else None
            if not isinstance(entries, list):
                raise ApiError(
                    '%s did not answer an OpenAI model list ({"data": [...]}): %s' % (resp.url, resp.text()[:200]),
                    "invalid_response",
                )
            models = [m.get("id") for m in entries if isinstance(m, dict) and m.get("id")]
        except ApiError as exc:
            self.record(
                "models",
                False,
                exc.message,
                status=exc.details.get("status"),
                url=self.url_for(path),
                missing=list(expected),
            )
            return models
        missing = [m for m in expected if m not in models]
        if missing:
            self.record(
                "models",
                False,
                "expected model(s) %s not in %s; the server lists %s"
                % (", ".join(missing), resp.url, models or "none"),
                status=resp.status,
                url=resp.url,
                missing=missing,
            )
        else:
            self.record(
                "models",
                True,
                "all %d expected model(s) served" % len(expected),
                status=resp.status,
                url=resp.url,
                missing=[],
            )
        return models

    def check_metrics(self):
        params = self.module.params
        mode = params["metrics"]
        path = params["metrics_path"]
        if mode == "skip":
            self.record("metrics", None, "skipped (metrics=skip)", status=None, url=None)
            return {}
        ok_if_missing = None if mode == "optional" else False
        try:
            resp = self.request("GET", path, headers={"Accept": "text/plain"})
        except ApiError as exc:
            self.record("metrics", ok_if_missing, exc.message, status=None, url=self.url_for(path))
            return {}
        if not resp.ok:
            self.record(
                "metrics",
                ok_if_missing,
                "GET %s answered HTTP %s: %s" % (resp.url, resp.status, resp.error_detail()),
                status=resp.status,
                url=resp.url,
            )
            return {}
        try:
            metrics = Metrics(resp.text())
        except MetricsParseError as exc:
            self.record(
                "metrics", False, "%s is not Prometheus text: %s" % (resp.url, exc), status=resp.status, url=resp.url
            )
            return {}
        engine = params["engine"]
        spec = ENGINES[engine]
        summary = summarize(metrics, params["quantiles"], params["metrics_model"], engine)
        if summary["names"]["num_requests_running"] is None and summary["names"]["num_requests_waiting"] is None:
            detail = "%s has %d samples but no %s metrics (%s, %s)" % (
                resp.url,
                len(metrics.samples),
                spec["title"],
                spec["metrics"]["running"],
                spec["metrics"]["waiting"],
            )
            label = spec["health"]["page_model_label"]
            if params["metrics_model"]:
                detail += " for %s=%s (seen: %s)" % (
                    label,
                    params["metrics_model"],
                    metrics.label_values(spec["metrics"]["running"], label) or "none",
                )
            others = [other for other in engines_on_page(metrics) if other != engine]
            if others:
                detail += "; it has the metrics of %s: set engine=%s" % (
                    " and ".join(ENGINES[other]["title"] for other in others),
                    " or ".join(others),
                )
            self.record("metrics", ok_if_missing, detail, status=resp.status, url=resp.url)
            return summary
        self.record("metrics", True, "parsed %d samples" % len(metrics.samples), status=resp.status, url=resp.url)
        self.check_thresholds(summary)
        return summary

    def check_thresholds(self, summary):
        params = self.module.params
        limit = params["max_waiting_requests"]
        if limit is not None:
            seen = summary["num_requests_waiting"]
            if seen is None:
                self.record(
                    "waiting_requests",
                    False,
                    "max_waiting_requests=%s but the server reports no %s"
                    % (limit, ENGINES[params["engine"]]["metrics"]["waiting"]),
                )
            else:
                self.record(
                    "waiting_requests",
                    seen <= limit,
                    "%g request(s) waiting, limit max_waiting_requests=%s" % (seen, limit),
                    value=seen,
                    limit=limit,
                )
        limit = params["max_kv_cache_usage"]
        if limit is not None:
            seen = summary["kv_cache_usage"]
            if seen is None:
                self.record(
                    "kv_cache_usage", False, "max_kv_cache_usage=%s but the server reports no KV-cache usage" % limit
                )
            else:
                self.record(
                    "kv_cache_usage",
                    seen <= limit,
                    "KV cache %.1f%% used, limit max_kv_cache_usage=%s" % (seen * 100, limit),
                    value=seen,
                    limit=limit,
                )

    def run(self):
        params = self.module.params
        for q in params["quantiles"]:
            if q < 0 or q > 1:
                self.fail("quantiles must be between 0 and 1, got %s" % q, "invalid_argument")
        engine = params["engine"]
        spec = ENGINES[engine]
        for option, key, what in LIMITED_VALUES:
            if params[option] is not None and not spec["health"][key]:
                self.fail(
                    "%s is set, but %s (engine=%s) does not report its %s on /metrics: leave %s out for this engine"
                    % (option, spec["title"], engine, what, option),
                    "invalid_argument",
                )
        if params["metrics_model"] and not spec["health"]["page_model_label"]:
            self.fail(
                "metrics_model is set, but %s (engine=%s) serves one model and its /metrics labels no series with "
                "a model name: leave metrics_model out for this engine" % (spec["title"], engine),
                "invalid_argument",
            )
        thresholds = [n for n in ("max_waiting_requests", "max_kv_cache_usage") if params[n] is not None]
        if thresholds and params["metrics"] == "skip":
            self.fail("%s need(s) /metrics, but metrics=skip" % ", ".join(thresholds), "invalid_argument")
        if thresholds and params["metrics"] == "optional":
            params["metrics"] = "required"  # a limit on a value nobody read must not pass silently
        self.check_liveness()
        models = self.check_models()
        summary = self.check_metrics()
        failed = [name for name, _detail in self.failures]
        self.result.update(
            healthy=not failed, failed_checks=failed, checks=self.checks, models=models, metrics=summary, engine=engine
        )
        if failed:
            msg = "; ".join("check '%s' failed: %s" % (name, detail) for name, detail in self.failures)
            self.fail(msg, "check_failed", {"failed_checks": failed})
        self.exit()


def main():
    argument_spec = endpoint_argument_spec()
    argument_spec.update(
        health_path={"type": "str", "default": "/health"},
        health_missing_ok={"type": "bool", "default": False},
        models_path={"type": "str", "default": "/v1/models"},
        expected_models={"type": "list", "elements": "str", "default": []},
        metrics={"type": "str", "choices": ["required", "optional", "skip"], "default": "optional"},
        metrics_path={"type": "str", "default": "/metrics"},
        metrics_model={"type": "str"},
        quantiles={"type": "list", "elements": "float", "default": [0.5, 0.95, 0.99]},
        max_waiting_requests={"type": "int"},
        max_kv_cache_usage={"type": "float"},
        engine={"type": "str", "choices": list(ENGINES), "default": DEFAULT_ENGINE},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
    )
    InferenceHealth(module).run()


if __name__ == "__main__":
    main()
