"""pytest setup of the lab cluster gate: this directory on sys.path, the session's lab, the timings at the end."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from lab_cluster_support import (  # noqa: E402
    INVENTORY_ARGS,
    KUBECONFIG,
    LAB_VARS,
    MODELS,
    ON_MAKE_LAB,
    SITE_VARS,
    TIMINGS,
    call,
    master_key,
    playbook,
    prepare_inventory,
    timed,
    wait,
)


@pytest.fixture(scope="session")
def lab():
    """One lab for the whole gate (every test file shares it), removed at the end unless LAB_CLUSTER_KEEP=1."""
    prepare_inventory()
    if ON_MAKE_LAB:
        yield
        return
    down = timed("lab_down.yml (before)", playbook("lab_down.yml", extra=LAB_VARS))
    assert down.returncode == 0, down.log.read_text()[-3000:]
    KUBECONFIG.unlink(missing_ok=True)
    up = timed("lab.yml", playbook("lab.yml", extra=LAB_VARS))
    assert up.returncode == 0, up.log.read_text()[-3000:]
    yield
    if os.environ.get("LAB_CLUSTER_KEEP") != "1":
        playbook("lab_down.yml", extra=LAB_VARS)


@pytest.fixture(scope="session")
def site(lab):
    """site.yml on the session's lab, as `make lab` runs it."""
    return timed("site.yml (first run)", playbook("site.yml", *INVENTORY_ARGS, extra=SITE_VARS))


@pytest.fixture(scope="module")
def served(site):
    """The gateway's master key, once the gateway answers the lab models (after the reset test of test_lab_cluster.py
    the proxy may have moved)."""
    assert site.returncode == 0, site.log.read_text()[-6000:]
    key = master_key()
    started = time.monotonic()

    def answers():
        status, body = call("/v1/models", key=key, timeout=10)
        return status == 200 and {m["id"] for m in body["data"]} >= {m["name"] for m in MODELS} and body

    wait("the gateway listing the lab models", answers, timeout=600, every=5)
    TIMINGS.setdefault("gateway ready (first wait)", time.monotonic() - started)
    return key


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", "lab cluster gate (measured this run)")
        for label, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{label:<40} {seconds:7.1f} s")
