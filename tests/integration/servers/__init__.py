"""Real inference servers on loopback for the integration tests (see tests/integration/README.md).

Only the standard library is imported here, so ``conftest.py`` can report missing packages
clearly before anything that needs them is imported.
"""
