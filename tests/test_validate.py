"""`nbgrader validate`, as an instructor runs it before releasing: the instructor notebook passes
its own tests, and the untouched student version passes none.

Apart from the round trips, so that this file and the long class gradings run side by side on
pytest's two workers.
"""

from __future__ import annotations

import pytest

from course_utils.assignments import validate
from support import ASSIGNMENTS, Course

KEEPS_FITS = True  # its kernels share fits with nbval's (tests/support/fits.py)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def course(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Course:
    return Course(tmp_path_factory.mktemp(request.param), request.param)


def test_instructor_solution_passes_its_tests(course):
    result = validate(course.source, course.root)
    assert result.passed, result.output


def test_untouched_release_fails_every_test(course):
    result = validate(course.release, course.root, invert=True)
    assert result.passed, result.output
