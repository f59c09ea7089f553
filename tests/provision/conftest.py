"""pytest setup for the provision tests: puts this directory (the hetzner_standin package) and the project's
collections on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLLECTIONS = HERE.parents[1] / "collections"

for path in (str(HERE), str(COLLECTIONS)):
    if path not in sys.path:
        sys.path.insert(0, path)
