"""STAND-IN for the Hetzner Robot web service (https://robot-ws.your-server.de). It is NOT Hetzner.

The Robot web service cannot be reached from this project's machines. This is an in-memory imitation of the
part of it that the community.hrobot collection (2.7.0) calls, written from Hetzner's public documentation
(https://robot.hetzner.com/doc/webservice/en.html: request parameters, JSON answers, error format and codes),
from what the collection's modules send and read, and, where the documentation is silent, from behaviour
reported by people using the real service (each such point is marked "assumed" below). A run against it
proves that playbooks make the right calls in the right order and handle the answers; only a real Robot
account proves the real thing.

The unmodified modules reach it through :class:`hetzner_standin.tls_intercept.InterceptProxy` (the endpoint
is fixed in the collection; the proxy intercepts ``CONNECT robot-ws.your-server.de:443``): see
:meth:`RobotStandin.serve`.

Implemented (HTTP basic auth on every request; form-encoded bodies, JSON answers; errors as
``{"error": {"status", "code", "message"[, "missing", "invalid"]}}``):

- ``GET /server`` (404 SERVER_NOT_FOUND when the account has none), ``GET /server/{n}``,
  ``POST /server/{n}`` (``server_name``).
- ``GET /key`` (404 NOT_FOUND when there are none), ``POST /key`` (``name``, ``data``; fingerprint = MD5 of
  the key blob, colon hex; 409 KEY_ALREADY_EXISTS), ``GET/POST(name)/DELETE /key/{fingerprint}``.
- ``GET /boot/{n}`` (all boot configurations), ``GET/POST/DELETE /boot/{n}/rescue`` (``os``, ``arch``,
  ``authorized_key[]``, ``keyboard``; POST returns a generated root password also when keys are given, as
  documented; 409 BOOT_ALREADY_ENABLED), ``GET /boot/{n}/rescue/last``. linux and vnc are reported inactive
  and windows/plesk/cpanel as null (not available); activating them answers 501 NOT_IMPLEMENTED.
- ``GET /reset``, ``GET /reset/{n}``, ``POST /reset/{n}`` (``type``). A reset consumes an active rescue
  (``active`` becomes false, ``/rescue/last`` keeps it) because the next boot is the rescue system, and calls
  the ``on_reset`` hook; every reset is recorded in ``resets``.
- ``GET/POST /vswitch``, ``GET/POST/DELETE /vswitch/{id}``, ``POST/DELETE /vswitch/{id}/server``
  (``server[]``/``server[i]`` by number, main IPv4 or IPv6 net). VLAN 4000-4091 (else 400 INVALID_INPUT
  invalid ["vlan"]); several vSwitches may share a VLAN id, but one server cannot be in two vSwitches with
  the same VLAN (409 VSWITCH_VLAN_NOT_UNIQUE); at most 100 servers per vSwitch (409
  VSWITCH_SERVER_LIMIT_REACHED) and 5 vSwitches per server (409 VSWITCH_PER_SERVER_LIMIT_REACHED), per
  Hetzner's vSwitch documentation. ``DELETE /vswitch/{id}`` with ``cancellation_date=now`` removes it at once;
  with a date (``YYYY-MM-DD``, or ``YY-MM-DD`` which is what community.hrobot.v_switch sends) it stays listed
  by ``GET /vswitch`` and ``GET /vswitch/{id}`` with ``cancelled: true`` (the real one goes at the end of that
  day; :meth:`RobotStandin.purge_cancelled_vswitches` plays the end of the day); 409 CONFLICT when already
  cancelled.
- ``GET/POST/DELETE /firewall/{server number or main IP}``: ``status`` active/disabled, ``filter_ipv6``,
  ``whitelist_hos``, ``port`` main/kvm, ``rules[input|output][i][name|ip_version|dst_ip|src_ip|dst_port|
  src_port|protocol|tcp_flags|action]``. At most 10 rules per direction, and any malformed rule, answer 400
  INVALID_INPUT invalid ["rules"] (as reported from the real service; the stand-in adds the reason to the
  message). POST answers 202. Every rule is returned with all nine keys (null when unset), addresses as
  ``address/prefix``. 409 FIREWALL_IN_PROCESS while a change is being applied.
- Changes that take time on the real Robot (firewall, vSwitch membership) are done at once by default, so
  the modules' wait loops end on their first poll. ``settle_polls=N`` makes the next N reads after a change
  report ``in process`` (for the firewall the POST's own answer is the first), to exercise those loops.

Not implemented: rate limiting (no RATE_LIMIT_EXCEEDED), the 10-minute lock-out after 3 failed logins,
cancellation and ordering of servers, IPs, subnets, failover, reverse DNS, traffic, wake-on-LAN, storage
boxes, firewall templates (``template_id`` answers 501), vSwitch subnets and cloud networks (always empty),
installation boot types, manual-reset bookkeeping (RESET_MANUAL_ACTIVE), YAML answers (``.yaml``). Unknown
paths answer 404 NOT_FOUND saying so.

Assumed where the documentation says nothing: a new server's firewall is ``disabled`` with no rules,
``whitelist_hos`` true, ``filter_ipv6`` false; a firewall POST without rules leaves no rules; rule names may
contain only letters, space and ``. - + _ @`` (the limit community.hrobot documents: no digits); the rescue
system offers ``linux`` and ``vkvm``, arch 64 only; the account-wide vSwitch limit is not documented, so
there is none unless ``vswitch_limit`` is given; VSWITCH_VLAN_NOT_UNIQUE is read as "this server is already
in another vSwitch with that VLAN" (VLAN ids themselves may repeat across vSwitches); every reset type (sw,
hw, power, power_long, man) boots the server, so each consumes the rescue; firewall addresses keep the prefix
they were given (``1.2.3.4/24`` is not masked to ``1.2.3.0/24``), a bare address gets /32 or /128; the
401 body is ``{"error": {"status": 401, "code": "UNAUTHORIZED", "message": "Unauthorized"}}``.

The request log (``requests``, ``mutations()``, ``clear_requests()``) holds method, path, query and form
fields, never the Authorization header, with password-like fields redacted.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import string
import struct
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

ROBOT_BASE_URL = "https://robot-ws.your-server.de"

OnReset = Callable[[int, str, "dict[str, Any] | None"], None]

RESCUE_OS = ("linux", "vkvm")
RESCUE_ARCH = (64,)
KEYBOARDS = ("us", "uk", "ch", "de", "dk", "es", "fi", "fr", "it", "jp", "nl", "no", "pl", "ru", "se")
DEFAULT_RESET_TYPES = ("sw", "hw", "power", "power_long", "man")
VLAN_MIN, VLAN_MAX = 4000, 4091
MAX_SERVERS_PER_VSWITCH = 100
MAX_VSWITCHES_PER_SERVER = 5
MAX_FIREWALL_RULES = 10
FIREWALL_RULE_KEYS = (
    "name",
    "ip_version",
    "dst_ip",
    "src_ip",
    "dst_port",
    "src_port",
    "protocol",
    "tcp_flags",
    "action",
)
FIREWALL_PROTOCOLS = ("tcp", "udp", "gre", "icmp", "ipip", "ah", "esp")
_RULE_NAME = re.compile(r"[a-zA-Z .\-+_@]*")
_TCP_FLAGS = re.compile(r"(syn|fin|rst|psh|urg|ack)([|&](syn|fin|rst|psh|urg|ack))*")
_PORT = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
_RULE_FIELD = re.compile(r"rules\[(input|output)\]\[(\d+)\]\[([a-z_]+)\]")
_SECRET_FIELD = re.compile(r"pass|secret|token", re.IGNORECASE)

_SERVER_LIST_FIELDS = (
    "server_ip",
    "server_ipv6_net",
    "server_number",
    "server_name",
    "product",
    "dc",
    "traffic",
    "status",
    "cancelled",
    "paid_until",
    "ip",
    "subnet",
)
_SERVER_DETAIL_FIELDS = (
    *_SERVER_LIST_FIELDS,
    "reset",
    "rescue",
    "vnc",
    "windows",
    "plesk",
    "cpanel",
    "wol",
    "hot_swap",
    "linked_storagebox",
)
_SERVER_INPUT_FIELDS = frozenset(_SERVER_DETAIL_FIELDS) | {"reset_types"}


class RobotError(Exception):
    """An error answer in the Robot's documented format."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        missing: list[str] | None = None,
        invalid: list[str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.missing = missing
        self.invalid = invalid

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.code == "INVALID_INPUT":
            error["missing"] = self.missing
            error["invalid"] = self.invalid
        return {"error": error}


def _invalid(*names: str, reason: str | None = None) -> RobotError:
    message = "invalid input" if reason is None else f"invalid input (stand-in: {reason})"
    return RobotError(400, "INVALID_INPUT", message, missing=None, invalid=list(names))


def _missing(*names: str) -> RobotError:
    return RobotError(400, "INVALID_INPUT", "invalid input", missing=list(names), invalid=None)


def _redact(key: str, value: Any) -> Any:
    return "***" if _SECRET_FIELD.search(key) else value


class _Form:
    """Form fields of one request (body, else query string); lists as ``name[]`` (repeated) or ``name[i]``."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self.values: dict[str, list[str]] = {}
        for key, value in pairs:
            self.values.setdefault(key, []).append(value)

    def get(self, name: str) -> str | None:
        values = self.values.get(name)
        return values[-1] if values else None

    def list(self, name: str) -> list[str]:
        found = [*self.values.get(name, []), *self.values.get(f"{name}[]", [])]
        indexed = re.compile(re.escape(name) + r"\[(\d+)\]")
        numbered = sorted(
            (int(match.group(1)), value) for key, value in self.pairs if (match := indexed.fullmatch(key))
        )
        return found + [value for _, value in numbered]

    def logged(self) -> dict[str, Any]:
        return {
            key: _redact(key, values[0] if len(values) == 1 else list(values)) for key, values in self.values.items()
        }


def _ssh_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise ValueError("truncated key blob")
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise ValueError("truncated key blob")
    return blob[offset + 4 : end], end


def parse_public_key(data: str) -> dict[str, Any]:
    """``{"type", "size", "fingerprint", "data"}`` of an OpenSSH public key line; ValueError if it is none."""
    parts = data.strip().split()
    if len(parts) < 2:
        raise ValueError("expected '<type> <base64>'")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"bad base64: {exc}") from None
    key_type, offset = _ssh_string(blob, 0)
    if key_type.decode("ascii", "replace") != parts[0]:
        raise ValueError("key type does not match the blob")
    if key_type == b"ssh-ed25519":
        kind, size = "ED25519", 256
    elif key_type == b"ssh-rsa":
        _exponent, offset = _ssh_string(blob, offset)
        modulus, offset = _ssh_string(blob, offset)
        kind, size = "RSA", int.from_bytes(modulus, "big").bit_length()
    elif key_type.startswith(b"ecdsa-sha2-nistp") and key_type[16:] in (b"256", b"384", b"521"):
        kind, size = "ECDSA", int(key_type[16:])
    elif key_type == b"ssh-dss":
        prime, offset = _ssh_string(blob, offset)
        kind, size = "DSA", int.from_bytes(prime, "big").bit_length()
    else:
        raise ValueError(f"unsupported key type {parts[0]!r}")
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    return {"type": kind, "size": size, "fingerprint": fingerprint, "data": f"{parts[0]} {parts[1]}"}


def _bool_field(form: _Form, name: str, current: bool) -> bool:
    value = form.get(name)
    if value is None:
        return current
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise _invalid(name)


def _normalize_ip(value: str, version: str) -> str:
    address, _, prefix = value.partition("/")
    parsed = ipaddress.ip_address(address)
    if (parsed.version == 4) != (version == "ipv4"):
        raise ValueError(f"{value!r} is not an {version} address")
    bits = 32 if version == "ipv4" else 128
    prefix = prefix or str(bits)
    if not prefix.isdigit() or not 0 <= int(prefix) <= bits:
        raise ValueError(f"bad prefix in {value!r}")
    return f"{parsed.compressed}/{int(prefix)}"


def _check_port(value: str) -> str:
    match = _PORT.fullmatch(value)
    if match is None:
        raise ValueError(f"bad port {value!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if not 0 <= low <= high <= 65535:
        raise ValueError(f"bad port range {value!r}")
    return value


def _validate_rule(direction: str, index: int, fields: dict[str, str]) -> dict[str, str | None]:
    where = f"rules[{direction}][{index}]"
    unknown = set(fields) - set(FIREWALL_RULE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}")
    rule: dict[str, str | None] = {key: fields.get(key) for key in FIREWALL_RULE_KEYS}
    if rule["action"] not in ("accept", "discard"):
        raise ValueError(f"{where}: action must be accept or discard")
    version = rule["ip_version"]
    if version is not None and version not in ("ipv4", "ipv6"):
        raise ValueError(f"{where}: ip_version must be ipv4 or ipv6")
    if version is None:
        given = [key for key in ("dst_ip", "src_ip", "protocol") if rule[key] is not None]
        if given:
            raise ValueError(f"{where}: {', '.join(given)} need(s) ip_version")
    name = rule["name"]
    if name is not None and _RULE_NAME.fullmatch(name) is None:
        raise ValueError(f"{where}: name may contain only letters, space and . - + _ @")
    for key in ("dst_ip", "src_ip"):
        if rule[key] is not None and version is not None:
            rule[key] = _normalize_ip(rule[key], version)
    for key in ("dst_port", "src_port"):
        if rule[key] is not None:
            rule[key] = _check_port(rule[key])
    if rule["protocol"] is not None and rule["protocol"] not in FIREWALL_PROTOCOLS:
        raise ValueError(f"{where}: protocol must be one of {', '.join(FIREWALL_PROTOCOLS)}")
    if rule["tcp_flags"] is not None and _TCP_FLAGS.fullmatch(rule["tcp_flags"]) is None:
        raise ValueError(f"{where}: bad tcp_flags")
    return rule


def _parse_cancellation_date(value: str, today: datetime.date) -> datetime.date | None:
    """None for ``now``; a date for ``YYYY-MM-DD`` or ``YY-MM-DD`` (20YY); ValueError otherwise or if past."""
    if value.strip().lower() == "now":
        return None
    match = re.fullmatch(r"(\d{2}|\d{4})-(\d{2})-(\d{2})", value.strip())
    if match is None:
        raise ValueError(value)
    year = int(match.group(1))
    if year < 100:
        year += 2000
    date = datetime.date(year, int(match.group(2)), int(match.group(3)))
    if date < today:
        raise ValueError(value)
    return date


class RobotStandin:
    """In-memory Robot web service STAND-IN (not Hetzner). See the module docstring for what it covers.

    ``servers``: dicts with at least ``server_number`` and ``server_ip``; the other documented server fields
    default (``server_ipv6_net``, ``server_name`` "", ``product`` GEX44, ``dc`` FSN1-DC14, ``status`` ready, ...).
    An optional ``reset_types`` list sets what ``GET /reset/{n}`` offers (default sw hw power power_long man).

    ``on_reset(server_number, reset_type, rescue)`` is called synchronously for every accepted
    ``POST /reset/{n}`` (outside the stand-in's lock, before the answer is sent), with the API's reset type
    (``sw``/``hw``/``power``/``power_long``/``man``) and the rescue configuration active at that moment or None:
    ``{"os", "arch", "keyboard", "password", "authorized_keys": [{"name", "fingerprint", "type", "size",
    "data"}, ...]}``. If it raises, the reset answers 500 RESET_FAILED, the rescue stays active and the
    exception is kept in ``hook_errors``. community.hrobot gives every request 10 s (``fetch_url`` timeout), so
    a hook that takes longer makes the reset module fail with a timeout although the reset is then recorded.
    """

    def __init__(
        self,
        user: str,
        password: str,
        servers: Iterable[Mapping[str, Any]] = (),
        on_reset: OnReset | None = None,
        settle_polls: int = 0,
        vswitch_limit: int | None = None,
    ) -> None:
        if not user or not password:
            raise ValueError("RobotStandin needs a user and a password")
        self.user = user
        self._password = password
        self.on_reset = on_reset
        self.settle_polls = settle_polls
        self.vswitch_limit = vswitch_limit
        self.hook_errors: list[BaseException] = []
        self._lock = threading.RLock()
        self._log: list[dict[str, Any]] = []
        self._resets: list[dict[str, Any]] = []
        self._servers: dict[int, dict[str, Any]] = {}
        self._reset_types: dict[int, list[str]] = {}
        self._rescue: dict[int, dict[str, Any] | None] = {}
        self._last_rescue: dict[int, dict[str, Any]] = {}
        self._firewalls: dict[int, dict[str, Any]] = {}
        self._keys: dict[str, dict[str, Any]] = {}
        self._vswitches: dict[int, dict[str, Any]] = {}
        self._next_vswitch_id = 50301
        for server in servers:
            self.add_server(server)

    def __repr__(self) -> str:
        with self._lock:
            numbers = sorted(self._servers)
        return f"RobotStandin(user={self.user!r}, password=<hidden>, servers={numbers!r})"

    # -- setup and inspection (for tests) ----------------------------------------------------------
    def add_server(self, server: Mapping[str, Any]) -> None:
        unknown = set(server) - _SERVER_INPUT_FIELDS
        if unknown:
            raise ValueError(f"unknown server field(s) {sorted(unknown)}")
        number = int(server["server_number"])
        ip = str(server["server_ip"])
        ipv6_net = str(server.get("server_ipv6_net") or f"2a01:4f8:{(number >> 16) & 0xFFFF:x}:{number & 0xFFFF:x}::")
        paid_until = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
        record: dict[str, Any] = {
            "server_ip": ip,
            "server_ipv6_net": ipv6_net,
            "server_number": number,
            "server_name": "",
            "product": "GEX44",
            "dc": "FSN1-DC14",
            "traffic": "unlimited",
            "status": "ready",
            "cancelled": False,
            "paid_until": paid_until,
            "ip": [ip],
            "subnet": [{"ip": ipv6_net, "mask": "64"}],
            "reset": True,
            "rescue": True,
            "vnc": True,
            "windows": False,
            "plesk": False,
            "cpanel": False,
            "wol": True,
            "hot_swap": False,
            "linked_storagebox": None,
        }
        record.update({key: copy.deepcopy(value) for key, value in server.items() if key != "reset_types"})
        record["server_number"] = number
        with self._lock:
            if number in self._servers:
                raise ValueError(f"server {number} exists")
            self._servers[number] = record
            self._reset_types[number] = list(server.get("reset_types", DEFAULT_RESET_TYPES))
            self._rescue[number] = None
            self._firewalls[number] = {
                "status": "disabled",
                "filter_ipv6": False,
                "whitelist_hos": True,
                "port": "main",
                "rules": {"input": [], "output": []},
                "pending": 0,
            }

    def add_key(self, name: str, public_key: str) -> str:
        """Store an SSH key as ``POST /key`` would (without a request); returns its fingerprint."""
        with self._lock:
            _status, payload = self._post_keys(_Form([("name", name), ("data", public_key)]))
            return payload["key"]["fingerprint"]

    def server(self, number: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._servers[number])

    def keys(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._keys.values()))

    def rescue(self, number: int) -> dict[str, Any] | None:
        """The active rescue configuration of a server (as passed to on_reset), or None."""
        with self._lock:
            config = self._rescue[number]
            return None if config is None else self._hook_view(config)

    def firewall(self, number: int) -> dict[str, Any]:
        with self._lock:
            state = self._firewalls[number]
            return copy.deepcopy({key: value for key, value in state.items() if key != "pending"})

    def vswitches(self) -> list[dict[str, Any]]:
        """All vSwitches (also cancelled ones) with their member server numbers; does not count as a poll."""
        with self._lock:
            return [
                {
                    "id": v["id"],
                    "name": v["name"],
                    "vlan": v["vlan"],
                    "cancelled": v["cancelled"],
                    "cancellation_date": v["cancellation_date"],
                    "servers": [entry["server_number"] for entry in v["servers"] if not entry["removing"]],
                }
                for v in self._vswitches.values()
            ]

    def purge_cancelled_vswitches(self) -> None:
        """What the end of the cancellation day does on the real Robot: cancelled vSwitches disappear."""
        with self._lock:
            for vswitch_id in [i for i, v in self._vswitches.items() if v["cancelled"]]:
                del self._vswitches[vswitch_id]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request: method, path, query, form (password-like fields redacted), status. Oldest first."""
        with self._lock:
            return copy.deepcopy(self._log)

    def mutations(self) -> list[dict[str, Any]]:
        """The logged requests that are not GET (whatever their answer)."""
        return [entry for entry in self.requests if entry["method"] != "GET"]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def resets(self) -> list[dict[str, Any]]:
        """Accepted resets: {"server_number", "type", "rescue" (as given to on_reset, or None)}."""
        with self._lock:
            return copy.deepcopy(self._resets)

    @contextmanager
    def serve(self) -> Iterator[Any]:
        """Run an :class:`InterceptProxy` for this stand-in; yields it (``.env()``, ``.subprocess_env()``)."""
        from .tls_intercept import InterceptProxy

        with InterceptProxy(self.handle) as proxy:
            yield proxy

    # -- HTTP ---------------------------------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one HTTP request: ``(status, headers, body)``. This is the app the proxy serves."""
        method = method.upper()
        split = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(split.path).rstrip("/") or "/"
        query = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) if body else []
        form = _Form(pairs or query)
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": _Form(query).logged(),
            "form": _Form(pairs).logged(),
            "status": None,
        }
        extra_headers: list[tuple[str, str]] = []
        try:
            if not self._authorized(headers.get("Authorization")):
                extra_headers.append(("WWW-Authenticate", 'Basic realm="Robot stand-in"'))
                raise RobotError(401, "UNAUTHORIZED", "Unauthorized")
            status, payload = self._route(method, path, form)
        except RobotError as exc:
            status, payload = exc.status, exc.body()
        entry["status"] = status
        with self._lock:
            self._log.append(entry)
        if payload is None:
            return status, extra_headers, b""
        data = json.dumps(payload).encode()
        return status, [("Content-Type", "application/json; charset=utf-8"), *extra_headers], data

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return False
        user, _, password = decoded.partition(":")
        user_ok = hmac.compare_digest(user.encode(), self.user.encode())
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return user_ok and password_ok

    def _route(self, method: str, path: str, form: _Form) -> tuple[int, Any]:
        for pattern, methods in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None or method not in methods:
                continue
            handler = getattr(self, methods[method])
            if methods[method] == "_post_reset":
                return handler(form, **match.groupdict())  # takes the lock itself, around the hook
            with self._lock:
                return handler(form, **match.groupdict())
        raise RobotError(404, "NOT_FOUND", f"Not found: {method} {path} is not implemented by the Robot stand-in")

    # -- lookups --------------------------------------------------------------------------------------
    def _server_by_number(self, value: str) -> dict[str, Any]:
        if value.isdigit() and int(value) in self._servers:
            return self._servers[int(value)]
        raise RobotError(404, "SERVER_NOT_FOUND", "Server not found")

    def _server_by_id_or_ip(self, value: str) -> dict[str, Any] | None:
        if value.isdigit():
            return self._servers.get(int(value))
        for server in self._servers.values():
            if value == server["server_ip"] or value == server["server_ipv6_net"]:
                return server
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None
        for server in self._servers.values():
            net = ipaddress.ip_network(f"{server['server_ipv6_net']}/64", strict=False)
            if address.version == 6 and address in net:
                return server
        return None

    # -- /server --------------------------------------------------------------------------------------
    def _get_servers(self, form: _Form) -> tuple[int, Any]:
        if not self._servers:
            raise RobotError(404, "SERVER_NOT_FOUND", "No servers found")
        return 200, [{"server": {k: copy.deepcopy(s[k]) for k in _SERVER_LIST_FIELDS}} for s in self._servers.values()]

    def _get_server(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        return 200, {"server": {k: copy.deepcopy(server[k]) for k in _SERVER_DETAIL_FIELDS}}

    def _post_server(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        name = form.get("server_name")
        if name is None:
            raise _missing("server_name")
        if len(name) > 100:
            raise _invalid("server_name")
        server["server_name"] = name
        return self._get_server(form, n)

    # -- /key -----------------------------------------------------------------------------------------
    @staticmethod
    def _key_view(key: dict[str, Any]) -> dict[str, Any]:
        return dict(key)

    def _get_keys(self, form: _Form) -> tuple[int, Any]:
        if not self._keys:
            raise RobotError(404, "NOT_FOUND", "No keys found")
        return 200, [{"key": self._key_view(key)} for key in self._keys.values()]

    def _post_keys(self, form: _Form) -> tuple[int, Any]:
        name, data = form.get("name"), form.get("data")
        if not name or not data:
            raise _missing(*[field for field, value in (("name", name), ("data", data)) if not value])
        try:
            parsed = parse_public_key(data)
        except ValueError as exc:
            raise _invalid("data", reason=str(exc)) from None
        if parsed["fingerprint"] in self._keys:
            raise RobotError(409, "KEY_ALREADY_EXISTS", "The key already exists")
        created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        key = {"name": name, **parsed, "created_at": created}
        key = {k: key[k] for k in ("name", "fingerprint", "type", "size", "data", "created_at")}
        self._keys[parsed["fingerprint"]] = key
        return 201, {"key": self._key_view(key)}

    def _key(self, fingerprint: str) -> dict[str, Any]:
        key = self._keys.get(fingerprint.lower())
        if key is None:
            raise RobotError(404, "NOT_FOUND", "Key not found")
        return key

    def _get_key(self, form: _Form, fp: str) -> tuple[int, Any]:
        return 200, {"key": self._key_view(self._key(fp))}

    def _post_key(self, form: _Form, fp: str) -> tuple[int, Any]:
        key = self._key(fp)
        name = form.get("name")
        if not name:
            raise _missing("name")
        key["name"] = name
        return 200, {"key": self._key_view(key)}

    def _delete_key(self, form: _Form, fp: str) -> tuple[int, Any]:
        key = self._key(fp)
        del self._keys[key["fingerprint"]]
        return 200, None

    # -- /boot ----------------------------------------------------------------------------------------
    def _server_ref(self, server: dict[str, Any]) -> dict[str, Any]:
        return {key: server[key] for key in ("server_ip", "server_ipv6_net", "server_number")}

    def _rescue_view(self, server: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
        view = self._server_ref(server)
        if config is None:
            view.update(
                os=list(RESCUE_OS),
                arch=list(RESCUE_ARCH),
                active=False,
                password=None,
                authorized_key=[],
                host_key=[],
                boot_time=None,
            )
            return view
        view.update(
            os=config["os"],
            arch=config["arch"],
            active=config["active"],
            password=config["password"],
            authorized_key=[
                {"key": {k: key[k] for k in ("name", "fingerprint", "type", "size")}} for key in config["keys"]
            ],
            host_key=[],
            boot_time=None,
            keyboard=config["keyboard"],
        )
        return view

    def _inactive_install_view(self, server: dict[str, Any], kind: str) -> dict[str, Any]:
        view = self._server_ref(server)
        view.update(dist=["Ubuntu 24.04 LTS base"], arch=[64], lang=["en"], active=False, password=None)
        if kind == "linux":
            view.update(authorized_key=[], host_key=[])
        return view

    def _get_boot(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        number = server["server_number"]
        return 200, {
            "boot": {
                "rescue": self._rescue_view(server, self._rescue[number]),
                "linux": self._inactive_install_view(server, "linux"),
                "vnc": self._inactive_install_view(server, "vnc"),
                "windows": None,
                "plesk": None,
                "cpanel": None,
            }
        }

    def _get_rescue(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        return 200, {"rescue": self._rescue_view(server, self._rescue[server["server_number"]])}

    def _post_rescue(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        number = server["server_number"]
        if self._rescue[number] is not None:
            raise RobotError(409, "BOOT_ALREADY_ENABLED", "A boot option is already active")
        os_name = form.get("os")
        if not os_name:
            raise _missing("os")
        if os_name not in RESCUE_OS:
            raise _invalid("os")
        arch_value = form.get("arch")
        if arch_value is None:
            arch = RESCUE_ARCH[0]
        elif arch_value.isdigit() and int(arch_value) in RESCUE_ARCH:
            arch = int(arch_value)
        else:
            raise _invalid("arch")
        keyboard = form.get("keyboard") or "us"
        if keyboard not in KEYBOARDS:
            raise _invalid("keyboard")
        keys = []
        for fingerprint in form.list("authorized_key"):
            key = self._keys.get(fingerprint.lower())
            if key is None:
                raise _invalid("authorized_key", reason=f"no key with fingerprint {fingerprint}")
            keys.append(dict(key))
        alphabet = string.ascii_letters + string.digits
        config = {
            "os": os_name,
            "arch": arch,
            "keyboard": keyboard,
            "password": "".join(secrets.choice(alphabet) for _ in range(12)),
            "keys": keys,
            "active": True,
        }
        self._rescue[number] = config
        return 200, {"rescue": self._rescue_view(server, config)}

    def _delete_rescue(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        self._rescue[server["server_number"]] = None
        return 200, {"rescue": self._rescue_view(server, None)}

    def _get_rescue_last(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        last = self._last_rescue.get(server["server_number"])
        if last is None:
            raise RobotError(404, "NOT_FOUND", "No rescue system was active yet")
        view = self._rescue_view(server, last)
        view["password"] = None
        return 200, {"rescue": view}

    def _get_install(self, form: _Form, n: str, kind: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        if kind in ("windows", "plesk", "cpanel"):
            raise RobotError(404, "BOOT_NOT_AVAILABLE", f"No {kind} boot configuration available for this server")
        return 200, {kind: self._inactive_install_view(server, kind)}

    def _change_install(self, form: _Form, n: str, kind: str) -> tuple[int, Any]:
        self._server_by_number(n)
        raise RobotError(501, "NOT_IMPLEMENTED", f"The Robot stand-in does not implement the {kind} boot option")

    # -- /reset ---------------------------------------------------------------------------------------
    def _reset_view(self, server: dict[str, Any]) -> dict[str, Any]:
        view = self._server_ref(server)
        view.update(type=list(self._reset_types[server["server_number"]]), operating_status="not supported")
        return view

    def _get_resets(self, form: _Form) -> tuple[int, Any]:
        offered = [s for s in self._servers.values() if self._reset_types[s["server_number"]]]
        if not offered:
            raise RobotError(404, "SERVER_NOT_FOUND", "No servers found")
        return 200, [{"reset": self._reset_view(server)} for server in offered]

    def _get_reset(self, form: _Form, n: str) -> tuple[int, Any]:
        server = self._server_by_number(n)
        if not self._reset_types[server["server_number"]]:
            raise RobotError(404, "RESET_NOT_AVAILABLE", "The server has no reset option")
        return 200, {"reset": self._reset_view(server)}

    @staticmethod
    def _hook_view(config: dict[str, Any]) -> dict[str, Any]:
        return {
            "os": config["os"],
            "arch": config["arch"],
            "keyboard": config["keyboard"],
            "password": config["password"],
            "authorized_keys": [
                {k: key[k] for k in ("name", "fingerprint", "type", "size", "data")} for key in config["keys"]
            ],
        }

    def _post_reset(self, form: _Form, n: str) -> tuple[int, Any]:
        with self._lock:
            server = self._server_by_number(n)
            number = server["server_number"]
            types = self._reset_types[number]
            if not types:
                raise RobotError(404, "RESET_NOT_AVAILABLE", "The server has no reset option")
            reset_type = form.get("type")
            if not reset_type:
                raise _missing("type")
            if reset_type not in types:
                raise _invalid("type")
            config = self._rescue[number]
            rescue = None if config is None else self._hook_view(config)
            hook = self.on_reset
        if hook is not None:
            try:
                hook(number, reset_type, copy.deepcopy(rescue))
            except Exception as exc:  # noqa: BLE001 - a failing hook is reported as a failed reset
                with self._lock:
                    self.hook_errors.append(exc)
                raise RobotError(500, "RESET_FAILED", "Resetting failed due to an internal error") from None
        with self._lock:
            if config is not None and self._rescue[number] is config:
                config["active"] = False
                self._last_rescue[number] = config
                self._rescue[number] = None
            self._resets.append({"server_number": number, "type": reset_type, "rescue": rescue})
            view = self._server_ref(server)
            view["type"] = reset_type
            return 200, {"reset": view}

    # -- /vswitch -------------------------------------------------------------------------------------
    def _vswitch(self, vswitch_id: str) -> dict[str, Any]:
        if vswitch_id.isdigit() and int(vswitch_id) in self._vswitches:
            return self._vswitches[int(vswitch_id)]
        raise RobotError(404, "NOT_FOUND", "vSwitch not found")

    @staticmethod
    def _vswitch_summary(vswitch: dict[str, Any]) -> dict[str, Any]:
        return {key: vswitch[key] for key in ("id", "name", "vlan", "cancelled")}

    def _vswitch_view(self, vswitch: dict[str, Any]) -> dict[str, Any]:
        """The full object; every entry still settling counts this read (see settle_polls)."""
        shown = []
        kept = []
        for entry in vswitch["servers"]:
            if entry["pending"] > 0:
                entry["pending"] -= 1
                status = "in process"
            elif entry["removing"]:
                continue
            else:
                status = "ready"
            kept.append(entry)
            server = self._servers[entry["server_number"]]
            shown.append({**self._server_ref(server), "status": status})
        vswitch["servers"] = kept
        return {**self._vswitch_summary(vswitch), "server": shown, "subnet": [], "cloud_network": []}

    def _get_vswitches(self, form: _Form) -> tuple[int, Any]:
        return 200, [self._vswitch_summary(v) for v in self._vswitches.values()]

    def _vlan(self, value: str | None) -> int:
        if value is None or not value.strip().isdigit() or not VLAN_MIN <= int(value) <= VLAN_MAX:
            raise _invalid("vlan")
        return int(value)

    def _post_vswitches(self, form: _Form) -> tuple[int, Any]:
        name, vlan_value = form.get("name"), form.get("vlan")
        missing = [field for field, value in (("name", name), ("vlan", vlan_value)) if value is None or value == ""]
        if missing:
            raise _missing(*missing)
        vlan = self._vlan(vlan_value)
        if self.vswitch_limit is not None and len(self._vswitches) >= self.vswitch_limit:
            raise RobotError(409, "VSWITCH_LIMIT_REACHED", "The maximum count of vSwitches is reached")
        vswitch = {
            "id": self._next_vswitch_id,
            "name": name,
            "vlan": vlan,
            "cancelled": False,
            "cancellation_date": None,
            "servers": [],
        }
        self._next_vswitch_id += 1
        self._vswitches[vswitch["id"]] = vswitch
        return 201, self._vswitch_view(vswitch)

    def _get_vswitch(self, form: _Form, vid: str) -> tuple[int, Any]:
        return 200, self._vswitch_view(self._vswitch(vid))

    def _post_vswitch(self, form: _Form, vid: str) -> tuple[int, Any]:
        vswitch = self._vswitch(vid)
        name, vlan_value = form.get("name"), form.get("vlan")
        if name is not None:
            if not name:
                raise _invalid("name")
            vswitch["name"] = name
        if vlan_value is not None:
            vswitch["vlan"] = self._vlan(vlan_value)
        return 200, None

    def _delete_vswitch(self, form: _Form, vid: str) -> tuple[int, Any]:
        vswitch = self._vswitch(vid)
        value = form.get("cancellation_date")
        if value is None:
            raise _missing("cancellation_date")
        if vswitch["cancelled"]:
            raise RobotError(409, "CONFLICT", "The vSwitch is already cancelled")
        try:
            date = _parse_cancellation_date(value, datetime.date.today())
        except ValueError:
            raise _invalid("cancellation_date") from None
        if date is None:
            del self._vswitches[vswitch["id"]]
        else:
            vswitch["cancelled"] = True
            vswitch["cancellation_date"] = date.isoformat()
        return 200, None

    def _resolve_servers(self, identifiers: list[str]) -> list[dict[str, Any]]:
        if not identifiers:
            raise _missing("server")
        found, unknown = [], []
        for identifier in identifiers:
            server = self._server_by_id_or_ip(identifier.strip())
            if server is None:
                unknown.append(identifier)
            elif server not in found:
                found.append(server)
        if unknown:
            raise RobotError(404, "SERVER_NOT_FOUND", f"Server(s) not found: {', '.join(unknown)}")
        return found

    def _post_vswitch_servers(self, form: _Form, vid: str) -> tuple[int, Any]:
        vswitch = self._vswitch(vid)
        servers = self._resolve_servers(form.list("server"))
        if any(entry["pending"] > 0 for entry in vswitch["servers"]):
            raise RobotError(409, "VSWITCH_IN_PROCESS", "There is an update running, the vSwitch cannot be updated")
        members = {entry["server_number"] for entry in vswitch["servers"] if not entry["removing"]}
        new = [server for server in servers if server["server_number"] not in members]
        if len(members) + len(new) > MAX_SERVERS_PER_VSWITCH:
            raise RobotError(409, "VSWITCH_SERVER_LIMIT_REACHED", "The maximum number of servers is reached")
        for server in new:
            number = server["server_number"]
            others = [
                other
                for other in self._vswitches.values()
                if other is not vswitch
                and any(e["server_number"] == number and not e["removing"] for e in other["servers"])
            ]
            if len(others) >= MAX_VSWITCHES_PER_SERVER:
                raise RobotError(
                    409,
                    "VSWITCH_PER_SERVER_LIMIT_REACHED",
                    f"Server {number} is already in the maximum number of vSwitches",
                )
            clash = [other["id"] for other in others if other["vlan"] == vswitch["vlan"]]
            if clash:
                raise RobotError(
                    409,
                    "VSWITCH_VLAN_NOT_UNIQUE",
                    f"Server {number} is already in vSwitch {clash[0]} with VLAN {vswitch['vlan']}",
                )
        for server in new:
            vswitch["servers"].append(
                {"server_number": server["server_number"], "pending": self.settle_polls, "removing": False}
            )
        return 201, None

    def _delete_vswitch_servers(self, form: _Form, vid: str) -> tuple[int, Any]:
        vswitch = self._vswitch(vid)
        servers = self._resolve_servers(form.list("server"))
        if any(entry["pending"] > 0 for entry in vswitch["servers"]):
            raise RobotError(409, "VSWITCH_IN_PROCESS", "There is an update running, the vSwitch cannot be updated")
        numbers = {server["server_number"] for server in servers}
        kept = []
        for entry in vswitch["servers"]:
            if entry["server_number"] in numbers and not entry["removing"]:
                if self.settle_polls <= 0:
                    continue
                entry["removing"], entry["pending"] = True, self.settle_polls
            kept.append(entry)
        vswitch["servers"] = kept
        return 200, None

    # -- /firewall ------------------------------------------------------------------------------------
    def _firewall_server(self, sid: str) -> dict[str, Any]:
        """By server number, or by main IPv4 address (deprecated by Hetzner, still accepted)."""
        if sid.isdigit() and int(sid) in self._servers:
            return self._servers[int(sid)]
        for server in self._servers.values():
            if sid == server["server_ip"]:
                return server
        raise RobotError(404, "SERVER_NOT_FOUND", "Server not found")

    def _firewall_view(self, server: dict[str, Any]) -> dict[str, Any]:
        state = self._firewalls[server["server_number"]]
        status = state["status"]
        if state["pending"] > 0:
            state["pending"] -= 1
            status = "in process"
        return {
            "server_ip": server["server_ip"],
            "server_number": server["server_number"],
            "status": status,
            "filter_ipv6": state["filter_ipv6"],
            "whitelist_hos": state["whitelist_hos"],
            "port": state["port"],
            "rules": copy.deepcopy(state["rules"]),
        }

    def _get_firewall(self, form: _Form, sid: str) -> tuple[int, Any]:
        return 200, {"firewall": self._firewall_view(self._firewall_server(sid))}

    def _post_firewall(self, form: _Form, sid: str) -> tuple[int, Any]:
        server = self._firewall_server(sid)
        state = self._firewalls[server["server_number"]]
        if state["pending"] > 0:
            raise RobotError(409, "FIREWALL_IN_PROCESS", "The firewall is currently being updated")
        if form.get("template_id") is not None:
            raise RobotError(501, "NOT_IMPLEMENTED", "The Robot stand-in does not implement firewall templates")
        status = form.get("status")
        if status is None:
            raise _missing("status")
        if status not in ("active", "disabled"):
            raise _invalid("status")
        filter_ipv6 = _bool_field(form, "filter_ipv6", state["filter_ipv6"])
        whitelist_hos = _bool_field(form, "whitelist_hos", state["whitelist_hos"])
        port = form.get("port") or state["port"]
        if port not in ("main", "kvm"):
            raise _invalid("port")
        rules = self._parse_rules(form)
        state.update(
            status=status,
            filter_ipv6=filter_ipv6,
            whitelist_hos=whitelist_hos,
            port=port,
            rules=rules,
            pending=self.settle_polls,
        )
        return 202, {"firewall": self._firewall_view(server)}

    @staticmethod
    def _parse_rules(form: _Form) -> dict[str, list[dict[str, str | None]]]:
        raw: dict[str, dict[int, dict[str, str]]] = {"input": {}, "output": {}}
        for key, values in form.values.items():
            if not key.startswith("rules"):
                continue
            match = _RULE_FIELD.fullmatch(key)
            if match is None:
                raise _invalid("rules", reason=f"unexpected field {key}")
            direction, index, field = match.group(1), int(match.group(2)), match.group(3)
            raw[direction].setdefault(index, {})[field] = values[-1]
        rules: dict[str, list[dict[str, str | None]]] = {}
        for direction, by_index in raw.items():
            if len(by_index) > MAX_FIREWALL_RULES:
                raise _invalid("rules", reason=f"{len(by_index)} {direction} rules, at most {MAX_FIREWALL_RULES}")
            if sorted(by_index) != list(range(len(by_index))):
                raise _invalid("rules", reason=f"{direction} rule indexes are not 0..n-1")
            try:
                rules[direction] = [_validate_rule(direction, i, by_index[i]) for i in range(len(by_index))]
            except ValueError as exc:
                raise _invalid("rules", reason=str(exc)) from None
        return rules

    def _delete_firewall(self, form: _Form, sid: str) -> tuple[int, Any]:
        server = self._firewall_server(sid)
        state = self._firewalls[server["server_number"]]
        if state["pending"] > 0:
            raise RobotError(409, "FIREWALL_IN_PROCESS", "The firewall is currently being updated")
        state.update(rules={"input": [], "output": []}, pending=self.settle_polls)
        return 200, {"firewall": self._firewall_view(server)}


_N = r"(?P<n>[^/]+)"
_ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"/server"), {"GET": "_get_servers"}),
    (re.compile(rf"/server/{_N}"), {"GET": "_get_server", "POST": "_post_server"}),
    (re.compile(r"/key"), {"GET": "_get_keys", "POST": "_post_keys"}),
    (re.compile(r"/key/(?P<fp>[^/]+)"), {"GET": "_get_key", "POST": "_post_key", "DELETE": "_delete_key"}),
    (re.compile(rf"/boot/{_N}"), {"GET": "_get_boot"}),
    (
        re.compile(rf"/boot/{_N}/rescue"),
        {"GET": "_get_rescue", "POST": "_post_rescue", "DELETE": "_delete_rescue"},
    ),
    (re.compile(rf"/boot/{_N}/rescue/last"), {"GET": "_get_rescue_last"}),
    (
        re.compile(rf"/boot/{_N}/(?P<kind>linux|vnc|windows|plesk|cpanel)"),
        {"GET": "_get_install", "POST": "_change_install", "DELETE": "_change_install"},
    ),
    (re.compile(r"/reset"), {"GET": "_get_resets"}),
    (re.compile(rf"/reset/{_N}"), {"GET": "_get_reset", "POST": "_post_reset"}),
    (re.compile(r"/vswitch"), {"GET": "_get_vswitches", "POST": "_post_vswitches"}),
    (
        re.compile(r"/vswitch/(?P<vid>[^/]+)"),
        {"GET": "_get_vswitch", "POST": "_post_vswitch", "DELETE": "_delete_vswitch"},
    ),
    (
        re.compile(r"/vswitch/(?P<vid>[^/]+)/server"),
        {"POST": "_post_vswitch_servers", "DELETE": "_delete_vswitch_servers"},
    ),
    (
        re.compile(r"/firewall/(?P<sid>[^/]+)"),
        {"GET": "_get_firewall", "POST": "_post_firewall", "DELETE": "_delete_firewall"},
    ),
]
