"""Fixtures for the reference dataset's chapters and the personas the suite signs in as."""

from __future__ import annotations

import pytest

from transport import Reference, load_reference


@pytest.fixture(scope="session")
def reference() -> Reference:
    """The chapters (by letter) and personas (by name) every suite of the project names."""
    return load_reference()
