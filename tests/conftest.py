"""Shared fixtures: paths, the real data, and a helper to run the kit's commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())


def run(args: list[str], cwd: Path, timeout: float = 1800, **env: str) -> subprocess.CompletedProcess:
    """Run a command of this environment (nbgrader, jupyter, python), capturing its output."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    if args[0] != sys.executable and (BIN / args[0]).exists():
        args = [str(BIN / args[0]), *args[1:]]
    return subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def fashion_mnist():
    """The real data set, loaded once per test session."""
    from course_utils.data import load_fashion_mnist

    return load_fashion_mnist(download=False)
