"""STAND-IN for the Hetzner Cloud API (https://api.hetzner.cloud/v1). It is NOT Hetzner.

An in-memory HTTP server on loopback, written from Hetzner's public Cloud API documentation and changelog (looked
up 2026-12-02), that answers the requests the hetzner.hcloud collection (5.4.0, with its vendored hcloud 2.8.0) and
the hcloud Python client (2.27.0) make, in the documented request and response shapes. Everything happens at once:
every action is returned finished (status "success", progress 100). Nothing is provisioned and nothing is billed.

Two API generations, chosen per instance:

* ``HcloudStandin()`` - the API as documented today. Servers and Primary IPs carry ``location`` and no
  ``datacenter`` (removed 2026-07-01), ``POST /servers`` refuses a ``datacenter`` field, ``GET /datacenters``
  answers 410 ``deprecated_api_endpoint`` (the endpoints went away after 2026-10-01), and deleting a load balancer
  answers 200 with an action (what hcloud 2.27 reads).
* ``HcloudStandin(legacy_datacenters=True)`` - the API as it was between 2025-12-16 and 2026-07-01, the last shape
  hetzner.hcloud 5.4.0 was written against: servers carry both ``datacenter`` and ``location`` and
  ``/datacenters`` is served, and deleting a load balancer answers 204. hetzner.hcloud 5.4.0 reads
  ``server.datacenter`` and fails against today's API.

Implemented (each with the documented validation and error codes, see the tests in test_hcloud_standin.py):

* Authentication ``Authorization: Bearer <token>`` (401 ``unauthorized`` otherwise), ``json_error`` (400) for a body
  that is not JSON, ``invalid_input`` (422) with ``details.fields``, ``uniqueness_error`` (409), ``not_found`` (404,
  also for unknown routes), ``method_not_allowed`` (405), ``protected`` (423), call-specific codes (422).
* List endpoints with ``name``, ``label_selector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``,
  ``k notin (a,b)``, comma = AND), ``sort``, ``page``/``per_page`` and ``meta.pagination``.
* Catalog (read-only, from hcloud_catalog.json): ``/locations``, ``/server_types`` (with per-location availability),
  ``/images`` (system images, ``architecture``/``type``/``include_deprecated`` filters), ``/load_balancer_types``,
  ``/datacenters`` (legacy only).
* ``/ssh_keys``: CRUD, ``fingerprint=`` filter, MD5 fingerprint of the key blob, duplicate key refused.
* ``/networks``: CRUD, subnets (cloud, server, vswitch with ``vswitch_id``), routes, ``expose_routes_to_vswitch``,
  actions add_subnet, delete_subnet, add_route, delete_route, change_ip_range, change_protection. IP management as
  documented: the first address of the network range is the gateway of the cloud subnets, the first address of a
  vswitch subnet is its vSwitch gateway, 172.31.1.1 is reserved, servers and load balancers get addresses only from
  cloud/server subnets of their network zone.
* ``/firewalls``: CRUD with rule validation, actions set_rules, apply_to_resources, remove_from_resources (server and
  label_selector resources; ``applied_to_resources`` expanded live), ``resource_in_use`` on delete.
* ``/placement_groups``: CRUD (type spread, at most 10 servers), ``servers`` list.
* ``/servers``: create (type, image by name+architecture or id, location, ssh_keys, firewalls, placement_group,
  networks, public_net, user_data, labels, start_after_create), update, delete, and the actions poweron, poweroff,
  shutdown, reboot, reset, attach_to_network, detach_from_network, change_alias_ips, change_type, change_protection,
  enable_backup, disable_backup, enable_rescue, disable_rescue, rebuild, add_to_placement_group,
  remove_from_placement_group. Public IPv4 from 203.0.113.0/24 (then 198.51.100.0/24, 192.0.2.0/24), never reused;
  IPv6 /64 networks from 2001:db8::/32.
* ``/primary_ips`` read-only (the auto-created Primary IPs of servers).
* ``/load_balancers``: create (type, location or network_zone, algorithm, services, targets, network,
  public_interface, labels), update, delete, and the actions add_service, update_service, delete_service, add_target,
  remove_target (server, label_selector, ip), attach_to_network, detach_from_network, change_type, change_algorithm,
  enable_public_interface, disable_public_interface, change_protection. Label selector targets list their matching
  servers under ``targets``; health_status is always ``unknown`` (nothing is probed).
* ``/actions?id=``, ``/actions/{id}``, ``/<resource>/actions``, ``/<resource>/actions/{id}``,
  ``/<resource>/{id}/actions``, ``/<resource>/{id}/actions/{action_id}``.

Deliberately not implemented: volumes, floating IPs, creating/assigning Primary IPs, certificates (so no https
services), ISOs, DNS zones, storage boxes, metrics, pricing, reverse DNS changes, rate limiting and its headers, the
``Link`` pagination header, running/failed actions, ``conflict``/``locked`` for concurrent changes, stock-outs
(``resource_unavailable``), per-project limits, and health checks of load balancer targets. Requests for them
answer 404 ``not_found`` (unknown route) or 422 ``invalid_input``. Where the documentation names an error code but
not its HTTP status (the call-specific codes such as ``resource_in_use`` or ``ip_not_available``) the stand-in answers
422; where it names no code at all (deleting a subnet that is in use, a placement group with servers) the stand-in
picks one and says so in the message.

Test helpers: ``requests`` (every request: method, path after /v1, query, JSON body, response status; never the
Authorization header), ``mutations()``, ``resources(kind)``, ``user_data(server)`` and ``clear_requests()``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import ipaddress
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

CATALOG_PATH = Path(__file__).with_name("hcloud_catalog.json")

# Status of each documented error code ("Errors" in the API reference). Call-specific codes answer 422.
STATUS_OF_CODE = {
    "json_error": 400,
    "unauthorized": 401,
    "token_readonly": 401,
    "forbidden": 403,
    "maintenance": 403,
    "resource_limit_exceeded": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "uniqueness_error": 409,
    "conflict": 409,
    "deprecated_api_endpoint": 410,
    "resource_unavailable": 412,
    "invalid_input": 422,
    "service_error": 422,
    "unsupported_error": 422,
    "locked": 423,
    "protected": 423,
    "rate_limit_exceeded": 429,
    "server_error": 500,
    "unavailable": 503,
    "timeout": 504,
}

DATACENTERS_ANNOUNCEMENT = "https://docs.hetzner.cloud/changelog#2026-06-02-datacenters-deprecated"
PUBLIC_IPV4_POOLS = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")
PUBLIC_IPV6_POOL = ipaddress.IPv6Network("2001:db8::/32")
PUBLIC_GATEWAY = ipaddress.IPv4Address("172.31.1.1")
PRIVATE_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
RESOURCE_KINDS = ("servers", "networks", "firewalls", "ssh_keys", "placement_groups", "load_balancers", "primary_ips")
ACTION_RESOURCE_TYPE = {
    "servers": "server",
    "networks": "network",
    "firewalls": "firewall",
    "load_balancers": "load_balancer",
    "images": "image",
    "primary_ips": "primary_ip",
}
SSH_KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-dss",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
SPREAD_GROUP_MAX_SERVERS = 10
FIREWALL_MAX_RULES = 50
USER_DATA_MAX_BYTES = 32 * 1024


# ---------------------------------------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answer in the documented shape ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, code: str, message: str, details: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.status = status or STATUS_OF_CODE.get(code, 422)

    def payload(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid(field: str, message: str) -> ApiError:
    return ApiError(
        "invalid_input",
        f"invalid input in field '{field}': {message}",
        {"fields": [{"name": field, "messages": [message]}]},
    )


def not_found(kind: str, ident: Any) -> ApiError:
    return ApiError("not_found", f"{kind} with ID '{ident}' not found")


def not_unique(field: str, message: str) -> ApiError:
    return ApiError("uniqueness_error", message, {"fields": [{"name": field}]})


def call_error(code: str, message: str) -> ApiError:
    return ApiError(code, message, None, 422)


# ------------------------------------------------------------------------------------------------- small helpers


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _obj(body: Any, field: str = "body") -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid(field, "must be a JSON object")
    return body


def _get(
    body: dict[str, Any], name: str, kind: str, *, required: bool = False, default: Any = None, field: str | None = None
) -> Any:
    """Read one field of a request body, checking its JSON type (None counts as absent)."""
    label = field or name
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(label, "Missing data for required field.")
        return default
    checks: dict[str, Callable[[Any], bool]] = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "dict": lambda v: isinstance(v, dict),
        "list": lambda v: isinstance(v, list),
        "ref": lambda v: isinstance(v, str | int) and not isinstance(v, bool),
    }
    if not checks[kind](value):
        names = {
            "str": "a string",
            "int": "an integer",
            "bool": "a boolean",
            "dict": "an object",
            "list": "an array",
            "ref": "an ID or a name",
        }
        raise invalid(label, f"must be {names[kind]}")
    if kind == "str" and required and not value.strip():
        raise invalid(label, "must not be empty")
    return value


_LABEL_PART = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_DNS_PREFIX = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def check_labels(labels: Any, field: str = "labels") -> dict[str, str]:
    """Labels as the API reference defines them: ``[prefix/]name`` keys, values of 0-63 characters."""
    if not isinstance(labels, dict):
        raise invalid(field, "must be an object")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise invalid(field, f"value of label '{key}' must be a string")
        prefix, slash, name = key.rpartition("/")
        if not _LABEL_PART.fullmatch(name) or (slash and (len(prefix) > 253 or not _DNS_PREFIX.fullmatch(prefix))):
            raise invalid(field, f"label key '{key}' is invalid")
        if prefix == "hetzner.cloud" or prefix.endswith(".hetzner.cloud"):
            raise invalid(field, f"label key '{key}' uses the reserved prefix hetzner.cloud/")
        if value and not _LABEL_PART.fullmatch(value):
            raise invalid(field, f"value of label '{key}' is invalid")
    return dict(labels)


class LabelSelector:
    """The documented label selector language; a comma outside parentheses means AND."""

    _KEY = r"[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?"
    _VALUE = r"[A-Za-z0-9._-]*"
    _ABSENT = re.compile(rf"!\s*({_KEY})")
    _SET = re.compile(rf"({_KEY})\s+(in|notin)\s*\(([^()]*)\)")
    _EQ = re.compile(rf"({_KEY})\s*(==|!=|=)\s*({_VALUE})")
    _PRESENT = re.compile(rf"({_KEY})")

    def __init__(self, text: str, field: str = "label_selector") -> None:
        self.text = text
        self.terms: list[tuple[str, str, Any]] = []
        for term in self._split(text):
            term = term.strip()
            if not term:
                raise invalid(field, f"invalid label selector '{text}'")
            if m := self._ABSENT.fullmatch(term):
                self.terms.append(("absent", m.group(1), None))
            elif m := self._SET.fullmatch(term):
                values = {v.strip() for v in m.group(3).split(",")}
                if "" in values:
                    raise invalid(field, f"invalid label selector '{text}'")
                self.terms.append((m.group(2), m.group(1), values))
            elif m := self._EQ.fullmatch(term):
                self.terms.append(("ne" if m.group(2) == "!=" else "eq", m.group(1), m.group(3)))
            elif m := self._PRESENT.fullmatch(term):
                self.terms.append(("present", m.group(1), None))
            else:
                raise invalid(field, f"invalid label selector '{text}'")

    @staticmethod
    def _split(text: str) -> list[str]:
        if not text.strip():
            return []
        parts, depth, current = [], 0, []
        for char in text:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            if char == "," and depth == 0:
                parts.append("".join(current))
                current = []
            else:
                current.append(char)
        parts.append("".join(current))
        return parts

    def matches(self, labels: dict[str, str]) -> bool:
        for op, key, arg in self.terms:
            present = key in labels
            value = labels.get(key)
            ok = {
                "absent": not present,
                "present": present,
                "eq": present and value == arg,
                "ne": value != arg,
                "in": present and value in (arg or ()),
                "notin": not present or value not in (arg or ()),
            }[op]
            if not ok:
                return False
        return True


def ssh_fingerprint(public_key: str) -> str:
    """MD5 fingerprint of an OpenSSH public key blob in colon hex, the way Hetzner shows it."""
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise ValueError("not an OpenSSH public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("key blob is not base64") from exc
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if length < 0 or blob[4 : 4 + length] != parts[0].encode():
        raise ValueError("key blob does not match its type")
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _parse_ipv4_network(value: Any, field: str, *, strict: bool = True) -> ipaddress.IPv4Network:
    if not isinstance(value, str) or "/" not in value:
        raise invalid(field, "must be an IPv4 network in CIDR notation")
    try:
        network = ipaddress.ip_network(value, strict=strict)
    except ValueError as exc:
        raise invalid(field, f"'{value}' is not a valid network: {exc}") from exc
    if not isinstance(network, ipaddress.IPv4Network):
        raise invalid(field, "only IPv4 is supported")
    return network


def _parse_ipv4(value: Any, field: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        address = None
    if not isinstance(address, ipaddress.IPv4Address):
        raise invalid(field, f"'{value}' is not a valid IPv4 address")
    return address


def _is_private(network: ipaddress.IPv4Network) -> bool:
    return any(network.subnet_of(r) for r in PRIVATE_RANGES)


# ---------------------------------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in saw it. ``path`` is relative to ``/v1``; ``query`` maps names to all values;
    ``json`` is the parsed body (None without one, the raw text if it was not JSON); ``at`` is when it arrived
    (``time.time()``). No headers are kept."""

    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    status: int
    at: float


# ---------------------------------------------------------------------------------------------------- the server


class HcloudStandin:
    """In-memory Hetzner Cloud API stand-in on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self, token: str | None = None, *, legacy_datacenters: bool = False, catalog_path: Path | str = CATALOG_PATH
    ) -> None:
        alphabet = string.ascii_letters + string.digits
        self.token = token or "".join(secrets.choice(alphabet) for _ in range(64))
        self.legacy_datacenters = legacy_datacenters
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        catalog = json.loads(Path(catalog_path).read_text(encoding="utf-8"))
        self._locations: list[dict[str, Any]] = catalog["locations"]
        self._datacenters: list[dict[str, Any]] = catalog["datacenters"]
        self._server_types: list[dict[str, Any]] = catalog["server_types"]
        self._images: list[dict[str, Any]] = catalog["images"]
        self._lb_types: list[dict[str, Any]] = catalog["load_balancer_types"]
        self._catalog_created = "2026-01-01T00:00:00+00:00"
        self._store: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in RESOURCE_KINDS}
        self._actions: dict[int, dict[str, Any]] = {}
        self._next_id = {
            "ssh_keys": 1_000_001,
            "networks": 2_000_001,
            "firewalls": 3_000_001,
            "placement_groups": 4_000_001,
            "servers": 5_000_001,
            "load_balancers": 6_000_001,
            "primary_ips": 7_000_001,
            "actions": 9_000_001,
        }
        self._ipv4_pool = (str(ip) for net in PUBLIC_IPV4_POOLS for ip in ipaddress.IPv4Network(net).hosts())
        self._ipv6_counter = 0
        self._mac_counter = 0
        self._user_data: dict[int, str | None] = {}
        self._routes = self._build_routes()

    # -- lifecycle and helpers for tests ---------------------------------------------------------------------

    def start(self) -> HcloudStandin:
        if self._httpd is not None:
            return self
        standin = self

        class Handler(_Handler):
            pass

        Handler.standin = standin
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="hcloud-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> HcloudStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the stand-in is not started")
        return int(self._httpd.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __repr__(self) -> str:
        where = self.endpoint if self._httpd is not None else "not started"
        return f"HcloudStandin({where}, legacy_datacenters={self.legacy_datacenters})"

    def mutations(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method != "GET"]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def resources(self, kind: str) -> list[dict[str, Any]]:
        """The current objects of a kind, as the API would list them."""
        if kind not in RESOURCE_KINDS:
            raise ValueError(f"unknown kind {kind!r}, expected one of {RESOURCE_KINDS}")
        with self._lock:
            render = self._renderer(kind)
            return [copy.deepcopy(render(o)) for _, o in sorted(self._store[kind].items())]

    def user_data(self, server: int | str) -> str | None:
        """The cloud-init user data a server was created with (the API never returns it)."""
        with self._lock:
            found = self._find_by_ref("servers", server)
            return self._user_data.get(found["id"]) if found else None

    # -- HTTP entry point --------------------------------------------------------------------------------------

    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> tuple[int, Any]:
        """Answer one request: (status, JSON payload or None for an empty body)."""
        arrived = time.time()
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        path = split.path
        rel = path[3:] if path == "/v1" or path.startswith("/v1/") else path
        parsed: Any = None
        body_error = False
        if body:
            try:
                parsed = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                parsed = body.decode("utf-8", errors="replace")
                body_error = True
        try:
            status, payload = self._dispatch(method, path, rel, query, parsed, body_error, authorization)
        except ApiError as exc:
            status, payload = exc.status, exc.payload()
        except Exception as exc:  # noqa: BLE001 - a bug in the stand-in must answer 500, not hang the client
            status, payload = 500, ApiError("server_error", f"stand-in bug: {type(exc).__name__}: {exc}").payload()
        with self._lock:
            self.requests.append(RecordedRequest(method, rel or "/", query, parsed, status, arrived))
        return status, payload

    def _dispatch(
        self,
        method: str,
        path: str,
        rel: str,
        query: dict[str, list[str]],
        body: Any,
        body_error: bool,
        authorization: str | None,
    ) -> tuple[int, Any]:
        expected = f"Bearer {self.token}"
        if authorization is None or not secrets.compare_digest(authorization.encode(), expected.encode()):
            raise ApiError("unauthorized", "unable to authenticate")
        if not (path == "/v1" or path.startswith("/v1/")):
            raise ApiError("not_found", "not found")
        if body_error:
            raise ApiError("json_error", "Invalid JSON input in your request.")
        allowed: list[str] = []
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(rel)
            if not match:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            with self._lock:
                return handler(query, body, *match.groups())
        if allowed:
            raise ApiError("method_not_allowed", f"method {method} is not allowed here")
        raise ApiError("not_found", "not found")

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]]:
        kinds_with_actions = "|".join(ACTION_RESOURCE_TYPE)
        table: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"/actions", self._list_actions),
            ("GET", r"/actions/(\d+)", self._get_action),
            ("GET", rf"/({kinds_with_actions})/actions", self._list_kind_actions),
            ("GET", rf"/({kinds_with_actions})/actions/(\d+)", self._get_kind_action),
            ("GET", rf"/({kinds_with_actions})/(\d+)/actions", self._list_resource_actions),
            ("GET", rf"/({kinds_with_actions})/(\d+)/actions/(\d+)", self._get_resource_action),
            ("GET", r"/locations", self._list_locations),
            ("GET", r"/locations/(\d+)", self._get_location),
            ("GET", r"/datacenters", self._list_datacenters),
            ("GET", r"/datacenters/(\d+)", self._get_datacenter),
            ("GET", r"/server_types", self._list_server_types),
            ("GET", r"/server_types/(\d+)", self._get_server_type),
            ("GET", r"/load_balancer_types", self._list_lb_types),
            ("GET", r"/load_balancer_types/(\d+)", self._get_lb_type),
            ("GET", r"/images", self._list_images),
            ("GET", r"/images/(\d+)", self._get_image),
            ("GET", r"/ssh_keys", self._list_ssh_keys),
            ("POST", r"/ssh_keys", self._create_ssh_key),
            ("GET", r"/ssh_keys/(\d+)", self._get_ssh_key),
            ("PUT", r"/ssh_keys/(\d+)", self._update_ssh_key),
            ("DELETE", r"/ssh_keys/(\d+)", self._delete_ssh_key),
            ("GET", r"/networks", self._list_networks),
            ("POST", r"/networks", self._create_network),
            ("GET", r"/networks/(\d+)", self._get_network),
            ("PUT", r"/networks/(\d+)", self._update_network),
            ("DELETE", r"/networks/(\d+)", self._delete_network),
            ("POST", r"/networks/(\d+)/actions/([a-z_]+)", self._network_action),
            ("GET", r"/firewalls", self._list_firewalls),
            ("POST", r"/firewalls", self._create_firewall),
            ("GET", r"/firewalls/(\d+)", self._get_firewall),
            ("PUT", r"/firewalls/(\d+)", self._update_firewall),
            ("DELETE", r"/firewalls/(\d+)", self._delete_firewall),
            ("POST", r"/firewalls/(\d+)/actions/([a-z_]+)", self._firewall_action),
            ("GET", r"/placement_groups", self._list_placement_groups),
            ("POST", r"/placement_groups", self._create_placement_group),
            ("GET", r"/placement_groups/(\d+)", self._get_placement_group),
            ("PUT", r"/placement_groups/(\d+)", self._update_placement_group),
            ("DELETE", r"/placement_groups/(\d+)", self._delete_placement_group),
            ("GET", r"/servers", self._list_servers),
            ("POST", r"/servers", self._create_server),
            ("GET", r"/servers/(\d+)", self._get_server),
            ("PUT", r"/servers/(\d+)", self._update_server),
            ("DELETE", r"/servers/(\d+)", self._delete_server),
            ("POST", r"/servers/(\d+)/actions/([a-z_]+)", self._server_action),
            ("GET", r"/primary_ips", self._list_primary_ips),
            ("GET", r"/primary_ips/(\d+)", self._get_primary_ip),
            ("GET", r"/load_balancers", self._list_load_balancers),
            ("POST", r"/load_balancers", self._create_load_balancer),
            ("GET", r"/load_balancers/(\d+)", self._get_load_balancer),
            ("PUT", r"/load_balancers/(\d+)", self._update_load_balancer),
            ("DELETE", r"/load_balancers/(\d+)", self._delete_load_balancer),
            ("POST", r"/load_balancers/(\d+)/actions/([a-z_]+)", self._lb_action),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    # -- generic list/lookup machinery -------------------------------------------------------------------------

    def _new_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    @staticmethod
    def _q(query: dict[str, list[str]], name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    @staticmethod
    def _qbool(query: dict[str, list[str]], name: str) -> bool | None:
        value = HcloudStandin._q(query, name)
        if value is None:
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise invalid(name, "must be a boolean")

    def _page(
        self,
        root: str,
        items: list[dict[str, Any]],
        query: dict[str, list[str]],
        sort_fields: Iterable[str] = ("id", "name", "created"),
    ) -> tuple[int, Any]:
        """Sort, paginate and wrap a list the documented way."""
        for spec in reversed(query.get("sort", [])):
            field, _, direction = spec.partition(":")
            if field not in sort_fields or direction not in ("", "asc", "desc"):
                raise invalid("sort", f"sorting by '{spec}' is not supported")
            items = sorted(items, key=lambda o, f=field: (o.get(f) is None, o.get(f)), reverse=direction == "desc")
        try:
            page = int(self._q(query, "page") or 1)
            per_page = int(self._q(query, "per_page") or 25)
        except ValueError as exc:
            raise invalid("page", "page and per_page must be integers") from exc
        if page < 1:
            raise invalid("page", "must be at least 1")
        if not 1 <= per_page <= 50:
            raise invalid("per_page", "must be between 1 and 50")
        total = len(items)
        last_page = max(1, -(-total // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        pagination = {
            "page": page,
            "per_page": per_page,
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if page < last_page else None,
            "last_page": last_page,
            "total_entries": total,
        }
        return 200, {root: chunk, "meta": {"pagination": pagination}}

    def _filter_common(self, objects: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
        name = self._q(query, "name")
        if name is not None:
            objects = [o for o in objects if o.get("name") == name]
        selector = self._q(query, "label_selector")
        if selector is not None:
            parsed = LabelSelector(selector)
            objects = [o for o in objects if parsed.matches(o.get("labels") or {})]
        return objects

    def _find_by_ref(self, kind: str, ref: Any) -> dict[str, Any] | None:
        """A stored object by ID (int or digit string) or by name."""
        store = self._store[kind]
        if isinstance(ref, int) and not isinstance(ref, bool):
            return store.get(ref)
        if isinstance(ref, str):
            if ref.isdigit():
                return store.get(int(ref))
            return next((o for o in store.values() if o.get("name") == ref), None)
        return None

    def _require(self, kind: str, ident: str | int, label: str) -> dict[str, Any]:
        found = self._store[kind].get(int(ident))
        if found is None:
            raise not_found(label, ident)
        return found

    def _check_name(self, kind: str, name: str, label: str, exclude: int | None = None) -> None:
        if any(o["name"] == name and o["id"] != exclude for o in self._store[kind].values()):
            raise not_unique("name", f"{label} name is already used")

    def _renderer(self, kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return {
            "servers": self._render_server,
            "networks": self._render_network,
            "firewalls": self._render_firewall,
            "ssh_keys": self._render_ssh_key,
            "placement_groups": self._render_placement_group,
            "load_balancers": self._render_load_balancer,
            "primary_ips": self._render_primary_ip,
        }[kind]

    def _list_kind(
        self,
        kind: str,
        query: dict[str, list[str]],
        extra: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> tuple[int, Any]:
        render = self._renderer(kind)
        rendered = [render(o) for _, o in sorted(self._store[kind].items())]
        rendered = self._filter_common(rendered, query)
        if extra is not None:
            rendered = extra(rendered)
        return self._page(kind, rendered, query)

    # -- actions -----------------------------------------------------------------------------------------------

    def _action(self, command: str, resources: list[tuple[str, int]]) -> dict[str, Any]:
        now = _now()
        action = {
            "id": self._new_id("actions"),
            "command": command,
            "status": "success",
            "progress": 100,
            "started": now,
            "finished": now,
            "resources": [{"id": rid, "type": rtype} for rtype, rid in resources],
            "error": None,
        }
        self._actions[action["id"]] = action
        return copy.deepcopy(action)

    def _filter_actions(self, actions: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
        ids = query.get("id")
        if ids:
            try:
                wanted = {int(i) for i in ids}
            except ValueError as exc:
                raise invalid("id", "must be an integer") from exc
            actions = [a for a in actions if a["id"] in wanted]
        statuses = query.get("status")
        if statuses:
            actions = [a for a in actions if a["status"] in statuses]
        return actions

    def _actions_page(self, actions: list[dict[str, Any]], query: dict[str, list[str]]) -> tuple[int, Any]:
        actions = [copy.deepcopy(a) for a in self._filter_actions(actions, query)]
        return self._page("actions", actions, query, ("id", "command", "status", "started", "finished"))

    def _list_actions(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if not query.get("id"):
            raise invalid("id", "Missing data for required field.")
        return self._actions_page(list(self._actions.values()), query)

    def _get_action(self, query: dict[str, list[str]], body: Any, action_id: str) -> tuple[int, Any]:
        action = self._actions.get(int(action_id))
        if action is None:
            raise not_found("action", action_id)
        return 200, {"action": copy.deepcopy(action)}

    def _actions_of(self, kind: str, resource_id: int | None = None) -> list[dict[str, Any]]:
        rtype = ACTION_RESOURCE_TYPE[kind]
        return [
            a
            for a in self._actions.values()
            if any(r["type"] == rtype and (resource_id is None or r["id"] == resource_id) for r in a["resources"])
        ]

    def _list_kind_actions(self, query: dict[str, list[str]], body: Any, kind: str) -> tuple[int, Any]:
        return self._actions_page(self._actions_of(kind), query)

    def _get_kind_action(self, query: dict[str, list[str]], body: Any, kind: str, action_id: str) -> tuple[int, Any]:
        found = next((a for a in self._actions_of(kind) if a["id"] == int(action_id)), None)
        if found is None:
            raise not_found("action", action_id)
        return 200, {"action": copy.deepcopy(found)}

    def _check_parent(self, kind: str, resource_id: str) -> None:
        if kind == "images":
            if not any(i["id"] == int(resource_id) for i in self._images):
                raise not_found("image", resource_id)
        else:
            self._require(kind, resource_id, ACTION_RESOURCE_TYPE[kind])

    def _list_resource_actions(
        self, query: dict[str, list[str]], body: Any, kind: str, resource_id: str
    ) -> tuple[int, Any]:
        self._check_parent(kind, resource_id)
        return self._actions_page(self._actions_of(kind, int(resource_id)), query)

    def _get_resource_action(
        self, query: dict[str, list[str]], body: Any, kind: str, resource_id: str, action_id: str
    ) -> tuple[int, Any]:
        self._check_parent(kind, resource_id)
        found = next((a for a in self._actions_of(kind, int(resource_id)) if a["id"] == int(action_id)), None)
        if found is None:
            raise not_found("action", action_id)
        return 200, {"action": copy.deepcopy(found)}

    # -- catalog -----------------------------------------------------------------------------------------------

    def _location(self, ref: Any) -> dict[str, Any] | None:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return next((loc for loc in self._locations if loc["id"] == ref), None)
        if isinstance(ref, str):
            if ref.isdigit():
                return self._location(int(ref))
            return next((loc for loc in self._locations if loc["name"] == ref), None)
        return None

    def _render_location(self, name: str) -> dict[str, Any]:
        found = self._location(name)
        if found is None:
            raise ApiError("server_error", f"catalog has no location {name}")
        return copy.deepcopy(found)

    def _network_zones(self) -> set[str]:
        return {loc["network_zone"] for loc in self._locations}

    def _list_locations(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        items = self._filter_common([copy.deepcopy(loc) for loc in self._locations], query)
        return self._page("locations", items, query, ("id", "name"))

    def _get_location(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        found = self._location(int(ident))
        if found is None:
            raise not_found("location", ident)
        return 200, {"location": copy.deepcopy(found)}

    def _datacenter_of(self, location: str) -> dict[str, Any]:
        return next(dc for dc in self._datacenters if dc["location"] == location)

    def _render_datacenter(self, dc: dict[str, Any]) -> dict[str, Any]:
        ids = [t["id"] for t in self._server_types if dc["location"] in t["locations"]]
        return {
            "id": dc["id"],
            "name": dc["name"],
            "description": dc["description"],
            "location": self._render_location(dc["location"]),
            "server_types": {"supported": list(ids), "available": list(ids), "available_for_migration": list(ids)},
        }

    def _datacenters_gone(self) -> None:
        if not self.legacy_datacenters:
            raise ApiError(
                "deprecated_api_endpoint",
                "API functionality was removed",
                {"announcement": DATACENTERS_ANNOUNCEMENT},
            )

    def _list_datacenters(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._datacenters_gone()
        items = self._filter_common([self._render_datacenter(dc) for dc in self._datacenters], query)
        status, payload = self._page("datacenters", items, query, ("id", "name"))
        payload["recommendation"] = self._datacenters[0]["id"]
        return status, payload

    def _get_datacenter(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        self._datacenters_gone()
        found = next((dc for dc in self._datacenters if dc["id"] == int(ident)), None)
        if found is None:
            raise not_found("datacenter", ident)
        return 200, {"datacenter": self._render_datacenter(found)}

    def _server_type(self, ref: Any) -> dict[str, Any] | None:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return next((t for t in self._server_types if t["id"] == ref), None)
        if isinstance(ref, str):
            if ref.isdigit():
                return self._server_type(int(ref))
            return next((t for t in self._server_types if t["name"] == ref), None)
        return None

    def _render_server_type(self, st: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": st["id"],
            "name": st["name"],
            "description": st["description"],
            "category": st["category"],
            "cores": st["cores"],
            "memory": st["memory"],
            "disk": st["disk"],
            "prices": [],
            "storage_type": st["storage_type"],
            "cpu_type": st["cpu_type"],
            "architecture": st["architecture"],
            "deprecated": False,
            "deprecation": None,
            "locations": [
                {
                    "id": self._render_location(name)["id"],
                    "name": name,
                    "deprecation": None,
                    "available": True,
                    "recommended": index == 0,
                }
                for index, name in enumerate(st["locations"])
            ],
        }

    def _list_server_types(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        items = self._filter_common([self._render_server_type(t) for t in self._server_types], query)
        return self._page("server_types", items, query, ("id", "name"))

    def _get_server_type(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        found = self._server_type(int(ident))
        if found is None:
            raise not_found("server_type", ident)
        return 200, {"server_type": self._render_server_type(found)}

    def _lb_type(self, ref: Any) -> dict[str, Any] | None:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return next((t for t in self._lb_types if t["id"] == ref), None)
        if isinstance(ref, str):
            if ref.isdigit():
                return self._lb_type(int(ref))
            return next((t for t in self._lb_types if t["name"] == ref), None)
        return None

    def _render_lb_type(self, lbt: dict[str, Any]) -> dict[str, Any]:
        return {**copy.deepcopy(lbt), "deprecated": None, "prices": []}

    def _list_lb_types(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        items = self._filter_common([self._render_lb_type(t) for t in self._lb_types], query)
        return self._page("load_balancer_types", items, query, ("id", "name"))

    def _get_lb_type(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        found = self._lb_type(int(ident))
        if found is None:
            raise not_found("load_balancer_type", ident)
        return 200, {"load_balancer_type": self._render_lb_type(found)}

    def _render_image(self, img: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": img["id"],
            "type": "system",
            "status": "available",
            "name": img["name"],
            "description": img["description"],
            "image_size": None,
            "disk_size": img["disk_size"],
            "created": self._catalog_created,
            "created_from": None,
            "bound_to": None,
            "os_flavor": img["os_flavor"],
            "os_version": img["os_version"],
            "rapid_deploy": True,
            "protection": {"delete": False},
            "deprecated": None,
            "deleted": None,
            "labels": {},
            "architecture": img["architecture"],
        }

    def _list_images(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        items = self._filter_common([self._render_image(i) for i in self._images], query)
        if types := query.get("type"):
            items = [i for i in items if i["type"] in types]
        if archs := query.get("architecture"):
            items = [i for i in items if i["architecture"] in archs]
        if query.get("bound_to"):
            items = [i for i in items if i["bound_to"] is not None and str(i["bound_to"]) in query["bound_to"]]
        if not self._qbool(query, "include_deprecated"):
            items = [i for i in items if i["deprecated"] is None]
        return self._page("images", items, query)

    def _get_image(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        found = next((i for i in self._images if i["id"] == int(ident)), None)
        if found is None:
            raise not_found("image", ident)
        return 200, {"image": self._render_image(found)}

    # -- SSH keys ----------------------------------------------------------------------------------------------

    def _render_ssh_key(self, key: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(key)

    def _list_ssh_keys(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        fingerprint = self._q(query, "fingerprint")

        def by_fingerprint(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [k for k in items if fingerprint is None or k["fingerprint"] == fingerprint]

        return self._list_kind("ssh_keys", query, by_fingerprint)

    def _create_ssh_key(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        body = _obj(body)
        name = _get(body, "name", "str", required=True)
        public_key = _get(body, "public_key", "str", required=True)
        labels = check_labels(_get(body, "labels", "dict", default={}))
        try:
            fingerprint = ssh_fingerprint(public_key)
        except ValueError as exc:
            raise invalid("public_key", f"invalid SSH key: {exc}") from exc
        self._check_name("ssh_keys", name, "SSH key")
        if any(k["fingerprint"] == fingerprint for k in self._store["ssh_keys"].values()):
            raise not_unique("public_key", "SSH key with the same fingerprint already exists")
        key = {
            "id": self._new_id("ssh_keys"),
            "name": name,
            "fingerprint": fingerprint,
            "public_key": public_key.strip(),
            "labels": labels,
            "created": _now(),
        }
        self._store["ssh_keys"][key["id"]] = key
        return 201, {"ssh_key": self._render_ssh_key(key)}

    def _get_ssh_key(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        return 200, {"ssh_key": self._render_ssh_key(self._require("ssh_keys", ident, "ssh_key"))}

    def _update_ssh_key(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        key = self._require("ssh_keys", ident, "ssh_key")
        body = _obj(body)
        name = _get(body, "name", "str")
        labels = body.get("labels")
        if name is not None:
            self._check_name("ssh_keys", name, "SSH key", key["id"])
        if labels is not None:
            labels = check_labels(labels)
        if name is not None:
            key["name"] = name
        if labels is not None:
            key["labels"] = labels
        return 200, {"ssh_key": self._render_ssh_key(key)}

    def _delete_ssh_key(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        key = self._require("ssh_keys", ident, "ssh_key")
        del self._store["ssh_keys"][key["id"]]
        return 204, None

    # -- networks ----------------------------------------------------------------------------------------------

    @staticmethod
    def _net(network: dict[str, Any]) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(network["ip_range"])

    def _network_gateway(self, network: dict[str, Any]) -> ipaddress.IPv4Address:
        return next(self._net(network).hosts())

    def _subnet_gateway(self, network: dict[str, Any], subnet: dict[str, Any]) -> str:
        if subnet["type"] == "vswitch":
            return str(next(ipaddress.IPv4Network(subnet["ip_range"]).hosts()))
        return str(self._network_gateway(network))

    def _network_members(self, network_id: int) -> tuple[list[int], list[int]]:
        servers = [
            s["id"]
            for s in self._store["servers"].values()
            if any(p["network"] == network_id for p in s["private_net"])
        ]
        lbs = [
            lb["id"]
            for lb in self._store["load_balancers"].values()
            if any(p["network"] == network_id for p in lb["private_net"])
        ]
        return sorted(servers), sorted(lbs)

    def _render_network(self, network: dict[str, Any]) -> dict[str, Any]:
        servers, lbs = self._network_members(network["id"])
        subnets = []
        for subnet in network["subnets"]:
            rendered = {
                "type": subnet["type"],
                "ip_range": subnet["ip_range"],
                "network_zone": subnet["network_zone"],
                "gateway": self._subnet_gateway(network, subnet),
            }
            if subnet["type"] == "vswitch":
                rendered["vswitch_id"] = subnet["vswitch_id"]
            subnets.append(rendered)
        return {
            "id": network["id"],
            "name": network["name"],
            "ip_range": network["ip_range"],
            "subnets": subnets,
            "routes": copy.deepcopy(network["routes"]),
            "servers": servers,
            "load_balancers": lbs,
            "protection": dict(network["protection"]),
            "labels": dict(network["labels"]),
            "created": network["created"],
            "expose_routes_to_vswitch": network["expose_routes_to_vswitch"],
        }

    def _used_ips(self, network_id: int) -> set[ipaddress.IPv4Address]:
        used: set[ipaddress.IPv4Address] = set()
        for server in self._store["servers"].values():
            for p in server["private_net"]:
                if p["network"] == network_id:
                    used.add(ipaddress.IPv4Address(p["ip"]))
                    used.update(ipaddress.IPv4Address(a) for a in p["alias_ips"])
        for lb in self._store["load_balancers"].values():
            for p in lb["private_net"]:
                if p["network"] == network_id:
                    used.add(ipaddress.IPv4Address(p["ip"]))
        return used

    def _reserved_ips(self, network: dict[str, Any]) -> set[ipaddress.IPv4Address]:
        reserved = {self._network_gateway(network), PUBLIC_GATEWAY}
        for subnet in network["subnets"]:
            if subnet["type"] == "vswitch":
                reserved.add(ipaddress.IPv4Address(self._subnet_gateway(network, subnet)))
        return reserved

    def _validate_subnet(
        self, network: dict[str, Any], raw: Any, field: str, existing: list[dict[str, Any]]
    ) -> dict[str, Any]:
        raw = _obj(raw, field)
        stype = _get(raw, "type", "str", required=True, field=f"{field}.type")
        if stype not in ("cloud", "server", "vswitch"):
            raise invalid(f"{field}.type", "must be one of cloud, server, vswitch")
        zone = _get(raw, "network_zone", "str", required=True, field=f"{field}.network_zone")
        if zone not in self._network_zones():
            raise invalid(f"{field}.network_zone", f"network zone '{zone}' does not exist")
        if any(s["network_zone"] != zone for s in existing):
            raise invalid(f"{field}.network_zone", "all subnets of a network must be in the same network zone")
        vswitch_id = _get(raw, "vswitch_id", "int", field=f"{field}.vswitch_id")
        if stype == "vswitch":
            if vswitch_id is None or vswitch_id <= 0:
                raise invalid(f"{field}.vswitch_id", "is required for subnets of type vswitch")
            if zone != "eu-central":
                raise invalid(f"{field}.network_zone", "vSwitch coupling is only possible in eu-central")
            if any(s["type"] == "vswitch" and s["vswitch_id"] == vswitch_id for s in existing):
                raise invalid(f"{field}.vswitch_id", f"vSwitch {vswitch_id} is already coupled to this network")
        elif vswitch_id is not None:
            raise invalid(f"{field}.vswitch_id", "is only allowed for subnets of type vswitch")
        parent = self._net(network)
        taken = [ipaddress.IPv4Network(s["ip_range"]) for s in existing]
        taken += [ipaddress.IPv4Network(r["destination"]) for r in network["routes"]]
        if raw.get("ip_range") is None:
            candidate = next(
                (
                    c
                    for c in parent.subnets(new_prefix=max(24, parent.prefixlen))
                    if not any(c.overlaps(t) for t in taken)
                ),
                None,
            )
            if candidate is None:
                raise invalid(f"{field}.ip_range", "no free /24 range is left in the network")
            ip_range = candidate
        else:
            ip_range = _parse_ipv4_network(raw["ip_range"], f"{field}.ip_range")
            if not ip_range.subnet_of(parent):
                raise invalid(f"{field}.ip_range", f"{ip_range} is not inside the network range {parent}")
            if ip_range.prefixlen > 30:
                raise invalid(f"{field}.ip_range", "minimum subnet size is /30")
            clash = next((t for t in taken if ip_range.overlaps(t)), None)
            if clash is not None:
                raise invalid(f"{field}.ip_range", f"{ip_range} overlaps with {clash}")
        subnet = {"type": stype, "ip_range": str(ip_range), "network_zone": zone}
        if stype == "vswitch":
            subnet["vswitch_id"] = vswitch_id
        return subnet

    def _validate_route(
        self, network: dict[str, Any], raw: Any, field: str, existing: list[dict[str, Any]]
    ) -> dict[str, str]:
        raw = _obj(raw, field)
        destination = _parse_ipv4_network(
            _get(raw, "destination", "str", required=True, field=f"{field}.destination"), f"{field}.destination"
        )
        gateway = _parse_ipv4(_get(raw, "gateway", "str", required=True, field=f"{field}.gateway"), f"{field}.gateway")
        if not (_is_private(destination) or str(destination) == "0.0.0.0/0"):
            raise invalid(f"{field}.destination", "must be a private range (RFC 1918) or 0.0.0.0/0")
        if PUBLIC_GATEWAY in destination:
            raise invalid(f"{field}.destination", "must not contain 172.31.1.1")
        for subnet in network["subnets"]:
            if destination.overlaps(ipaddress.IPv4Network(subnet["ip_range"])):
                raise invalid(f"{field}.destination", f"overlaps with subnet {subnet['ip_range']}")
        for route in existing:
            if destination.overlaps(ipaddress.IPv4Network(route["destination"])):
                raise invalid(f"{field}.destination", f"overlaps with route {route['destination']}")
        if gateway not in self._net(network):
            raise invalid(f"{field}.gateway", f"{gateway} is not inside the network range {network['ip_range']}")
        if gateway == self._network_gateway(network) or gateway == PUBLIC_GATEWAY:
            raise invalid(f"{field}.gateway", f"{gateway} is reserved")
        for subnet in network["subnets"]:
            if subnet["type"] == "vswitch" and gateway in ipaddress.IPv4Network(subnet["ip_range"]):
                raise invalid(f"{field}.gateway", "must not be behind a vSwitch")
        return {"destination": str(destination), "gateway": str(gateway)}

    def _validate_network_range(self, value: Any, field: str = "ip_range") -> ipaddress.IPv4Network:
        ip_range = _parse_ipv4_network(value, field)
        if not _is_private(ip_range):
            raise invalid(field, "must be one of the private IPv4 ranges of RFC 1918")
        if ip_range.prefixlen > 24:
            raise invalid(field, "minimum network size is /24")
        return ip_range

    def _list_networks(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        return self._list_kind("networks", query)

    def _create_network(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        body = _obj(body)
        name = _get(body, "name", "str", required=True)
        ip_range = self._validate_network_range(_get(body, "ip_range", "str", required=True))
        labels = check_labels(_get(body, "labels", "dict", default={}))
        expose = _get(body, "expose_routes_to_vswitch", "bool", default=False)
        self._check_name("networks", name, "network")
        network: dict[str, Any] = {
            "id": 0,
            "name": name,
            "ip_range": str(ip_range),
            "subnets": [],
            "routes": [],
            "labels": labels,
            "protection": {"delete": False},
            "created": _now(),
            "expose_routes_to_vswitch": expose,
        }
        for index, raw in enumerate(_get(body, "subnets", "list", default=[])):
            network["subnets"].append(self._validate_subnet(network, raw, f"subnets[{index}]", network["subnets"]))
        for index, raw in enumerate(_get(body, "routes", "list", default=[])):
            network["routes"].append(self._validate_route(network, raw, f"routes[{index}]", network["routes"]))
        network["id"] = self._new_id("networks")
        self._store["networks"][network["id"]] = network
        return 201, {"network": self._render_network(network)}

    def _get_network(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        return 200, {"network": self._render_network(self._require("networks", ident, "network"))}

    def _update_network(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        network = self._require("networks", ident, "network")
        body = _obj(body)
        name = _get(body, "name", "str")
        expose = _get(body, "expose_routes_to_vswitch", "bool")
        labels = body.get("labels")
        if name is not None:
            self._check_name("networks", name, "network", network["id"])
        if labels is not None:
            labels = check_labels(labels)
        if name is not None:
            network["name"] = name
        if labels is not None:
            network["labels"] = labels
        if expose is not None:
            network["expose_routes_to_vswitch"] = expose
        return 200, {"network": self._render_network(network)}

    def _delete_network(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        network = self._require("networks", ident, "network")
        if network["protection"]["delete"]:
            raise ApiError("protected", "network deletion is protected")
        for holder in [*self._store["servers"].values(), *self._store["load_balancers"].values()]:
            holder["private_net"] = [p for p in holder["private_net"] if p["network"] != network["id"]]
        del self._store["networks"][network["id"]]
        return 204, None

    def _network_action(self, query: dict[str, list[str]], body: Any, ident: str, name: str) -> tuple[int, Any]:
        network = self._require("networks", ident, "network")
        body = _obj(body)
        resources = [("network", network["id"])]
        if name == "add_subnet":
            network["subnets"].append(self._validate_subnet(network, body, "subnet", network["subnets"]))
        elif name == "delete_subnet":
            wanted = _parse_ipv4_network(_get(body, "ip_range", "str", required=True), "ip_range")
            subnet = next((s for s in network["subnets"] if s["ip_range"] == str(wanted)), None)
            if subnet is None:
                raise invalid("ip_range", f"the network has no subnet {wanted}")
            if any(ip in wanted for ip in self._used_ips(network["id"])):
                raise call_error("resource_in_use", f"subnet {wanted} still has attached resources")
            network["subnets"].remove(subnet)
        elif name == "add_route":
            network["routes"].append(self._validate_route(network, body, "route", network["routes"]))
        elif name == "delete_route":
            destination = _parse_ipv4_network(_get(body, "destination", "str", required=True), "destination")
            gateway = _parse_ipv4(_get(body, "gateway", "str", required=True), "gateway")
            route = {"destination": str(destination), "gateway": str(gateway)}
            if route not in network["routes"]:
                raise invalid("destination", f"the network has no route {destination} via {gateway}")
            network["routes"].remove(route)
        elif name == "change_ip_range":
            new = self._validate_network_range(_get(body, "ip_range", "str", required=True))
            old = self._net(network)
            if new.network_address != old.network_address or new.prefixlen > old.prefixlen:
                raise invalid("ip_range", "the range can only be extended by lowering its netmask")
            network["ip_range"] = str(new)
        elif name == "change_protection":
            delete = _get(body, "delete", "bool")
            if delete is not None:
                network["protection"]["delete"] = delete
        else:
            raise ApiError("not_found", "not found")
        return 201, {"action": self._action(name, resources)}

    def _allocate_ip(
        self,
        network: dict[str, Any],
        zone: str,
        requested: str | None,
        field: str,
        also_taken: Iterable[ipaddress.IPv4Address] = (),
        within: ipaddress.IPv4Network | None = None,
    ) -> str:
        """An address for a server or load balancer in a cloud/server subnet of its network zone."""
        subnets = [
            ipaddress.IPv4Network(s["ip_range"])
            for s in network["subnets"]
            if s["type"] in ("cloud", "server") and s["network_zone"] == zone
        ]
        if within is not None:
            subnets = [s for s in subnets if s.subnet_of(within)]
        if not subnets:
            raise call_error("no_subnet_available", f"network {network['id']} has no subnet for network zone {zone}")
        blocked = self._used_ips(network["id"]) | self._reserved_ips(network) | set(also_taken)
        if requested is not None:
            address = _parse_ipv4(requested, field)
            if not any(address in s and address not in (s.network_address, s.broadcast_address) for s in subnets):
                raise call_error("ip_not_available", f"IP {address} is not in a usable subnet of the network")
            if address in blocked:
                raise call_error("ip_not_available", f"IP {address} is not available")
            return str(address)
        for subnet in subnets:
            for host in subnet.hosts():
                if host not in blocked:
                    return str(host)
        raise call_error("no_subnet_available", "no free IP is left in the network's subnets")

    # -- firewalls ---------------------------------------------------------------------------------------------

    def _validate_rules(self, raw_rules: Any, field: str = "rules") -> list[dict[str, Any]]:
        if not isinstance(raw_rules, list):
            raise invalid(field, "must be an array")
        if len(raw_rules) > FIREWALL_MAX_RULES:
            raise invalid(field, f"at most {FIREWALL_MAX_RULES} rules are allowed")
        rules = []
        for index, raw in enumerate(raw_rules):
            where = f"{field}[{index}]"
            raw = _obj(raw, where)
            direction = _get(raw, "direction", "str", required=True, field=f"{where}.direction")
            if direction not in ("in", "out"):
                raise invalid(f"{where}.direction", "must be one of in, out")
            protocol = _get(raw, "protocol", "str", required=True, field=f"{where}.protocol")
            if protocol not in ("tcp", "udp", "icmp", "esp", "gre"):
                raise invalid(f"{where}.protocol", "must be one of tcp, udp, icmp, esp, gre")
            port = _get(raw, "port", "str", field=f"{where}.port")
            if protocol in ("tcp", "udp"):
                if port is None:
                    raise invalid(f"{where}.port", f"is required for protocol {protocol}")
                self._check_port(port, f"{where}.port")
            elif port is not None:
                raise invalid(f"{where}.port", f"is not allowed for protocol {protocol}")
            source_ips = self._check_cidrs(_get(raw, "source_ips", "list", default=[]), f"{where}.source_ips")
            destination_ips = self._check_cidrs(
                _get(raw, "destination_ips", "list", default=[]), f"{where}.destination_ips"
            )
            if direction == "in" and (not source_ips or destination_ips):
                raise invalid(f"{where}.source_ips", "rules of direction in need source_ips and no destination_ips")
            if direction == "out" and (not destination_ips or source_ips):
                raise invalid(
                    f"{where}.destination_ips", "rules of direction out need destination_ips and no source_ips"
                )
            description = _get(raw, "description", "str", field=f"{where}.description")
            if description is not None and len(description) > 255:
                raise invalid(f"{where}.description", "is longer than 255 characters")
            rules.append(
                {
                    "description": description,
                    "direction": direction,
                    "source_ips": source_ips,
                    "destination_ips": destination_ips,
                    "protocol": protocol,
                    "port": port,
                }
            )
        return rules

    @staticmethod
    def _check_port(port: str, field: str) -> None:
        match = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", port)
        if not match:
            raise invalid(field, "must be a port (80) or a port range (1024-2048)")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not (1 <= low <= high <= 65535):
            raise invalid(field, "ports must be between 1 and 65535, the range ascending")

    @staticmethod
    def _check_cidrs(values: list[Any], field: str) -> list[str]:
        for value in values:
            if not isinstance(value, str) or "/" not in value:
                raise invalid(field, f"'{value}' is not an IP network in CIDR notation")
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise invalid(field, f"'{value}' is not a valid IP network") from exc
        return list(values)

    def _firewall_servers(self, firewall: dict[str, Any]) -> list[int]:
        """Servers the firewall applies to, directly or through a label selector."""
        ids = set()
        for entry in firewall["applied"]:
            if entry["type"] == "server":
                ids.add(entry["server"])
            else:
                selector = LabelSelector(entry["selector"])
                ids.update(s["id"] for s in self._store["servers"].values() if selector.matches(s["labels"]))
        return sorted(ids)

    def _render_firewall(self, firewall: dict[str, Any]) -> dict[str, Any]:
        applied_to = []
        for entry in firewall["applied"]:
            if entry["type"] == "server":
                applied_to.append({"type": "server", "server": {"id": entry["server"]}})
            else:
                selector = LabelSelector(entry["selector"])
                matching = sorted(s["id"] for s in self._store["servers"].values() if selector.matches(s["labels"]))
                applied_to.append(
                    {
                        "type": "label_selector",
                        "label_selector": {"selector": entry["selector"]},
                        "applied_to_resources": [{"type": "server", "server": {"id": sid}} for sid in matching],
                    }
                )
        return {
            "id": firewall["id"],
            "name": firewall["name"],
            "labels": dict(firewall["labels"]),
            "created": firewall["created"],
            "rules": copy.deepcopy(firewall["rules"]),
            "applied_to": applied_to,
        }

    def _parse_firewall_resources(self, raw: Any, field: str) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            raise invalid(field, "must be an array")
        entries = []
        for index, item in enumerate(raw):
            where = f"{field}[{index}]"
            item = _obj(item, where)
            rtype = _get(item, "type", "str", required=True, field=f"{where}.type")
            if rtype == "server":
                server = _obj(_get(item, "server", "dict", required=True, field=f"{where}.server"), f"{where}.server")
                sid = _get(server, "id", "int", required=True, field=f"{where}.server.id")
                entries.append({"type": "server", "server": sid})
            elif rtype == "label_selector":
                sel = _obj(
                    _get(item, "label_selector", "dict", required=True, field=f"{where}.label_selector"),
                    f"{where}.label_selector",
                )
                text = _get(sel, "selector", "str", required=True, field=f"{where}.label_selector.selector")
                LabelSelector(text, f"{where}.label_selector.selector")
                entries.append({"type": "label_selector", "selector": text})
            else:
                raise invalid(f"{where}.type", "must be one of server, label_selector")
        return entries

    def _apply_firewall(self, firewall: dict[str, Any], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        actions = []
        for entry in entries:
            if entry in firewall["applied"]:
                raise call_error("firewall_already_applied", "firewall is already applied to the resource")
            if entry["type"] == "server":
                server = self._store["servers"].get(entry["server"])
                if server is None:
                    raise call_error("firewall_resource_not_found", f"server {entry['server']} not found")
                if server["ipv4"] is None and server["ipv6"] is None:
                    raise call_error("private_net_only_server", "the server has no public network interface")
            firewall["applied"].append(entry)
            targets = [entry["server"]] if entry["type"] == "server" else self._firewall_servers({"applied": [entry]})
            actions.append(
                self._action("apply_firewall", [("firewall", firewall["id"]), *(("server", sid) for sid in targets)])
            )
        return actions

    def _list_firewalls(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        return self._list_kind("firewalls", query)

    def _create_firewall(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        body = _obj(body)
        name = _get(body, "name", "str", required=True)
        if len(name) > 128:
            raise invalid("name", "is longer than 128 characters")
        labels = check_labels(_get(body, "labels", "dict", default={}))
        rules = self._validate_rules(_get(body, "rules", "list", default=[]))
        entries = self._parse_firewall_resources(_get(body, "apply_to", "list", default=[]), "apply_to")
        self._check_name("firewalls", name, "firewall")
        firewall = {
            "id": self._new_id("firewalls"),
            "name": name,
            "labels": labels,
            "created": _now(),
            "rules": rules,
            "applied": [],
        }
        self._store["firewalls"][firewall["id"]] = firewall
        try:
            actions = [self._action("set_firewall_rules", [("firewall", firewall["id"])])]
            actions += self._apply_firewall(firewall, entries)
        except ApiError:
            del self._store["firewalls"][firewall["id"]]
            raise
        return 201, {"firewall": self._render_firewall(firewall), "actions": actions}

    def _get_firewall(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        return 200, {"firewall": self._render_firewall(self._require("firewalls", ident, "firewall"))}

    def _update_firewall(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        firewall = self._require("firewalls", ident, "firewall")
        body = _obj(body)
        name = _get(body, "name", "str")
        labels = body.get("labels")
        if name is not None:
            if len(name) > 128:
                raise invalid("name", "is longer than 128 characters")
            self._check_name("firewalls", name, "firewall", firewall["id"])
        if labels is not None:
            labels = check_labels(labels)
        if name is not None:
            firewall["name"] = name
        if labels is not None:
            firewall["labels"] = labels
        return 200, {"firewall": self._render_firewall(firewall)}

    def _delete_firewall(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        firewall = self._require("firewalls", ident, "firewall")
        if firewall["applied"]:
            raise call_error("resource_in_use", f"firewall with ID {firewall['id']} is still in use")
        del self._store["firewalls"][firewall["id"]]
        return 204, None

    def _firewall_action(self, query: dict[str, list[str]], body: Any, ident: str, name: str) -> tuple[int, Any]:
        firewall = self._require("firewalls", ident, "firewall")
        body = _obj(body)
        if name == "set_rules":
            firewall["rules"] = self._validate_rules(_get(body, "rules", "list", required=True))
            actions = [self._action("set_firewall_rules", [("firewall", firewall["id"])])]
            actions += [
                self._action("apply_firewall", [("firewall", firewall["id"]), ("server", sid)])
                for sid in self._firewall_servers(firewall)
            ]
            return 201, {"actions": actions}
        if name == "apply_to_resources":
            entries = self._parse_firewall_resources(_get(body, "apply_to", "list", required=True), "apply_to")
            return 201, {"actions": self._apply_firewall(firewall, entries)}
        if name == "remove_from_resources":
            entries = self._parse_firewall_resources(_get(body, "remove_from", "list", required=True), "remove_from")
            actions = []
            for entry in entries:
                if entry not in firewall["applied"]:
                    if entry["type"] == "server" and entry["server"] in self._firewall_servers(firewall):
                        raise call_error(
                            "firewall_managed_by_label_selector", "the firewall is applied through a label selector"
                        )
                    raise call_error("firewall_already_removed", "firewall is already removed from the resource")
                targets = self._firewall_servers({"applied": [entry]})
                firewall["applied"].remove(entry)
                actions.append(
                    self._action(
                        "remove_firewall", [("firewall", firewall["id"]), *(("server", sid) for sid in targets)]
                    )
                )
            return 201, {"actions": actions}
        raise ApiError("not_found", "not found")

    # -- placement groups ----------------------------------------------------------------------------------------

    def _placement_servers(self, group_id: int) -> list[int]:
        return sorted(s["id"] for s in self._store["servers"].values() if s["placement_group"] == group_id)

    def _render_placement_group(self, group: dict[str, Any]) -> dict[str, Any]:
        return {**copy.deepcopy(group), "servers": self._placement_servers(group["id"])}

    def _list_placement_groups(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        types = query.get("type")

        def by_type(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [g for g in items if not types or g["type"] in types]

        return self._list_kind("placement_groups", query, by_type)

    def _create_placement_group(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        body = _obj(body)
        name = _get(body, "name", "str", required=True)
        ptype = _get(body, "type", "str", required=True)
        if ptype != "spread":
            raise invalid("type", "must be spread")
        labels = check_labels(_get(body, "labels", "dict", default={}))
        self._check_name("placement_groups", name, "placement group")
        group = {
            "id": self._new_id("placement_groups"),
            "name": name,
            "labels": labels,
            "type": ptype,
            "created": _now(),
        }
        self._store["placement_groups"][group["id"]] = group
        return 201, {"placement_group": self._render_placement_group(group), "action": None}

    def _get_placement_group(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        group = self._require("placement_groups", ident, "placement_group")
        return 200, {"placement_group": self._render_placement_group(group)}

    def _update_placement_group(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        group = self._require("placement_groups", ident, "placement_group")
        body = _obj(body)
        name = _get(body, "name", "str")
        labels = body.get("labels")
        if name is not None:
            self._check_name("placement_groups", name, "placement group", group["id"])
        if labels is not None:
            labels = check_labels(labels)
        if name is not None:
            group["name"] = name
        if labels is not None:
            group["labels"] = labels
        return 200, {"placement_group": self._render_placement_group(group)}

    def _delete_placement_group(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        group = self._require("placement_groups", ident, "placement_group")
        if self._placement_servers(group["id"]):
            raise call_error("resource_in_use", "placement group still contains servers")
        del self._store["placement_groups"][group["id"]]
        return 204, None

    def _check_placement(self, group: dict[str, Any]) -> None:
        if len(self._placement_servers(group["id"])) >= SPREAD_GROUP_MAX_SERVERS:
            raise call_error(
                "placement_error", f"a spread placement group holds at most {SPREAD_GROUP_MAX_SERVERS} servers"
            )

    # -- primary IPs (read-only) ---------------------------------------------------------------------------------

    def _render_primary_ip(self, pip: dict[str, Any]) -> dict[str, Any]:
        rendered = {
            "id": pip["id"],
            "name": pip["name"],
            "labels": dict(pip["labels"]),
            "created": pip["created"],
            "blocked": False,
            "location": self._render_location(pip["location"]),
            "ip": pip["ip"],
            "dns_ptr": copy.deepcopy(pip["dns_ptr"]),
            "protection": {"delete": False},
            "type": pip["type"],
            "auto_delete": pip["auto_delete"],
            "assignee_type": "server",
            "assignee_id": pip["assignee_id"],
        }
        if self.legacy_datacenters:
            rendered["datacenter"] = self._render_datacenter(self._datacenter_of(pip["location"]))
        return rendered

    def _list_primary_ips(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        ip = self._q(query, "ip")

        def by_ip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [p for p in items if ip is None or p["ip"] == ip]

        return self._list_kind("primary_ips", query, by_ip)

    def _get_primary_ip(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        return 200, {"primary_ip": self._render_primary_ip(self._require("primary_ips", ident, "primary_ip"))}

    def _new_public_ipv4(self) -> str:
        try:
            return next(self._ipv4_pool)
        except StopIteration as exc:
            raise ApiError("resource_unavailable", "the stand-in has no public IPv4 address left") from exc

    def _new_ipv6_network(self) -> ipaddress.IPv6Network:
        self._ipv6_counter += 1
        base = int(PUBLIC_IPV6_POOL.network_address) + (self._ipv6_counter << 64)
        return ipaddress.IPv6Network((base, 64))

    def _new_primary_ip(self, kind: str, ip: str, server_id: int, location: str) -> dict[str, Any]:
        pid = self._new_id("primary_ips")
        if kind == "ipv4":
            dns_ptr = [{"ip": ip, "dns_ptr": "static." + ".".join(reversed(ip.split("."))) + ".clients.example"}]
        else:
            dns_ptr = []
        pip = {
            "id": pid,
            "name": f"primary_ip-{pid}",
            "labels": {},
            "created": _now(),
            "location": location,
            "ip": ip,
            "dns_ptr": dns_ptr,
            "type": kind,
            "auto_delete": True,
            "assignee_id": server_id,
        }
        self._store["primary_ips"][pid] = pip
        return pip

    # -- servers -------------------------------------------------------------------------------------------------

    _HOSTNAME = re.compile(
        r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    )

    def _server_firewalls(self, server_id: int) -> list[int]:
        return sorted(f["id"] for f in self._store["firewalls"].values() if server_id in self._firewall_servers(f))

    def _lb_targets_servers(self, lb: dict[str, Any]) -> list[int]:
        ids = set()
        for target in lb["targets"]:
            if target["type"] == "server":
                ids.add(target["server"])
            elif target["type"] == "label_selector":
                ids.update(self._selector_target_servers(lb, target))
        return sorted(ids)

    def _render_server(self, server: dict[str, Any]) -> dict[str, Any]:
        st = self._server_type(server["server_type"])
        image = next(i for i in self._images if i["id"] == server["image"])
        ipv4 = server["ipv4"]
        ipv6 = server["ipv6"]
        group = self._store["placement_groups"].get(server["placement_group"] or 0)
        rendered = {
            "id": server["id"],
            "name": server["name"],
            "status": server["status"],
            "created": server["created"],
            "public_net": {
                "ipv4": None
                if ipv4 is None
                else {
                    "id": ipv4["id"],
                    "ip": ipv4["ip"],
                    "blocked": False,
                    "dns_ptr": self._store["primary_ips"][ipv4["id"]]["dns_ptr"][0]["dns_ptr"],
                },
                "ipv6": None
                if ipv6 is None
                else {
                    "id": ipv6["id"],
                    "ip": ipv6["ip"],
                    "blocked": False,
                    "dns_ptr": [],
                },
                "floating_ips": [],
                "firewalls": [{"id": fid, "status": "applied"} for fid in self._server_firewalls(server["id"])],
            },
            "private_net": copy.deepcopy(server["private_net"]),
            "server_type": self._render_server_type(st) if st else None,
            "location": self._render_location(server["location"]),
            "image": self._render_image(image),
            "iso": None,
            "rescue_enabled": server["rescue_enabled"],
            "locked": False,
            "backup_window": server["backup_window"],
            "outgoing_traffic": 0,
            "ingoing_traffic": 0,
            "included_traffic": None,
            "protection": dict(server["protection"]),
            "labels": dict(server["labels"]),
            "volumes": [],
            "load_balancers": sorted(
                lb["id"]
                for lb in self._store["load_balancers"].values()
                if server["id"] in self._lb_targets_servers(lb)
            ),
            "primary_disk_size": server["primary_disk_size"],
            "placement_group": None if group is None else self._render_placement_group(group),
        }
        if self.legacy_datacenters:
            rendered["datacenter"] = self._render_datacenter(self._datacenter_of(server["location"]))
        return rendered

    def _list_servers(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        statuses = query.get("status")

        def by_status(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [s for s in items if not statuses or s["status"] in statuses]

        return self._list_kind("servers", query, by_status)

    def _get_server(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        return 200, {"server": self._render_server(self._require("servers", ident, "server"))}

    def _resolve_image(self, ref: Any, architecture: str, field: str = "image") -> dict[str, Any]:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            image = next((i for i in self._images if i["id"] == int(ref)), None)
            if image is None:
                raise invalid(field, f"image '{ref}' not found")
            if image["architecture"] != architecture:
                raise invalid(
                    field, f"image '{ref}' is built for {image['architecture']}, the server type for {architecture}"
                )
            return image
        image = next((i for i in self._images if i["name"] == ref and i["architecture"] == architecture), None)
        if image is None:
            raise invalid(field, f"image '{ref}' not found for architecture {architecture}")
        return image

    def _resolve_ssh_keys(self, refs: list[Any], field: str = "ssh_keys") -> list[int]:
        ids = []
        for ref in refs:
            key = self._find_by_ref("ssh_keys", ref)
            if key is None:
                raise invalid(field, f"SSH key '{ref}' not found")
            ids.append(key["id"])
        return ids

    def _check_type_location(self, st: dict[str, Any], location: str, field: str) -> None:
        if location not in st["locations"]:
            raise invalid(field, f"unsupported location for server type {st['name']}: {location}")

    def _create_server(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        body = _obj(body)
        name = _get(body, "name", "str", required=True)
        if not self._HOSTNAME.fullmatch(name):
            raise invalid("name", "must be a valid hostname (RFC 1123)")
        st_ref = _get(body, "server_type", "ref", required=True)
        st = self._server_type(st_ref)
        if st is None:
            raise invalid("server_type", f"server type '{st_ref}' not found")
        image = self._resolve_image(_get(body, "image", "ref", required=True), st["architecture"])
        location_ref = _get(body, "location", "ref")
        datacenter_ref = body.get("datacenter")
        if datacenter_ref is not None and not self.legacy_datacenters:
            raise invalid("datacenter", "the datacenter property was removed, use location")
        if location_ref is not None and datacenter_ref is not None:
            raise invalid("location", "location and datacenter are mutually exclusive")
        if datacenter_ref is not None:
            dc = next(
                (d for d in self._datacenters if d["name"] == datacenter_ref or str(d["id"]) == str(datacenter_ref)),
                None,
            )
            if dc is None:
                raise invalid("datacenter", f"datacenter '{datacenter_ref}' not found")
            location = dc["location"]
            self._check_type_location(st, location, "datacenter")
        elif location_ref is not None:
            found = self._location(location_ref)
            if found is None:
                raise invalid("location", f"location '{location_ref}' not found")
            location = found["name"]
            self._check_type_location(st, location, "location")
        else:
            location = st["locations"][0]
        zone = self._render_location(location)["network_zone"]
        ssh_keys = self._resolve_ssh_keys(_get(body, "ssh_keys", "list", default=[]))
        labels = check_labels(_get(body, "labels", "dict", default={}))
        user_data = _get(body, "user_data", "str")
        if user_data is not None and len(user_data.encode()) > USER_DATA_MAX_BYTES:
            raise invalid("user_data", "is limited to 32 KiB")
        if _get(body, "volumes", "list", default=[]):
            raise invalid("volumes", "volumes are not modelled by this stand-in")
        start = _get(body, "start_after_create", "bool", default=True)
        public_net = _obj(_get(body, "public_net", "dict", default={}), "public_net")
        enable_ipv4 = _get(public_net, "enable_ipv4", "bool", default=True, field="public_net.enable_ipv4")
        enable_ipv6 = _get(public_net, "enable_ipv6", "bool", default=True, field="public_net.enable_ipv6")
        for family in ("ipv4", "ipv6"):
            if public_net.get(family) is not None:
                raise invalid(f"public_net.{family}", "assigning existing Primary IPs is not modelled")
        networks = []
        for index, ref in enumerate(_get(body, "networks", "list", default=[])):
            network = self._store["networks"].get(ref) if isinstance(ref, int) else None
            if network is None:
                raise invalid(f"networks[{index}]", f"network '{ref}' not found")
            networks.append(network)
        if not (enable_ipv4 or enable_ipv6 or networks):
            raise invalid("public_net", "a server needs a public IP or a network")
        firewalls = []
        for index, raw in enumerate(_get(body, "firewalls", "list", default=[])):
            raw = _obj(raw, f"firewalls[{index}]")
            fid = _get(raw, "firewall", "int", required=True, field=f"firewalls[{index}].firewall")
            firewall = self._store["firewalls"].get(fid)
            if firewall is None:
                raise invalid(f"firewalls[{index}].firewall", f"firewall '{fid}' not found")
            firewalls.append(firewall)
        if firewalls and not (enable_ipv4 or enable_ipv6):
            raise call_error("private_net_only_server", "firewalls need a public network interface")
        group = None
        if body.get("placement_group") is not None:
            gid = _get(body, "placement_group", "int")
            group = self._store["placement_groups"].get(gid)
            if group is None:
                raise invalid("placement_group", f"placement group '{gid}' not found")
            self._check_placement(group)
        self._check_name("servers", name, "server")
        # Addresses in the networks are checked before anything is created.
        planned: dict[int, list[ipaddress.IPv4Address]] = {}
        for network in networks:
            planned[network["id"]] = [ipaddress.IPv4Address(self._allocate_ip(network, zone, None, "networks"))]
        sid = self._new_id("servers")
        server: dict[str, Any] = {
            "id": sid,
            "name": name,
            "status": "initializing",
            "created": _now(),
            "server_type": st["name"],
            "location": location,
            "image": image["id"],
            "labels": labels,
            "protection": {"delete": False, "rebuild": False},
            "rescue_enabled": False,
            "backup_window": None,
            "ipv4": None,
            "ipv6": None,
            "private_net": [],
            "placement_group": None if group is None else group["id"],
            "ssh_keys": ssh_keys,
            "primary_disk_size": st["disk"],
        }
        if enable_ipv4:
            pip = self._new_primary_ip("ipv4", self._new_public_ipv4(), sid, location)
            server["ipv4"] = {"id": pip["id"], "ip": pip["ip"]}
        if enable_ipv6:
            pip = self._new_primary_ip("ipv6", str(self._new_ipv6_network()), sid, location)
            server["ipv6"] = {"id": pip["id"], "ip": pip["ip"]}
        for network in networks:
            server["private_net"].append(
                {
                    "network": network["id"],
                    "ip": str(planned[network["id"]][0]),
                    "alias_ips": [],
                    "mac_address": self._new_mac(),
                }
            )
        self._store["servers"][sid] = server
        self._user_data[sid] = user_data
        for firewall in firewalls:
            firewall["applied"].append({"type": "server", "server": sid})
        action = self._action("create_server", [("server", sid)])
        next_actions = []
        if start:
            next_actions.append(self._action("start_server", [("server", sid)]))
        next_actions += [self._action("attach_to_network", [("server", sid), ("network", n["id"])]) for n in networks]
        response_server = self._render_server(server)
        server["status"] = "running" if start else "off"
        root_password = None if ssh_keys else self._password()
        return 201, {
            "server": response_server,
            "action": action,
            "next_actions": next_actions,
            "root_password": root_password,
        }

    @staticmethod
    def _password() -> str:
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(20))

    def _new_mac(self) -> str:
        self._mac_counter += 1
        tail = self._mac_counter.to_bytes(3, "big")
        return "86:00:00:" + ":".join(f"{b:02x}" for b in tail)

    def _update_server(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        server = self._require("servers", ident, "server")
        body = _obj(body)
        name = _get(body, "name", "str")
        labels = body.get("labels")
        if name is not None:
            if not self._HOSTNAME.fullmatch(name):
                raise invalid("name", "must be a valid hostname (RFC 1123)")
            self._check_name("servers", name, "server", server["id"])
        if labels is not None:
            labels = check_labels(labels)
        if name is not None:
            server["name"] = name
        if labels is not None:
            server["labels"] = labels
        return 200, {"server": self._render_server(server)}

    def _delete_server(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        server = self._require("servers", ident, "server")
        if server["protection"]["delete"]:
            raise ApiError("protected", "server deletion is protected")
        sid = server["id"]
        for firewall in self._store["firewalls"].values():
            firewall["applied"] = [e for e in firewall["applied"] if e != {"type": "server", "server": sid}]
        for lb in self._store["load_balancers"].values():
            lb["targets"] = [t for t in lb["targets"] if not (t["type"] == "server" and t["server"] == sid)]
        for family in ("ipv4", "ipv6"):
            if server[family] is not None:
                self._store["primary_ips"].pop(server[family]["id"], None)
        del self._store["servers"][sid]
        return 200, {"action": self._action("delete_server", [("server", sid)])}

    def _server_action(self, query: dict[str, list[str]], body: Any, ident: str, name: str) -> tuple[int, Any]:
        server = self._require("servers", ident, "server")
        body = _obj(body)
        sid = server["id"]
        resources: list[tuple[str, int]] = [("server", sid)]
        extra: dict[str, Any] = {}
        command = name
        if name == "poweron":
            server["status"] = "running"
            command = "start_server"
        elif name in ("poweroff", "shutdown"):
            server["status"] = "off"
            command = "stop_server" if name == "poweroff" else "shutdown_server"
        elif name in ("reboot", "reset"):
            command = f"{name}_server"
        elif name == "attach_to_network":
            network = self._server_network(body)
            if any(p["network"] == network["id"] for p in server["private_net"]):
                raise call_error("server_already_attached", "the server is already attached to the network")
            for p in server["private_net"]:
                other = self._store["networks"][p["network"]]
                if self._net(other).overlaps(self._net(network)):
                    raise call_error(
                        "networks_overlap", f"network {network['id']} overlaps with network {other['id']} of the server"
                    )
            zone = self._render_location(server["location"])["network_zone"]
            within = None
            if body.get("ip_range") is not None:
                within = _parse_ipv4_network(_get(body, "ip_range", "str"), "ip_range")
            ip = self._allocate_ip(network, zone, _get(body, "ip", "str"), "ip", within=within)
            aliases = self._allocate_aliases(
                network, zone, _get(body, "alias_ips", "list", default=[]), {ipaddress.IPv4Address(ip)}
            )
            server["private_net"].append(
                {"network": network["id"], "ip": ip, "alias_ips": aliases, "mac_address": self._new_mac()}
            )
            resources.append(("network", network["id"]))
        elif name == "detach_from_network":
            network = self._server_network(body)
            entry = next((p for p in server["private_net"] if p["network"] == network["id"]), None)
            if entry is None:
                raise call_error("server_not_attached_to_network", "the server is not attached to the network")
            if server["ipv4"] is None and server["ipv6"] is None and len(server["private_net"]) == 1:
                raise call_error("server_has_no_public_ip", "the server needs at least one network interface")
            server["private_net"].remove(entry)
            resources.append(("network", network["id"]))
        elif name == "change_alias_ips":
            network = self._server_network(body)
            entry = next((p for p in server["private_net"] if p["network"] == network["id"]), None)
            if entry is None:
                raise call_error("server_not_attached_to_network", "the server is not attached to the network")
            zone = self._render_location(server["location"])["network_zone"]
            old = entry["alias_ips"]
            entry["alias_ips"] = []
            try:
                entry["alias_ips"] = self._allocate_aliases(
                    network, zone, _get(body, "alias_ips", "list", required=True), {ipaddress.IPv4Address(entry["ip"])}
                )
            except ApiError:
                entry["alias_ips"] = old
                raise
            resources.append(("network", network["id"]))
        elif name == "change_type":
            st_ref = _get(body, "server_type", "ref", required=True)
            upgrade_disk = _get(body, "upgrade_disk", "bool", required=True)
            st = self._server_type(st_ref)
            if st is None:
                raise invalid("server_type", f"server type '{st_ref}' not found")
            if server["status"] != "off":
                raise call_error("server_not_stopped", "the server must be powered off to change its type")
            current = self._server_type(server["server_type"])
            if (
                st["architecture"] != current["architecture"]
                or st["storage_type"] != current["storage_type"]
                or st["disk"] < server["primary_disk_size"]
                or server["location"] not in st["locations"]
            ):
                raise call_error("invalid_server_type", f"server type {st['name']} does not fit the server")
            server["server_type"] = st["name"]
            if upgrade_disk:
                server["primary_disk_size"] = st["disk"]
            command = "change_server_type"
        elif name == "change_protection":
            delete = _get(body, "delete", "bool")
            rebuild = _get(body, "rebuild", "bool")
            if delete is not None and rebuild is not None and delete != rebuild:
                raise invalid("rebuild", "delete and rebuild protection must have the same value")
            if delete is not None:
                server["protection"]["delete"] = delete
            if rebuild is not None:
                server["protection"]["rebuild"] = rebuild
        elif name == "enable_backup":
            server["backup_window"] = "22-02"
        elif name == "disable_backup":
            server["backup_window"] = None
        elif name == "enable_rescue":
            rescue_type = _get(body, "type", "str", default="linux64")
            if rescue_type != "linux64":
                raise invalid("type", "must be linux64")
            self._resolve_ssh_keys(_get(body, "ssh_keys", "list", default=[]))
            server["rescue_enabled"] = True
            extra["root_password"] = self._password()
        elif name == "disable_rescue":
            server["rescue_enabled"] = False
        elif name == "rebuild":
            if server["protection"]["rebuild"]:
                raise ApiError("protected", "server rebuild is protected")
            st = self._server_type(server["server_type"])
            server["image"] = self._resolve_image(_get(body, "image", "ref", required=True), st["architecture"])["id"]
            server["status"] = "running"
            command = "rebuild_server"
            extra["root_password"] = None if server["ssh_keys"] else self._password()
        elif name == "add_to_placement_group":
            gid = _get(body, "placement_group", "int", required=True)
            group = self._store["placement_groups"].get(gid)
            if group is None:
                raise invalid("placement_group", f"placement group '{gid}' not found")
            if server["placement_group"] is not None:
                raise call_error("server_already_in_placement_group", "the server is already in a placement group")
            if server["status"] != "off":
                raise call_error("server_not_stopped", "the server must be powered off")
            self._check_placement(group)
            server["placement_group"] = gid
        elif name == "remove_from_placement_group":
            if server["placement_group"] is None:
                raise call_error("server_not_in_placement_group", "the server is not in a placement group")
            server["placement_group"] = None
        else:
            raise ApiError("not_found", "not found")
        return 201, {"action": self._action(command, resources), **extra}

    def _server_network(self, body: dict[str, Any]) -> dict[str, Any]:
        nid = _get(body, "network", "int", required=True)
        network = self._store["networks"].get(nid)
        if network is None:
            raise invalid("network", f"network '{nid}' not found")
        return network

    def _allocate_aliases(
        self, network: dict[str, Any], zone: str, raw: list[Any], taken: set[ipaddress.IPv4Address]
    ) -> list[str]:
        aliases: list[str] = []
        for index, value in enumerate(raw):
            address = self._allocate_ip(network, zone, value, f"alias_ips[{index}]", also_taken=taken)
            taken = taken | {ipaddress.IPv4Address(address)}
            aliases.append(address)
        return aliases

    # -- load balancers ------------------------------------------------------------------------------------------

    def _lb_zone(self, lb: dict[str, Any]) -> str:
        return self._render_location(lb["location"])["network_zone"]

    def _selector_target_servers(self, lb: dict[str, Any], target: dict[str, Any]) -> list[int]:
        selector = LabelSelector(target["selector"])
        networks = {p["network"] for p in lb["private_net"]}
        found = []
        for server in self._store["servers"].values():
            if not selector.matches(server["labels"]):
                continue
            if target["use_private_ip"]:
                if not any(p["network"] in networks for p in server["private_net"]):
                    continue
            elif server["ipv4"] is None:
                continue
            found.append(server["id"])
        return sorted(found)

    def _health(self, lb: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"listen_port": s["listen_port"], "status": "unknown"} for s in lb["services"]]

    def _render_target(self, lb: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
        if target["type"] == "server":
            return {
                "type": "server",
                "server": {"id": target["server"]},
                "use_private_ip": target["use_private_ip"],
                "health_status": self._health(lb),
            }
        if target["type"] == "label_selector":
            return {
                "type": "label_selector",
                "label_selector": {"selector": target["selector"]},
                "use_private_ip": target["use_private_ip"],
                "targets": [
                    {
                        "type": "server",
                        "server": {"id": sid},
                        "use_private_ip": target["use_private_ip"],
                        "health_status": self._health(lb),
                    }
                    for sid in self._selector_target_servers(lb, target)
                ],
            }
        return {"type": "ip", "ip": {"ip": target["ip"]}, "health_status": self._health(lb)}

    def _render_load_balancer(self, lb: dict[str, Any]) -> dict[str, Any]:
        lbt = self._lb_type(lb["load_balancer_type"])
        return {
            "id": lb["id"],
            "name": lb["name"],
            "public_net": {
                "enabled": lb["public_enabled"],
                "ipv4": {"ip": lb["ipv4"], "dns_ptr": None},
                "ipv6": {"ip": lb["ipv6"], "dns_ptr": None},
            },
            "private_net": copy.deepcopy(lb["private_net"]),
            "location": self._render_location(lb["location"]),
            "load_balancer_type": self._render_lb_type(lbt),
            "protection": dict(lb["protection"]),
            "labels": dict(lb["labels"]),
            "created": lb["created"],
            "services": copy.deepcopy(lb["services"]),
            "targets": [self._render_target(lb, t) for t in lb["targets"]],
            "algorithm": {"type": lb["algorithm"]},
            "outgoing_traffic": None,
            "ingoing_traffic": None,
            "included_traffic": None,
        }

    def _list_load_balancers(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        return self._list_kind("load_balancers", query)

    def _get_load_balancer(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        return 200, {
            "load_balancer": self._render_load_balancer(self._require("load_balancers", ident, "load_balancer"))
        }

    @staticmethod
    def _algorithm(raw: Any, field: str) -> str:
        if isinstance(raw, dict):
            raw = raw.get("type")
        if raw not in ("round_robin", "least_connections"):
            raise invalid(field, "must be one of round_robin, least_connections")
        return raw

    def _build_service(self, raw: Any, field: str, existing: dict[str, Any] | None = None) -> dict[str, Any]:
        """A service from an add_service / update_service body, with the documented defaults filled in."""
        raw = _obj(raw, field)
        base = copy.deepcopy(existing) if existing else {}
        protocol = _get(
            raw, "protocol", "str", required=existing is None, field=f"{field}.protocol", default=base.get("protocol")
        )
        if protocol not in ("tcp", "http", "https"):
            raise invalid(f"{field}.protocol", "must be one of tcp, http, https")
        default_listen = {"tcp": None, "http": 80, "https": 443}[protocol]
        listen_port = _get(
            raw, "listen_port", "int", field=f"{field}.listen_port", default=base.get("listen_port", default_listen)
        )
        if listen_port is None:
            raise invalid(f"{field}.listen_port", "is required for protocol tcp")
        destination_port = _get(
            raw,
            "destination_port",
            "int",
            field=f"{field}.destination_port",
            default=base.get("destination_port", None if protocol == "tcp" else 80),
        )
        if destination_port is None:
            raise invalid(f"{field}.destination_port", "is required for protocol tcp")
        for port_name, port in (("listen_port", listen_port), ("destination_port", destination_port)):
            if not 1 <= port <= 65535:
                raise invalid(f"{field}.{port_name}", "must be between 1 and 65535")
        proxyprotocol = _get(
            raw, "proxyprotocol", "bool", field=f"{field}.proxyprotocol", default=base.get("proxyprotocol", False)
        )
        service: dict[str, Any] = {
            "protocol": protocol,
            "listen_port": listen_port,
            "destination_port": destination_port,
            "proxyprotocol": proxyprotocol,
        }
        http_raw = _get(raw, "http", "dict", field=f"{field}.http")
        if protocol == "tcp":
            if http_raw is not None:
                raise invalid(f"{field}.http", "is only allowed for protocols http and https")
        else:
            http = base.get("http") or {
                "cookie_name": "HCLBSTICKY",
                "cookie_lifetime": 300,
                "certificates": [],
                "redirect_http": False,
                "sticky_sessions": False,
                "timeout_idle": 60,
            }
            if http_raw is not None:
                for key, kind in (
                    ("cookie_name", "str"),
                    ("cookie_lifetime", "int"),
                    ("redirect_http", "bool"),
                    ("sticky_sessions", "bool"),
                    ("timeout_idle", "int"),
                    ("certificates", "list"),
                ):
                    value = _get(http_raw, key, kind, field=f"{field}.http.{key}")
                    if value is not None:
                        http[key] = value
            if http["certificates"]:
                raise invalid(f"{field}.http.certificates", "certificates are not modelled by this stand-in")
            if protocol == "https":
                raise invalid(f"{field}.http.certificates", "protocol https needs certificates")
            if http["redirect_http"] and protocol != "https":
                raise invalid(f"{field}.http.redirect_http", "is only allowed for protocol https")
            service["http"] = http
        hc_raw = _get(raw, "health_check", "dict", field=f"{field}.health_check")
        health = base.get("health_check") or {
            "protocol": "tcp" if protocol == "tcp" else "http",
            "port": destination_port,
            "interval": 15,
            "timeout": 10,
            "retries": 3,
        }
        if hc_raw is not None:
            for key, kind in (
                ("protocol", "str"),
                ("port", "int"),
                ("interval", "int"),
                ("timeout", "int"),
                ("retries", "int"),
            ):
                value = _get(hc_raw, key, kind, field=f"{field}.health_check.{key}")
                if value is not None:
                    health[key] = value
        if health["protocol"] not in ("tcp", "http", "https"):
            raise invalid(f"{field}.health_check.protocol", "must be one of tcp, http, https")
        if health["protocol"] == "tcp":
            health.pop("http", None)
        else:
            hc_http = health.get("http") or {
                "domain": None,
                "path": "/",
                "response": None,
                "status_codes": ["2??", "3??"],
                "tls": False,
            }
            http_part = (hc_raw or {}).get("http")
            if http_part is not None:
                http_part = _obj(http_part, f"{field}.health_check.http")
                for key, kind in (
                    ("domain", "str"),
                    ("path", "str"),
                    ("response", "str"),
                    ("status_codes", "list"),
                    ("tls", "bool"),
                ):
                    value = _get(http_part, key, kind, field=f"{field}.health_check.http.{key}")
                    if value is not None:
                        hc_http[key] = value
            health["http"] = hc_http
        service["health_check"] = health
        return service

    def _parse_target(self, lb: dict[str, Any], raw: Any, field: str, *, for_removal: bool = False) -> dict[str, Any]:
        raw = _obj(raw, field)
        ttype = _get(raw, "type", "str", required=True, field=f"{field}.type")
        use_private_ip = _get(raw, "use_private_ip", "bool", default=False, field=f"{field}.use_private_ip")
        if ttype == "server":
            server_ref = _obj(_get(raw, "server", "dict", required=True, field=f"{field}.server"), f"{field}.server")
            sid = _get(server_ref, "id", "int", required=True, field=f"{field}.server.id")
            server = self._store["servers"].get(sid)
            if server is None:
                raise invalid(f"{field}.server.id", f"server '{sid}' not found")
            target = {"type": "server", "server": sid, "use_private_ip": use_private_ip}
            if not for_removal:
                if use_private_ip:
                    lb_networks = {p["network"] for p in lb["private_net"]}
                    if not lb_networks:
                        raise call_error(
                            "load_balancer_not_attached_to_network", "the load balancer is not attached to a network"
                        )
                    if not any(p["network"] in lb_networks for p in server["private_net"]):
                        raise call_error(
                            "server_not_attached_to_network",
                            "the server is not attached to the load balancer's network",
                        )
                elif server["ipv4"] is None:
                    raise call_error("missing_ipv4", "the server has no public IPv4 address")
            return target
        if ttype == "label_selector":
            sel = _obj(
                _get(raw, "label_selector", "dict", required=True, field=f"{field}.label_selector"),
                f"{field}.label_selector",
            )
            text = _get(sel, "selector", "str", required=True, field=f"{field}.label_selector.selector")
            LabelSelector(text, f"{field}.label_selector.selector")
            if use_private_ip and not lb["private_net"] and not for_removal:
                raise call_error(
                    "load_balancer_not_attached_to_network", "the load balancer is not attached to a network"
                )
            return {"type": "label_selector", "selector": text, "use_private_ip": use_private_ip}
        if ttype == "ip":
            ip_ref = _obj(_get(raw, "ip", "dict", required=True, field=f"{field}.ip"), f"{field}.ip")
            value = _get(ip_ref, "ip", "str", required=True, field=f"{field}.ip.ip")
            try:
                address = ipaddress.ip_address(value)
            except ValueError as exc:
                raise invalid(f"{field}.ip.ip", f"'{value}' is not an IP address") from exc
            if not for_removal and any(address in ipaddress.ip_network(p) for p in PUBLIC_IPV4_POOLS):
                raise call_error("cloud_resource_ip_not_allowed", "the IP belongs to a Hetzner Cloud resource")
            return {"type": "ip", "ip": str(address), "use_private_ip": False}
        raise invalid(f"{field}.type", "must be one of server, label_selector, ip")

    @staticmethod
    def _same_target(a: dict[str, Any], b: dict[str, Any]) -> bool:
        keys = {"server": "server", "label_selector": "selector", "ip": "ip"}
        return a["type"] == b["type"] and a[keys[a["type"]]] == b[keys[b["type"]]]

    def _add_target(self, lb: dict[str, Any], target: dict[str, Any]) -> None:
        if any(self._same_target(target, t) for t in lb["targets"]):
            raise call_error("target_already_defined", "the target is already defined")
        lbt = self._lb_type(lb["load_balancer_type"])
        if len(lb["targets"]) >= lbt["max_targets"]:
            raise ApiError("resource_limit_exceeded", f"{lbt['name']} allows at most {lbt['max_targets']} targets")
        lb["targets"].append(target)

    def _add_service(self, lb: dict[str, Any], service: dict[str, Any]) -> None:
        if any(s["listen_port"] == service["listen_port"] for s in lb["services"]):
            raise call_error("source_port_already_used", f"listen port {service['listen_port']} is already used")
        lbt = self._lb_type(lb["load_balancer_type"])
        if len(lb["services"]) >= lbt["max_services"]:
            raise ApiError("resource_limit_exceeded", f"{lbt['name']} allows at most {lbt['max_services']} services")
        lb["services"].append(service)

    def _create_load_balancer(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        body = _obj(body)
        name = _get(body, "name", "str", required=True)
        lbt_ref = _get(body, "load_balancer_type", "ref", required=True)
        lbt = self._lb_type(lbt_ref)
        if lbt is None:
            raise invalid("load_balancer_type", f"load balancer type '{lbt_ref}' not found")
        location_ref = _get(body, "location", "ref")
        zone_ref = _get(body, "network_zone", "str")
        if location_ref is not None and zone_ref is not None:
            raise invalid("location", "location and network_zone are mutually exclusive")
        if location_ref is not None:
            found = self._location(location_ref)
            if found is None:
                raise invalid("location", f"location '{location_ref}' not found")
        elif zone_ref is not None:
            found = next((loc for loc in self._locations if loc["network_zone"] == zone_ref), None)
            if found is None:
                raise invalid("network_zone", f"network zone '{zone_ref}' does not exist")
        else:
            raise invalid("location", "one of location and network_zone is required")
        algorithm = self._algorithm(_get(body, "algorithm", "dict", default={"type": "round_robin"}), "algorithm")
        labels = check_labels(_get(body, "labels", "dict", default={}))
        public = _get(body, "public_interface", "bool", default=True)
        network = None
        if body.get("network") is not None:
            network = self._store["networks"].get(_get(body, "network", "int"))
            if network is None:
                raise invalid("network", f"network '{body['network']}' not found")
        if not public and network is None:
            raise call_error(
                "load_balancer_not_attached_to_network", "a load balancer without public interface needs a network"
            )
        self._check_name("load_balancers", name, "load balancer")
        lb: dict[str, Any] = {
            "id": 0,
            "name": name,
            "load_balancer_type": lbt["name"],
            "location": found["name"],
            "algorithm": algorithm,
            "labels": labels,
            "protection": {"delete": False},
            "created": _now(),
            "public_enabled": public,
            "ipv4": None,
            "ipv6": None,
            "private_net": [],
            "services": [],
            "targets": [],
        }
        if network is not None:
            lb["private_net"].append(
                {"network": network["id"], "ip": self._allocate_ip(network, found["network_zone"], None, "network")}
            )
        for index, raw in enumerate(_get(body, "services", "list", default=[])):
            self._add_service(lb, self._build_service(raw, f"services[{index}]"))
        for index, raw in enumerate(_get(body, "targets", "list", default=[])):
            self._add_target(lb, self._parse_target(lb, raw, f"targets[{index}]"))
        lb["id"] = self._new_id("load_balancers")
        lb["ipv4"] = self._new_public_ipv4()
        lb["ipv6"] = str(self._new_ipv6_network().network_address + 1)
        self._store["load_balancers"][lb["id"]] = lb
        action = self._action("create_load_balancer", [("load_balancer", lb["id"])])
        return 201, {"load_balancer": self._render_load_balancer(lb), "action": action}

    def _update_load_balancer(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        lb = self._require("load_balancers", ident, "load_balancer")
        body = _obj(body)
        name = _get(body, "name", "str")
        labels = body.get("labels")
        if name is not None:
            self._check_name("load_balancers", name, "load balancer", lb["id"])
        if labels is not None:
            labels = check_labels(labels)
        if name is not None:
            lb["name"] = name
        if labels is not None:
            lb["labels"] = labels
        return 200, {"load_balancer": self._render_load_balancer(lb)}

    def _delete_load_balancer(self, query: dict[str, list[str]], body: Any, ident: str) -> tuple[int, Any]:
        lb = self._require("load_balancers", ident, "load_balancer")
        if lb["protection"]["delete"]:
            raise ApiError("protected", "load balancer deletion is protected")
        del self._store["load_balancers"][lb["id"]]
        if self.legacy_datacenters:
            return 204, None
        # hcloud 2.27 (DeleteLoadBalancerResponse) reads an action from today's API.
        return 200, {"action": self._action("delete_load_balancer", [("load_balancer", lb["id"])])}

    def _lb_action(self, query: dict[str, list[str]], body: Any, ident: str, name: str) -> tuple[int, Any]:
        lb = self._require("load_balancers", ident, "load_balancer")
        body = _obj(body)
        resources: list[tuple[str, int]] = [("load_balancer", lb["id"])]
        command = name
        if name == "add_service":
            self._add_service(lb, self._build_service(body, "service"))
        elif name == "update_service":
            port = _get(body, "listen_port", "int", required=True)
            index = next((i for i, s in enumerate(lb["services"]) if s["listen_port"] == port), None)
            if index is None:
                raise invalid("listen_port", f"the load balancer has no service on port {port}")
            lb["services"][index] = self._build_service(body, "service", lb["services"][index])
        elif name == "delete_service":
            port = _get(body, "listen_port", "int", required=True)
            service = next((s for s in lb["services"] if s["listen_port"] == port), None)
            if service is None:
                raise invalid("listen_port", f"the load balancer has no service on port {port}")
            lb["services"].remove(service)
        elif name == "add_target":
            self._add_target(lb, self._parse_target(lb, body, "target"))
        elif name == "remove_target":
            target = self._parse_target(lb, body, "target", for_removal=True)
            found = next((t for t in lb["targets"] if self._same_target(target, t)), None)
            if found is None:
                raise invalid("target", "the load balancer has no such target")
            lb["targets"].remove(found)
        elif name == "attach_to_network":
            nid = _get(body, "network", "int", required=True)
            network = self._store["networks"].get(nid)
            if network is None:
                raise invalid("network", f"network '{nid}' not found")
            if lb["private_net"]:
                raise call_error("load_balancer_already_attached", "the load balancer is already attached to a network")
            within = None
            if body.get("ip_range") is not None:
                within = _parse_ipv4_network(_get(body, "ip_range", "str"), "ip_range")
            ip = self._allocate_ip(network, self._lb_zone(lb), _get(body, "ip", "str"), "ip", within=within)
            lb["private_net"].append({"network": nid, "ip": ip})
            resources.append(("network", nid))
        elif name == "detach_from_network":
            nid = _get(body, "network", "int", required=True)
            entry = next((p for p in lb["private_net"] if p["network"] == nid), None)
            if entry is None:
                raise call_error(
                    "load_balancer_not_attached_to_network", "the load balancer is not attached to the network"
                )
            if not lb["public_enabled"]:
                raise call_error(
                    "load_balancer_public_interface_disabled",
                    "enable the public interface before detaching the last network",
                )
            if any(t["use_private_ip"] for t in lb["targets"]):
                raise call_error("targets_use_private_ip", "targets still use the private network")
            lb["private_net"].remove(entry)
            resources.append(("network", nid))
        elif name == "change_type":
            ref = _get(body, "load_balancer_type", "ref", required=True)
            lbt = self._lb_type(ref)
            if lbt is None:
                raise invalid("load_balancer_type", f"load balancer type '{ref}' not found")
            if len(lb["services"]) > lbt["max_services"] or len(lb["targets"]) > lbt["max_targets"]:
                raise call_error("invalid_load_balancer_type", f"{lbt['name']} is too small for the load balancer")
            lb["load_balancer_type"] = lbt["name"]
            command = "change_load_balancer_type"
        elif name == "change_algorithm":
            lb["algorithm"] = self._algorithm(_get(body, "type", "str", required=True), "type")
        elif name == "enable_public_interface":
            lb["public_enabled"] = True
        elif name == "disable_public_interface":
            if not lb["private_net"]:
                raise call_error(
                    "load_balancer_not_attached_to_network", "the load balancer is not attached to a network"
                )
            if any(not t["use_private_ip"] for t in lb["targets"] if t["type"] != "ip"):
                raise call_error(
                    "targets_without_use_private_ip", "the load balancer has targets that use the public IP"
                )
            lb["public_enabled"] = False
        elif name == "change_protection":
            delete = _get(body, "delete", "bool")
            if delete is not None:
                lb["protection"]["delete"] = delete
        else:
            raise ApiError("not_found", "not found")
        return 201, {"action": self._action(command, resources)}


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the stand-in; HTTP/1.1 with keep-alive like the real API."""

    protocol_version = "HTTP/1.1"
    standin: HcloudStandin

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.standin.handle(self.command, self.path, self.headers.get("Authorization"), body)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, *args: Any) -> None:
        return
