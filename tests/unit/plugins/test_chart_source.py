"""Unit tests of plugin_utils/_chart_source.py: the order of the chart sources and what a missing one says.

Every source is a real directory under tmp_path; the puller is a function the test passes (the one the tests use
runs `helm pull`, tests/support/pinned_charts.py). Whether Helm installs from what it returns is proven by
tests/cluster_api and tests/render.
"""

from __future__ import annotations

import pytest
from ansible_collections.inference.platform.plugins.plugin_utils._chart_source import (
    CHART_DIR_ENV,
    ORIGIN_CHART_DIR,
    ORIGIN_PULLED,
    ORIGIN_REPOSITORY,
    ChartSourceError,
    archive_name,
    chart_source,
    repository_reference,
)

CHART = ("keda", "2.20.2", "https://kedacore.github.io/charts")


def archive_in(directory, chart="keda", version="2.20.2"):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / archive_name(chart, version)
    path.write_bytes(b"not read by chart_source")
    return path


def test_repository_references_for_http_and_oci():
    assert repository_reference(*CHART) == [
        "keda", "--repo", "https://kedacore.github.io/charts", "--version", "2.20.2"]
    assert repository_reference("c", "1.0.0", "oci://registry.example/charts/") == [
        "oci://registry.example/charts/c", "--version", "1.0.0"]


def test_the_delivery_default_is_the_repository_and_the_environment_is_not_read(tmp_path, monkeypatch):
    archive_in(tmp_path / "env")
    monkeypatch.setenv(CHART_DIR_ENV, str(tmp_path / "env"))
    source = chart_source(*CHART)  # what platform_apply passes: no chart_dir, no environ, no cache
    assert source.origin == ORIGIN_REPOSITORY
    assert source.archive is None
    assert source.helm_args == repository_reference(*CHART)


def test_chart_dir_comes_first(tmp_path):
    first = archive_in(tmp_path / "chart_dir")
    archive_in(tmp_path / "env")
    archive_in(tmp_path / "cache")
    source = chart_source(*CHART, chart_dir=str(tmp_path / "chart_dir"), environ={CHART_DIR_ENV: str(tmp_path / "env")},
                          cache_dir=str(tmp_path / "cache"))
    assert (source.origin, source.archive, source.helm_args) == (ORIGIN_CHART_DIR, str(first), [str(first)])


def test_a_chart_dir_without_the_archive_is_an_error_not_a_fallback(tmp_path):
    archive_in(tmp_path / "env")
    (tmp_path / "chart_dir").mkdir()
    with pytest.raises(ChartSourceError) as error:
        chart_source(*CHART, chart_dir=str(tmp_path / "chart_dir"), environ={CHART_DIR_ENV: str(tmp_path / "env")})
    message = str(error.value)
    assert ORIGIN_CHART_DIR in message and "keda-2.20.2.tgz is missing" in message
    assert "helm pull keda --repo https://kedacore.github.io/charts --version 2.20.2" in message


def test_the_environment_variable_comes_second(tmp_path):
    second = archive_in(tmp_path / "env")
    archive_in(tmp_path / "cache")
    pulls = []
    source = chart_source(*CHART, environ={CHART_DIR_ENV: str(tmp_path / "env")}, cache_dir=str(tmp_path / "cache"),
                          pull=lambda *args: pulls.append(args))
    assert (source.origin, source.archive) == (CHART_DIR_ENV, str(second))
    assert pulls == []


def test_an_environment_directory_without_the_archive_is_an_error(tmp_path):
    (tmp_path / "env").mkdir()
    expected = f"{CHART_DIR_ENV} is .*keda-2.20.2.tgz is missing.*unset {CHART_DIR_ENV}"
    with pytest.raises(ChartSourceError, match=expected):
        chart_source(*CHART, environ={CHART_DIR_ENV: str(tmp_path / "env")}, cache_dir=str(tmp_path / "cache"))


def test_the_cache_is_used_without_pulling_again(tmp_path):
    cached = archive_in(tmp_path / "cache")
    source = chart_source(*CHART, environ={}, cache_dir=str(tmp_path / "cache"),
                          pull=lambda *args: pytest.fail("pulled although the cache has the archive"))
    assert (source.origin, source.archive) == (ORIGIN_PULLED, str(cached))


def test_a_pull_fills_the_cache(tmp_path):
    def pull(chart, version, repo, destination):
        assert (chart, version, repo) == CHART
        archive_in(tmp_path / "cache")
        return None

    source = chart_source(*CHART, environ={}, cache_dir=str(tmp_path / "cache"), pull=pull)
    assert source.archive == str(tmp_path / "cache" / "keda-2.20.2.tgz")


def test_no_source_names_all_three(tmp_path):
    with pytest.raises(ChartSourceError) as error:
        chart_source(*CHART, environ={}, cache_dir=str(tmp_path / "cache"),
                     pull=lambda *args: "Error: could not reach kedacore.github.io")
    message = str(error.value)
    for source in (ORIGIN_CHART_DIR, CHART_DIR_ENV, ORIGIN_PULLED):
        assert source in message
    assert "could not reach" in message
