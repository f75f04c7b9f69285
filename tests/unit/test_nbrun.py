"""nbgrader's applications run in one process, one after the other, and their exit statuses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_utils.grading import nbrun

#: autograde a submission that is not there, then nbgrader again in the same process
TWICE = """
import sys
from course_utils.grading import nbrun
status = nbrun.main(["lab", "ada", "--feedback"])
print("main", status, flush=True)
print("again", nbrun.nbgrader(["--version"]), flush=True)
"""


def test_a_failed_autograde_gives_1_attempts_no_feedback_and_the_next_run_starts_clean(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", TWICE], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "main 1" in done.stdout
    assert "No notebooks were matched" in done.stderr
    assert "GenerateFeedback" not in done.stderr  # no feedback after a failed autograde
    assert not (tmp_path / "feedback").exists()
    # the applications' instances were cleared: nbgrader runs again in the same process
    assert "nbgrader version" in done.stdout
    assert "again 0" in done.stdout


def test_the_feedback_status_is_apart_from_success_and_failure():
    assert nbrun.FEEDBACK_FAILED not in (0, 1)


@pytest.mark.parametrize("argv", [[], ["lab"], ["lab", "ada", "extra"], ["--feedback"]])
def test_main_takes_exactly_an_assignment_and_a_student(argv):
    with pytest.raises(ValueError):
        nbrun.main(argv)
