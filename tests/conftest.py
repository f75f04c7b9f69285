"""Fixtures shared by the tests (paths and helpers live in the `support` package)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real data set, loaded once per test session."""
    from course_utils.data import load_fashion_mnist

    return load_fashion_mnist(download=False)
