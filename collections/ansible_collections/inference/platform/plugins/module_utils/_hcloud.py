# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""Shared work of the Hetzner Cloud server modules (hcloud_server, hcloud_server_info) and the hcloud inventory.

This file is PRIVATE to the inference.platform collection. It may change or
disappear in any release without notice; do not import it from other
collections or from your own plugins.

Why it exists: the pinned hetzner.hcloud collection (5.4.0, vendoring hcloud-python 2.8.0) reads
``server.datacenter``, a property the Hetzner Cloud API stopped returning on 2026-07-01
(https://docs.hetzner.cloud/changelog#2026-07-01-removing-datacenters). Servers carry ``location`` instead.
Everything here is built on the hcloud Python client (tested with 2.27.0) and reads only ``location``.

It owns the ``api_token``/``api_endpoint`` options (doc fragment ``inference.platform.hcloud``), building an
``hcloud.Client``, waiting for actions, turning ``hcloud.APIException`` into the collection's structured
failure (``msg`` plus ``error: {message, code, details}``, never containing the token) and
:func:`server_to_dict`, the one shape a server is returned in.
"""

from __future__ import annotations

import math
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.inference.platform.plugins.module_utils._api import ApiError, InferenceModule

try:
    import requests
    from hcloud import APIException, Client
    from hcloud.actions.domain import ActionFailedException, ActionTimeoutException
except ImportError:
    HAS_HCLOUD = False
    HCLOUD_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_HCLOUD = True
    HCLOUD_IMPORT_ERROR = None

DEFAULT_ENDPOINT = "https://api.hetzner.cloud/v1"
APPLICATION_NAME = "ansible-inference.platform"
# Seconds between two polls of a running action (Hetzner's documented polling is about once a second).
POLL_INTERVAL = 1.0
# Connect and read timeout of one HTTP request to the API.
REQUEST_TIMEOUT = (10.0, 60.0)
NO_CREDENTIALS = (
    "No Hetzner Cloud API token: export HCLOUD_TOKEN (or set api_token, for example from Ansible Vault or an AWX "
    "credential)."
)


def hcloud_argument_spec():
    """Options shared by every module that talks to the Hetzner Cloud API.

    Mirrors the ``inference.platform.hcloud`` doc fragment.
    """
    return {
        "api_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["HCLOUD_TOKEN"])},
        "api_endpoint": {
            "type": "str",
            "default": DEFAULT_ENDPOINT,
            "fallback": (env_fallback, ["HCLOUD_ENDPOINT"]),
        },
    }


def build_client(token, endpoint=None, wait_timeout=None):
    """An ``hcloud.Client`` for ``endpoint``; actions are polled every second for about ``wait_timeout`` seconds."""
    retries = max(1, math.ceil(float(wait_timeout) / POLL_INTERVAL)) if wait_timeout else 120
    return Client(
        token=token,
        api_endpoint=(endpoint or DEFAULT_ENDPOINT).rstrip("/"),
        application_name=APPLICATION_NAME,
        poll_interval=POLL_INTERVAL,
        poll_max_retries=retries,
        timeout=REQUEST_TIMEOUT,
    )


def error_from_api(exc, what):
    """An :class:`ApiError` for an ``hcloud.APIException`` raised while doing ``what``.

    ``code`` is Hetzner's error code (``not_found``, ``invalid_input``, ``ip_not_available``, ...), or
    ``http_<status>`` when the answer was not the API's JSON error shape.
    """
    code = exc.code
    if not isinstance(code, str):
        code = "http_%s" % code
    details = {"step": what, "api_code": exc.code, "api_details": _plain(exc.details)}
    if getattr(exc, "correlation_id", None):
        details["correlation_id"] = exc.correlation_id
    hint = ""
    if code == "unauthorized":
        hint = "; the API token was refused, check HCLOUD_TOKEN or api_token"
    elif code == "token_readonly":
        hint = "; the API token is read-only, this needs a Read & Write token"
    elif code == "protected":
        hint = "; lift the protection first (for a server, delete_protection: false)"
    return ApiError("%s failed: %s (%s)%s" % (what, to_text(exc.message), code, hint), code, details)


def _plain(value, limit=1000):
    """``value`` made JSON-safe for a result (bytes decoded and shortened)."""
    if isinstance(value, bytes):
        return to_text(value[:limit], errors="surrogate_or_replace")
    if isinstance(value, dict):
        return {to_text(k): _plain(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, limit) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return to_text(value)


def translate(exc, what, endpoint):
    """An :class:`ApiError` for any failure of the hcloud client, or None if ``exc`` is not one of them."""
    if isinstance(exc, ApiError):
        return exc
    if not HAS_HCLOUD:
        return None
    if isinstance(exc, APIException):
        return error_from_api(exc, what)
    if isinstance(exc, ActionFailedException):
        action = exc.action
        return ApiError(
            "%s failed: Hetzner reports the action %s (id %s) failed: %s"
            % (what, action.command, action.id, (action.error or {}).get("message", "no reason given")),
            "action_failed",
            {"step": what, "action": {"id": action.id, "command": action.command, "error": _plain(action.error)}},
        )
    if isinstance(exc, ActionTimeoutException):
        action = exc.action
        return ApiError(
            "%s: the action %s (id %s) was still running when wait_timeout ran out; it may still finish, run the task "
            "again later or raise wait_timeout" % (what, action.command, action.id),
            "action_timeout",
            {"step": what, "action": {"id": action.id, "command": action.command, "progress": action.progress}},
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return ApiError(
            "%s: the Hetzner Cloud API at %s did not answer in time" % (what, endpoint),
            "timeout",
            {"step": what, "endpoint": endpoint, "reason": to_text(exc)},
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return ApiError(
            "%s: cannot reach the Hetzner Cloud API at %s: %s" % (what, endpoint, to_text(exc)),
            "connection_error",
            {"step": what, "endpoint": endpoint, "reason": to_text(exc)},
        )
    return None


class NameLookup(object):
    """Names of networks and firewalls by id, each fetched once (a server only carries their ids)."""

    def __init__(self):
        self._networks = {}
        self._firewalls = {}

    def network_name(self, network):
        if network.id not in self._networks:
            self._networks[network.id] = network.name  # an incomplete bound model: reads GET /networks/{id}
        return self._networks[network.id]

    def firewall(self, firewall):
        if firewall.id not in self._firewalls:
            firewall.reload()
            self._firewalls[firewall.id] = firewall
        return self._firewalls[firewall.id]

    def forget_firewalls(self):
        self._firewalls = {}


def direct_firewalls(server, lookup):
    """The firewalls applied to ``server`` itself (not through a label selector), as bound firewalls."""
    found = []
    for entry in (server.public_net.firewalls if server.public_net else None) or []:
        firewall = lookup.firewall(entry.firewall)
        for resource in firewall.applied_to or []:
            if resource.type == "server" and resource.server is not None and resource.server.id == server.id:
                found.append(firewall)
                break
    return sorted(found, key=lambda f: f.name)


def private_networks(server, lookup):
    return [
        {
            "network": lookup.network_name(entry.network),
            "network_id": entry.network.id,
            "ip": entry.ip,
            "alias_ips": list(entry.alias_ips or []),
        }
        for entry in server.private_net or []
    ]


def server_to_dict(server, lookup=None, firewalls=True):
    """The server as the modules return it (and the inventory reads it). Never reads ``datacenter``.

    ``firewalls=False`` leaves ``firewalls`` empty and saves one request per firewall.
    """
    lookup = lookup or NameLookup()
    public = server.public_net
    ipv4 = public.ipv4 if public else None
    ipv6 = public.ipv6 if public else None
    protection = server.protection or {}
    return {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "server_type": server.server_type.name if server.server_type else None,
        "image": server.image.name if server.image else None,
        "location": server.location.name if server.location else None,
        "ipv4_address": ipv4.ip if ipv4 else None,
        "ipv6": ipv6.ip if ipv6 else None,
        "private_networks": private_networks(server, lookup),
        "placement_group": server.placement_group.name if server.placement_group else None,
        "labels": dict(server.labels or {}),
        "delete_protection": bool(protection.get("delete")),
        "rebuild_protection": bool(protection.get("rebuild")),
        "firewalls": [f.name for f in direct_firewalls(server, lookup)] if firewalls else [],
        "created": server.created.isoformat() if server.created else None,
    }


def find_by_ref(resource_client, ref):
    """A bound object by id (digits) or by name from one of the client's resource clients; None if there is none."""
    ref = to_text(ref)
    if ref.isdigit():
        try:
            return resource_client.get_by_id(int(ref))
        except APIException as exc:
            if exc.code == "not_found":
                return None
            raise
    return resource_client.get_by_name(ref)


class HcloudModule(InferenceModule):
    """InferenceModule for the Hetzner Cloud API: an ``hcloud.Client``, steps named in errors, the token as secret.

    Subclasses do their work in ``run()``, name each API step with :meth:`step` (the name appears in the error
    message), mutate only under ``if not self.module.check_mode:`` and end with :meth:`exit`.
    """

    def __init__(self, module):
        super(HcloudModule, self).__init__(module)
        self.add_secret(module.params.get("api_token"))
        self._what = "talking to the Hetzner Cloud API"
        self._client = None
        self.lookup = NameLookup()

    @property
    def endpoint(self):
        return (self.module.params.get("api_endpoint") or DEFAULT_ENDPOINT).rstrip("/")

    @property
    def client(self):
        if self._client is None:
            self._client = build_client(
                self.module.params["api_token"], self.endpoint, self.module.params.get("wait_timeout")
            )
        return self._client

    def step(self, what):
        """Name what the next API calls do, for the error message if one fails."""
        self._what = what

    def wait(self, *actions):
        for action in actions:
            if action is not None:
                action.wait_until_finished()

    def run_safely(self, func):
        """Run ``func`` and turn every failure of the client into the structured failure (outside the except block,
        so no traceback of the client is attached to the result)."""
        if not HAS_HCLOUD:
            self.fail(
                missing_required_lib("hcloud"),
                "missing_library",
                {"library": "hcloud", "exception": HCLOUD_IMPORT_ERROR},
            )
        if not self.module.params.get("api_token"):
            self.fail(NO_CREDENTIALS, "missing_token", {"option": "api_token", "environment": "HCLOUD_TOKEN"})
        failure = None
        try:
            func()
        except Exception as exc:  # only the client's own errors are translated, the rest re-raised
            failure = translate(exc, self._what, self.endpoint)
            if failure is None:
                raise
        if failure is not None:
            self.fail_from(failure)


__all__ = [
    "DEFAULT_ENDPOINT",
    "HAS_HCLOUD",
    "HCLOUD_IMPORT_ERROR",
    "NO_CREDENTIALS",
    "ApiError",
    "HcloudModule",
    "NameLookup",
    "build_client",
    "direct_firewalls",
    "error_from_api",
    "find_by_ref",
    "hcloud_argument_spec",
    "server_to_dict",
    "translate",
]
