"""The registry fixture, shared with the registry tests."""

import pytest

from tests.mirror import mirror_check  # noqa: F401
from tests.registry.conftest import reg  # noqa: F401


@pytest.fixture(autouse=True)
def _mirror(mirror_check):  # noqa: F811
    """Every device's incremental state equals a cold pull after each write (tests/mirror.py)."""
    return mirror_check
