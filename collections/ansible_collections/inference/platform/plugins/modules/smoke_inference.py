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
  - Every request has one wall-clock deadline, O(timeout), for the whole request (see there), so the module always
    returns; a server that stalls, sends only keep-alive comments or trickles bytes fails that request with
    V(timeout).
  - "Each failed request is classified: V(timeout) (the O(timeout) deadline passed), V(connection), V(unauthorized)
    (401), V(forbidden) (403), V(not_found) (404, for example an unknown model), V(rate_limited) (429),
    V(client_error) (another 4xx), V(server_error) (5xx, or an error object inside a stream), V(malformed),
    V(truncated) (a stream that ends without a C(finish_reason)), V(empty) (an answer without any content) or
    V(error) (anything else)."
  - "V(malformed) is a 200 answer the module cannot use: to a streamed request, a body that is not an event stream
    (C(Content-Type) other than C(text/event-stream), for example an HTML page or a whole JSON answer) or a stream
    event that is not a JSON chat completion chunk; to a non-streamed request, a body that is not JSON or not a chat
    completion (no C(choices) list, a choice without C(message)). The message names the C(Content-Type) and quotes
    the first 200 characters of the body (with the API key masked)."
  - Every failure message, of a request or of the task, ends with C(Next:) and the operator's next step, for example
    the C(kubectl logs) command of the server, the route or model name to check, the key, or the threshold.
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
  timeout:
    description:
      - Deadline in seconds for each request, measured on the wall clock from sending the request to the last byte
        of the answer. It covers connecting, the response headers, the first token B(and) the whole stream (with
        O(stream=false), the whole answer).
      - Keep-alive comments, empty events, chunks without content and bytes that trickle in do not extend it. When
        it passes, the request fails with V(timeout), and the module stops waiting for it at most 0.25 seconds later.
      - The same number also bounds connecting and each single read of the socket.
      - Set it above the time one healthy request of O(max_tokens) tokens takes (time to first token plus
        O(max_tokens) divided by the model's tokens per second, under O(concurrency)). It is not a latency gate; use
        O(max_ttft_p95_seconds) and O(min_output_tokens_per_s) for that.
      - The whole task takes at most about ceil(O(requests) / O(concurrency)) times this long.
    type: float
    default: 10
  model:
    description: Model name to ask (vLLM C(--served-model-name), or a LiteLLM route).
    type: str
    required: true
  platform_namespaces:
    description:
      - The platform's namespaces (C(platform_namespaces) of group_vars/all, keys C(gateway) and C(models)), named
        in the next step of a failure when O(api_url) is not itself a C(<service>.<namespace>.svc) name.
      - Without them the next step names the gateway's and the model server's Deployments without a namespace.
    type: dict
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
  - The SDK's own retries are off, so each request is sent once.
  - A request the module stopped waiting for (V(timeout)) may still be running on the server for a moment; its
    connection is dropped when the module exits.
  - "The next steps in failure messages name C(kubectl -n <namespace> logs deploy/<service>) when O(api_url) is a
    cluster service name (C(<service>.<namespace>.svc)); otherwise LiteLLM as C(deploy/litellm) and the model's server
    as C(deploy/<model>), in the namespaces O(platform_namespaces) gives."
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
    # each request (first token and all 128 tokens) must be complete within 30 s
    timeout: 30
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

- name: Gate without failing the play, then act on the kind of failure
  inference.platform.smoke_inference:
    api_url: "http://qwen25-7b.inference.svc:8000"
    model: qwen25-7b
    timeout: 20
  register: gate
  failed_when: false

- name: Say what went wrong and what to do next
  ansible.builtin.debug:
    msg: "{{ gate.msg }}"  # ends with "Next: ..."
  when: gate.failed
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
  description:
    - The first O(max_errors_reported) failed requests.
    - C(index) (0-based), C(kind), C(status) (the HTTP status, V(null) when none arrived), C(seconds) (from sending
      the request to giving up on it) and C(message), which ends with C(Next:) and the step to take.
  returned: always
  type: list
  elements: dict
  sample: [{index: 3, kind: timeout, status: 200, seconds: 2.0, message: "no first token within the timeout=2s
    deadline: HTTP 200 text/event-stream, then 9 keep-alive comment(s), 0 empty event(s), 0 chunk(s) without
    content (263 bytes) in 2.0s; timeout is one wall-clock deadline for the whole request. Next: read the server's
    logs for a stalled or overloaded model (kubectl -n inference logs deploy/qwen25-7b); if it is only slow, raise
    timeout (now 2s) above the time one request of max_tokens=64 takes"}]
"""

import json
import re
import ssl
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.inference.platform.plugins.module_utils._api import (
    REDACTED,
    InferenceModule,
    endpoint_argument_spec,
)
from ansible_collections.inference.platform.plugins.module_utils._rules import DNS_LABEL_BODY

OPENAI_IMPORT_ERROR = None
try:
    import openai
except ImportError:
    openai = None
    OPENAI_IMPORT_ERROR = traceback.format_exc()

DEFAULT_PROMPT = "Reply with one short sentence about the sea."

# How long after a request's deadline the module stops waiting for a worker stuck in one socket read.
WATCHDOG_GRACE_SECONDS = 0.25
# Characters of a body quoted in a message, and bytes read (within the deadline) to quote from.
PREVIEW_CHARS = 200
PREVIEW_BYTES = 4096
# A non-streamed answer larger than this is not the short chat completion a smoke test asked for.
MAX_BODY_BYTES = 8 * 1024 * 1024
# A secret cut by the preview's end is masked from this many characters of it on.
MIN_SECRET_PREFIX = 6
# <service>.<namespace>.svc[.cluster.local]: a Kubernetes Service, whose Deployment has the same name on this platform.
SERVICE_HOST = re.compile(
    r"^(%s)\.(%s)\.svc(?:\.cluster\.local)?\.?$" % (DNS_LABEL_BODY, DNS_LABEL_BODY)
)

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


def seconds(value):
    """2.0 -> '2', 0.5 -> '0.5': numbers as an operator typed them."""
    return "%g" % value


def media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


class RequestFailed(Exception):
    def __init__(self, kind, message, status=None, next_step=None):
        super(RequestFailed, self).__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.next_step = next_step  # None: the kind's usual next step


class DeadlinePassed(Exception):
    """The request's wall-clock deadline passed while data (keep-alives, trickled bytes) was still arriving."""


class Progress(object):
    """What one request has seen so far: its worker thread writes it, the watchdog reads it to explain a timeout."""

    def __init__(self, started, deadline):
        self.started = started
        self.deadline = deadline
        self.status = None
        self.content_type = None
        self.bytes = 0
        self.comments = 0
        self.empty_events = 0
        self.no_content_chunks = 0
        self.content_chunks = 0
        self.first_content = None
        self.last_content = None


class SseParser(object):
    """Incremental Server-Sent Events parser: CR, LF or CRLF line ends, ':' comments, multi-line data.

    ``feed`` yields ``("comment", None, None)`` for a comment line and ``("event", name, data)`` for each
    dispatched event (a blank line ends an event that has data; ``name`` is the ``event:`` field or None).
    """

    def __init__(self):
        self._buffer = b""
        self._data = []
        self._event = None

    def feed(self, chunk, final=False):
        self._buffer += chunk
        while True:
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if not ends:
                break
            end = min(ends)
            skip = 1
            if self._buffer[end : end + 1] == b"\r":
                if end + 1 == len(self._buffer) and not final:
                    break  # maybe the first half of CRLF: wait for the next byte
                if self._buffer[end + 1 : end + 2] == b"\n":
                    skip = 2
            line, self._buffer = self._buffer[:end], self._buffer[end + skip :]
            item = self._line(to_text(line, errors="surrogate_or_replace"))
            if item is not None:
                yield item
        if final and self._buffer:
            line, self._buffer = self._buffer, b""
            item = self._line(to_text(line, errors="surrogate_or_replace"))
            if item is not None:
                yield item
        # An event not ended by a blank line when the stream ends is dropped, as the SSE standard says.

    def _line(self, line):
        if not line:
            if not self._data:
                self._event = None
                return None
            item = ("event", self._event, "\n".join(self._data))
            self._data = []
            self._event = None
            return item
        if line.startswith(":"):
            return ("comment", None, None)
        field, _sep, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None  # id, retry and unknown fields do not matter here


def classify(exc):
    """Turn an SDK or transport exception into (kind, status, message); timeouts are described by the caller."""
    if isinstance(exc, RequestFailed):
        return exc.kind, exc.status, exc.message
    if isinstance(exc, DeadlinePassed):
        return "timeout", None, ""
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
        return "timeout", None, ""
    if openai is not None and isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        if cause is not None and "Timeout" in type(cause).__name__:
            return "timeout", None, ""
        return "connection", None, "connection failed: %s" % (cause or exc)
    if "Protocol" in name or "Connect" in name or "Read" in name or isinstance(exc, (OSError, EOFError)):
        return "connection", None, "connection broken mid-response (%s: %s)" % (name, exc)
    return "error", None, "%s: %s" % (name, exc)


class SmokeInference(InferenceModule):
    def __init__(self, module):
        super(SmokeInference, self).__init__(module)
        params = module.params
        self.timeout = params["timeout"]
        self.stream = params["stream"]
        self.client = openai.OpenAI(
            base_url=params["api_url"].rstrip("/") + "/v1",
            # The SDK insists on a key; a server without auth ignores it.
            api_key=params["api_key"] or "no-key",
            timeout=self.timeout,
            max_retries=0,
            http_client=self._http_client(),
        )

    def _http_client(self):
        params = self.module.params
        if params["validate_certs"] and not params["ca_path"]:
            return None
        http = getattr(openai, "DefaultHttpxClient", None)
        if http is None:
            self.fail(
                "validate_certs=false and ca_path need an openai SDK with DefaultHttpxClient (openai >= 1.17). "
                "Next: upgrade the openai package where the module runs",
                "missing_library",
            )
        verify = False
        if params["validate_certs"]:
            try:
                verify = ssl.create_default_context(cafile=params["ca_path"])
            except (OSError, ssl.SSLError) as exc:
                self.fail(
                    "ca_path %s cannot be used: %s. Next: point ca_path at a readable PEM file with the CA that "
                    "signed the endpoint's certificate, on the host the module runs on" % (params["ca_path"], exc),
                    "invalid_argument",
                )
        return http(verify=verify, timeout=self.timeout)

    # -- what to do next ---------------------------------------------------------------------------

    def _service(self):
        """(service, namespace) when api_url is a cluster Service name, else None."""
        host = (urlparse(self.module.params["api_url"]).hostname or "").lower()
        match = SERVICE_HOST.match(host)
        return match.groups() if match else None

    def _loopback(self):
        host = (urlparse(self.module.params["api_url"]).hostname or "").lower()
        return host in ("localhost", "::1") or host.startswith("127.")

    def logs_hint(self):
        """The logs an operator should read, as precisely as api_url allows."""
        model = self.module.params["model"]
        service = self._service()
        if service:
            hint = "kubectl -n %s logs deploy/%s" % (service[1], service[0])
            if service[0] != model:
                hint += "; if that is a gateway, also the model server behind route %s" % model
            return hint
        if self._loopback():
            return (
                "kubectl -n <namespace> logs deploy/<name> of the Service forwarded to %s, or the log of the "
                "server listening there" % self.module.params["api_url"].rstrip("/")
            )
        namespaces = self.module.params["platform_namespaces"] or {}
        gateway = "kubectl -n %s logs deploy/litellm" % namespaces["gateway"] if namespaces.get("gateway") else (
            "kubectl logs deploy/litellm in the gateway's namespace")
        server = "kubectl -n %s logs deploy/%s" % (namespaces["models"], model) if namespaces.get("models") else (
            "kubectl logs deploy/%s in the models' namespace" % model)
        return "this platform's gateway: %s; the model's server: %s" % (gateway, server)

    def pods_hint(self):
        service = self._service()
        if service:
            return "kubectl -n %s get endpoints %s" % (service[1], service[0])
        if self._loopback():
            return "is the kubectl port-forward or local server still running?"
        namespaces = self.module.params["platform_namespaces"] or {}
        if namespaces.get("gateway") and namespaces.get("models"):
            return "kubectl -n %s get pods; kubectl -n %s get pods" % (namespaces["gateway"], namespaces["models"])
        return "kubectl get pods in the gateway's and the models' namespaces"

    def next_step(self, kind, detail=""):
        params = self.module.params
        url = params["api_url"].rstrip("/")
        model = params["model"]
        logs = self.logs_hint()
        if kind == "timeout":
            return (
                "read the server's logs for a stalled or overloaded model (%s) and its queue "
                "(inference.platform.inference_health); if it is only slow, raise timeout (now %ss) above the time "
                "one request of max_tokens=%d takes" % (logs, seconds(self.timeout), params["max_tokens"])
            )
        if kind == "connection":
            return (
                "check that %s is reachable from the host this task runs on (DNS name, port, firewall, proxy; for "
                "TLS validate_certs and ca_path), then that the server runs (%s)" % (url, self.pods_hint())
            )
        if kind == "unauthorized":
            return (
                "check the api_key given to this task: %s must accept it (LiteLLM: a virtual key made with "
                "inference.platform.litellm_key, or the master key; vLLM: its --api-key)" % url
            )
        if kind == "forbidden":
            return (
                "allow model %s for this key or its team (models of inference.platform.litellm_key or litellm_team), "
                "or use a key that has it" % model
            )
        if kind == "not_found":
            return (
                "check the model name %s against GET %s/v1/models with the same key (vLLM --served-model-name, "
                "LiteLLM model_name of a route), and that api_url has no /v1 suffix" % (model, url)
            )
        if kind == "rate_limited":
            return (
                "raise rpm_limit/tpm_limit of the key or its team (inference.platform.litellm_key, litellm_team), or "
                "lower concurrency (now %d)" % params["concurrency"]
            )
        if kind == "client_error":
            if "no connected db" in detail.lower() or "database not connected" in detail.lower():
                return (
                    "LiteLLM has no database to look this key up: give it DATABASE_URL (the litellm role's database), "
                    "or use its master key"
                )
            return (
                "read the server's words above; through LiteLLM check that route %s exists (GET %s/v1/models) and "
                "that the key is known; check max_tokens (now %d) against the model's context and extra_body"
                % (model, url, params["max_tokens"])
            )
        if kind == "server_error":
            return "read the server's logs for this error (%s)" % logs
        if kind == "malformed":
            return (
                "check that api_url (%s) is the OpenAI-compatible server itself (vLLM or LiteLLM, without /v1) and "
                "not an ingress default page, a login page or another service: the body quoted above is what "
                "answered; then read the server's logs (%s)" % (url, logs)
            )
        if kind == "truncated":
            return (
                "read the server's logs for a crash, an out-of-memory kill or a restart during the answer (%s), and "
                "check the idle timeouts of proxies between here and the server" % logs
            )
        if kind == "empty":
            return (
                "send one request by hand and check the model's chat template and max_tokens (now %d); then read the "
                "server's logs (%s)" % (params["max_tokens"], logs)
            )
        return "read the server's logs (%s) and report this unclassified failure with the message above" % logs

    # -- quoting what a server sent ----------------------------------------------------------------

    def quote(self, data):
        """At most PREVIEW_CHARS characters of ``data``, on one line, with every known secret masked."""
        text = self.redact(to_text(data, errors="surrogate_or_replace"))
        # The read may have cut a secret: mask what is left of it at the end.
        for secret in self._secrets:
            for size in range(len(secret) - 1, MIN_SECRET_PREFIX - 1, -1):
                if text.endswith(secret[:size]):
                    text = text[:-size] + REDACTED
                    break
        text = " ".join(text.split())
        if len(text) > PREVIEW_CHARS:
            return '"%s..." (first %d characters)' % (text[:PREVIEW_CHARS], PREVIEW_CHARS)
        return '"%s"' % text

    # -- one request ---------------------------------------------------------------------------------

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

    def _headers(self, response, progress):
        progress.status = response.status_code
        progress.content_type = response.headers.get("content-type")
        if time.perf_counter() > progress.deadline:
            raise DeadlinePassed()

    def _body(self, response, progress):
        """The body's bytes as they arrive; fails as soon as data arrives after the deadline."""
        for chunk in response.iter_bytes():
            progress.bytes += len(chunk)
            if time.perf_counter() > progress.deadline:
                raise DeadlinePassed()
            yield chunk

    def _events(self, response, progress):
        """The stream's comments and events as they arrive (see SseParser), under the deadline."""
        parser = SseParser()
        for piece in self._body(response, progress):
            yield from parser.feed(piece)
        yield from parser.feed(b"", final=True)

    def _head(self, response, progress):
        """Up to PREVIEW_BYTES of the body, read within the deadline."""
        head = b""
        for chunk in self._body(response, progress):
            head += chunk
            if len(head) >= PREVIEW_BYTES:
                break
        return head[:PREVIEW_BYTES]

    def _content_type(self, progress):
        return "'%s'" % progress.content_type if progress.content_type else "(none)"

    def _not_an_event_stream(self, response, progress):
        head = self._head(response, progress)
        message = (
            "HTTP %s with Content-Type %s to a streamed request, not an event stream (text/event-stream); "
            "the body starts: %s" % (progress.status, self._content_type(progress), self.quote(head))
        )
        next_step = None
        try:
            whole = json.loads(to_text(head, errors="surrogate_or_replace"))
        except ValueError:
            whole = None
        if isinstance(whole, dict) and isinstance(whole.get("choices"), list):
            next_step = (
                "this server (or a proxy before it) ignored stream=true and sent a whole answer: route the request "
                "to a server that streams, or set stream: false (no TTFT or inter-token latency then)"
            )
        return RequestFailed("malformed", message, progress.status, next_step)

    def _stream_chunk(self, data):
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise RequestFailed(
                "malformed", "a stream chunk is not valid JSON (%s): %s" % (exc, self.quote(data)), 200
            ) from None
        if not isinstance(chunk, dict):
            raise RequestFailed("malformed", "a stream chunk is JSON but not an object: %s" % self.quote(data), 200)
        if chunk.get("error") or chunk.get("object") == "error":
            raise RequestFailed(
                "server_error", "the server reported an error inside the stream: %s" % self.quote(data), 200
            )
        choices = chunk.get("choices")
        if choices is None and isinstance(chunk.get("usage"), dict):
            choices = []  # a usage-only chunk
        if not isinstance(choices, list) or not all(
            isinstance(c, dict) and isinstance(c.get("delta") or {}, dict) for c in choices
        ):
            raise RequestFailed(
                "malformed",
                "a stream chunk is not a chat completion chunk (needs a 'choices' list of objects with a 'delta' "
                "object; keys: %s): %s" % (", ".join(sorted(chunk)) or "none", self.quote(data)),
                200,
            )
        return chunk, choices

    def new_progress(self):
        started = time.perf_counter()
        return Progress(started, started + self.timeout)

    def one_streamed(self, progress=None):
        """One streamed request, timed from now (or from ``progress.started``); raises on any failure."""
        progress = progress or self.new_progress()
        kwargs = self.request_kwargs()
        start = progress.started
        gaps = []
        finish = None
        tokens = None
        create = self.client.chat.completions.with_streaming_response.create
        with create(stream=True, stream_options={"include_usage": True}, **kwargs) as response:
            self._headers(response, progress)
            if media_type(progress.content_type) != "text/event-stream":
                raise self._not_an_event_stream(response, progress)
            for item, name, data in self._events(response, progress):
                if item == "comment":
                    progress.comments += 1
                    continue
                if name not in (None, "", "message"):
                    if name == "error":
                        raise RequestFailed(
                            "server_error", "the server sent an error event: %s" % self.quote(data), 200
                        )
                    progress.no_content_chunks += 1
                    continue
                data = data.strip()
                if not data:
                    progress.empty_events += 1
                    continue
                if data == "[DONE]":
                    break
                chunk, choices = self._stream_chunk(data)
                now = time.perf_counter()
                usage = chunk.get("usage")
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    tokens = usage["completion_tokens"]
                content_seen = False
                for choice in choices:
                    delta = choice.get("delta") or {}
                    content = delta.get("content") or delta.get("reasoning_content")
                    if isinstance(content, str) and content:
                        content_seen = True
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                if not content_seen:
                    progress.no_content_chunks += 1
                    continue
                # The watchdog may read progress at any moment: times first, then the count.
                if progress.first_content is None:
                    progress.first_content = now
                else:
                    gaps.append(now - progress.last_content)
                progress.last_content = now
                progress.content_chunks += 1
        end = time.perf_counter()
        chunks = progress.content_chunks
        if finish is None:
            raise RequestFailed(
                "truncated", "stream ended after %d content chunk(s) without a finish_reason" % chunks, 200
            )
        if chunks == 0:
            raise RequestFailed("empty", "stream finished (%s) without any content" % finish, 200)
        return {
            "ttft": progress.first_content - start,
            "gaps": gaps,
            "e2e": end - start,
            "tokens": tokens if tokens is not None else chunks,
            "usage": tokens is not None,
            "finish_reason": finish,
        }

    def _completion(self, body, progress):
        """The parsed chat completion, or RequestFailed('malformed') naming what is wrong with the body."""
        where = "HTTP %s with Content-Type %s" % (progress.status, self._content_type(progress))
        try:
            answer = json.loads(to_text(body, errors="surrogate_or_replace"))
        except ValueError as exc:
            next_step = None
            if media_type(progress.content_type) == "text/event-stream":
                next_step = (
                    "this server streamed although stream=false was asked: set stream: true, or route the request "
                    "to a server that answers without streaming"
                )
            raise RequestFailed(
                "malformed",
                "%s: the body is not JSON (%s); it starts: %s" % (where, exc, self.quote(body[:PREVIEW_BYTES])),
                progress.status,
                next_step,
            ) from None
        if isinstance(answer, dict) and (answer.get("error") or answer.get("object") == "error"):
            raise RequestFailed(
                "server_error",
                "%s carrying an error: %s" % (where, self.quote(body[:PREVIEW_BYTES])),
                progress.status,
            )
        choices = answer.get("choices") if isinstance(answer, dict) else None
        shape = None
        if not isinstance(answer, dict):
            shape = "JSON but not an object"
        elif not isinstance(choices, list):
            shape = "not a chat completion: no 'choices' list (keys: %s)" % (", ".join(sorted(answer)) or "none")
        elif choices and not (isinstance(choices[0], dict) and isinstance(choices[0].get("message"), dict)):
            shape = "not a chat completion: choices[0] has no 'message' object"
        if shape:
            raise RequestFailed(
                "malformed",
                "%s: the body is %s; it starts: %s" % (where, shape, self.quote(body[:PREVIEW_BYTES])),
                progress.status,
            )
        return answer

    def one_plain(self, progress=None):
        """One non-streamed request, timed from now (or from ``progress.started``); raises on any failure."""
        progress = progress or self.new_progress()
        start = progress.started
        body = b""
        with self.client.chat.completions.with_streaming_response.create(**self.request_kwargs()) as response:
            self._headers(response, progress)
            for piece in self._body(response, progress):
                body += piece
                if len(body) > MAX_BODY_BYTES:
                    raise RequestFailed(
                        "malformed",
                        "HTTP %s with Content-Type %s: the body is larger than %d bytes; it starts: %s"
                        % (progress.status, self._content_type(progress), MAX_BODY_BYTES, self.quote(body[:200])),
                        progress.status,
                    )
        end = time.perf_counter()
        answer = self._completion(body, progress)
        if not answer["choices"]:
            raise RequestFailed("empty", "answer has no choices", 200)
        choice = answer["choices"][0]
        message = choice["message"]
        content = message.get("content") or message.get("reasoning_content")
        if not isinstance(content, str) or not content:
            raise RequestFailed("empty", "answer has no content (finish_reason=%s)" % choice.get("finish_reason"), 200)
        usage = answer.get("usage")
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if not isinstance(tokens, int):
            tokens = None
        return {
            "ttft": None,
            "gaps": [],
            "e2e": end - start,
            "tokens": tokens if tokens is not None else len(content.split()),
            "usage": tokens is not None,
            "finish_reason": choice.get("finish_reason"),
        }

    def _work(self, progress, outcome):
        try:
            outcome["result"] = self.one_streamed(progress) if self.stream else self.one_plain(progress)
        # One request's failure is counted and described; it must never end the run.
        except Exception as exc:  # noqa: BLE001
            outcome["exc"] = exc

    def timeout_message(self, progress, ended):
        limit = "timeout=%ss" % seconds(self.timeout)
        seen = "%d keep-alive comment(s), %d empty event(s), %d chunk(s) without content (%d bytes)" % (
            progress.comments,
            progress.empty_events,
            progress.no_content_chunks,
            progress.bytes,
        )
        answer = "HTTP %s %s" % (progress.status, progress.content_type or "(no Content-Type)")
        if progress.status is None:
            what = (
                "no HTTP response within the %s deadline (still connecting, or the server took the request and "
                "sent no status line)" % limit
            )
        elif not self.stream:
            what = "answer not complete within the %s deadline: %s, %d byte(s) of body" % (
                limit,
                answer,
                progress.bytes,
            )
        elif progress.content_chunks == 0:
            what = "no first token within the %s deadline: %s, then %s" % (limit, answer, seen)
        else:
            what = (
                "stream not finished within the %s deadline: %d content chunk(s), the first after %.2fs, "
                "the last %.2fs before giving up; %s"
                % (
                    limit,
                    progress.content_chunks,
                    progress.first_content - progress.started,
                    ended - progress.last_content,
                    seen,
                )
            )
        return "%s, in %.1fs; timeout is one wall-clock deadline for the whole request" % (
            what,
            ended - progress.started,
        )

    def one(self, index):
        """Send request ``index`` and wait for it at most until its deadline (plus a short grace)."""
        progress = self.new_progress()
        started = progress.started
        outcome = {}
        worker = threading.Thread(target=self._work, args=(progress, outcome), name="smoke_inference-%d" % index)
        # A worker stuck in a socket read past its deadline is left behind; it must not keep the module alive.
        worker.daemon = True
        worker.start()
        worker.join(self.timeout + WATCHDOG_GRACE_SECONDS)
        ended = time.perf_counter()
        if "result" in outcome and not worker.is_alive():
            result = outcome["result"]
            result["index"] = index
            return result
        next_step = None
        if worker.is_alive():
            kind, status = "timeout", progress.status
        else:
            exc = outcome["exc"]
            kind, status, message = classify(exc)
            next_step = getattr(exc, "next_step", None)
            if kind == "connection" and progress.status is not None:
                message += " after HTTP %s, %d content chunk(s), %d bytes" % (
                    progress.status,
                    progress.content_chunks,
                    progress.bytes,
                )
        if kind == "timeout":
            status = progress.status
            message = self.timeout_message(progress, ended)
        message = "%s. Next: %s" % (message.rstrip(". "), next_step or self.next_step(kind, message))
        return {
            "index": index,
            "error": {
                "index": index,
                "kind": kind,
                "status": status,
                "seconds": round(ended - started, 3),
                "message": self.redact(message),
            },
        }

    # -- the run ---------------------------------------------------------------------------------------

    def threshold_next_step(self, option, limit, value):
        params = self.module.params
        if value is None:
            return "make the requests succeed first (see errors)"
        load = "the model's queue and KV-cache use (inference.platform.inference_health) and its logs (%s)" % (
            self.logs_hint()
        )
        if option == "min_output_tokens_per_s":
            return "check GPU load and %s; lower %s (now %g) only if %.4g tokens/s is acceptable for %s" % (
                load,
                option,
                limit,
                value,
                params["model"],
            )
        return "check %s; raise %s (now %g) only if %.4g s is acceptable for %s" % (
            load,
            option,
            limit,
            value,
            params["model"],
        )

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
                failed.append((option, "%s. Next: %s" % (text, self.threshold_next_step(option, limit, value))))
        rate = summary["requests"]["error_rate"]
        limit = params["max_error_rate"]
        ok = rate <= limit
        checks["max_error_rate"] = {"limit": limit, "value": rate, "ok": ok, "missed_by": 0.0 if ok else rate - limit}
        if not ok:
            kinds = ", ".join("%d x %s" % (n, k) for k, n in sorted(summary["error_kinds"].items()))
            # The first error's message ends with its own next step.
            first = summary["errors"][0]["message"] if summary["errors"] else "(none kept). Next: read errors"
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
        platform_namespaces={"type": "dict"},
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
        base.fail(
            "%s Next: pip install openai (tested with 3.54) into the Python that runs this module "
            "(ansible_python_interpreter of the host it runs on, usually the controller with delegate_to: localhost)"
            % missing_required_lib("openai"),
            "missing_library",
            exception=OPENAI_IMPORT_ERROR,
        )
    # argument_spec rules cannot say "forbidden when stream=false", hence these door checks.
    streamed_only = [n for n in ("max_ttft_p95_seconds", "max_itl_p95_seconds") if module.params[n] is not None]
    if not module.params["stream"] and streamed_only:
        base.fail(
            "%s need(s) stream=true: a non-streamed answer has no first-token or inter-token timing. "
            "Next: set stream: true, or drop %s" % (", ".join(streamed_only), " and ".join(streamed_only)),
            "invalid_argument",
        )
    for name in ("requests", "concurrency", "max_tokens"):
        if module.params[name] < 1:
            base.fail(
                "%s must be at least 1, got %s. Next: set %s to 1 or more" % (name, module.params[name], name),
                "invalid_argument",
            )
    if not module.params["timeout"] > 0:
        base.fail(
            "timeout must be above 0, got %s. Next: set timeout to the seconds one whole request may take"
            % module.params["timeout"],
            "invalid_argument",
        )
    if not 0.0 <= module.params["max_error_rate"] <= 1.0:
        base.fail(
            "max_error_rate must be between 0 and 1, got %s. Next: give a fraction, for example 0.05 for 5%%"
            % module.params["max_error_rate"],
            "invalid_argument",
        )
    SmokeInference(module).run()


if __name__ == "__main__":
    main()
