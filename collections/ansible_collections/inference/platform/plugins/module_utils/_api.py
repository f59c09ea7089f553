# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""Shared base for the modules of the inference.platform collection.

This file is PRIVATE to the inference.platform collection. It may change or
disappear in any release without notice; do not import it from other
collections or from your own plugins.

It owns the work every module repeats: talking HTTP to an endpoint (bearer
auth, timeouts, TLS options), marking a change, keeping secrets out of every
message, and failing with a structured error::

    {"msg": "...", "error": {"message": "...", "code": "...", "details": {...}}}
"""

from __future__ import annotations

import json
import socket

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlencode
from ansible.module_utils.urls import open_url

REDACTED = "********"


def endpoint_argument_spec():
    """Options shared by every module that talks to an HTTP endpoint.

    Mirrors the ``inference.platform.endpoint`` doc fragment.
    """
    return {
        "api_url": {"type": "str", "required": True},
        "api_key": {"type": "str", "no_log": True},
        "timeout": {"type": "float", "default": 10.0},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
    }


class ApiError(Exception):
    """A failure talking to an endpoint, already phrased for the user."""

    def __init__(self, message, code, details=None):
        super(ApiError, self).__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}


class ApiResponse(object):
    """What came back from one HTTP request."""

    def __init__(self, url, status, headers, body, elapsed=None):
        self.url = url
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.elapsed = elapsed

    @property
    def ok(self):
        return 200 <= self.status < 300

    def text(self):
        return to_text(self.body or b"", errors="surrogate_or_replace")

    def json(self):
        """Decode the body as JSON; raise ApiError(code='invalid_json') if it is not."""
        try:
            return json.loads(self.text())
        except ValueError as exc:
            raise ApiError(
                "%s answered HTTP %s with a body that is not JSON: %s" % (self.url, self.status, to_native(exc)),
                "invalid_json",
                {"url": self.url, "status": self.status, "body": self.text()[:500]},
            ) from None

    def error_detail(self):
        """The server's own error text, whatever shape it uses (OpenAI, FastAPI, LiteLLM, plain text)."""
        try:
            data = json.loads(self.text())
        except ValueError:
            return self.text()[:500]
        if isinstance(data, dict):
            for key in ("error", "detail", "message"):
                value = data.get(key)
                if isinstance(value, dict):
                    value = value.get("message") or value.get("error") or value
                if value:
                    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return json.dumps(data, sort_keys=True)[:500]


class InferenceModule(object):
    """Base of every module in the collection.

    Subclasses call :meth:`request`, mutate only under ``if not
    self.module.check_mode:`` and then :meth:`_mark_as_changed`, and end with
    :meth:`exit`. Every failure goes through :meth:`fail`.
    """

    def __init__(self, module):
        self.module = module
        self.result = {"changed": False}
        self._secrets = []
        for name in ("api_key",):
            self.add_secret(module.params.get(name))

    # -- secrets -----------------------------------------------------------

    def add_secret(self, value):
        """Never let ``value`` appear in a message, a diff or a result this module returns."""
        if value and isinstance(value, str) and value not in self._secrets:
            self._secrets.append(value)

    def redact(self, value):
        """Return ``value`` with every known secret replaced, recursing into lists and dicts."""
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact(v) for v in value]
        return value

    # -- result --------------------------------------------------------------

    def _mark_as_changed(self):
        self.result["changed"] = True

    def fail(self, message, code, details=None, **extra):
        """Fail the task with ``msg`` and ``error: {message, code, details}``; secrets are removed."""
        message = self.redact(to_text(message))
        error = {"message": message, "code": code, "details": self.redact(details or {})}
        result = dict(self.result)
        result.update(self.redact(extra))
        result.pop("msg", None)
        self.module.fail_json(msg=message, error=error, **result)

    def fail_from(self, exc, **extra):
        self.fail(exc.message, exc.code, exc.details, **extra)

    def exit(self, **extra):
        result = dict(self.result)
        result.update(extra)
        self.module.exit_json(**self.redact(result))

    # -- HTTP ----------------------------------------------------------------

    def url_for(self, path, query=None):
        base = self.module.params["api_url"].rstrip("/")
        url = path if path.startswith(("http://", "https://")) else base + "/" + path.lstrip("/")
        if query:
            query = {k: v for k, v in query.items() if v is not None}
            if query:
                url += ("&" if "?" in url else "?") + urlencode(query)
        return url

    def request(self, method, path, body=None, query=None, headers=None, auth=True, timeout=None):
        """Send one request and return an :class:`ApiResponse` whatever its HTTP status.

        Connection problems (refused, DNS, TLS, timeout) raise :class:`ApiError`
        with code ``timeout`` or ``connection_error``; HTTP statuses are for the
        caller to judge.
        """
        params = self.module.params
        url = self.url_for(path, query)
        all_headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            all_headers["Content-Type"] = "application/json"
        if auth and params.get("api_key"):
            all_headers["Authorization"] = "Bearer %s" % params["api_key"]
        all_headers.update(headers or {})
        timeout = params.get("timeout") if timeout is None else timeout
        try:
            resp = open_url(
                url,
                method=method,
                data=data,
                headers=all_headers,
                timeout=timeout,
                validate_certs=params.get("validate_certs", True),
                ca_path=params.get("ca_path"),
                follow_redirects="safe",
                use_proxy=True,
            )
            return ApiResponse(url, resp.getcode(), dict(resp.headers.items()), resp.read())
        except HTTPError as exc:
            try:
                err_body = exc.read()
            except Exception:  # noqa: BLE001 (a body we cannot read is an empty body)
                err_body = b""
            return ApiResponse(url, exc.code, dict(exc.headers.items()) if exc.headers else {}, err_body)
        except (socket.timeout, TimeoutError) as exc:
            raise ApiError(
                "%s %s timed out after %ss" % (method, url, timeout),
                "timeout",
                {"url": url, "timeout": timeout, "reason": to_native(exc)},
            ) from exc
        except URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise ApiError(
                    "%s %s timed out after %ss" % (method, url, timeout),
                    "timeout",
                    {"url": url, "timeout": timeout, "reason": to_native(reason)},
                ) from exc
            raise ApiError(
                "cannot reach %s: %s" % (url, to_native(reason)),
                "connection_error",
                {"url": url, "reason": to_native(reason)},
            ) from exc
        except (OSError, ValueError) as exc:
            raise ApiError(
                "cannot reach %s: %s" % (url, to_native(exc)),
                "connection_error",
                {"url": url, "reason": to_native(exc)},
            ) from exc

    def http_error(self, resp, what):
        """An ApiError that names the request, the status and the server's words."""
        status = resp.status
        detail = resp.error_detail()
        if status in (401, 403):
            code = "unauthorized" if status == 401 else "forbidden"
            hint = " (the api_key was refused)" if status == 401 else " (the api_key may not do this)"
        elif status == 404:
            code, hint = "not_found", ""
        elif 400 <= status < 500:
            code, hint = "client_error", ""
        else:
            code, hint = "server_error", ""
        return ApiError(
            "%s failed: HTTP %s%s from %s: %s" % (what, status, hint, resp.url, detail),
            code,
            {"url": resp.url, "status": status, "body": resp.text()[:1000]},
        )
