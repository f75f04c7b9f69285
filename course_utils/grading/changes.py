"""What a regrade changed: each student's score before and after a class run.

After a test is fixed, ``python -m course_utils.grade ASSIGNMENT --force`` grades the class
again; the students whose score changed are printed and saved in
``grades/ASSIGNMENT-changes.csv`` (student, old score, new score, difference).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from course_utils.layout import CourseFolder


def scores(db: Path, assignment: str) -> dict[str, float]:
    """Each graded student's total score on `assignment` (manual grades included)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        return {r["student"]: r["score"] for r in gb.submission_dicts(assignment)}


def record(
    course: Path,
    db: Path,
    assignment: str,
    before: dict[str, float],
    log: Callable[[str], None],
) -> dict[str, tuple[float, float]]:
    """Compare the scores now with `before`; print and save the students whose score changed.

    Returns:
        (old, new) by student, for the students graded before whose score changed.
    """
    after = scores(db, assignment)
    changed = {
        s: (before[s], after[s])
        for s in sorted(before)
        if s in after and abs(after[s] - before[s]) > 1e-9
    }
    path = CourseFolder(course).grades_csv(assignment, "changes")
    if not changed:
        path.unlink(missing_ok=True)
        return changed
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "old_score", "new_score", "change"])
        for student, (old, new) in changed.items():
            writer.writerow([student, f"{old:g}", f"{new:g}", f"{new - old:+g}"])
    log(f"{len(changed)} score(s) changed (old -> new; saved in {path}):")
    for student, (old, new) in changed.items():
        log(f"  {student}: {old:g} -> {new:g}")
    return changed
