"""pytest setup for the AWX tests: lets the test modules import awx_support, and it the project's collection."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
COLLECTIONS = str(Path(__file__).resolve().parents[3] / "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
