"""Shared fixtures and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real data set, loaded once per test session."""
    from course_utils.data import load_fashion_mnist

    return load_fashion_mnist(download=False)
