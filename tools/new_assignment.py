"""Start a new assignment from the kit's template: its instructor notebook and its round trip.

Usage: python tools/new_assignment.py NAME [--title "Lab 4: ..."]   (from the course root)

Writes ``source/NAME/NAME.ipynb`` from ``tools/templates/assignment.ipynb``: the cells every
assignment shares (the Colab badge and title, the install cell, a set-up cell that loads the
data, one exercise with its solution region and its test cell, visible checks then hidden
tests, and the hand-in cell), with the badge and install line pointing at ``[tool.course-kit]``
of pyproject.toml. Also writes ``tests/test_roundtrip_NAME.py``, which grades the assignment's
class in the test suite. docs/adding-an-assignment.md says what comes next.
"""

from __future__ import annotations

import argparse
import re
import sys

import nbformat

from course_utils.assignments import apply_kit_config, kit_config, notebook_problems
from course_utils.environment import REPO

TEMPLATE = REPO / "tools" / "templates" / "assignment.ipynb"
#: What the template says where the new assignment's name and title go.
NAME_MARK, TITLE_MARK = "ASSIGNMENT_NAME", "ASSIGNMENT_TITLE"
#: A name nbgrader, the grader and a test module's file name all take (short enough for the
#: round trip's docstring to fit a line).
VALID_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

#: tests/test_roundtrip_NAME.py, as for the shipped assignments.
ROUND_TRIP = (
    '"""The {name} round trip: the shared tests of `support.roundtrip`."""\n'
    "\n"
    "from support.roundtrip import *  # noqa: F403 (the round trip's fixtures and tests)\n"
    "\n"
    'ASSIGNMENT = "{name}"\n'
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/new_assignment.py", description=__doc__)
    parser.add_argument("name", help="the assignment's name: lower case, digits and _")
    parser.add_argument("--title", help="the notebook's heading (default: the name)")
    args = parser.parse_args(argv)
    name = args.name
    if not VALID_NAME.fullmatch(name):
        print(f"error: {name!r}: use up to 32 lower-case letters, digits and _", file=sys.stderr)
        return 2
    notebook = REPO / "source" / name / f"{name}.ipynb"
    round_trip = REPO / "tests" / f"test_roundtrip_{name}.py"
    for path in (notebook.parent, round_trip):
        if path.exists():
            print(f"error: {path.relative_to(REPO)} already exists", file=sys.stderr)
            return 1
    nb = nbformat.read(TEMPLATE, as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace(TITLE_MARK, args.title or name)
        cell.source = cell.source.replace(NAME_MARK, name)
    notebook.parent.mkdir(parents=True)
    nbformat.write(nb, notebook)
    apply_kit_config(notebook, name, kit_config())
    round_trip.write_text(ROUND_TRIP.format(name=name))
    problems = notebook_problems(notebook)
    if problems:  # the template itself is broken
        print("\n".join(problems), file=sys.stderr)
        return 1
    for path in (notebook, round_trip):
        print(f"wrote {path.relative_to(REPO)}")
    print("next: docs/adding-an-assignment.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
