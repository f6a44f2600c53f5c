"""The registry fixture, shared with the registry tests."""

from tests.registry.conftest import reg  # noqa: F401
