"""pytest setup for the module unit tests: puts this directory and the project's collections on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLLECTIONS = HERE.parents[2] / "collections"

for path in (str(HERE), str(COLLECTIONS)):
    if path not in sys.path:
        sys.path.insert(0, path)
