# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""The value rules every layer of the project shares, each written once.

This file is PRIVATE to the inference.platform collection. It may change or
disappear in any release without notice; do not import it from other
collections or from your own plugins.

The validate stage (filter ``inventory_problems``), the model-list filters, the
test plugins (``is inference.platform.dns_label``) and the roles that check
their own inputs all call these functions, so a rule changes in one place.
"""

from __future__ import annotations

import ipaddress
import re

# The DNS-1123 label (host, node, namespace, model and tenant names): its body, for patterns that embed it.
DNS_LABEL_BODY = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile("^" + DNS_LABEL_BODY + "$")
DNS_LABEL_MAX = 63

# The choices of the cross-cutting variables (docs/architecture.md, "Variables").
CHOICES = {
    "cluster_distribution": ("k3s", "kubeadm"),
    "nvidia_driver_strategy": ("operator", "host"),
    "platform_delivery": ("apply", "render"),
}

# Words that make a version or an image tag float: a re-run could install something else.
FLOATING_WORDS = ("latest", "stable", "nightly", "edge", "main", "master", "dev", "head", "rolling")
EXACT_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$")
RELEASE_DIGITS = re.compile(r"v?[0-9]+(\.[0-9]+)+")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# An image reference: [registry/]path[:tag][@sha256:digest]
IMAGE_REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?P<digest>@sha256:[0-9a-f]{64})?$"
)

# Largest prefixes that still count as open to the world (issue 19): shorter than /8 (IPv4) or /16 (IPv6).
WORLD_PREFIX = {4: 8, 6: 16}

BOOL_TRUE = ("true", "yes", "on", "1", "y", "t")
BOOL_FALSE = ("false", "no", "off", "0", "n", "f")


def is_dns_label(value, max_length=DNS_LABEL_MAX):
    """Whether value is an RFC 1123 label (lowercase a-z, 0-9, '-', at most max_length characters)."""
    return isinstance(value, str) and len(value) <= max_length and bool(DNS_LABEL.match(value))


def suggest_dns_label(value):
    """A DNS label close to value, for messages (e.g. GPU_1 -> gpu-1)."""
    label = re.sub(r"[^a-z0-9-]+", "-", str(value).lower()).strip("-")
    return label[:DNS_LABEL_MAX].strip("-") or "node-1"


def as_bool(value):
    """(True, bool) when value is a boolean or a string Ansible reads as one ('false' from -e); else (False, None)."""
    if isinstance(value, bool):
        return True, value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in BOOL_TRUE:
            return True, True
        if text in BOOL_FALSE:
            return True, False
    if isinstance(value, int) and value in (0, 1):
        return True, bool(value)
    return False, None


def as_whole_number(value):
    """The value as an int when it is a whole number (an -e or a survey gives a string of digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def floating_word(text):
    """The floating word that makes a tag or version move (e.g. 'latest' in 'main-latest'), or None.

    A tag floats when it is one of the floating words, or when it contains one and no release number
    (main-latest, cuda-stable); main-v1.80.12 is pinned by its release number.
    """
    lowered = text.lower()
    parts = [part for part in re.split(r"[-_.+]", lowered) if part]
    found = next((part for part in parts if part in FLOATING_WORDS), None)
    if lowered in FLOATING_WORDS:
        return lowered
    if found and not RELEASE_DIGITS.search(lowered):
        return found
    return None


def version_problem(value):
    """Why value is not an exact release (v1.35.4, 2.20.2, v1.35.4+k3s1), or None when it is."""
    if not isinstance(value, str):
        return "is %s %r, not a release string; quote it (e.g. '2.20.2')" % (type(value).__name__, value)
    text = value.strip()
    if not text:
        return "is empty"
    word = floating_word(text)
    if word:
        return "floats ('%s' moves under you)" % word
    if any(char in text for char in "*<>=~^|, ") or re.search(r"(^|[.])x($|[.])", text, re.IGNORECASE):
        return "is a version range, not one release"
    if not EXACT_VERSION.match(text):
        return "is not an exact release (major.minor.patch)"
    return None


def image_problem(value):
    """Why value is not an image pinned by tag or digest, or None when it is."""
    if not isinstance(value, str) or not value.strip():
        return "is not an image reference"
    match = IMAGE_REFERENCE.match(value.strip())
    if not match:
        return "is not an image reference such as registry/name:tag or registry/name@sha256:<digest>"
    tag, digest = match.group("tag"), match.group("digest")
    if digest:
        return None
    if not tag:
        return "has no tag, so it floats to whatever the registry calls latest"
    word = floating_word(tag)
    if word:
        return "floats (its tag '%s' moves under you)" % tag
    return None


def image_has_digest(value):
    """Whether the image reference carries a digest (@sha256:...)."""
    return isinstance(value, str) and bool(DIGEST.search(value.strip()))


def network(value):
    """The network of a CIDR with its host bits zero, or None when value is not one."""
    if not isinstance(value, str):
        return None
    try:
        net = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError:
        return None
    return net if str(net) == value.strip() else None


def network_suggestion(value, fallback):
    """The CIDR written with its host bits zero (10.43.0.1/16 -> 10.43.0.0/16), or fallback."""
    try:
        return str(ipaddress.ip_network(str(value).strip(), strict=False))
    except ValueError:
        return fallback


def is_world_open(net):
    """Whether a network is open to (nearly) everybody: shorter than /8 in IPv4, /16 in IPv6."""
    return net.prefixlen < WORLD_PREFIX[net.version]


def is_ip_address(value):
    try:
        ipaddress.ip_address(str(value).strip())
    except ValueError:
        return False
    return True
