"""kube-score, the independent best-practice checker of tests/render/test_kube_score.py: build and run.

The binary is built from its Go module (github.com/zegl/kube-score at ``kube_score_version`` of
group_vars/all/versions.yml) with the machine's own ``go`` and GOPROXY, and cached by version outside
the repository (~/.cache/inference-platform/kube-score/<version>/kube-score), like the control plane.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml
from render_support import ROOT

MODULE = "github.com/zegl/kube-score/cmd/kube-score"
CRITICAL = 1  # kube-score's grade of a CRITICAL finding (WARNING is 5, OK 10)


def version() -> str:
    return yaml.safe_load((ROOT / "group_vars/all/versions.yml").read_text())["kube_score_version"]


def binary() -> Path:
    """The cached kube-score of the pinned version, built first when missing."""
    pinned = version()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inference-platform" / "kube-score"
    target = cache / pinned / "kube-score"
    if target.is_file():
        return target
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("kube-score is built with go, which is not on PATH: run scripts/setup.sh")
    staging = cache / f"{pinned}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = subprocess.run(
        [go, "install", f"{MODULE}@{pinned}"],
        env={**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"go install {MODULE}@{pinned} failed:\n{result.stderr[-3000:]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    (staging / "kube-score").replace(target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def minor(kubernetes_version: str) -> str:
    return ".".join(kubernetes_version.lstrip("v").split(".")[:2])


def findings(files: list[Path], kubernetes_version: str) -> list[dict]:
    """Every CRITICAL finding of kube-score on these manifest files, one dict per container and check."""
    result = subprocess.run(
        # kube-score takes the minor only ("v1.35").
        [str(binary()), "score", "--output-format", "json", "--kubernetes-version", "v" + minor(kubernetes_version)]
        + [str(path) for path in files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # kube-score exits 1 when it has findings; anything but JSON on stdout is a failure of the tool.
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"kube-score gave no JSON (rc {result.returncode}): {result.stderr[-2000:]}") from error
    found = []
    for scored in report:
        obj = f"{scored['type_meta']['kind']}/{scored['object_meta']['name']}"
        for check in scored["checks"]:
            if check["skipped"] or check["grade"] != CRITICAL:
                continue
            for comment in check["comments"] or [{"path": "", "summary": check["check"]["name"]}]:
                found.append(
                    {
                        "object": obj,
                        "check": check["check"]["id"],
                        "container": comment["path"],
                        "summary": comment["summary"],
                    }
                )
    return found


def accepted(finding: dict, exception: dict) -> bool:
    return (
        finding["check"] == exception["check"]
        and finding["summary"] == exception["summary"]
        and any(finding["object"].startswith(prefix) for prefix in exception.get("objects", [""]))
        and ("containers" not in exception or finding["container"] in exception["containers"])
    )
