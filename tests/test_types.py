"""The package type-checks: mypy, with the settings in pyproject.toml (strict on grading)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from support import ROOT

#: mypy's --strict flags that can be set per module (subclassing untyped nbgrader is allowed)
STRICT = (
    "disallow_untyped_defs",
    "disallow_incomplete_defs",
    "disallow_untyped_calls",
    "disallow_untyped_decorators",
    "disallow_any_generics",
    "check_untyped_defs",
    "no_implicit_reexport",
    "warn_return_any",
    "strict_equality",
    "extra_checks",
)


def test_mypy_finds_no_error():
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_grading_side_is_checked_strictly():
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    grading = next(o for o in mypy["overrides"] if o["module"] == "course_utils.grading.*")
    assert [flag for flag in STRICT if grading.get(flag) is not True] == []
    assert mypy["warn_unused_ignores"] and mypy["warn_redundant_casts"]
