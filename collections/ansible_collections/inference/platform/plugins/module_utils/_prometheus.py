# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

"""Prometheus text exposition format: a small parser and histogram quantiles.

PRIVATE to the inference.platform collection; no compatibility promise outside it.

Only what reading a vLLM or llama.cpp ``/metrics`` page needs: samples with
labels, ``# TYPE`` lines, and ``histogram_quantile`` computed the way
Prometheus computes it (linear interpolation inside the bucket that holds the
rank; a rank in the ``+Inf`` bucket gives the highest finite bound).
"""

from __future__ import annotations

import math
import re

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class MetricsParseError(ValueError):
    pass


def _parse_value(text, lineno):
    text = text.strip()
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise MetricsParseError("line %d: %r is not a number" % (lineno, text)) from None


def _parse_labels(line, pos, lineno):
    """Parse '{a="x",b="y"}' starting at line[pos] == '{'. Returns (labels, next_pos)."""
    labels = {}
    pos += 1
    while True:
        while pos < len(line) and line[pos] in " \t,":
            pos += 1
        if pos >= len(line):
            raise MetricsParseError("line %d: unterminated label set" % lineno)
        if line[pos] == "}":
            return labels, pos + 1
        match = _LABEL_NAME_RE.match(line, pos)
        if not match:
            raise MetricsParseError("line %d: bad label name at column %d" % (lineno, pos + 1))
        name = match.group(0)
        pos = match.end()
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if line[pos : pos + 2] != '="':
            raise MetricsParseError('line %d: expected =" after label %s' % (lineno, name))
        pos += 2
        value = []
        while True:
            if pos >= len(line):
                raise MetricsParseError("line %d: unterminated value of label %s" % (lineno, name))
            char = line[pos]
            if char == "\\" and pos + 1 < len(line):
                nxt = line[pos + 1]
                value.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                pos += 2
                continue
            if char == '"':
                pos += 1
                break
            value.append(char)
            pos += 1
        labels[name] = "".join(value)


def parse(text):
    """Parse exposition text. Returns (samples, types): samples is a list of (name, labels, value)."""
    samples = []
    types = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        match = _NAME_RE.match(line)
        if not match:
            raise MetricsParseError("line %d: no metric name in %r" % (lineno, line[:80]))
        name = match.group(0)
        pos = match.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = _parse_labels(line, pos, lineno)
        rest = line[pos:].split()
        if not rest:
            raise MetricsParseError("line %d: metric %s has no value" % (lineno, name))
        samples.append((name, labels, _parse_value(rest[0], lineno)))
    return samples, types


class Metrics(object):
    """Parsed samples with the lookups a health probe needs."""

    def __init__(self, text):
        self.samples, self.types = parse(text)
        self.names = {name for name, _labels, _value in self.samples}

    def series(self, name, match=None):
        match = match or {}
        return [
            (labels, value)
            for sample_name, labels, value in self.samples
            if sample_name == name and all(labels.get(k) == v for k, v in match.items())
        ]

    def has(self, name):
        return name in self.names

    def sum(self, name, match=None):
        values = [v for _labels, v in self.series(name, match)]
        return sum(values) if values else None

    def max(self, name, match=None):
        values = [v for _labels, v in self.series(name, match)]
        return max(values) if values else None

    def label_values(self, name, label):
        return sorted({labels[label] for labels, _v in self.series(name) if label in labels})

    def histogram(self, name, match=None):
        """Buckets of histogram ``name`` summed over every matching series: ([(le, cumulative)], count, sum)."""
        buckets = {}
        for labels, value in self.series(name + "_bucket", match):
            if "le" not in labels:
                continue
            le = _parse_value(labels["le"], 0)
            buckets[le] = buckets.get(le, 0.0) + value
        if not buckets:
            return None
        return sorted(buckets.items()), self.sum(name + "_count", match), self.sum(name + "_sum", match)


def histogram_quantile(q, buckets):
    """Prometheus histogram_quantile over cumulative buckets [(upper_bound, count)], sorted by bound."""
    if not buckets or q < 0 or q > 1:
        return None
    buckets = sorted(buckets)
    if not math.isinf(buckets[-1][0]):
        return None  # a histogram without its +Inf bucket is malformed
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for index, (bound, count) in enumerate(buckets):
        if count >= rank:
            if math.isinf(bound):
                return buckets[index - 1][0] if index > 0 else None
            if index == 0 and bound <= 0:
                return bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return None
