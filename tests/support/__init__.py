"""What the tests share: paths, notebook edits, a throw-away nbgrader course, the mistake tables.

Tests import it as a package (``from support import Course, LAB``): pytest puts `tests/` on
`sys.path` because `tests/` has no ``__init__.py``. ``bench/benchmark.py`` adds `tests/` itself.
"""

from __future__ import annotations

from support.course import Course, assert_no_hidden_tests, build_class, hidden_test_lines
from support.mistakes import LAB, QUIZ, SPECS, Spec
from support.notebooks import cell, grade_id_of, mutate, with_code
from support.paths import ASSIGNMENTS, ROOT

__all__ = [
    "ASSIGNMENTS",
    "LAB",
    "QUIZ",
    "ROOT",
    "SPECS",
    "Course",
    "Spec",
    "assert_no_hidden_tests",
    "build_class",
    "cell",
    "grade_id_of",
    "hidden_test_lines",
    "mutate",
    "with_code",
]
