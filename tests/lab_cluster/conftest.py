"""pytest setup of the lab cluster gate: this directory on sys.path, and the measured timings at the end."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from lab_cluster_support import TIMINGS  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", "lab cluster gate (measured this run)")
        for label, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{label:<40} {seconds:7.1f} s")
