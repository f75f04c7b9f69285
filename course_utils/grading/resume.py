"""Which submissions are already graded: a marker holding the submission's digest.

When a submission's results are installed, its autograded folder gets a marker with the digest
of the submitted folder. A later run skips a student whose marker matches the submission as it
is now and whose rows are in the gradebook; a resubmission (a new digest) is graded again.
"""

from __future__ import annotations

from pathlib import Path

from course_utils.grading.gradebook import submission_rows
from course_utils.layout import CourseFolder

MARKER = ".graded-submission"


def is_done(course: Path, db: Path, assignment: str, student: str, digest: str) -> bool:
    """Whether `student`'s submission, whose digest is `digest`, is graded and installed."""
    marker = CourseFolder(course).autograded(student, assignment) / MARKER
    if not marker.is_file() or marker.read_text().strip() != digest:
        return False
    return bool(submission_rows(db, assignment, student)["submitted_assignment"])


def mark_done(graded: Path, digest: str) -> None:
    """Record in the autograded folder `graded` which submission it was made from."""
    (graded / MARKER).write_text(digest)
