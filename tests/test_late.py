"""The late policy (`course_utils.grading.late.PercentPerDay`, named in nbgrader_config.py):
the kit's grader takes the same penalties as ``nbgrader autograde``, from the due date and each
submission's ``timestamp.txt``.

The submissions solve exercises 1 to 3 of the lab (7 points, no training), handed in before the
due date, 22 hours after it and 49 hours after it.
"""

from __future__ import annotations

import nbformat
from nbgrader.api import Gradebook

from support import LAB, Course, grade_id_of

ASSIGNMENT = "lab3_part2"
DUE = "2026-11-01 12:00:00 UTC"
HANDED_IN = {
    "on_time": ("2026-11-01 11:00:00.000000 UTC", 0.0),
    "a_day_late": ("2026-11-02 10:00:00.000000 UTC", 0.7),  # 10% of 7 points
    "three_days_late": ("2026-11-03 13:00:00.000000 UTC", 2.1),  # 2 days 1 hour: 3 days
}


def penalties(course: Course) -> dict[str, tuple[float, float]]:
    """(late penalty, score before it) by student."""
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        return {
            s: (
                gb.find_submission(ASSIGNMENT, s).late_submission_penalty or 0.0,
                gb.find_submission(ASSIGNMENT, s).score,
            )
            for s in HANDED_IN
        }


def test_late_penalties_match_nbgrader_autograde(tmp_path):
    course = Course(tmp_path, ASSIGNMENT)
    done = course.nbgrader("db", "assignment", "add", ASSIGNMENT, f"--duedate={DUE}")
    assert done.returncode == 0, done.stdout + done.stderr
    solved = course.solved(LAB.answers)
    release = nbformat.read(course.release, as_version=4)
    partial = nbformat.from_dict(release)
    for mine, theirs in zip(partial.cells, solved.cells, strict=True):
        if grade_id_of(mine) in ("preprocess", "model", "compile"):
            mine.source = theirs.source
    for student, (stamp, _) in HANDED_IN.items():
        course.submit(student, partial)
        (course.root / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(stamp)

    graded = course.grade("--workers", "2")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    kit = penalties(course)
    course.autograde()
    plain = penalties(course)

    assert kit == plain
    for student, (_, penalty) in HANDED_IN.items():
        assert abs(kit[student][0] - penalty) < 1e-9, kit
        assert kit[student][1] == 7, kit
