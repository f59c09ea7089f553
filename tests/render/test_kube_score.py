"""An independent checker on the project's own objects: kube-score, no CRITICAL finding but the accepted ones.

The objects are what roles/platform_delivery renders for every example inventory (not the upstream
charts). Accepted findings are listed, each with a one-line reason, in kube-score-exceptions.yml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kube_score_support import accepted, findings
from render_support import DBLESS, INVENTORIES

EXCEPTIONS = yaml.safe_load((Path(__file__).parent / "kube-score-exceptions.yml").read_text())


def own_manifests(render) -> list[Path]:
    return sorted(path for path in render.directory.glob("*/manifests/*.yaml"))


@pytest.fixture(scope="module")
def scored(renders, dbless_gateway, kubernetes_version) -> dict[str, list[dict]]:
    results = {}
    for inventory in (*INVENTORIES, DBLESS):
        render = dbless_gateway if inventory == DBLESS else renders[inventory]
        assert render.returncode == 0, f"render of {inventory} failed:\n{render.stdout[-3000:]}"
        results[inventory] = findings(own_manifests(render), kubernetes_version)
    return results


@pytest.mark.parametrize("inventory", (*INVENTORIES, DBLESS))
def test_no_critical_finding_but_the_accepted_ones(scored, inventory):
    unexplained = [f for f in scored[inventory] if not any(accepted(f, e) for e in EXCEPTIONS)]
    assert not unexplained, f"{inventory}: kube-score CRITICAL findings on the project's own objects:\n" + "\n".join(
        f"  {f['object']} ({f['container'] or '-'}): [{f['check']}] {f['summary']}" for f in unexplained
    )


def test_every_exception_is_needed_and_explained(scored):
    every = [finding for found in scored.values() for finding in found]
    for exception in EXCEPTIONS:
        assert exception.get("reason", "").strip(), f"{exception}: an accepted finding needs its reason"
        assert any(accepted(f, exception) for f in every), f"{exception['check']}: matches nothing any more, remove it"


def test_the_checker_catches_a_writable_root_filesystem(tmp_path, kubernetes_version):
    """The check can fail: a container without readOnlyRootFilesystem is a CRITICAL finding."""
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "writable", "namespace": "inference"},
                "spec": {"containers": [{"name": "app", "image": "example.internal/app:1.0.0"}]},
            }
        )
    )
    checks = {f["check"] for f in findings([manifest], kubernetes_version)}
    assert "container-security-context-readonlyrootfilesystem" in checks
