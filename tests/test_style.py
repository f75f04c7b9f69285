"""The tree is as ruff leaves it (lint and format, settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from support import ROOT


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_finds_nothing_to_fix():
    done = _ruff("check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_would_change_nothing():
    done = _ruff("format", "--check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_catches_a_badly_formatted_file(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os,sys\nx=[1,\n 2]\n")
    config = ["--config", str(ROOT / "pyproject.toml")]
    assert _ruff("check", "--no-cache", *config, str(bad)).returncode == 1
    assert _ruff("format", "--check", "--no-cache", *config, str(bad)).returncode == 1
