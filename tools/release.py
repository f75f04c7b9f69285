"""Run each instructor notebook with nbgrader, then generate its student version.

Usage: python tools/release.py ASSIGNMENT [ASSIGNMENT ...]   (from the course root)

Stops with a non-zero exit when a solution does not pass its own tests, so that a broken
assignment is never released.
"""

from __future__ import annotations

import sys
import time

from course_utils.assignments import generate, validate
from course_utils.environment import REPO


def main(assignments: list[str]) -> int:
    for name in assignments:
        notebook = REPO / "source" / name / f"{name}.ipynb"
        print(f"[{name}] running the instructor notebook and its tests…", flush=True)
        start = time.perf_counter()
        result = validate(notebook, REPO)
        if not result.passed:
            print(result.output)
            print(f"[{name}] the solution fails its own tests: not released.")
            return 1
        print(f"[{name}] all tests pass ({time.perf_counter() - start:.0f} s)")
        release = generate(name, REPO)
        print(f"[{name}] student version: {release.relative_to(REPO)}/{name}.ipynb")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
