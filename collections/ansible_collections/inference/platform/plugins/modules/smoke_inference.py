#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

DOCUMENTATION = r"""
module: smoke_inference
short_description: Send real chat completions to an OpenAI-compatible endpoint and check latency and error thresholds
version_added: 0.1.0
description:
  - Sends O(requests) chat completions, O(concurrency) at a time, through the C(openai) Python SDK to
    C(<api_url>/v1/chat/completions) (vLLM directly, or LiteLLM), streamed or not (O(stream)).
  - Measures per request the time to first token (TTFT), the gaps between streamed tokens (inter-token latency, ITL),
    the end-to-end latency and the output token rate; reports p50, p95 and p99 of each, the error rate and the
    aggregate throughput.
  - Fails when a threshold is missed (O(max_ttft_p95_seconds), O(max_itl_p95_seconds), O(min_output_tokens_per_s),
    O(max_error_rate)), saying which threshold, the value seen and by how much it was missed.
  - "Each failed request is classified: V(timeout), V(connection), V(unauthorized) (401), V(forbidden) (403),
    V(not_found) (404, for example an unknown model), V(rate_limited) (429), V(client_error), V(server_error) (5xx),
    V(malformed) (a body or stream chunk that is not valid JSON), V(truncated) (a stream that ends without a
    C(finish_reason)) or V(empty) (an answer without any content)."
  - The API key is never written to the result, the messages or the errors, even with C(-vvv).
author:
  - Inference Platform maintainers (!UNKNOWN)
requirements:
  - openai (the Python SDK) on the host that runs the module, recent enough for C(stream_options) (1.x from mid-2024
    on); tested with 3.54, which needs Python >= 3.10
extends_documentation_fragment:
  - inference.platform.endpoint
  - inference.platform.attributes
  - inference.platform.attributes.READ_ONLY
  - inference.platform.attributes.ACTIONGROUP_ENDPOINT
options:
  model:
    description: Model name to ask (vLLM C(--served-model-name), or a LiteLLM route).
    type: str
    required: true
  prompt:
    description:
      - User message of every request. Defaults to a short fixed question.
    type: str
  messages:
    description:
      - Full chat messages (C(role), C(content)) instead of O(prompt).
    type: list
    elements: dict
  max_tokens:
    description:
      - C(max_tokens) of every request.
      - "With O(extra_body) set to C({\"ignore_eos\": true}) vLLM generates exactly this many tokens."
    type: int
    default: 64
  temperature:
    description: Sampling temperature.
    type: float
    default: 0.0
  stream:
    description:
      - Stream the answers (Server-Sent Events). Only streamed requests can measure TTFT and ITL.
      - With V(false), RV(ttft_seconds) and RV(inter_token_latency_seconds) are V(null) and thresholds on them are
        refused.
    type: bool
    default: true
  requests:
    description: Number of requests to send in total.
    type: int
    default: 8
  concurrency:
    description: Number of requests in flight at the same time.
    type: int
    default: 2
  extra_body:
    description:
      - "Extra JSON fields sent with every request, for example C({\"ignore_eos\": true}) for vLLM."
    type: dict
  max_ttft_p95_seconds:
    description: Fail when the 95th percentile of the time to first token is above this many seconds.
    type: float
  max_itl_p95_seconds:
    description: Fail when the 95th percentile of the inter-token latency is above this many seconds.
    type: float
  min_output_tokens_per_s:
    description:
      - Fail when the median (p50) per-request output rate is below this many tokens per second.
      - The per-request rate is output tokens divided by the request's end-to-end latency.
    type: float
  max_error_rate:
    description: Fail when more than this fraction (0 to 1) of the requests fail. V(0) allows no failure.
    type: float
    default: 0.0
  max_errors_reported:
    description: Keep at most this many individual errors in RV(errors) (RV(error_kinds) counts all of them).
    type: int
    default: 10
notes:
  - Percentiles are computed over the successful requests with linear interpolation between the two closest ranks
    (as C(numpy.percentile) does by default). ITL percentiles are over every gap between streamed content chunks.
  - Output tokens are taken from the server's C(usage) (requested with C(stream_options.include_usage) when streaming);
    when the server gives none, streamed content chunks are counted instead and RV(token_count_source) says so.
  - The O(timeout) applies to connecting and to each read, so a stream that pauses longer than O(timeout) (including
    before its first token) fails with V(timeout). The SDK's own retries are off, so each request is sent once.
  - The requests are real and cost tokens, also in check mode.
seealso:
  - module: inference.platform.inference_health
"""

EXAMPLES = r"""
- name: Smoke test vLLM directly, exact output length
  inference.platform.smoke_inference:
    api_url: "http://qwen25-7b.inference.svc:8000"
    model: qwen25-7b
    requests: 16
    concurrency: 4
    max_tokens: 128
    extra_body: {ignore_eos: true}
    max_ttft_p95_seconds: 2.0
    min_output_tokens_per_s: 15
  register: smoke

- name: Same through LiteLLM with a tenant key, allowing one failure in twenty
  inference.platform.smoke_inference:
    api_url: "https://llm.example.com"
    api_key: "{{ team_a_key }}"
    model: qwen25-7b
    requests: 20
    concurrency: 5
    max_error_rate: 0.05

- name: Non-streamed requests (no TTFT), just errors and throughput
  inference.platform.smoke_inference:
    api_url: "http://127.0.0.1:8000"
    model: qwen25-7b
    stream: false
    requests: 4

- name: Report
  ansible.builtin.debug:
    msg: "TTFT p95 {{ smoke.ttft_seconds.p95 }}s, {{ smoke.throughput.output_tokens_per_s }} tok/s overall"
"""

RETURN = r"""
passed:
  description: Whether every threshold was met.
  returned: always
  type: bool
  sample: true
failed_thresholds:
  description: Names of the thresholds missed.
  returned: always
  type: list
  elements: str
  sample: [max_ttft_p95_seconds]
thresholds:
  description: For each threshold set, its C(limit), the C(value) seen, C(ok) and C(missed_by) (V(0) when met).
  returned: always
  type: dict
  sample: {max_ttft_p95_seconds: {limit: 0.5, value: 0.72, ok: false, missed_by: 0.22}}
requests:
  description: Counts of the run.
  returned: always
  type: dict
  sample: {total: 8, succeeded: 7, failed: 1, error_rate: 0.125, concurrency: 2, stream: true}
ttft_seconds:
  description: Time to first content token, over successful streamed requests (C(p50), C(p95), C(p99), C(mean),
    C(min), C(max)); V(null) when not streamed or nothing succeeded.
  returned: always
  type: dict
  sample: {p50: 0.041, p95: 0.087, p99: 0.09, mean: 0.05, min: 0.03, max: 0.091}
inter_token_latency_seconds:
  description: Gaps between streamed content chunks, same keys as RV(ttft_seconds).
  returned: always
  type: dict
e2e_latency_seconds:
  description: End-to-end request latency, same keys as RV(ttft_seconds).
  returned: always
  type: dict
output_tokens_per_s:
  description: Per-request output tokens divided by its end-to-end latency, same keys as RV(ttft_seconds).
  returned: always
  type: dict
output_tokens:
  description: Output tokens of successful requests, C(total) and per-request statistics.
  returned: always
  type: dict
  sample: {total: 512, p50: 64, p95: 64, p99: 64, mean: 64, min: 64, max: 64}
token_count_source:
  description: V(usage) when the server reported token usage for every successful request, else V(chunks).
  returned: always
  type: str
  sample: usage
throughput:
  description: Aggregate rates over the wall-clock time of the whole run.
  returned: always
  type: dict
  sample: {duration_s: 4.2, requests_per_s: 1.9, output_tokens_per_s: 121.9}
error_kinds:
  description: Number of failed requests per kind.
  returned: always
  type: dict
  sample: {truncated: 1}
errors:
  description: The first O(max_errors_reported) failed requests with C(index), C(kind), C(status) and C(message).
  returned: always
  type: list
  elements: dict
  sample: [{index: 3, kind: truncated, status: 200, message: "stream ended after 4 content chunk(s) without a
    finish_reason"}]
"""

import ssl
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.inference.platform.plugins.module_utils._api import InferenceModule, endpoint_argument_spec

OPENAI_IMPORT_ERROR = None
try:
    import openai
except ImportError:
    openai = None
    OPENAI_IMPORT_ERROR = traceback.format_exc()

DEFAULT_PROMPT = "Reply with one short sentence about the sea."

THRESHOLDS = (
    # option, result key, statistic, direction, what
    ("max_ttft_p95_seconds", "ttft_seconds", "p95", "max", "TTFT p95"),
    ("max_itl_p95_seconds", "inter_token_latency_seconds", "p95", "max", "inter-token latency p95"),
    ("min_output_tokens_per_s", "output_tokens_per_s", "p50", "min", "output tokens/s p50"),
)


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def stats(values):
    if not values:
        return None
    return {
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "mean": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
    }


class RequestFailed(Exception):
    def __init__(self, kind, message, status=None):
        super(RequestFailed, self).__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


def classify(exc):
    """Turn an SDK or transport exception into (kind, status, message)."""
    if isinstance(exc, RequestFailed):
        return exc.kind, exc.status, exc.message
    name = type(exc).__name__
    if openai is not None and isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = to_text(getattr(exc, "message", "") or exc)
        if status == 401:
            return "unauthorized", status, "HTTP 401: the endpoint refused the api_key (%s)" % detail
        if status == 403:
            return "forbidden", status, "HTTP 403: the api_key may not use this model or route (%s)" % detail
        if status == 404:
            return "not_found", status, "HTTP 404: unknown model or wrong api_url (%s)" % detail
        if status == 429:
            return "rate_limited", status, "HTTP 429: rate limited (%s)" % detail
        if 400 <= status < 500:
            return "client_error", status, "HTTP %s: the endpoint rejected the request (%s)" % (status, detail)
        return "server_error", status, "HTTP %s: server error (%s)" % (status, detail)
    if "Timeout" in name or (openai is not None and isinstance(exc, openai.APITimeoutError)):
        return "timeout", None, "timed out (%s)" % name
    if openai is not None and isinstance(exc, openai.APIResponseValidationError):
        return "malformed", getattr(exc, "status_code", None), "response does not match the OpenAI schema: %s" % exc
    if isinstance(exc, ValueError):  # json.JSONDecodeError from the SDK's body or SSE decoding
        return "malformed", None, "response is not valid JSON: %s" % exc
    if openai is not None and isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        if cause is not None and "Timeout" in type(cause).__name__:
            return "timeout", None, "timed out (%s)" % type(cause).__name__
        return "connection", None, "connection failed: %s" % (cause or exc)
    if "Protocol" in name or "Connect" in name or "Read" in name or isinstance(exc, (OSError, EOFError)):
        return "connection", None, "connection broken mid-response (%s: %s)" % (name, exc)
    return "error", None, "%s: %s" % (name, exc)


class SmokeInference(InferenceModule):
    def __init__(self, module):
        super(SmokeInference, self).__init__(module)
        params = module.params
        self.client = openai.OpenAI(
            base_url=params["api_url"].rstrip("/") + "/v1",
            # The SDK insists on a key; a server without auth ignores it.
            api_key=params["api_key"] or "no-key",
            timeout=params["timeout"],
            max_retries=0,
            http_client=self._http_client(),
        )
        self.lock = threading.Lock()

    def _http_client(self):
        params = self.module.params
        if params["validate_certs"] and not params["ca_path"]:
            return None
        http = getattr(openai, "DefaultHttpxClient", None)
        if http is None:
            self.fail(
                "validate_certs=false and ca_path need an openai SDK with DefaultHttpxClient (openai >= 1.17)",
                "missing_library",
            )
        verify = False
        if params["validate_certs"]:
            try:
                verify = ssl.create_default_context(cafile=params["ca_path"])
            except (OSError, ssl.SSLError) as exc:
                self.fail("ca_path %s cannot be used: %s" % (params["ca_path"], exc), "invalid_argument")
        return http(verify=verify, timeout=params["timeout"])

    def messages(self):
        params = self.module.params
        if params["messages"]:
            return params["messages"]
        return [{"role": "user", "content": params["prompt"] or DEFAULT_PROMPT}]

    def request_kwargs(self):
        params = self.module.params
        kwargs = {
            "model": params["model"],
            "messages": self.messages(),
            "max_tokens": params["max_tokens"],
            "temperature": params["temperature"],
        }
        if params["extra_body"]:
            kwargs["extra_body"] = params["extra_body"]
        return kwargs

    def one_streamed(self):
        kwargs = self.request_kwargs()
        start = time.perf_counter()
        stream = self.client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs)
        first = last = None
        gaps = []
        chunks = 0
        finish = None
        usage = None
        try:
            for event in stream:
                now = time.perf_counter()
                if getattr(event, "usage", None) is not None:
                    usage = event.usage
                for choice in event.choices or []:
                    delta = choice.delta
                    content = getattr(delta, "content", None) or getattr(delta, "reasoning_content", None)
                    if content:
                        chunks += 1
                        if first is None:
                            first = now
                        else:
                            gaps.append(now - last)
                        last = now
                    if choice.finish_reason:
                        finish = choice.finish_reason
        finally:
            stream.close()
        end = time.perf_counter()
        if finish is None:
            raise RequestFailed(
                "truncated", "stream ended after %d content chunk(s) without a finish_reason" % chunks, 200
            )
        if chunks == 0:
            raise RequestFailed("empty", "stream finished (%s) without any content" % finish, 200)
        tokens = getattr(usage, "completion_tokens", None) if usage is not None else None
        return {
            "ttft": first - start,
            "gaps": gaps,
            "e2e": end - start,
            "tokens": tokens if tokens is not None else chunks,
            "usage": tokens is not None,
            "finish_reason": finish,
        }

    def one_plain(self):
        start = time.perf_counter()
        resp = self.client.chat.completions.create(**self.request_kwargs())
        end = time.perf_counter()
        if not resp.choices:
            raise RequestFailed("empty", "answer has no choices", 200)
        choice = resp.choices[0]
        content = getattr(choice.message, "content", None) or getattr(choice.message, "reasoning_content", None)
        if not content:
            raise RequestFailed("empty", "answer has no content (finish_reason=%s)" % choice.finish_reason, 200)
        tokens = getattr(resp.usage, "completion_tokens", None) if resp.usage is not None else None
        return {
            "ttft": None,
            "gaps": [],
            "e2e": end - start,
            "tokens": tokens if tokens is not None else len(content.split()),
            "usage": tokens is not None,
            "finish_reason": choice.finish_reason,
        }

    def one(self, index):
        try:
            result = self.one_streamed() if self.module.params["stream"] else self.one_plain()
            result["index"] = index
            return result
        # One request's failure is counted and described; it must never end the run.
        except Exception as exc:  # noqa: BLE001
            kind, status, message = classify(exc)
            stream = self.module.params["stream"]
            if kind == "timeout":
                message = "no data within timeout=%ss (waiting for %s; %s)" % (
                    self.module.params["timeout"],
                    "the first token or the next chunk" if stream else "the answer",
                    message,
                )
            elif kind == "malformed" and stream:
                message = "a stream chunk is not valid JSON: %s" % message
            return {
                "index": index,
                "error": {"index": index, "kind": kind, "status": status, "message": self.redact(message)},
            }

    def evaluate(self, summary):
        params = self.module.params
        checks = {}
        failed = []
        for option, key, stat, direction, what in THRESHOLDS:
            limit = params[option]
            if limit is None:
                continue
            value = (summary[key] or {}).get(stat)
            if value is None:
                ok, missed_by = False, None
                text = "%s missed: no successful request to measure %s on" % (option, what)
            elif direction == "max":
                ok = value <= limit
                missed_by = 0.0 if ok else value - limit
                text = "%s missed: %s is %.4g > %.4g (over by %.4g, %.1f%%)" % (
                    option,
                    what,
                    value,
                    limit,
                    missed_by,
                    100.0 * missed_by / limit if limit else float("inf"),
                )
            else:
                ok = value >= limit
                missed_by = 0.0 if ok else limit - value
                text = "%s missed: %s is %.4g < %.4g (short by %.4g, %.1f%%)" % (
                    option,
                    what,
                    value,
                    limit,
                    missed_by,
                    100.0 * missed_by / limit if limit else 0.0,
                )
            checks[option] = {"limit": limit, "value": value, "ok": ok, "missed_by": missed_by}
            if not ok:
                failed.append((option, text))
        rate = summary["requests"]["error_rate"]
        limit = params["max_error_rate"]
        ok = rate <= limit
        checks["max_error_rate"] = {"limit": limit, "value": rate, "ok": ok, "missed_by": 0.0 if ok else rate - limit}
        if not ok:
            kinds = ", ".join("%d x %s" % (n, k) for k, n in sorted(summary["error_kinds"].items()))
            first = summary["errors"][0]["message"] if summary["errors"] else ""
            failed.insert(
                0,
                (
                    "max_error_rate",
                    "max_error_rate missed: %d of %d request(s) failed (%.1f%% > %.1f%%): "
                    "%s; first error: %s"
                    % (
                        summary["requests"]["failed"],
                        summary["requests"]["total"],
                        rate * 100,
                        limit * 100,
                        kinds,
                        first,
                    ),
                ),
            )
        return checks, failed

    def run(self):
        params = self.module.params
        total = params["requests"]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(params["concurrency"], total)) as pool:
            outcomes = list(pool.map(self.one, range(total)))
        duration = time.perf_counter() - started
        good = [o for o in outcomes if "error" not in o]
        errors = [o["error"] for o in outcomes if "error" in o]
        kinds = {}
        for err in errors:
            kinds[err["kind"]] = kinds.get(err["kind"], 0) + 1
        tokens = [o["tokens"] for o in good]
        summary = {
            "requests": {
                "total": total,
                "succeeded": len(good),
                "failed": len(errors),
                "error_rate": len(errors) / float(total),
                "concurrency": params["concurrency"],
                "stream": params["stream"],
            },
            "ttft_seconds": stats([o["ttft"] for o in good if o["ttft"] is not None]),
            "inter_token_latency_seconds": stats([g for o in good for g in o["gaps"]]),
            "e2e_latency_seconds": stats([o["e2e"] for o in good]),
            "output_tokens_per_s": stats([o["tokens"] / o["e2e"] for o in good if o["e2e"] > 0]),
            "output_tokens": dict(stats(tokens) or {}, total=sum(tokens)),
            "token_count_source": "usage" if good and all(o["usage"] for o in good) else "chunks",
            "throughput": {
                "duration_s": duration,
                "requests_per_s": len(good) / duration if duration > 0 else None,
                "output_tokens_per_s": sum(tokens) / duration if duration > 0 else None,
            },
            "error_kinds": kinds,
            "errors": errors[: params["max_errors_reported"]],
        }
        checks, failed = self.evaluate(summary)
        summary.update(thresholds=checks, failed_thresholds=[name for name, _t in failed], passed=not failed)
        self.result.update(summary)
        if failed:
            code = "threshold_missed"
            msg = "; ".join(text for _name, text in failed)
            if not good:
                kind = errors[0]["kind"] if len(kinds) == 1 else "mixed"
                code = {"unauthorized": "unauthorized", "forbidden": "forbidden", "not_found": "not_found"}.get(
                    kind, "all_requests_failed"
                )
                msg = "all %d request(s) to %schat/completions failed (%s); first error: %s" % (
                    total,
                    self.client.base_url,
                    ", ".join("%d x %s" % (n, k) for k, n in sorted(kinds.items())),
                    errors[0]["message"],
                )
            self.fail(msg, code, {"failed_thresholds": summary["failed_thresholds"], "error_kinds": kinds})
        self.exit()


def main():
    argument_spec = endpoint_argument_spec()
    argument_spec.update(
        model={"type": "str", "required": True},
        prompt={"type": "str"},
        messages={"type": "list", "elements": "dict"},
        max_tokens={"type": "int", "default": 64, "no_log": False},
        temperature={"type": "float", "default": 0.0},
        stream={"type": "bool", "default": True},
        requests={"type": "int", "default": 8},
        concurrency={"type": "int", "default": 2},
        extra_body={"type": "dict"},
        max_ttft_p95_seconds={"type": "float"},
        max_itl_p95_seconds={"type": "float"},
        min_output_tokens_per_s={"type": "float", "no_log": False},
        max_error_rate={"type": "float", "default": 0.0},
        max_errors_reported={"type": "int", "default": 10},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("prompt", "messages")],
        supports_check_mode=True,
    )
    base = InferenceModule(module)
    if openai is None:
        base.fail(missing_required_lib("openai"), "missing_library", exception=OPENAI_IMPORT_ERROR)
    # argument_spec rules cannot say "forbidden when stream=false", hence these door checks.
    streamed_only = [n for n in ("max_ttft_p95_seconds", "max_itl_p95_seconds") if module.params[n] is not None]
    if not module.params["stream"] and streamed_only:
        base.fail(
            "%s need(s) stream=true: a non-streamed answer has no first-token or inter-token timing"
            % ", ".join(streamed_only),
            "invalid_argument",
        )
    for name in ("requests", "concurrency", "max_tokens"):
        if module.params[name] < 1:
            base.fail("%s must be at least 1, got %s" % (name, module.params[name]), "invalid_argument")
    if not 0.0 <= module.params["max_error_rate"] <= 1.0:
        base.fail("max_error_rate must be between 0 and 1", "invalid_argument")
    SmokeInference(module).run()


if __name__ == "__main__":
    main()
