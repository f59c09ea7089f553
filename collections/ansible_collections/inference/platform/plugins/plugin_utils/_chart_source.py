# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0
"""Where Helm takes a pinned chart from: one decision, used by the platform_apply action and by the project's tests.

The sources, in order; the first one that is configured decides, and a configured source without the archive is an
error that names it (an air-gapped controller must never fall back to the network, and a wrong directory must not
hide behind a download):

1. ``chart_dir``: ``platform_delivery_chart_dir``, a directory of archives ``<chart>-<version>.tgz``;
2. the directory named by the environment variable ``INFERENCE_PLATFORM_CHART_DIR`` (the tests and CI set it; the
   action never passes the environment, so a delivery is never steered by it);
3. ``cache_dir``: the archive pulled there earlier, else ``pull(chart, version, repo, cache_dir)`` (``helm pull`` of
   the pinned version) where a chart repository is reachable.

With none of them configured (the delivery passes no cache) Helm installs from the repository itself.

This file is PRIVATE to the inference.platform collection. It may change or disappear in any release without notice.
"""

from __future__ import annotations

import os
from collections import namedtuple

CHART_DIR_ENV = "INFERENCE_PLATFORM_CHART_DIR"
ORIGIN_CHART_DIR = "platform_delivery_chart_dir"
ORIGIN_PULLED = "helm pull"
ORIGIN_REPOSITORY = "repository"

# origin: one of the ORIGIN_* names or CHART_DIR_ENV; archive: the local .tgz (None when Helm reads the
# repository); helm_args: the chart as `helm upgrade --install` and `helm template` take it.
ChartSource = namedtuple("ChartSource", ["origin", "archive", "helm_args"])


class ChartSourceError(Exception):
    """No source has the chart: the message names every source and what to do next."""


def archive_name(chart, version):
    """File name of a chart archive, as `helm pull` and `helm package` write it."""
    return "%s-%s.tgz" % (chart, version)


def repository_reference(chart, version, repo):
    """The chart in its repository, as Helm's install and pull commands take it (OCI or HTTP repository)."""
    if repo.startswith("oci://"):
        return [repo.rstrip("/") + "/" + chart, "--version", version]
    return [chart, "--repo", repo, "--version", version]


def _local(origin, directory, chart, version, repo, otherwise):
    archive = os.path.join(directory, archive_name(chart, version))
    if os.path.isfile(archive):
        return ChartSource(origin, archive, [archive])
    pull = " ".join(["helm pull", *repository_reference(chart, version, repo)])
    raise ChartSourceError(
        "%s is %s, so charts are taken from local archives there, but %s is missing. Next: copy the archive there "
        "(on a machine with access: %s), or %s" % (origin, directory, archive, pull, otherwise))


def chart_source(chart, version, repo, chart_dir="", environ=None, cache_dir="", pull=None):
    """Where chart `chart` at `version` (from repository `repo`) comes from: a ChartSource, or ChartSourceError.

    environ: the environment to read CHART_DIR_ENV from (None: not read). cache_dir and pull: source 3; without a
    cache_dir the repository itself is the last source (what the delivery does)."""
    if chart_dir:
        return _local(ORIGIN_CHART_DIR, chart_dir, chart, version, repo,
                      "set %s to '' to use the repository" % ORIGIN_CHART_DIR)
    env_dir = (environ or {}).get(CHART_DIR_ENV, "")
    if env_dir:
        return _local(CHART_DIR_ENV, env_dir, chart, version, repo, "unset %s" % CHART_DIR_ENV)
    if not cache_dir:
        return ChartSource(ORIGIN_REPOSITORY, None, repository_reference(chart, version, repo))
    archive = os.path.join(cache_dir, archive_name(chart, version))
    failure = "no way to pull was given"
    if not os.path.isfile(archive) and pull is not None:
        failure = pull(chart, version, repo, cache_dir)
    if os.path.isfile(archive):
        return ChartSource(ORIGIN_PULLED, archive, [archive])
    raise ChartSourceError(
        "no source has chart %s %s. Tried, in order: 1. %s (not set); 2. the environment variable %s (not set); "
        "3. %s into %s from %s: %s. Next: set %s (or %s) to a directory holding %s, or run where %s is reachable"
        % (chart, version, ORIGIN_CHART_DIR, CHART_DIR_ENV, ORIGIN_PULLED, cache_dir, repo,
           (failure or "it wrote no archive").strip()[-400:], CHART_DIR_ENV, ORIGIN_CHART_DIR,
           archive_name(chart, version), repo))
