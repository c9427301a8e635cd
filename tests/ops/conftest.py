"""Fixtures for the operator commands."""

import pytest
from ops_helpers import serve_listener

listener = pytest.fixture(serve_listener, name="listener")
